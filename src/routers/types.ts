import type { ConnectionOptions } from 'node:tls';
import type { Redis } from 'ioredis';

/** What an operation does to data: writes go to the master, reads may go to a replica. */
export type Intent = 'read' | 'write';

export type ReadFrom = 'master' | 'replica' | 'replica-preferred';

export interface NodeAddress {
  host: string;
  port: number;
}

/** Events a router emits; the Cache re-emits them to its own listeners. */
export interface RouterEventMap {
  /** Sentinel announced a new master (`+switch-master`) or the router noticed one. */
  failover: { service: string; from?: NodeAddress; to: NodeAddress };
  /** The set of nodes the router uses changed (pool evicted, replica set changed, sentinel list refreshed). */
  'topology-change': { reason: string; nodes?: NodeAddress[] };
  'breaker-open': { role: 'master' | 'replica' };
  'breaker-half-open': { role: 'master' | 'replica' };
  'breaker-close': { role: 'master' | 'replica' };
  /** A connection-level problem the router handled or is about to rethrow. */
  error: { error: Error };
}

export type RouterEvent = keyof RouterEventMap;

/** Per-node counters for `cache.stats()`. Key is `host:port`. */
export interface RouterStats {
  kind: string;
  nodes: Record<string, { ops: number; errors: number; role?: 'master' | 'replica' }>;
  failovers: number;
  breaker?: Record<'master' | 'replica', 'open' | 'half-open' | 'closed'>;
}

export interface Router {
  readonly kind: string;
  /**
   * Run `fn` on a client connected to the node this strategy chose for `intent`.
   * Errors are translated into the named errors of `core/errors` (CommandTimeoutError,
   * ConnectionInterruptedError, MasterNotFoundError, ...). Redis reply errors that are not
   * connection-level (WRONGTYPE, ...) are passed through unchanged.
   */
  execute<T>(intent: Intent, fn: (client: Redis) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  on<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void;
  off<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void;
  stats(): RouterStats;
}

/** Options shared by every router that talks to data nodes. */
export interface NodeConnectionOptions {
  db?: number;
  username?: string;
  password?: string;
  /** node:tls options for data nodes, or true for defaults (verification on). */
  tls?: ConnectionOptions | true;
  /** A command with no reply after this long fails with CommandTimeoutError. Default 500. */
  commandTimeoutMs?: number;
  /** TCP connect timeout. Default 1000. */
  connectTimeoutMs?: number;
}

/** Options of the two Sentinel strategies (discovery, pooled). */
export interface SentinelRouterOptions extends NodeConnectionOptions {
  sentinels: NodeAddress[];
  service: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
  sentinelTls?: ConnectionOptions | true;
  /** Timeout of one sentinel query before trying the next one. Default 250. */
  sentinelTimeoutMs?: number;
  readFrom?: ReadFrom;
  /**
   * Read-your-writes for replica reads: for this long after a write of this router settles
   * (and while any is in flight), reads go to the master instead of a replica, so a process
   * reads back what it just wrote despite replication lag. `true` = 1000 ms. The router does
   * not see keys, so the window covers every key, not only the ones written. Default off.
   */
  readYourWrites?: boolean | number;
  /** Rewrite addresses announced by sentinels (NAT, Docker port mapping). */
  natMap?: Record<string, NodeAddress> | ((address: NodeAddress) => NodeAddress);
}

export interface PooledRouterOptions extends SentinelRouterOptions {
  pool?: { min?: number; max?: number; acquireTimeoutMs?: number };
  breaker?: {
    errorThresholdPercentage?: number;
    resetTimeoutMs?: number;
    rollingCountTimeoutMs?: number;
    volumeThreshold?: number;
  };
}

export interface StandaloneRouterOptions extends NodeConnectionOptions {
  /** redis:// or rediss:// URL. */
  url?: string;
  host?: string;
  port?: number;
}
