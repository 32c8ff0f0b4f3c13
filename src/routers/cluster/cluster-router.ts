import { Cluster, type ClusterOptions, type Redis } from 'ioredis';
import {
  type DataConnectionHook,
  DataConnectionHooks,
  type RoutedCommandListener,
  type RoutedCommands,
} from '../../core/connection-hook.js';
import { debug, debugEnabled } from '../../core/debug.js';
import {
  AuthenticationError,
  CacheClosedError,
  CacheError,
  ConnectionInterruptedError,
  MasterNotFoundError,
  SlotMigratingError,
} from '../../core/errors.js';
import { TypedEmitter } from '../../core/events.js';
import { announcesNodeConnections, interceptSendCommand } from '../../core/ioredis-internals.js';
import { isConnectionError, isReplyError, isSlotRefusal, isTimeoutError } from '../../core/redis-errors.js';
import { describeFailure, formatAddress, redactCredentials, translateError } from '../errors.js';
import type { Intent, NodeAddress, Router, RouterEvent, RouterEventMap, RouterStats } from '../types.js';
import { coalesceWrites } from '../write-coalescing.js';
import { SlotCoverage } from './coverage.js';
import { type ClusterRouterOptions, type ResolvedClusterOptions, resolveClusterOptions } from './options.js';
import { quietStreamsConnector } from './quiet-streams.js';
import { masterView, scaleReadsFor } from './read-from.js';
import { mastersBySlot, parseNodeKey, type SlotView, slotMoves, slotOf, slotView } from './slot-map.js';

export type { ClusterRouterOptions } from './options.js';

/** Reply/cluster errors meaning "no master serves this slot right now". */
function isClusterDownError(err: unknown): boolean {
  return err instanceof Error && /^CLUSTERDOWN\b/.test(err.message);
}

/**
 * ioredis gave up on a command it kept redirecting, a node refused one because its slot is
 * elsewhere or moving (MOVED / ASK / TRYAGAIN that ioredis did not follow: a node connection's
 * own commands, a pipeline's), or the whole cluster is unreachable.
 */
function isRoutingFailure(err: unknown): boolean {
  return (
    err instanceof Error &&
    (isSlotRefusal(err) ||
      err.message.startsWith('Too many Cluster redirections') ||
      err.message.startsWith("Cluster isn't ready") ||
      err.message === 'Cluster is ended.' ||
      err.name === 'ClusterAllFailedError')
  );
}

/**
 * Redis refused the command because its slot is being migrated: TRYAGAIN (a command over
 * several keys that are not all on the node), an ASK ioredis did not follow, or ioredis giving
 * up after 8 redirections (TRYAGAIN sends it back through a random node). Nothing ran.
 */
function isMigrationRefusal(err: unknown): err is Error {
  return isSlotRefusal(err) && !/^MOVED\b/.test((err as Error).message);
}

/** Rounds of eachMaster (a first run plus re-runs after topology changes) before giving up. */
const MAX_EACH_MASTER_ROUNDS = 4;
/** How long a connection to a node that left the slot map may finish replies in flight. */
const DROPPED_NODE_GRACE_MS = 20;
/** At most one 'error' event per node per this period (a refresh every 25 ms may fail on a paused node). */
const ERROR_EVENT_INTERVAL_MS = 1000;

function lastNodeError(err: Error): unknown {
  return (err as Error & { lastNodeError?: unknown }).lastNodeError ?? undefined;
}

interface NodeCounters {
  ops: number;
  errors: number;
}

/**
 * Redis Cluster through one ioredis `Cluster` (slot map, MOVED/ASK, per-node connections are
 * ioredis'), tuned to fail fast and to follow a shard failover quickly:
 *
 * - every node connection has `commandTimeout`: a paused master fails each command after
 *   `commandTimeoutMs` with CommandTimeoutError instead of hanging until TCP gives up
 *   (ioredis#559);
 * - ioredis' own retries on "connection closed" and CLUSTERDOWN are off (they would hold a
 *   command for up to 16 × 100 ms): the command fails at once with a named error, and the
 *   router refreshes the slot map;
 * - after any connection error or timeout the slot map is refreshed every `failoverRefreshMs`
 *   for `failoverWatchMs`, so the promoted replica is used within a refresh period of the
 *   cluster announcing it, not when the next periodic refresh happens to run;
 * - `slotsRefreshTimeoutMs` is short: ioredis asks nodes one at a time in random order, and a
 *   paused node must not hold the refresh for a second.
 */
export class ClusterRouter implements Router {
  readonly kind = 'cluster';
  readonly #options: ResolvedClusterOptions;
  readonly #cluster: Cluster;
  readonly #events = new TypedEmitter<RouterEventMap>();
  readonly #counters = new Map<string, NodeCounters>();
  #owners: (string | undefined)[];
  #failovers = 0;
  #closed = false;
  #everReady = false;
  #lastError: Error | undefined;
  readonly #lastErrorEvent = new Map<string, number>();
  #watchUntil = 0;
  #watchTimer: NodeJS.Timeout | undefined;
  #firstReady: Promise<void> | undefined;
  /** Until the first 'ready': each node's last error, and its socket's (to say why no seed answered). */
  readonly #nodeErrors = new Map<string, Error>();
  readonly #socketErrors = new Map<string, Error>();
  #refreshTimeoutsInARow = 0;
  readonly #hooks = new DataConnectionHooks();
  readonly #routedListeners = new Set<RoutedCommandListener>();
  /** The cluster as write operations see it: every command on the master (read-from.ts). */
  readonly #forWrites: Cluster;

  constructor(options: ClusterRouterOptions) {
    const o = resolveClusterOptions(options);
    this.#options = o;
    const toMaster = new WeakSet<object>();
    const connector = quietStreamsConnector((address, err) => {
      if (!this.#everReady) this.#socketErrors.set(address, err);
    });
    const clusterOptions: ClusterOptions = {
      scaleReads: scaleReadsFor(o.readFrom, toMaster),
      slotsRefreshInterval: o.slotsRefreshIntervalMs,
      slotsRefreshTimeout: o.slotsRefreshTimeoutMs,
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      retryDelayOnTryAgain: 50,
      maxRedirections: 8,
      enableOfflineQueue: true,
      enableReadyCheck: true,
      // Like every router: no socket until the first operation (or cache.ready()).
      lazyConnect: true,
      clusterRetryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt - 1, 10), 1000),
      redisOptions: {
        // RESP2 on every connection we open (docs/design.md, "The wire protocol").
        protocol: 2,
        commandTimeout: o.commandTimeoutMs,
        connectTimeout: o.connectTimeoutMs,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        enableAutoPipelining: false,
        disableClientInfo: true,
        // A node dropped from the slot map (a failed-over master) is closed with FIN; a paused
        // node never answers it, and its commands in flight would wait for their timeout.
        // Destroy the socket soon after, so they fail (and are retried by the caller) at once.
        disconnectTimeout: DROPPED_NODE_GRACE_MS,
        // A socket's second error must not become an uncaught exception (quiet-streams.ts).
        ...(connector !== undefined ? { Connector: connector as never } : {}),
        ...(o.username !== undefined ? { username: o.username } : {}),
        ...(o.password !== undefined ? { password: o.password } : {}),
        ...(o.tls !== undefined ? { tls: o.tls } : {}),
      },
    };
    if (o.natMap !== undefined) {
      const natMap = o.natMap;
      clusterOptions.natMap =
        typeof natMap === 'function' ? (key: string) => natMap(parseNodeKey(key)) : natMap;
    }
    this.#cluster = new Cluster(o.nodes, clusterOptions);
    this.#forWrites = o.readFrom === 'master' ? this.#cluster : masterView(this.#cluster, toMaster);
    this.#owners = mastersBySlot(this.#cluster.slots);

    this.#cluster.on('+node', (redis: Redis) => this.#instrument(redis));
    this.#cluster.on('ready', () => {
      this.#everReady = true;
      this.#lastError = undefined;
      this.#nodeErrors.clear();
      this.#socketErrors.clear();
    });
    this.#cluster.on('refresh', () => {
      this.#adaptRefreshTimeout(true);
      this.#onRefresh();
    });
    // 'error' with no listener would crash the process; both kinds are reported as router events.
    this.#cluster.on('error', (err: unknown) => this.#reportError(err));
    this.#cluster.on('node error', (err: unknown, key: string) => {
      if (err instanceof Error && err.message === 'timeout') this.#adaptRefreshTimeout(false);
      if (!this.#everReady && err instanceof Error && key !== undefined) this.#nodeErrors.set(key, err);
      this.#reportError(err, key === undefined ? undefined : parseNodeKey(key));
    });
  }

  /**
   * `slotsRefreshTimeoutMs` is short so that a paused node costs a refresh little, but on a
   * machine so loaded that every node misses it, no refresh would ever succeed. When as many
   * CLUSTER SLOTS queries in a row timed out as there are nodes, the timeout doubles (up to
   * commandTimeoutMs); each successful refresh halves it back toward the configured value.
   */
  #adaptRefreshTimeout(succeeded: boolean): void {
    const options = this.#cluster.options;
    const configured = this.#options.slotsRefreshTimeoutMs;
    const current = options.slotsRefreshTimeout ?? configured;
    if (succeeded) {
      this.#refreshTimeoutsInARow = 0;
      if (current > configured) options.slotsRefreshTimeout = Math.max(configured, current / 2);
      return;
    }
    if (++this.#refreshTimeoutsInARow < Math.max(1, this.#cluster.nodes('all').length)) return;
    this.#refreshTimeoutsInARow = 0;
    options.slotsRefreshTimeout = Math.min(Math.max(configured, this.#options.commandTimeoutMs), current * 2);
  }

  /**
   * Every node connection ioredis opens ('+node' fires when its pool creates one, before it
   * carries a command): count its commands (retries and redirections included), coalesce its
   * same-tick commands into one socket write (write-coalescing.ts), report each command to the
   * routed-command listeners, and run the data connection hooks on each 'ready'.
   */
  #instrument(redis: Redis): void {
    const key = `${redis.options.host}:${redis.options.port}`;
    let counters = this.#counters.get(key);
    if (counters === undefined) {
      counters = { ops: 0, errors: 0 };
      this.#counters.set(key, counters);
    }
    const c = counters;
    const countError = () => {
      c.errors++;
    };
    const coalesce = this.#options.coalesceWrites;
    const listeners = this.#routedListeners;
    interceptSendCommand(
      redis,
      (send) =>
        ((command, stream) => {
          c.ops++;
          command.promise.catch(countError);
          if (listeners.size !== 0) for (const listener of listeners) listener(redis, command);
          if (coalesce) coalesceWrites(redis, 1);
          return send(command, stream);
        }) as Redis['sendCommand'],
    );
    redis.on('ready', () => {
      if (!this.#hooks.empty) this.#runHook(redis, (r, info) => this.#hooks.run(r, info));
    });
  }

  /**
   * A hook on one node connection. ioredis sends the commands queued for the node when it is
   * ready, without waiting for the hook: a hook must not assume its setup precedes every
   * command (the near cache learns, through onRoutedCommand, which commands went through a
   * connection it had not prepared yet, and keeps nothing they read). A failing hook is an
   * 'error' event, not a closed connection.
   */
  #runHook(redis: Redis, hook: DataConnectionHook): void {
    const info = { host: String(redis.options.host), port: Number(redis.options.port) };
    hook(redis, info).catch((err: unknown) => this.#reportError(err, info));
  }

  /**
   * Run `hook` on every node connection (masters and replicas), each time it is ready: those
   * ioredis opens from now on, and the ready ones now.
   */
  onDataConnection(hook: DataConnectionHook): () => void {
    const remove = this.#hooks.add(hook);
    for (const redis of this.#cluster.nodes('all')) {
      if (redis.status === 'ready') this.#runHook(redis, hook);
    }
    return remove;
  }

  /**
   * `execute` lends the ioredis Cluster, which picks the node connection per command (slot,
   * MOVED, ASK, replica): `listener` hears every command handed to a node connection, from the
   * connection's own `sendCommand` (wrapped in #instrument). That relies on ioredis internals
   * (its ConnectionPool announcing each connection it creates as '+node', the Cluster sending
   * through the node connection's `sendCommand`): checked here; without them this returns
   * undefined (with a process warning) and the near cache runs without itself, since a read
   * whose connection went unreported could be kept untracked.
   */
  onRoutedCommand(listener: RoutedCommandListener): RoutedCommands | undefined {
    if (!announcesNodeConnections(this.#cluster)) return undefined;
    this.#routedListeners.add(listener);
    return {
      lent: this.#cluster as unknown as Redis,
      remove: () => {
        this.#routedListeners.delete(listener);
      },
    };
  }

  #reportError(err: unknown, address?: NodeAddress): void {
    if (this.#closed) return;
    // "Failed to refresh slots cache" says nothing; the last node's error says why (WRONGPASS...).
    const cause =
      err instanceof Error && err.name === 'ClusterAllFailedError' ? lastNodeError(err) : undefined;
    const translated = translateError(cause ?? err, address, this.#options.commandTimeoutMs);
    const error = translated instanceof Error ? translated : new Error(String(translated));
    this.#lastError = error;
    const where = address === undefined ? '' : `${address.host}:${address.port}`;
    const now = Date.now();
    if ((this.#lastErrorEvent.get(where) ?? 0) + ERROR_EVENT_INTERVAL_MS > now) return;
    this.#lastErrorEvent.set(where, now);
    this.#events.emit('error', { error });
  }

  /** A refresh completed: report masters that changed (failovers) and new node sets. */
  #onRefresh(): void {
    const owners = mastersBySlot(this.#cluster.slots);
    const moves = slotMoves(this.#owners, owners);
    this.#owners = owners;
    if (moves.length === 0) return;
    if (debugEnabled) {
      const ranges = moves.map(
        (m) => `${m.firstSlot}-${m.lastSlot} ${m.from ?? 'none'} -> ${m.to ?? 'none'}`,
      );
      debug('cluster: slot map refreshed, %d range(s) changed master: %s', moves.length, ranges.join(', '));
    }
    for (const move of moves) {
      if (move.from === undefined) continue;
      this.#failovers++;
      this.#events.emit('failover', {
        service: `slots ${move.firstSlot}-${move.lastSlot}`,
        from: parseNodeKey(move.from),
        to: parseNodeKey(move.to),
      });
    }
    this.#events.emit('topology-change', {
      reason: 'slot map changed',
      nodes: [...new Set(owners.filter((k): k is string => k !== undefined))].map(parseNodeKey),
    });
  }

  /** Refresh the slot map now, then every failoverRefreshMs until failoverWatchMs after the last trouble. */
  #watchForFailover(): void {
    if (this.#closed) return;
    this.#watchUntil = Date.now() + this.#options.failoverWatchMs;
    this.#cluster.refreshSlotsCache();
    if (this.#watchTimer !== undefined) return;
    if (debugEnabled) {
      debug(
        'cluster: connection trouble: slot map refreshed every %d ms for %d ms',
        this.#options.failoverRefreshMs,
        this.#options.failoverWatchMs,
      );
    }
    this.#watchTimer = setInterval(() => {
      if (this.#closed || Date.now() > this.#watchUntil) {
        clearInterval(this.#watchTimer);
        this.#watchTimer = undefined;
        return;
      }
      this.#cluster.refreshSlotsCache();
    }, this.#options.failoverRefreshMs);
    this.#watchTimer.unref();
  }

  /** Named errors for what ioredis Cluster throws; connection trouble starts the failover watch. */
  #translate(err: unknown): unknown {
    if (err instanceof CacheError) return err;
    redactCredentials(err);
    const timeoutMs = this.#options.commandTimeoutMs;
    if (isClusterDownError(err)) {
      this.#watchForFailover();
      return new MasterNotFoundError(
        `No master serves the key's slot right now (${(err as Error).message})`,
        {
          cause: err,
        },
      );
    }
    if (isMigrationRefusal(err)) {
      this.#watchForFailover();
      return new SlotMigratingError(
        `The command's hash slot is being migrated between masters, and Redis runs a command over several of its keys only once they are all on one node (${err.message}); retry after the migration`,
        { cause: err },
      );
    }
    if (isRoutingFailure(err)) {
      this.#watchForFailover();
      return new ConnectionInterruptedError(
        `Cluster could not route the command: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (isTimeoutError(err) || isConnectionError(err)) this.#watchForFailover();
    return translateError(err, undefined, timeoutMs);
  }

  /**
   * Before the first 'ready', commands wait in ioredis' offline queue, bounded here by
   * connectTimeoutMs + commandTimeoutMs. Once the cluster was ready and lost every node,
   * operations fail at once while ioredis reconnects.
   */
  async #whenReady(): Promise<void> {
    const cluster = this.#cluster;
    if (cluster.status === 'ready') return;
    if (this.#everReady) {
      throw new ConnectionInterruptedError(
        `No connection to the cluster (${cluster.status})${this.#lastError ? `: ${this.#lastError.message}` : ''}`,
        { cause: this.#lastError },
      );
    }
    this.#firstReady ??= this.#waitForFirstReady();
    await this.#firstReady;
  }

  /** One wait shared by every operation issued before the first 'ready'. */
  #waitForFirstReady(): Promise<void> {
    const cluster = this.#cluster;
    // Lazy: the first operation starts the connection (its failures arrive as 'error' events).
    if (cluster.status === 'wait') cluster.connect().catch(() => {});
    const budget = this.#options.connectTimeoutMs + this.#options.commandTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        cluster.off('ready', onReady);
        cluster.off('end', onEnd);
        this.#firstReady = undefined;
      };
      const onReady = () => {
        done();
        resolve();
      };
      const onEnd = () => {
        done();
        reject(new CacheClosedError('Router is closed'));
      };
      const timer = setTimeout(() => {
        done();
        const last = this.#lastError;
        if (last instanceof AuthenticationError) {
          reject(new AuthenticationError(last.message, { cause: last }));
          return;
        }
        reject(
          new ConnectionInterruptedError(
            `Cluster not ready after ${budget} ms, no seed gave the slot map: ${this.#seedFailures()}`,
            { cause: this.#lastError },
          ),
        );
      }, budget);
      cluster.once('ready', onReady);
      cluster.once('end', onEnd);
    });
  }

  /**
   * Each seed and why it gave no slot map: its reply (a node without cluster support), else
   * its socket's error (refused, TLS), else what ioredis said, else no answer.
   */
  #seedFailures(): string {
    return this.#options.nodes
      .map((seed) => {
        const key = `${seed.host}:${seed.port}`;
        const reply = this.#nodeErrors.get(key);
        const failure = isReplyError(reply) ? reply : (this.#socketErrors.get(key) ?? reply);
        let why = 'did not answer';
        if (isReplyError(failure) && /cluster support disabled/.test(failure.message)) {
          why = `is not a cluster node (it answered "${failure.message}": routers.standalone is for one server, routers.pooled for Sentinel)`;
        } else if (isReplyError(failure)) {
          why = `answered "${failure.message}"`;
        } else if (failure !== undefined) {
          why = describeFailure(failure, this.#options.connectTimeoutMs);
        }
        return `${formatAddress(seed)} ${why}`;
      })
      .join('; ');
  }

  execute<T>(intent: Intent, fn: (client: Redis) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new CacheClosedError('Router is closed'));
    // The hot path (cluster ready) runs `fn` in this tick, with no extra await.
    if (this.#cluster.status !== 'ready') return this.#whenReady().then(() => this.#run(intent, fn));
    return this.#run(intent, fn);
  }

  #run<T>(intent: Intent, fn: (client: Redis) => Promise<T>): Promise<T> {
    let result: Promise<T>;
    try {
      // A Cluster has the command methods of a Redis; multi-key and keyless commands are
      // grouped by slot / sent to every master by the caller (groupKeys, eachMaster). With
      // replica reads, a write operation's read-only commands still go to the master.
      const client = intent === 'write' ? this.#forWrites : this.#cluster;
      result = fn(client as unknown as Redis);
    } catch (err) {
      return Promise.reject(this.#translate(err));
    }
    return result.catch((err: unknown) => {
      throw this.#translate(err);
    });
  }

  /**
   * Indexes into `keys`, grouped by the master that serves them now: the keys of one group can
   * share one pipeline (one round trip), the groups run in parallel. Keys of a slot whose master
   * is unknown (slot map not loaded) form a group of their own per slot; ioredis routes them.
   */
  groupKeys(keys: readonly string[]): number[][] {
    const groups = new Map<string, number[]>();
    const slots = this.#cluster.slots;
    keys.forEach((key, i) => {
      const slot = slotOf(key);
      const node = slots[slot]?.[0] ?? `slot:${slot}`;
      let group = groups.get(node);
      if (group === undefined) {
        group = [];
        groups.set(node, group);
      }
      group.push(i);
    });
    return [...groups.values()];
  }

  /** True when every key hashes to one slot (one command or script can take them all). */
  canCombine(keys: readonly string[]): boolean {
    if (keys.length <= 1) return true;
    const first = slotOf(keys[0] as string);
    return keys.every((k) => slotOf(k) === first);
  }

  /** The node connections of the current masters, by `host:port`. */
  #masterClients(): Map<string, Redis> {
    const clients = new Map<string, Redis>();
    for (const redis of this.#cluster.nodes('master')) {
      clients.set(`${redis.options.host}:${redis.options.port}`, redis);
    }
    return clients;
  }

  #refreshNow(): Promise<void> {
    return new Promise((resolve) => this.#cluster.refreshSlotsCache(() => resolve()));
  }

  /**
   * Run `fn` once on every master (keyless commands: SCAN, FLUSHDB, ...), in parallel, and
   * return the results. Survives a topology change during the run without losing a key
   * (coverage.ts): every slot is covered by a run on the master that served it when that run
   * started; after each round, slots whose master has changed since (a failover completed, a
   * slot migration ended) are run again on their new master, and the node a slot is being
   * migrated to (as its master reports it) runs again after the run that covered the slot, so
   * a key that moved between the two nodes' scans is seen; a master that failed is replaced by
   * the node that took over its slots. A master that fails with no replacement yet fails the
   * call with its named error (fail fast; the failover watch is running). Runs on a node run
   * again may see keys already seen: callers that collect keys de-duplicate.
   */
  async eachMaster<T>(fn: (client: Redis, node: NodeAddress) => Promise<T>): Promise<T[]> {
    if (this.#closed) throw new CacheClosedError('Router is closed');
    await this.#whenReady();
    const results: T[] = [];
    const coverage = new SlotCoverage();
    for (let round = 0; round < MAX_EACH_MASTER_ROUNDS; round++) {
      const owners = mastersBySlot(this.#cluster.slots);
      const pending = coverage.pending(owners);
      if (pending.size === 0) return results;
      const clients = this.#masterClients();
      // A node importing a slot may not serve any slot yet (a master just added): ioredis has no
      // connection to it. One of its own for this round, with the node connections' options.
      const extra = new Map<string, Redis>();
      const template = clients.values().next().value;
      for (const key of pending) {
        if (clients.has(key) || template === undefined) continue;
        const client = template.duplicate(parseNodeKey(key));
        client.on('error', () => {}); // its command fails with the named error below
        extra.set(key, client);
      }
      const runs = await Promise.allSettled(
        [...pending].map(async (key) => {
          const client = clients.get(key) ?? extra.get(key);
          const address = parseNodeKey(key);
          if (client === undefined) {
            throw new ConnectionInterruptedError(`No connection to master ${key} (slot map changing)`);
          }
          try {
            return { key, value: await fn(client, address) };
          } catch (err) {
            if (isSlotRefusal(err)) throw this.#translate(err);
            throw translateError(err, address, this.#options.commandTimeoutMs, client);
          }
        }),
      );
      for (const client of extra.values()) client.disconnect();
      const failures: unknown[] = [];
      for (const run of runs) {
        if (run.status === 'rejected') {
          failures.push(run.reason);
          continue;
        }
        results.push(run.value.value);
        coverage.ran(run.value.key, owners);
      }
      if (failures.length > 0) {
        const transient = failures.filter((f) => f instanceof CacheError && isConnectionError(f));
        if (transient.length < failures.length) throw failures.find((f) => !transient.includes(f));
        this.#watchForFailover();
        await this.#refreshNow();
        const next = mastersBySlot(this.#cluster.slots);
        // No slot changed master since the failed run started: the outage is still on.
        if (next.every((owner, slot) => owner === owners[slot])) throw failures[0];
      } else {
        await this.#refreshNow();
      }
      coverage.endRound(await this.#slotViews());
    }
    throw new ConnectionInterruptedError(
      `The cluster's slot map kept changing during a run on every master (${MAX_EACH_MASTER_ROUNDS} rounds)`,
    );
  }

  /**
   * Every master's own account of the slots (CLUSTER NODES): who serves each, which it is
   * migrating and where to. Node names as the router uses them (natMap applied).
   */
  async #slotViews(): Promise<Map<string, SlotView>> {
    const address = (announced: string) => this.#natMapped(announced);
    const views = await Promise.all(
      [...this.#masterClients()].map(async ([key, client]) => {
        try {
          return [key, slotView(String(await client.call('CLUSTER', 'NODES')), address)] as const;
        } catch (err) {
          throw translateError(err, parseNodeKey(key), this.#options.commandTimeoutMs, client);
        }
      }),
    );
    return new Map(views);
  }

  /** `host:port` as announced by the cluster → as the router connects to it (natMap). */
  #natMapped(key: string): string {
    const natMap = this.#options.natMap;
    if (natMap === undefined) return key;
    const mapped = typeof natMap === 'function' ? natMap(parseNodeKey(key)) : natMap[key];
    return mapped === undefined ? key : `${mapped.host}:${mapped.port}`;
  }

  /** The ioredis Cluster itself (for tests, the bench and `withClient` users who need cluster-only calls). */
  get cluster(): Cluster {
    return this.#cluster;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchTimer);
    const cluster = this.#cluster;
    if (cluster.status === 'ready') {
      // QUIT lets replies in flight arrive; bounded so a paused node cannot block close().
      await Promise.race([
        cluster.quit().catch(() => undefined),
        new Promise((r) => setTimeout(r, this.#options.commandTimeoutMs).unref()),
      ]);
    }
    cluster.disconnect();
    this.#events.clear();
  }

  on<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void {
    this.#events.on(event, fn);
  }

  off<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void {
    this.#events.off(event, fn);
  }

  stats(): RouterStats {
    const masters = new Set(this.#owners.filter((k): k is string => k !== undefined));
    const nodes: RouterStats['nodes'] = {};
    for (const [key, c] of this.#counters) {
      nodes[key] = { ops: c.ops, errors: c.errors, role: masters.has(key) ? 'master' : 'replica' };
    }
    return { kind: this.kind, nodes, failovers: this.#failovers };
  }
}

/**
 * A Router for Redis Cluster: `routers.cluster({ nodes: [{ host, port }] })`. Built on
 * ioredis `Cluster`; see the README's "Cluster" section for what it guarantees.
 */
export function cluster(options: ClusterRouterOptions): ClusterRouter {
  return new ClusterRouter(options);
}
