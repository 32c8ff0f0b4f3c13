import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import {
  AuthenticationError,
  ConfigError,
  MasterNotFoundError,
  SentinelUnavailableError,
} from '../../core/errors.js';
import { ownConnection } from '../../core/process-liveness.js';
import {
  authRefusal,
  credentialsRefused,
  describeFailure,
  formatAddress,
  isAuthError,
  lastSocketError,
  redactCredentials,
  trackSocketErrors,
} from '../errors.js';
import { boundCommands } from '../node-clients.js';
import { routerClosed } from '../route-runner.js';
import type { NodeAddress } from '../types.js';
import { type AddressMapper, addressKey, toAddress } from './address.js';
import { SentinelList } from './sentinel-list.js';

export interface SentinelAccess {
  username?: string;
  password?: string;
  tls?: ConnectionOptions | true;
  /** Bound on one sentinel query (connect included) before the next sentinel is tried. */
  timeoutMs: number;
  /** The router's `unref` option: sentinel sockets do not keep the process alive. */
  unref?: boolean;
}

/** One entry of `SENTINEL replicas` / `SENTINEL sentinels`, flags split. */
export interface SentinelNodeInfo {
  address: NodeAddress;
  flags: string[];
  fields: Record<string, string>;
}

/** What one sentinel said: a value, or "I know nothing useful" (try the next sentinel). */
export type SentinelAnswer<T> = { found: true; value: T } | { found: false };

export type SentinelQueryResult<T> =
  | { found: true; value: T; sentinel: NodeAddress }
  | { found: false; answered: number };

const SENTINEL_CREDENTIALS = {
  required: 'the sentinels require a password',
  username: 'sentinelUsername',
  password: 'sentinelPassword',
};

/** Flags that make a replica (or sentinel) unusable, as in the Sentinel client spec. */
const DOWN_FLAGS = ['s_down', 'o_down', 'disconnected'];

export function isUsable(info: SentinelNodeInfo): boolean {
  return !info.flags.some((f) => DOWN_FLAGS.includes(f));
}

/**
 * For the replica a failover leader is promoting: usable unless reported down. The promotion
 * (REPLICAOF NO ONE, sent with CLIENT KILL TYPE normal) drops the other sentinels' links to it,
 * so their answers flag it `disconnected` until they reconnect.
 */
export function isUsableWhilePromoted(info: SentinelNodeInfo): boolean {
  return !info.flags.some((f) => f === 's_down' || f === 'o_down');
}

/**
 * The sentinel's last INFO of this replica said its link to the master was down
 * (`master-link-status: err`). Sentinel refreshes that every 10 s, so the report may be
 * stale either way: routers take it as "check ROLE before reading from it", not as truth.
 */
export function linkReportedDown(info: SentinelNodeInfo): boolean {
  return info.fields['master-link-status'] === 'err';
}

/** `SENTINEL masters|replicas|sentinels` entries come as flat [k1, v1, k2, v2, ...] arrays. */
function parseNodeFields(reply: unknown): Record<string, string>[] {
  if (!Array.isArray(reply)) return [];
  const out: Record<string, string>[] = [];
  for (const entry of reply) {
    if (!Array.isArray(entry)) continue;
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < entry.length; i += 2) fields[String(entry[i])] = String(entry[i + 1]);
    out.push(fields);
  }
  return out;
}

/** The entries of `SENTINEL replicas|sentinels` that carry an address. */
export function parseNodeList(reply: unknown, mapAddress: AddressMapper): SentinelNodeInfo[] {
  const out: SentinelNodeInfo[] = [];
  for (const fields of parseNodeFields(reply)) {
    const address = toAddress(fields.ip, fields.port);
    if (!address) continue;
    out.push({
      address: mapAddress(address),
      flags: (fields.flags ?? '').split(',').filter(Boolean),
      fields,
    });
  }
  return out;
}

function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

/** A Redis data node asked a SENTINEL command: the address is a data port, not a sentinel. */
function isNotSentinelReply(err: unknown): boolean {
  return isReplyError(err) && /unknown command .?sentinel/i.test((err as Error).message);
}

export function sentinelClientOptions(address: NodeAddress, access: SentinelAccess) {
  return {
    host: address.host,
    port: address.port,
    // RESP2 on every connection we open (docs/design.md, "The wire protocol").
    protocol: 2 as const,
    username: access.username,
    password: access.password,
    tls: access.tls === true ? {} : access.tls,
    connectTimeout: access.timeoutMs,
    enableReadyCheck: false,
    disableClientInfo: true,
    autoResendUnfulfilledCommands: false,
  };
}

/**
 * Asks sentinels about one service, following the Sentinel client spec: sentinels are
 * tried in order, each with a short timeout (connect included); the first that answers is
 * moved to the front; `SENTINEL sentinels` adds sentinels we were not configured with.
 *
 * One query connection per sentinel is kept open (lazily created) so that asking costs a
 * round trip, not a TCP handshake: the discovery router asks for every operation.
 */
export class SentinelClient {
  readonly service: string;
  private readonly list: SentinelList;
  private readonly clients = new Map<string, Redis>();
  private readonly access: SentinelAccess;
  private readonly mapAddress: AddressMapper;
  private readonly refreshIntervalMs: number;
  private lastRefresh = 0;
  private refreshing = false;
  private closed = false;
  private readonly listeners = new Set<(sentinels: NodeAddress[]) => void>();

  constructor(opts: {
    sentinels: readonly NodeAddress[];
    service: string;
    access: SentinelAccess;
    mapAddress: AddressMapper;
    /** How often the sentinel list is refreshed from `SENTINEL sentinels`. Default 30 s. */
    refreshIntervalMs?: number;
  }) {
    this.service = opts.service;
    this.list = new SentinelList(opts.sentinels);
    this.access = opts.access;
    this.mapAddress = opts.mapAddress;
    this.refreshIntervalMs = opts.refreshIntervalMs ?? 30_000;
  }

  /** Known sentinels, preferred first. */
  sentinels(): NodeAddress[] {
    return this.list.snapshot();
  }

  /** Called with the full list whenever a new sentinel was discovered. */
  onSentinelsAdded(fn: (sentinels: NodeAddress[]) => void): void {
    this.listeners.add(fn);
  }

  /** A sentinel proved it has fresh news (it announced +switch-master): ask it first. */
  prefer(address: NodeAddress): void {
    if (this.list.has(address)) this.list.moveToFront(address);
  }

  /** `SENTINEL get-master-addr-by-name`: the master address, or not found. */
  async masterAddress(accept?: (address: NodeAddress) => boolean): Promise<SentinelQueryResult<NodeAddress>> {
    return this.query<NodeAddress>(async (client) => {
      const reply = await client.call('SENTINEL', 'get-master-addr-by-name', this.service);
      const address = Array.isArray(reply) ? toAddress(reply[0], reply[1]) : undefined;
      if (!address) return { found: false };
      const mapped = this.mapAddress(address);
      if (accept && !accept(mapped)) return { found: false };
      return { found: true, value: mapped };
    });
  }

  /**
   * The sentinels gave no usable answer for the service: `message`, and when the service is not
   * one they monitor, the names they do (SENTINEL MASTERS, asked only on this error path), so a
   * misspelt `service` names its fix.
   */
  async serviceNotFound(message: string): Promise<MasterNotFoundError> {
    const known = await this.query<string[]>(async (client) => {
      const reply = await client.call('SENTINEL', 'masters');
      return { found: true, value: parseNodeFields(reply).map((fields) => fields.name ?? '') };
    }).catch(() => undefined);
    if (!known?.found || known.value.includes(this.service)) return new MasterNotFoundError(message);
    const names = known.value.filter(Boolean).map((name) => JSON.stringify(name));
    return new MasterNotFoundError(
      names.length === 0
        ? `${message}; the sentinels monitor no service`
        : `${message}; the sentinels monitor ${names.join(', ')} (check the 'service' option)`,
    );
  }

  /** `SENTINEL replicas`: every replica the sentinel knows, flags included (callers filter). */
  async replicas(): Promise<SentinelQueryResult<SentinelNodeInfo[]>> {
    return this.query<SentinelNodeInfo[]>(async (client) => {
      let reply: unknown;
      try {
        reply = await client.call('SENTINEL', 'replicas', this.service);
      } catch (err) {
        if (!(err instanceof Error) || !/unknown|no such master/i.test(err.message)) throw err;
        return { found: false };
      }
      return { found: true, value: parseNodeList(reply, this.mapAddress) };
    });
  }

  /**
   * Run `ask` on each sentinel in order until one answers. Connection problems and
   * timeouts move on to the next sentinel; when none answers, SentinelUnavailableError
   * (or AuthenticationError when the sentinels rejected our credentials).
   */
  async query<T>(
    ask: (client: Redis, sentinel: NodeAddress) => Promise<SentinelAnswer<T>>,
  ): Promise<SentinelQueryResult<T>> {
    // Closed means the router was closed: operations still in flight get CacheClosedError,
    // like every operation started after close().
    if (this.closed) throw routerClosed();
    const order = this.list.snapshot();
    let answered = 0;
    let lastError: unknown;
    let authError: Error | undefined;
    const failures: string[] = [];
    const notSentinels: NodeAddress[] = [];
    for (const sentinel of order) {
      const client = this.clientFor(sentinel);
      try {
        const answer = await ask(client, sentinel);
        answered++;
        if (answer.found) {
          this.list.moveToFront(sentinel);
          this.maybeRefresh(client);
          return { found: true, value: answer.value, sentinel };
        }
      } catch (err) {
        if (isAuthError(err)) authError = redactCredentials(authRefusal(err as Error, client));
        else if (isNotSentinelReply(err)) notSentinels.push(sentinel);
        else {
          lastError = lastSocketError(client) ?? err; // why the connection closed, if known
          failures.push(`${formatAddress(sentinel)} ${describeFailure(lastError, this.access.timeoutMs)}`);
        }
        // Only a well-formed Redis error reply proves the sentinel is up (it just has no
        // answer for us); anything else (a timeout, a reset, a peer that does not speak
        // RESP) means this sentinel is unavailable: throw its connection away.
        if (isReplyError(err) && !isAuthError(err)) answered++;
        else this.dropClient(sentinel);
      }
      if (this.closed) throw routerClosed();
    }
    // Only data ports answered: the configuration lists the wrong ports, say so (retrying cannot help).
    if (notSentinels.length > 0 && notSentinels.length === answered) {
      throw new ConfigError(
        `${notSentinels.map(formatAddress).join(', ')} ${notSentinels.length === 1 ? 'is' : 'are'} not a sentinel (it answered "unknown command 'SENTINEL'": a Redis data port?); \`sentinels\` must list the sentinels' ports (redis-server --sentinel, 26379 by default), not the master's or a replica's`,
      );
    }
    if (answered > 0) return { found: false, answered };
    if (authError !== undefined) {
      throw new AuthenticationError(
        `Sentinels rejected the credentials for service ${JSON.stringify(this.service)} ${credentialsRefused(authError, SENTINEL_CREDENTIALS)}`,
        { cause: authError },
      );
    }
    // Per sentinel, what happened: "refused" when it was refused in 4 ms, not "no answer within 250 ms".
    throw new SentinelUnavailableError(
      `None of ${order.length} sentinels answered: ${failures.length > 0 ? failures.join('; ') : order.map(formatAddress).join(', ')}`,
      { cause: lastError },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const client of this.clients.values()) client.disconnect();
    this.clients.clear();
  }

  private clientFor(sentinel: NodeAddress): Redis {
    const key = addressKey(sentinel);
    const existing = this.clients.get(key);
    if (existing && existing.status !== 'end' && existing.status !== 'close') return existing;
    existing?.disconnect();
    const client = new Redis({
      ...sentinelClientOptions(sentinel, this.access),
      lazyConnect: true,
      // The first command triggers the connection and waits in the offline queue; the
      // command bound (armed when the command is issued) covers connect + reply.
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    trackSocketErrors(client); // failures surface through the commands we issue
    boundCommands(client, this.access.timeoutMs);
    ownConnection(client, this.access.unref === true);
    this.clients.set(key, client);
    return client;
  }

  private dropClient(sentinel: NodeAddress): void {
    const key = addressKey(sentinel);
    this.clients.get(key)?.disconnect();
    this.clients.delete(key);
  }

  /** Refresh the sentinel list in the background on the sentinel that just answered. */
  private maybeRefresh(client: Redis): void {
    if (this.refreshing || Date.now() - this.lastRefresh < this.refreshIntervalMs) return;
    this.refreshing = true;
    this.lastRefresh = Date.now();
    client
      .call('SENTINEL', 'sentinels', this.service)
      .then((reply) => {
        let added = false;
        for (const info of parseNodeList(reply, this.mapAddress)) {
          if (isUsable(info) && this.list.add(info.address)) added = true;
        }
        if (added && !this.closed) for (const fn of this.listeners) fn(this.list.snapshot());
      })
      .catch(() => {})
      .finally(() => {
        this.refreshing = false;
      });
  }
}
