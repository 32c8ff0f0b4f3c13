import type { ConnectionOptions } from 'node:tls';
import type { NodeAddress, ReadFrom } from '../core/router.js';

/** The router contract lives in core (core/router.ts); re-exported here for the routers' option types' users. */
export type {
  Intent,
  NodeAddress,
  ReadFrom,
  Router,
  RouterEvent,
  RouterEventMap,
  RouterStats,
  SpeculationStats,
} from '../core/router.js';

/** Options shared by every router that talks to data nodes. */
export interface NodeConnectionOptions {
  /** Database number (`SELECT`). Default 0. */
  db?: number;
  /** ACL user for the data nodes (with `password`). */
  username?: string;
  /** Password for the data nodes (`AUTH`); never echoed in messages. */
  password?: string;
  /** node:tls options for data nodes, or true for defaults (verification on). */
  tls?: ConnectionOptions | true;
  /** A command with no reply after this long fails with CommandTimeoutError. Default 500. */
  commandTimeoutMs?: number;
  /** TCP connect timeout. Default 1000. */
  connectTimeoutMs?: number;
  /**
   * Let idle connections not keep the process alive (like `socket.unref()`): a script that
   * forgets `cache.close()` still exits once its work is done. Covers every connection of the
   * router and those opened for it (the near cache's invalidation connections, getOrSet's fill
   * subscriber); a command in flight still holds the process until its reply or its timeout.
   * Default false: open connections keep the process alive, and a process that has nothing
   * else left to do gets a one-time `SENTINEL_CACHE_OPEN` warning saying so.
   */
  unref?: boolean;
}

/** Options of the two Sentinel strategies (discovery, pooled). */
export interface SentinelRouterOptions extends NodeConnectionOptions {
  /** The sentinels to ask, tried in order (the one that answers moves to the front). */
  sentinels: NodeAddress[];
  /** The name of the master the sentinels monitor (`sentinel monitor <service> ...`). */
  service: string;
  /** ACL user for the sentinels (with `sentinelPassword`). */
  sentinelUsername?: string;
  /** Password for the sentinels; never echoed in messages. */
  sentinelPassword?: string;
  /** node:tls options for the sentinels, or true for defaults (verification on). */
  sentinelTls?: ConnectionOptions | true;
  /** Timeout of one sentinel query before trying the next one. Default 250. */
  sentinelTimeoutMs?: number;
  /** Where reads go: `'master'` (default), `'replica'` or `'replica-preferred'` (docs/guarantees.md). */
  readFrom?: ReadFrom;
  /**
   * Read-your-writes for replica reads: for this long after a write of this router settles
   * (and while any is in flight), reads go to the master instead of a replica, so a process
   * reads back what it just wrote despite replication lag. `true` = 1000 ms. The router does
   * not see keys, so the window covers every key, not only the ones written. Default off.
   */
  readYourWrites?: boolean | number;
  /**
   * Replica reads only from replicas known to be at most this far behind the master (ms),
   * judged from the master's replication offsets (polled every 250 ms); a replica with no such
   * bound is skipped. Conservative: under writes the bound overstates the lag by up to ~1 s
   * (replicas acknowledge once a second), so values below ~1500 skip replicas often. Default
   * off.
   */
  maxReplicaLagMs?: number;
  /** Rewrite addresses announced by sentinels (NAT, Docker port mapping). */
  natMap?: Record<string, NodeAddress> | ((address: NodeAddress) => NodeAddress);
}

/** Options of `routers.discovery()`. */
export interface DiscoveryRouterOptions extends SentinelRouterOptions {
  /**
   * Send each read to the node of the last sentinel answer at the same time as the sentinel
   * query, and keep its reply only if that fresh answer (obtained after the read started)
   * names the same node and nothing changed its role meanwhile; otherwise the reply is
   * discarded and the read runs again on the node the answer names. One round trip per read
   * instead of two; writes always wait for the answer. Default true.
   */
  speculativeReads?: boolean;
}

/** Options of `routers.pooled()`. */
export interface PooledRouterOptions extends SentinelRouterOptions {
  /** The connection pool kept per node (generic-pool). */
  pool?: {
    /** Connections kept open per node. Default 1. */
    min?: number;
    /** Most connections per node. Default 8. */
    max?: number;
    /** Longest wait for a free connection of the pool, in ms. Default 1000. */
    acquireTimeoutMs?: number;
  };
  /** The circuit breaker per role (master, replica; opossum), counting node failures only. */
  breaker?: {
    /** Share of failed operations in the rolling window (%) that opens the breaker. Default 50. */
    errorThresholdPercentage?: number;
    /** How long an open breaker fails fast before one trial operation goes through, in ms. Default 1000. */
    resetTimeoutMs?: number;
    /** The rolling window the failures are counted over, in ms. Default 1000. */
    rollingCountTimeoutMs?: number;
    /** Operations the window must hold before the breaker can open. Default 10. */
    volumeThreshold?: number;
  };
}

/** Options of `routers.standalone()`: a `url`, or `host` and `port`. */
export interface StandaloneRouterOptions extends NodeConnectionOptions {
  /** redis:// or rediss:// URL. */
  url?: string;
  /** Server host, when no `url` is given. Default 127.0.0.1. */
  host?: string;
  /** Server port, when no `url` is given. Default 6379. */
  port?: number;
}
