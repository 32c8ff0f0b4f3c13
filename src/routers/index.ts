import type { Router } from '../core/router.js';
import { type ClusterRouter, type ClusterRouterOptions, cluster } from './cluster/cluster-router.js';
import { discovery } from './sentinel/discovery.js';
import { pooled } from './sentinel/pooled.js';
import { type StandaloneOptions, standalone } from './standalone.js';
import type { DiscoveryRouterOptions, PooledRouterOptions } from './types.js';

// Each router checks its options itself, in one place (standalone.ts, sentinel/options.ts,
// cluster/options.ts): unknown names with a "did you mean", wrong types naming the option, then
// the rules between options.

/** A router whose `ready()` is always there (the Sentinel routers: subscriptions up). */
export type ReadyRouter = Router & {
  /** Connects now (routers are lazy): resolves when the master answers, rejects with the named error. */
  ready(): Promise<void>;
};

/** Router strategies: how the cache picks the Redis node for each operation. */
export const routers = {
  /** One Redis server, by URL or host/port: development, tests, a single Redis. */
  standalone: (options: StandaloneOptions): Router => standalone(options),
  /** Sentinel: asks a sentinel on every operation where the master (or a live replica) is, then runs there. */
  discovery: (options: DiscoveryRouterOptions): ReadyRouter => discovery(options),
  /** Sentinel: resolves master and replicas once, keeps a pool per node, evicts on failover, with a breaker per role. */
  pooled: (options: PooledRouterOptions): ReadyRouter => pooled(options),
  /** Redis Cluster (ioredis `Cluster`): every method works across slots; a shard failover is followed. */
  cluster: (options: ClusterRouterOptions): ClusterRouter => cluster(options),
};

export type { ClusterRouterOptions } from './cluster/cluster-router.js';
export type { StandaloneOptions } from './standalone.js';
