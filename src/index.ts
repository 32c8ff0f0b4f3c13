/**
 * The main entry point: `createCache`, the routers, serializers, compressors and every named error.
 *
 * @module sentinel-cache
 */
export type {
  BrotliOptions,
  Compressor,
  GzipOptions,
  Lz4Options,
  ZlibOptions,
  ZstdCompressor,
  ZstdImplementation,
  ZstdOptions,
} from './compressors/index.js';
export { compressors } from './compressors/index.js';
export {
  Cache,
  type HashFields,
  type IncrOptions,
  type KeyOptions,
  type NearCacheControl,
  type ScanOptions,
  type ScoreBound,
  type SetManyOptions,
  type SetOptions,
  type SScanOptions,
  type ZAddOptions,
  type ZRangeByScoreOptions,
  type ZRangeOptions,
} from './core/cache.js';
export type { CodecOptions, DecodedEntry } from './core/codec.js';
export type { EntryMeta, TagVersion } from './core/envelope.js';
export * from './core/errors.js';
export type {
  BreakerEvent,
  CacheEvent,
  CacheEventMap,
  ErrorEvent,
  FailoverEvent,
  KeyEvent,
  NearFlushEvent,
  RollbackEvent,
  StaleServedEvent,
  TopologyChangeEvent,
} from './core/events.js';
export type { Factory, FactoryContext, StaleReason } from './core/get-or-set/get-or-set.js';
export type { GetOrSetOptions, LockMode } from './core/get-or-set/options.js';
export { escapeGlob, type KeyFunction, type ReverseKeyFunction } from './core/keys.js';
export { type AcquireOptions, Lock, type LockOptions } from './core/lock.js';
export type { FlushReason, NearCacheOptions, NearCacheStats } from './core/near.js';
export type { CacheOptions } from './core/options.js';
export type { CacheStats, TierStats } from './core/stats.js';
export { parseTtl, type Ttl, type TtlString, type TtlUnit } from './core/ttl.js';
export { Codec, createCache } from './create-cache.js';
export {
  type ClusterRouterOptions,
  type ReadyRouter,
  routers,
  type StandaloneOptions,
} from './routers/index.js';
export type * from './routers/types.js';
export type { JsonOptions, MsgpackOptions, Serializer, V8Options } from './serializers/index.js';
export { serializers } from './serializers/index.js';
