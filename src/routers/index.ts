import { standalone } from './standalone.js';

/** Router strategies: how the cache picks the Redis node for each operation. */
export const routers = {
  standalone,
};

export type { StandaloneOptions } from './standalone.js';
