import type { Compressor } from '../compressors/types.js';
import {
  type NearCacheOptions,
  type ResolvedNearCacheOptions,
  resolveNearCacheOptions,
} from '../near/options.js';
import type { Router } from '../routers/types.js';
import type { Serializer } from '../serializers/types.js';
import { DEFAULT_MAX_VALUE_BYTES } from './codec.js';
import { ConfigError } from './errors.js';
import type { KeyFunction, ReverseKeyFunction } from './keys.js';
import { parseTtl, type Ttl } from './ttl.js';

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
  /** TTL when a call gives none: ms, '30s', '5m', ..., or null for no expiry. Default '5m' (Django's 300 s). */
  defaultTtl?: Ttl;
  keyFunction?: KeyFunction;
  reverseKeyFunction?: ReverseKeyFunction;
  /** Connection-level failures become misses / no-ops, reported as 'error' events. Default false. */
  ignoreErrors?: boolean;
  /** Largest value accepted on write and produced by decompression on read. Default 64 MiB. */
  maxValueBytes?: number;
  /**
   * Keep recently read values in this process, kept true by Redis CLIENT TRACKING
   * (README "Near cache"). `true` for the defaults. Default off.
   */
  nearCache?: boolean | NearCacheOptions;
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
  nearCache: ResolvedNearCacheOptions | undefined;
}

export const DEFAULT_TTL_MS = 300_000;
/** One default, owned by the codec that enforces it. */
export { DEFAULT_MAX_VALUE_BYTES };

const ALLOWED = [
  'router',
  'serializer',
  'compressor',
  'keyPrefix',
  'version',
  'defaultTtl',
  'keyFunction',
  'reverseKeyFunction',
  'ignoreErrors',
  'maxValueBytes',
  'nearCache',
] as const;

const ALLOWED_SET: ReadonlySet<string> = new Set(ALLOWED);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/**
 * Validate createCache() options up front. Every refusal is a ConfigError naming the option
 * and what it accepts, so a typo fails at startup instead of at the first request.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (!isObject(options)) {
    throw new ConfigError('createCache(options): options must be an object with at least a `router`');
  }
  for (const name of Object.keys(options)) {
    if (!ALLOWED_SET.has(name)) {
      throw new ConfigError(`Unknown option '${name}'; allowed options: ${ALLOWED.join(', ')}`);
    }
  }

  const router = options.router;
  if (!isObject(router) || typeof router.execute !== 'function' || typeof router.close !== 'function') {
    throw new ConfigError(
      `Option 'router' must be a Router (routers.standalone(...), routers.discovery(...) or routers.pooled(...)); got ${describe(router)}`,
    );
  }

  const serializer = options.serializer;
  if (
    serializer !== undefined &&
    (!isObject(serializer) ||
      typeof serializer.serialize !== 'function' ||
      typeof serializer.deserialize !== 'function')
  ) {
    throw new ConfigError(
      `Option 'serializer' must be a Serializer (serializers.json(), msgpack(), v8(), string() or your own); got ${describe(serializer)}`,
    );
  }

  const compressor = options.compressor;
  if (
    compressor !== undefined &&
    (!isObject(compressor) ||
      typeof compressor.compress !== 'function' ||
      typeof compressor.decompress !== 'function')
  ) {
    throw new ConfigError(
      `Option 'compressor' must be a Compressor (compressors.none(), lz4(), zlib(), gzip(), brotli(), zstd() or your own); got ${describe(compressor)}`,
    );
  }

  const keyPrefix = options.keyPrefix ?? '';
  if (typeof keyPrefix !== 'string') {
    throw new ConfigError(`Option 'keyPrefix' must be a string; got ${describe(keyPrefix)}`);
  }

  const version = options.version ?? 1;
  if (typeof version !== 'number' || !Number.isSafeInteger(version)) {
    throw new ConfigError(`Option 'version' must be an integer; got ${describe(version)}`);
  }

  const defaultTtl =
    options.defaultTtl === undefined ? DEFAULT_TTL_MS : parseTtl(options.defaultTtl, "Option 'defaultTtl'");
  if (defaultTtl !== null && defaultTtl <= 0) {
    throw new ConfigError(
      `Option 'defaultTtl' must be positive (ms or '30s', '5m', ...) or null for no expiry; got ${describe(options.defaultTtl)}`,
    );
  }

  const keyFunction = options.keyFunction;
  const reverseKeyFunction = options.reverseKeyFunction;
  if (keyFunction !== undefined && typeof keyFunction !== 'function') {
    throw new ConfigError(`Option 'keyFunction' must be a function (key, prefix, version) => string`);
  }
  if (reverseKeyFunction !== undefined && typeof reverseKeyFunction !== 'function') {
    throw new ConfigError(`Option 'reverseKeyFunction' must be a function (redisKey) => key`);
  }
  if ((keyFunction === undefined) !== (reverseKeyFunction === undefined)) {
    throw new ConfigError(
      `Options 'keyFunction' and 'reverseKeyFunction' go together: give both (keys() needs the reverse) or neither`,
    );
  }

  const ignoreErrors = options.ignoreErrors ?? false;
  if (typeof ignoreErrors !== 'boolean') {
    throw new ConfigError(`Option 'ignoreErrors' must be true or false; got ${describe(ignoreErrors)}`);
  }

  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  if (typeof maxValueBytes !== 'number' || !Number.isSafeInteger(maxValueBytes) || maxValueBytes <= 0) {
    throw new ConfigError(
      `Option 'maxValueBytes' must be a positive integer (bytes); got ${describe(maxValueBytes)}`,
    );
  }

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
    nearCache: resolveNearCacheOptions(options.nearCache),
  };
}
