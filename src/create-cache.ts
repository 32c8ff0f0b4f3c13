import { djangoRedisCodec } from './adapters/django-redis.js';
import { compressors } from './compressors/index.js';
import { type Cache, createCache as createCoreCache } from './core/cache.js';
import { type CodecOptions, Codec as CoreCodec } from './core/codec.js';
import type { CodecFormats } from './core/formats.js';
import type { CacheOptions } from './core/options.js';
import { createNearLayer } from './near/near-cache.js';
import { serializers } from './serializers/index.js';

/** The package's serializers and compressors (the process-wide registries) and the defaults. */
const BUILT_IN_FORMATS: CodecFormats = {
  serializers,
  compressors,
  defaultSerializer: () => serializers.msgpack(),
  defaultCompressor: () => compressors.none(),
};

/**
 * Create a cache (the package's `createCache`): core's createCache with the implementations
 * of its contracts plugged in (serializers and compressors, the near cache, the django-redis
 * codec), which core itself never imports.
 * Options are validated here: a bad option throws ConfigError naming it.
 */
export function createCache(options: CacheOptions): Cache {
  return createCoreCache(options, {
    formats: BUILT_IN_FORMATS,
    nearCache: createNearLayer,
    compatCodecs: { 'django-redis': djangoRedisCodec },
  });
}

/**
 * Values to the bytes a cache stores and back, outside a cache (the format is in
 * docs/design.md, "Values on the wire"). Reads values written with any registered serializer
 * and compressor; `compressor` defaults to compressors.none().
 */
export class Codec extends CoreCodec {
  constructor(options: CodecOptions) {
    super(options, BUILT_IN_FORMATS);
  }
}
