import { djangoRedisCodec } from './adapters/django-redis.js';
import { type Cache, createCache as createCoreCache } from './core/cache.js';
import type { CacheOptions } from './core/options.js';
import { createNearLayer } from './near/near-cache.js';

/**
 * Create a cache (the package's `createCache`): core's createCache with the implementations
 * of its optional contracts plugged in (the near cache, the django-redis codec), which core itself never imports.
 * Options are validated here: a bad option throws ConfigError naming it.
 */
export function createCache(options: CacheOptions): Cache {
  return createCoreCache(options, {
    nearCache: createNearLayer,
    compatCodecs: { 'django-redis': djangoRedisCodec },
  });
}
