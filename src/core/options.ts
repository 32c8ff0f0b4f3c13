import { DEFAULT_MAX_VALUE_BYTES } from './codec.js';
import { ConfigError } from './errors.js';
import type { Compressor, Serializer } from './formats.js';
import type { KeyFunction, ReverseKeyFunction } from './keys.js';
import type { NearCacheOptions } from './near.js';
import type { Router } from './router.js';
import { parseTtl, type Ttl } from './ttl.js';
import { optionError, type Schema, validateOptions } from './validate.js';

/** Options of `createCache()`. */
export interface CacheOptions {
  /** Where commands go: routers.standalone(...), routers.discovery(...), routers.pooled(...). */
  router: Router;
  /** Value serializer. Default: serializers.msgpack() (compact, fast, round-trips Date/Map/Set/Buffer/BigInt). */
  serializer?: Serializer;
  /** Value compressor. Default: compressors.none(). */
  compressor?: Compressor;
  /** Namespace of every key this cache writes. Default ''. */
  keyPrefix?: string;
  /** Default key version (django-redis VERSION). Default 1. */
  version?: number;
  /**
   * TTL when a call gives none, in **milliseconds** (`300` is 0.3 s, not 5 minutes), or a duration
   * string ('30s', '5m', ...), or null for no expiry. Default '5m' (Django's 300 s). A number
   * below 1,000 earns a one-time `SENTINEL_CACHE_TTL_UNITS` warning.
   */
  defaultTtl?: Ttl;
  /** Builds the Redis key from (key, keyPrefix, version); give `reverseKeyFunction` with it. Default: django-redis's `prefix:version:key`. */
  keyFunction?: KeyFunction;
  /** Recovers the user key from a Redis key (for `keys`, `iterKeys`); must undo `keyFunction`. */
  reverseKeyFunction?: ReverseKeyFunction;
  /** Connection-level failures become misses / no-ops, reported as 'error' events. Default false. */
  ignoreErrors?: boolean;
  /** Largest value accepted on write and produced by decompression on read. Default 64 MiB. */
  maxValueBytes?: number;
  /**
   * Keep recently read values in this process, kept true by Redis CLIENT TRACKING
   * (docs/near-cache.md). `true` for the defaults. Default off.
   */
  nearCache?: boolean | NearCacheOptions;
  /**
   * Store values in another library's format instead of sentinel-cache's header + payload:
   * 'django-redis' (django-redis 5, with the json or msgpack serializer and the none, zlib,
   * gzip, lz4 or zstd compressor). Default: none.
   */
  compat?: 'django-redis';
}

/** Options after validation, with defaults applied (serializer/compressor resolved by the cache). */
export interface ResolvedOptions {
  router: Router;
  serializer: Serializer | undefined;
  compressor: Compressor | undefined;
  keyPrefix: string;
  version: number;
  defaultTtl: number | null;
  keyFunction: KeyFunction | undefined;
  reverseKeyFunction: ReverseKeyFunction | undefined;
  ignoreErrors: boolean;
  maxValueBytes: number;
  /** Checked in detail by the near cache when the cache is built. */
  nearCache: true | NearCacheOptions | undefined;
  compat: string | undefined;
}

export const DEFAULT_TTL_MS = 300_000;
/** One default, owned by the codec that enforces it. */
export { DEFAULT_MAX_VALUE_BYTES };

const WHERE = 'createCache';

/** A numeric defaultTtl below this is most likely seconds written by a Django or ioredis habit. */
const SECONDS_HABIT_BELOW_MS = 1_000;
/** The code of the process warning emitted for such a defaultTtl (documented in the README). */
export const TTL_UNITS_WARNING_CODE = 'SENTINEL_CACHE_TTL_UNITS';
let ttlUnitsWarned = false;

/**
 * Warn once per process: a warning per cache would flood logs of apps creating many caches,
 * and once is enough to point at the units. Not an error: a sub-second TTL can be intended.
 */
function warnTtlUnitsOnce(value: number): void {
  if (ttlUnitsWarned) return;
  ttlUnitsWarned = true;
  process.emitWarning(
    `createCache: defaultTtl ${value} is ${value} milliseconds, not seconds; for ${value} seconds write '${value}s' (or ${value * 1000})`,
    { type: 'SentinelCacheWarning', code: TTL_UNITS_WARNING_CODE },
  );
}

/** Names and plain types; router, serializer, compressor and defaultTtl are checked below. */
const SCHEMA: Schema = {
  router: 'any',
  serializer: 'any',
  compressor: 'any',
  keyPrefix: 'string',
  version: 'integer',
  defaultTtl: 'any',
  keyFunction: 'function',
  reverseKeyFunction: 'function',
  ignoreErrors: 'boolean',
  maxValueBytes: 'positive integer',
  nearCache: { anyOf: ['boolean', 'object'], describe: 'true, false or { maxEntries, maxBytes, ttl, mode }' },
  compat: 'string',
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * Validate createCache() options up front. Every refusal is a ConfigError naming the option
 * and what it accepts, so a typo fails at startup instead of at the first request.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (!isObject(options)) {
    throw new ConfigError('createCache(options): options must be an object with at least a `router`');
  }
  validateOptions(WHERE, options, SCHEMA);

  const router = options.router;
  if (router === undefined) {
    throw new ConfigError(
      "createCache needs a router: routers.pooled({ sentinels, service }) for Sentinel (the production default), routers.discovery(...), or routers.standalone({ url: 'redis://127.0.0.1:6379' }) for one Redis",
    );
  }
  if (!isObject(router) || typeof router.execute !== 'function' || typeof router.close !== 'function') {
    throw optionError(
      WHERE,
      'router',
      'a Router (routers.standalone(...), routers.discovery(...) or routers.pooled(...))',
      router,
    );
  }

  const serializer = options.serializer;
  if (
    serializer !== undefined &&
    (!isObject(serializer) ||
      typeof serializer.serialize !== 'function' ||
      typeof serializer.deserialize !== 'function')
  ) {
    throw optionError(
      WHERE,
      'serializer',
      'a Serializer (serializers.json(), msgpack(), v8(), string() or your own)',
      serializer,
    );
  }

  const compressor = options.compressor;
  if (
    compressor !== undefined &&
    (!isObject(compressor) ||
      typeof compressor.compress !== 'function' ||
      typeof compressor.decompress !== 'function')
  ) {
    throw optionError(
      WHERE,
      'compressor',
      'a Compressor (compressors.none(), lz4(), zlib(), gzip(), brotli(), zstd() or your own)',
      compressor,
    );
  }

  // Types below were checked by the schema; what remains are rules between values.
  const keyPrefix = (options.keyPrefix as string | undefined) ?? '';
  const version = (options.version as number | undefined) ?? 1;

  const defaultTtl =
    options.defaultTtl === undefined ? DEFAULT_TTL_MS : parseTtl(options.defaultTtl, "Option 'defaultTtl'");
  if (defaultTtl !== null && defaultTtl <= 0) {
    throw optionError(
      WHERE,
      'defaultTtl',
      "positive (ms or '30s', '5m', ...) or null for no expiry",
      options.defaultTtl,
    );
  }
  if (typeof options.defaultTtl === 'number' && options.defaultTtl < SECONDS_HABIT_BELOW_MS) {
    warnTtlUnitsOnce(options.defaultTtl);
  }

  const keyFunction = options.keyFunction;
  const reverseKeyFunction = options.reverseKeyFunction;
  if ((keyFunction === undefined) !== (reverseKeyFunction === undefined)) {
    throw new ConfigError(
      `options 'keyFunction' and 'reverseKeyFunction' go together (${WHERE}): give both (keys() needs the reverse) or neither`,
    );
  }

  if (keyFunction === undefined) {
    const collision = prefixLookingVersioned(keyPrefix);
    if (collision !== undefined) {
      throw new ConfigError(
        `option 'keyPrefix' (${WHERE}) must not contain a ':<integer>' segment: the keys of prefix ${JSON.stringify(keyPrefix)} ` +
          `('${keyPrefix}:1:k') are also version ${collision.version} keys of prefix ${JSON.stringify(collision.prefix)}, ` +
          `so that cache's clear()/deletePattern()/keys() would reach them; use a non-numeric segment (e.g. ${JSON.stringify(collision.suggestion)})`,
      );
    }
  }

  const ignoreErrors = (options.ignoreErrors as boolean | undefined) ?? false;
  const maxValueBytes = (options.maxValueBytes as number | undefined) ?? DEFAULT_MAX_VALUE_BYTES;

  return {
    router: router as unknown as Router,
    serializer: serializer as Serializer | undefined,
    compressor: compressor as Compressor | undefined,
    keyPrefix,
    version,
    defaultTtl,
    keyFunction: keyFunction as KeyFunction | undefined,
    reverseKeyFunction: reverseKeyFunction as ReverseKeyFunction | undefined,
    ignoreErrors,
    maxValueBytes,
    nearCache:
      options.nearCache === undefined || options.nearCache === false
        ? undefined
        : (options.nearCache as true | NearCacheOptions),
    compat: options.compat as string | undefined,
  };
}

/**
 * With the default key layout `${prefix}:${version}:${key}`, a prefix with an integer segment
 * after a colon ('e:2', 'tenant:42:cache') makes keys that are also keys of a shorter prefix
 * at some version ('e:2:1:k' is version 2, key '1:k' of prefix 'e'): the two caches would share
 * Redis keys, and the shorter one's clear()/deletePattern()/keys() would reach the other's.
 * Returns the first such collision, or undefined.
 */
export function prefixLookingVersioned(
  prefix: string,
): { prefix: string; version: string; suggestion: string } | undefined {
  const segments = prefix.split(':');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (/^-?\d+$/.test(segment)) {
      const suggestion = [...segments.slice(0, i), `v${segment}`, ...segments.slice(i + 1)].join(':');
      return { prefix: segments.slice(0, i).join(':'), version: segment, suggestion };
    }
  }
  return undefined;
}
