import type { Redis } from 'ioredis';
import type { Router } from './router.js';
import type { Ttl } from './ttl.js';

/**
 * The near cache's contract with the cache. Core owns it and calls it; `src/near/`
 * implements it (NearCache) and the package entry (`src/create-cache.ts`) plugs one in, so
 * core never imports the implementation.
 */

/** `createCache({ nearCache })` (README "Near cache"). */
export interface NearCacheOptions {
  /** Most entries held (LRU). Default 10_000. */
  maxEntries?: number;
  /** Most bytes held: encoded value bytes plus key bytes. Default 64 MiB. */
  maxBytes?: number;
  /** Longest an entry is served from memory; never past the key's own Redis TTL. Default '1m'. */
  ttl?: Ttl;
  /**
   * 'default': Redis remembers the keys each connection read and invalidates exactly those.
   * 'broadcast': Redis invalidates every key under the cache's prefix (`BCAST PREFIX`).
   */
  mode?: 'default' | 'broadcast';
}

/** Why everything held was dropped (`near-flush` event). */
export type FlushReason =
  | 'failover'
  | 'disconnect'
  | 'flushdb'
  | 'topology-change'
  | 'manual'
  /** A failover lost acknowledged writes (the `rollback` event). */
  | 'rollback';

/** `cache.stats().nearCache`. */
export interface NearCacheStats {
  /** Reads answered from memory (a held "no such key" included). */
  hits: number;
  /** Reads that had to go to Redis. */
  misses: number;
  /** Entries held now. */
  entries: number;
  /** Encoded value bytes plus key bytes held (what maxBytes bounds). */
  bytes: number;
  /** Keys dropped because Redis (or one of our own writes) said they changed. */
  invalidations: number;
  /** Times everything was dropped. */
  flushes: number;
  /** False when the server refused CLIENT TRACKING and the cache runs without a near cache. */
  enabled: boolean;
}

/** What the near cache holds for one Redis key: its encoded value, or null for "no such key". */
export interface NearEntry {
  value: Buffer | null;
  /** performance.now() after which the entry is no longer served. */
  expiresAt: number;
  /**
   * The decoded value, kept only when it is immutable (a string, number, boolean, bigint):
   * handing the same one to every caller is then safe, and a hit skips decoding.
   */
  decoded?: unknown;
  /**
   * A decoded Buffer value, kept private: Buffers are mutable, so every hit gets its own copy
   * of it (a copy costs far less than decoding again).
   */
  decodedBuffer?: Buffer;
}

/** What the commands call. */
export interface NearLayer {
  readonly enabled: boolean;
  /**
   * The held entry for a Redis key, or undefined: go to Redis. `now` (performance.now()) lets a
   * batch read the clock once for all its keys: its answer is what was held at that instant.
   */
  lookup(redisKey: string, now?: number): NearEntry | undefined;
  /**
   * The promise a read answered from held entries resolves through: at once, or after the event
   * loop turned when hits have kept it from turning for too long (a caller spinning on a held
   * key must let the invalidation that ends its wait arrive).
   */
  answer<T>(value: T | PromiseLike<T>): Promise<T>;
  /** GET (with the key's PTTL in the same round trip) on `client`; keeps the reply when safe. */
  read(client: Redis, redisKey: string): Promise<Buffer | null>;
  /** MGET (with the PTTL of each key in the same round trip) on `client`; keeps what is safe to. */
  readMany(client: Redis, redisKeys: string[]): Promise<Array<Buffer | null>>;
  /** `fn`, a write of ours to `redisKeys`, wrapped to drop their entries before it is sent and once answered. */
  ownWrite<T>(
    redisKeys: string | readonly string[],
    fn: (client: Redis) => Promise<T>,
  ): (client: Redis) => Promise<T>;
  flush(reason: FlushReason): void;
  stats(): NearCacheStats;
  close(): void;
}

/** Where a near cache reports to (the cache's events). */
export interface NearCacheSink {
  flushed(reason: FlushReason): void;
  error(error: Error): void;
}

/** Builds the near layer of one cache; given to core's createCache by the package entry. */
export type NearLayerFactory = (
  options: true | NearCacheOptions,
  env: {
    router: Router;
    /** Broadcast mode's prefix: `keyPrefix:` with the default key format, '' (all keys) otherwise. */
    broadcastPrefix: string;
    sink: NearCacheSink;
  },
) => NearLayer;
