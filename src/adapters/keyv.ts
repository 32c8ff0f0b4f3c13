/**
 * `sentinel-cache/keyv`: a Keyv storage adapter over a Cache, so Keyv, cache-manager 7 and
 * cacheable use sentinel-cache (Sentinel failover, codecs, near cache) as their Redis tier.
 *
 * It implements keyv 5's `KeyvStoreAdapter` (the major cache-manager 7, cacheable 2 and
 * `@keyv/test-suite` are built on). Keyv hands the store keys already prefixed with its
 * namespace (`namespace:key`) and values it already serialized (a string, unless Keyv was told
 * not to serialize); the store keeps them as they come, through the cache's own codec.
 *
 * @module sentinel-cache/keyv
 */
import { EventEmitter } from 'node:events';
import type { Cache } from '../core/cache.js';
import { ConfigError } from '../core/errors.js';
import { escapeGlob } from '../core/keys.js';
import { describeValue } from '../core/validate.js';

/** What Keyv reads from a store's `opts`: `dialect` 'redis' makes it use the store's iterator. */
export interface KeyvSentinelStoreOpts {
  /** Makes Keyv use the store's own `iterator`. */
  dialect: 'redis';
  /** A placeholder URL (Keyv reads one; the cache's router decides where data goes). */
  url: string;
  [option: string]: unknown;
}

/** One entry of `setMany`, as Keyv passes it (ttl in milliseconds). */
export interface KeyvSetManyEntry {
  /** The key, as Keyv passes it (prefixed with its namespace). */
  key: string;
  /** The value, as Keyv serialized it. */
  value: unknown;
  /** Time to live in milliseconds; none (or 0) means the cache's `defaultTtl`. */
  ttl?: number;
}

/** A Keyv 5 storage adapter over a `Cache`: `new Keyv({ store: new KeyvSentinelStore(cache) })`. */
export class KeyvSentinelStore extends EventEmitter {
  /** Keyv sets this to its namespace (default 'keyv'); `clear` and `iterator` stay within it. */
  namespace?: string | undefined;
  /** What Keyv reads from the store (`dialect: 'redis'`). */
  readonly opts: KeyvSentinelStoreOpts = { dialect: 'redis', url: 'redis+sentinel://sentinel-cache' };
  readonly #cache: Cache;

  /**
   * `cache` stays yours: the store reads and writes through it with its prefix, version, codec
   * and TTL rules (a Keyv write without a ttl gets the cache's `defaultTtl`). `disconnect()`
   * closes it.
   */
  constructor(cache: Cache) {
    super();
    // The usual slip: the cache's options (or a router) instead of the cache they make.
    if (typeof (cache as Partial<Cache> | null)?.getMany !== 'function') {
      throw new ConfigError(
        `new KeyvSentinelStore(cache) takes a Cache, such as new KeyvSentinelStore(createCache({ router })); got ${describeValue(cache)}`,
      );
    }
    this.#cache = cache;
  }

  /** The cache this store writes to. */
  get cache(): Cache {
    return this.#cache;
  }

  /** The value Keyv stored under `key`, or undefined on a miss. */
  async get<Value>(key: string): Promise<Value | undefined> {
    return this.#cache.get<Value>(key);
  }

  /** The values of `keys`, in order (undefined for each miss); one batch through `cache.getMany`. */
  async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    const found = await this.#cache.getMany<Value>(keys);
    return keys.map((key) => found.get(key));
  }

  /** `ttl` in milliseconds, as Keyv gives it; none (or 0) means the cache's `defaultTtl`. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    return this.#cache.set(key, value, ttlOption(ttl));
  }

  /** Write several entries; entries with the same ttl share one `cache.setMany` pipeline. */
  async setMany(entries: KeyvSetManyEntry[]): Promise<void> {
    // One pipeline per distinct ttl: usually one (Keyv gives every entry of a call the same).
    const byTtl = new Map<number | undefined, Array<[string, unknown]>>();
    for (const { key, value, ttl } of entries) {
      const group = ttlOption(ttl)?.ttl;
      const batch = byTtl.get(group) ?? [];
      if (batch.length === 0) byTtl.set(group, batch);
      batch.push([key, value]);
    }
    await Promise.all([...byTtl].map(([ttl, batch]) => this.#cache.setMany(batch, ttlOption(ttl))));
  }

  /** True if the key existed. */
  async delete(key: string): Promise<boolean> {
    return this.#cache.delete(key);
  }

  /** True if at least one of the keys existed (Keyv's contract). */
  async deleteMany(keys: string[]): Promise<boolean> {
    return (await this.#cache.deleteMany(keys)) > 0;
  }

  /** True if the key exists. */
  async has(key: string): Promise<boolean> {
    return this.#cache.has(key);
  }

  /** For each key, whether it exists (in order). */
  async hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((key) => this.#cache.has(key)));
  }

  /**
   * Deletes this namespace's keys (SCAN + UNLINK of `namespace:*` under the cache's prefix);
   * without a namespace, every key of the cache (`cache.clear()`), never the whole database.
   */
  async clear(): Promise<void> {
    if (this.namespace) await this.#cache.deletePattern(`${escapeGlob(this.namespace)}:*`);
    else await this.#cache.clear();
  }

  /** `[key, value]` for every key of `namespace` (Keyv passes its own), one SCAN batch at a time. */
  async *iterator<Value>(namespace?: string): AsyncGenerator<[string, Value | undefined], void> {
    const glob = namespace ? `${escapeGlob(namespace)}:*` : '*';
    for await (const key of this.#cache.iterKeys(glob)) {
      const value = await this.#cache.get<Value>(key);
      // A key deleted or expired between SCAN and GET is skipped, not reported as undefined.
      if (value !== undefined) yield [key, value];
    }
  }

  /** Closes the cache (Keyv's `disconnect()` ends the store's connections). */
  async disconnect(): Promise<void> {
    await this.#cache.close();
  }
}

/** Keyv's ttl (milliseconds; none or 0: the cache's defaultTtl) as the cache's option. */
function ttlOption(ttl: number | undefined): { ttl: number } | undefined {
  if (ttl !== undefined && typeof ttl !== 'number') {
    throw new ConfigError(
      `KeyvSentinelStore: ttl is milliseconds, a number (as Keyv passes it); got ${describeValue(ttl)}`,
    );
  }
  return ttl !== undefined && ttl > 0 ? { ttl } : undefined;
}
