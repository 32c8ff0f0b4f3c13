import { Redis, type RedisOptions } from 'ioredis';
import { type DataConnectionHook, DataConnectionHooks } from '../core/connection-hook.js';
import { AuthenticationError, ConfigError, ConnectionInterruptedError } from '../core/errors.js';
import { TypedEmitter } from '../core/events.js';
import { ownConnection } from '../core/process-liveness.js';
import { isUnknownCommandReply } from '../core/redis-errors.js';
import type {
  Intent,
  NodeAddress,
  Router,
  RouterEvent,
  RouterEventMap,
  RouterStats,
} from '../core/router.js';
import { type Schema, validateOptions } from '../core/validate.js';
import { formatAddress, trackSocketErrors, translateError } from './errors.js';
import { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS, parseRoleReply } from './node-clients.js';
import { NODE_SCHEMA } from './options.js';
import { routerClosed } from './route-runner.js';
import type { StandaloneRouterOptions } from './types.js';
import { coalesceWrites } from './write-coalescing.js';

export interface StandaloneOptions extends StandaloneRouterOptions {
  /**
   * Commands issued in the same tick while others await their replies share one socket
   * write (write-coalescing.ts; not ioredis' enableAutoPipelining: docs/design.md#write-coalescing).
   * Default true; a lone sequential caller is written at once either way.
   */
  coalesceWrites?: boolean;
}

/** Reconnect backoff: 50 ms doubling, capped so a recovered server is picked up within ~1 s. */
const MAX_RECONNECT_DELAY_MS = 1000;
/**
 * Background reconnect attempts before giving up until the next operation (about 6 s of
 * trying): a router left on a dead port must not keep the process alive forever on a timer.
 * The next operation after giving up starts connecting again.
 */
const RECONNECT_ATTEMPTS = 10;

const STANDALONE_SCHEMA: Schema = {
  ...NODE_SCHEMA,
  url: { anyOf: ['string'], secret: true },
  host: 'non-empty string',
  port: 'port',
  coalesceWrites: 'boolean',
};

/**
 * The one place routers.standalone's options are checked: names and types (core/validate.ts),
 * then the URL (scheme, syntax; never echoed: it may hold a password). Returns the target's
 * host/port, for stats and error messages.
 */
export function checkStandaloneOptions(options: StandaloneOptions): NodeAddress {
  validateOptions('routers.standalone', options, STANDALONE_SCHEMA);
  if (options.url === undefined) return { host: options.host ?? '127.0.0.1', port: options.port ?? 6379 };
  if (!/^rediss?:\/\//i.test(options.url)) {
    throw new ConfigError("routers.standalone: 'url' must be a redis:// or rediss:// URL");
  }
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw new ConfigError("routers.standalone: 'url' is not a valid URL");
  }
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: Number(parsed.port || 6379),
  };
}

/**
 * One Redis server, one ioredis connection. For development, tests, and deployments without
 * Sentinel. Fails fast instead of queueing when the server is gone:
 *  - a paused/hung server: every command is bounded by `commandTimeoutMs` → CommandTimeoutError;
 *  - a dead server: once the connection has failed, commands are refused immediately with
 *    ConnectionInterruptedError while ioredis reconnects in the background (capped backoff);
 *  - commands in flight when the connection drops are not silently re-sent (INCR must not
 *    apply twice): they fail with a named error.
 * Before the first connection is up, commands wait in ioredis' offline queue, still bounded by
 * `commandTimeoutMs`, so `createCache()` followed immediately by `get()` works.
 */
class StandaloneRouter implements Router {
  readonly kind = 'standalone';
  readonly #client: Redis;
  readonly #address: NodeAddress;
  readonly #nodeName: string;
  readonly #timeoutMs: number;
  readonly #coalesce: boolean;
  readonly #events = new TypedEmitter<RouterEventMap>();
  readonly #hooks = new DataConnectionHooks();
  #ops = 0;
  #errors = 0;
  #closed = false;
  /** Set when the connection fails, cleared when it is ready again: while set, fail fast. */
  #lastConnectionError: Error | undefined;

  constructor(options: StandaloneOptions) {
    this.#address = checkStandaloneOptions(options);
    this.#nodeName = formatAddress(this.#address);
    this.#coalesce = options.coalesceWrites ?? true;
    this.#timeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const connectTimeout = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;

    const redisOptions: RedisOptions = {
      // RESP2 on every connection we open (docs/design.md, "The wire protocol").
      protocol: 2,
      commandTimeout: this.#timeoutMs,
      connectTimeout,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      autoResendUnfulfilledCommands: false,
      enableAutoPipelining: false,
      retryStrategy: (attempt) =>
        attempt > RECONNECT_ATTEMPTS
          ? null
          : Math.min(50 * 2 ** Math.min(attempt - 1, 10), MAX_RECONNECT_DELAY_MS),
      // A server that answers "LOADING" is alive; don't hold every command behind INFO polling.
      enableReadyCheck: true,
      // Connect on first use (the first command starts it and waits in the offline queue): a
      // router that is never used, or whose createCache threw, opens no socket.
      lazyConnect: true,
    };
    if (options.db !== undefined) redisOptions.db = options.db;
    if (options.username !== undefined) redisOptions.username = options.username;
    if (options.password !== undefined) redisOptions.password = options.password;
    if (options.tls !== undefined) redisOptions.tls = options.tls === true ? {} : options.tls;

    this.#client =
      options.url !== undefined
        ? new Redis(options.url, redisOptions)
        : new Redis({ ...redisOptions, host: this.#address.host, port: this.#address.port });

    trackSocketErrors(this.#client);
    ownConnection(this.#client, options.unref === true);
    this.#client.on('error', (err: unknown) => {
      const translated = translateError(err, this.#address, this.#timeoutMs);
      const error = translated instanceof Error ? translated : new Error(String(translated));
      this.#lastConnectionError = error;
      this.#events.emit('error', { error });
    });
    this.#client.on('close', () => {
      if (!this.#closed && this.#lastConnectionError === undefined) {
        this.#lastConnectionError = new ConnectionInterruptedError(`Connection closed by ${this.#nodeName}`);
      }
    });
    this.#client.on('ready', () => {
      this.#lastConnectionError = undefined;
      if (!this.#hooks.empty) this.#runHooks();
    });
  }

  /**
   * Data connection hooks, on every (re)connection. Commands waiting in the offline queue may
   * reach the server before the hooks' commands do (ioredis sends them on ready): a hook
   * must not assume its setup precedes every command (the near cache keeps no reply from a
   * read sent before its CLIENT TRACKING was confirmed). One connection to keep: a failing
   * hook is reported as an 'error' event, not by closing it.
   */
  #runHooks(): void {
    this.#hooks.run(this.#client, this.#address).catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      this.#events.emit('error', { error });
    });
  }

  onDataConnection(hook: DataConnectionHook): () => void {
    const remove = this.#hooks.add(hook);
    // Registered after the connection came up: run it on the live connection now.
    if (this.#client.status === 'ready') {
      hook(this.#client, this.#address).catch((err: unknown) => {
        this.#events.emit('error', { error: err instanceof Error ? err : new Error(String(err)) });
      });
    }
    return remove;
  }

  execute<T>(_intent: Intent, fn: (client: Redis) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(routerClosed());
    // Background reconnects gave up (see RECONNECT_ATTEMPTS): this operation starts them again.
    if (this.#client.status === 'end') this.#client.connect().catch(() => {});
    const down = this.#lastConnectionError;
    if (down !== undefined && this.#client.status !== 'ready') {
      this.#errors++;
      if (down instanceof AuthenticationError) {
        // Wrong credentials are not a transient outage: say so, not "reconnecting".
        return Promise.reject(new AuthenticationError(down.message, { cause: down }));
      }
      return Promise.reject(
        new ConnectionInterruptedError(`No connection to ${this.#nodeName} (reconnecting): ${down.message}`, {
          cause: down,
        }),
      );
    }
    this.#ops++;
    let result: Promise<T>;
    try {
      if (this.#coalesce) coalesceWrites(this.#client);
      result = fn(this.#client);
    } catch (err) {
      return Promise.reject(err);
    }
    return result.catch((err: unknown) => {
      this.#errors++;
      const translated = translateError(err, this.#address, this.#timeoutMs, this.#client);
      if (isUnknownCommandReply(err)) return this.#sentinelOrThrow(translated);
      throw translated;
    });
  }

  /**
   * A command refused as unknown: the port may be a sentinel's (a sentinel knows no GET). ROLE,
   * asked on this error path only, says; a sentinel is a ConfigError naming the routers for it.
   */
  async #sentinelOrThrow(err: unknown): Promise<never> {
    const role: unknown = await this.#client.call('ROLE').catch(() => undefined);
    if (parseRoleReply(role).role === 'sentinel') throw sentinelGivenAsDataNode(this.#address, role);
    throw err;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const client = this.#client;
    if (client.status === 'ready') {
      // QUIT lets replies in flight arrive; bounded so a hung server cannot block close().
      await Promise.race([
        client.quit().catch(() => undefined),
        new Promise((r) => setTimeout(r, this.#timeoutMs).unref()),
      ]);
    }
    client.disconnect();
    this.#events.clear();
  }

  on<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void {
    this.#events.on(event, fn);
  }

  off<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void {
    this.#events.off(event, fn);
  }

  stats(): RouterStats {
    return {
      kind: this.kind,
      nodes: { [this.#nodeName]: { ops: this.#ops, errors: this.#errors, role: 'master' } },
      failovers: 0,
    };
  }
}

/** `ROLE` of a sentinel is `[sentinel, [service, ...]]`: say which routers take its port. */
function sentinelGivenAsDataNode(address: NodeAddress, role: unknown): ConfigError {
  const listed = Array.isArray(role) && Array.isArray(role[1]) ? role[1].map(String) : [];
  const monitors = listed.length === 0 ? 'no service' : listed.map((s) => JSON.stringify(s)).join(', ');
  return new ConfigError(
    `${formatAddress(address)} is a Redis Sentinel (it monitors ${monitors}), not a data node: routers.standalone needs the port of a Redis server; through Sentinel, use routers.pooled({ sentinels: [{ host: '${address.host}', port: ${address.port} }], service: '${listed[0] ?? 'mymaster'}' }) (or routers.discovery with the same options)`,
  );
}

/** A Router for one Redis server: `routers.standalone({ url: 'redis://127.0.0.1:6379/0' })`. */
export function standalone(options: StandaloneOptions): Router {
  return new StandaloneRouter(options);
}
