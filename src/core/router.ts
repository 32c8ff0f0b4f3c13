import type { Redis } from 'ioredis';
import type { NodeAddress } from './address.js';
import type {
  DataConnectionHook,
  DataConnectionNeeds,
  RoutedCommandListener,
  RoutedCommands,
} from './connection-hook.js';

/**
 * The contract between the cache and its routers. It lives in core because core owns it:
 * routers implement it, the cache only calls it, and nothing here knows any router.
 */

export type { NodeAddress } from './address.js';

/** What an operation does to data: writes go to the master, reads may go to a replica. */
export type Intent = 'read' | 'write';

/** Where reads go: the master, a replica (`ReplicaNotFoundError` when none is usable), or a replica with fallbacks. */
export type ReadFrom = 'master' | 'replica' | 'replica-preferred';

/** Events a router emits; the Cache re-emits them to its own listeners. */
export interface RouterEventMap {
  /** Sentinel announced a new master (`+switch-master`) or the router noticed one. */
  failover: { service: string; from?: NodeAddress; to: NodeAddress };
  /** The set of nodes the router uses changed (pool evicted, replica set changed, sentinel list refreshed). */
  'topology-change': { reason: string; nodes?: NodeAddress[] };
  /** Pooled router: the role's circuit breaker opened. */
  'breaker-open': { role: 'master' | 'replica' };
  /** Pooled router: the role's circuit breaker lets a trial operation through. */
  'breaker-half-open': { role: 'master' | 'replica' };
  /** Pooled router: the role's circuit breaker closed. */
  'breaker-close': { role: 'master' | 'replica' };
  /**
   * The Sentinel routers: a switch promoted a node whose replication history cannot hold
   * writes the old master acknowledged to this router (docs/guarantees.md "Rollbacks").
   */
  rollback: RollbackInfo;
  /** A connection-level problem the router handled or is about to rethrow. */
  error: { error: Error };
}

export type RouterEvent = keyof RouterEventMap;

/** What a `rollback` event says (offsets count bytes of the masters' replication stream). */
export interface RollbackInfo {
  service: string;
  /** The master that acknowledged the writes. */
  from: NodeAddress;
  /** The master now, without them. */
  to: NodeAddress;
  /** `master_repl_offset` of `from` sampled before one of this router's acknowledged writes was sent. */
  ackedOffset: number;
  /** How far `to`'s copy of that history goes (below `ackedOffset`). */
  promotedOffset: number;
  /**
   * Roughly how many milliseconds of acknowledged writes are gone: from the last offset sample
   * `to` still holds to the last acknowledgement seen, to within the sampling period (250 ms).
   */
  estimatedLostMs: number;
}

/** Per-node counters for `cache.stats()`. Key is `host:port`. */
export interface RouterStats {
  /** The router's kind (`'pooled'`, `'discovery'`, `'standalone'`, `'cluster'`). */
  kind: string;
  /** Operations and errors per node (`host:port`), with the node's role when known. */
  nodes: Record<string, { ops: number; errors: number; role?: 'master' | 'replica' }>;
  /** Failovers the router saw. */
  failovers: number;
  /** Rollbacks detected (Sentinel routers; absent elsewhere). */
  rollbacks?: number;
  /** Pooled router: each role's breaker state. */
  breaker?: Record<'master' | 'replica', 'open' | 'half-open' | 'closed'>;
  /** routers.discovery with `speculativeReads` (the default): what became of the speculative reads. */
  speculation?: SpeculationStats;
}

/**
 * Speculative reads (routers.discovery): a read sent to the last known node together with the
 * sentinel query, its reply kept only if the fresh answer names that node.
 */
export interface SpeculationStats {
  /** Reads sent speculatively. */
  sent: number;
  /** The fresh answer confirmed the node: its reply (or its error) was the read's answer. */
  hits: number;
  /**
   * Reply discarded: the fresh answer named another node, the topology changed meanwhile, or
   * no sentinel answered (then the read fails, or falls back, as without speculation).
   */
  misses: number;
  /** Misses run again on the node the fresh answer named. */
  reruns: number;
  /** Failures of discarded speculative reads (never seen by the caller). */
  discardedErrors: number;
}

export interface Router {
  /** The router's kind (`'pooled'`, `'discovery'`, `'standalone'`, `'cluster'`). */
  readonly kind: string;
  /**
   * Run `fn` on a client connected to the node this strategy chose for `intent`.
   * Errors are translated into the named errors of `core/errors` (CommandTimeoutError,
   * ConnectionInterruptedError, MasterNotFoundError, ...). Redis reply errors that are not
   * connection-level (WRONGTYPE, ...) are passed through unchanged.
   */
  execute<T>(intent: Intent, fn: (client: Redis) => Promise<T>): Promise<T>;
  /** Close every connection the router opened (the cache calls it when its last user closes). */
  close(): Promise<void>;
  /** Listen to a router event (failover, topology change, breaker state, errors). */
  on<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void;
  /** Remove a listener added with `on`. */
  off<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void;
  /** The router's counters and state: per-node operations, breaker state, speculation. */
  stats(): RouterStats;
  /**
   * Resolves once what the router runs beside operations is up (the Sentinel routers: their
   * +switch-master subscriptions, and with `maxReplicaLagMs` the first replication figures).
   * `cache.ready()` calls it after its first PING. Absent: nothing beyond operations to wait for.
   */
  ready?(): Promise<void>;

  // Optional: routers over several masters (routers.cluster) implement these three; the
  // cache falls back to "one group, one node, everything combinable" when they are absent.

  /**
   * Indexes into `keys`, grouped by the node that serves them: the cache issues one group's
   * single-key commands in one tick (one round trip to that node; the lent client routes, and
   * on a cluster redirects, each command on its own) and runs the groups in parallel. Absent:
   * one node, whose batches are one command or one pipeline.
   */
  groupKeys?(keys: readonly string[]): number[][];
  /**
   * Whether one multi-key command or script over `keys` can run (Redis Cluster: all in one
   * hash slot). Absent: always true.
   */
  canCombine?(keys: readonly string[]): boolean;
  /**
   * Run `fn` on a connection to every master (keyless commands: SCAN, FLUSHDB) and return
   * the results; the router makes sure every key is covered once even if masters change
   * during the run (a node may then be run twice). On such a connection a multi-key command
   * still needs keys of one slot. Absent: the cache runs `fn` once through `execute('write')`.
   */
  eachMaster?<T>(fn: (client: Redis, node: NodeAddress) => Promise<T>): Promise<T[]>;
  /**
   * Run `hook` on every data connection this router opens, each time it becomes ready,
   * before it carries an operation (see DataConnectionHook); while it is registered the router
   * honours `needs` (see DataConnectionNeeds). Returns the function that removes the hook.
   * Optional: the near cache needs it and runs without one otherwise.
   */
  onDataConnection?(hook: DataConnectionHook, needs?: DataConnectionNeeds): () => void;
  /**
   * Routers whose `execute` lends one client that picks a data connection per command
   * (routers.cluster lends its ioredis Cluster: slot, MOVED, ASK and replica choice are
   * ioredis') implement this: `listener` runs for every command handed to a data connection,
   * so the near cache knows which connection carried a read. Returns the lent client and the
   * remover, or undefined when the router cannot watch its connections (the near cache then
   * turns itself off). Routers that lend the data connection itself do not implement it.
   */
  onRoutedCommand?(listener: RoutedCommandListener): RoutedCommands | undefined;
}
