import { cluster } from './cluster.js';
import { discovery } from './discovery.js';
import { pooled } from './pooled.js';
import { standalone } from './standalone.js';

/** Router strategies: how the cache picks the Redis node for each operation. */
export const routers = {
  standalone,
  discovery,
  pooled,
  cluster,
};

export type { ClusterRouterOptions } from './cluster.js';
export type { StandaloneOptions } from './standalone.js';
