import type { Redis } from 'ioredis';
import { Codec, type CompatCodecFactory, type ValueCodec } from './codec.js';
import type { CommandContext, KeyOptions } from './commands/context.js';
import type { IncrOptions } from './commands/counters.js';
import * as counters from './commands/counters.js';
import { fillContext, getOrSet } from './commands/get-or-set.js';
import type { HashFields } from './commands/hashes.js';
import * as hashes from './commands/hashes.js';
import type { ScanOptions } from './commands/keyspace.js';
import * as keyspace from './commands/keyspace.js';
import { lock } from './commands/locks.js';
import type { Entries, SetManyOptions } from './commands/many.js';
import * as many from './commands/many.js';
import {
  ADD_OPTIONS,
  countRefusal,
  GET_OR_SET_OPTIONS,
  INCR_OPTIONS,
  KEY_OPTIONS,
  SCAN_OPTIONS,
  SET_MANY_OPTIONS,
  SET_OPTIONS,
  SSCAN_OPTIONS,
  ZADD_OPTIONS,
  ZRANGE_BY_SCORE_OPTIONS,
  ZRANGE_OPTIONS,
} from './commands/method-options.js';
import type { SScanOptions } from './commands/sets.js';
import * as sets from './commands/sets.js';
import type { ScoreBound, ZAddOptions, ZRangeByScoreOptions, ZRangeOptions } from './commands/sorted-sets.js';
import * as zsets from './commands/sorted-sets.js';
import type { SetOptions } from './commands/strings.js';
import * as strings from './commands/strings.js';
import * as tagged from './commands/tagged.js';
import { CACHE_ID } from './diagnostics.js';
import { ConfigError } from './errors.js';
import { type CacheEvent, type CacheEventMap, type Listener, TypedEmitter } from './events.js';
import { Executor, routerInUse } from './executor.js';
import type { CodecFormats } from './formats.js';
import type { Factory } from './get-or-set/get-or-set.js';
import type { GetOrSetOptions } from './get-or-set/options.js';
import { checkVersion, KeyBuilder } from './keys.js';
import type { Lock, LockOptions } from './lock.js';
import type { NearCacheStats, NearLayer, NearLayerFactory } from './near.js';
import { type CacheOptions, resolveOptions } from './options.js';
import { toNamedError } from './redis-errors.js';
import type { Intent, Router, RouterEventMap } from './router.js';
import { type CacheStats, Counters } from './stats.js';
import type { Ttl } from './ttl.js';

export type { KeyOptions } from './commands/context.js';
export type { IncrOptions } from './commands/counters.js';
export type { HashFields } from './commands/hashes.js';
export type { ScanOptions } from './commands/keyspace.js';
export type { SetManyOptions } from './commands/many.js';
export type { SScanOptions } from './commands/sets.js';
export type { ScoreBound, ZAddOptions, ZRangeByScoreOptions, ZRangeOptions } from './commands/sorted-sets.js';
export type { SetOptions } from './commands/strings.js';

/** `cache.nearCache`: the near cache's controls (present whether or not it is on). */
export interface NearCacheControl {
  /** False when `nearCache` is off, or the server refused CLIENT TRACKING. */
  readonly enabled: boolean;
  /** Drop every entry held in this process (emits `near-flush` with reason 'manual'). */
  clear(): Promise<void>;
  /** The near cache's counters, or undefined when it is off. */
  stats(): NearCacheStats | undefined;
}

/** Implementations core calls but does not import; the package entry (src/create-cache.ts) supplies them. */
export interface CacheLayers {
  /** The serializers and compressors (registries, defaults: msgpack, none). */
  formats: CodecFormats;
  nearCache?: NearLayerFactory;
  /** Codecs selectable with the `compat` option, by name (src/adapters/django-redis.ts). */
  compatCodecs?: Readonly<Record<string, CompatCodecFactory>>;
}

/**
 * The cache: django-redis's API over a Router, as a facade. Each method delegates to its
 * command family in `core/commands/` (strings, many, counters, keyspace, sets, hashes,
 * sorted-sets, locks); those build keys (core/keys), encode values (core/codec) and run
 * through the executor (core/executor: routing intent, ignoreErrors, events, stats). A method
 * that takes an options object checks it first (commands/method-options.ts): a refused one is
 * the method's rejection, before anything else happens.
 */
export class Cache {
  readonly #ctx: CommandContext;

  /** @internal use createCache() */
  constructor(ctx: CommandContext) {
    this.#ctx = ctx;
  }

  /** The default version of this cache (or view). */
  get version(): number {
    return this.#ctx.version;
  }

  /** The router serving this cache. */
  get router(): Router {
    return this.#ctx.executor.router;
  }

  /**
   * The same cache with another default version — for the variadic methods (`sadd`, `sinter`,
   * `zrem`, ...) that cannot take an options object: `cache.withVersion(2).sadd('k', 'a')`.
   */
  withVersion(version: number): Cache {
    return new Cache({ ...this.#ctx, version: checkVersion(version) });
  }

  // ---------------------------------------------------------------- strings

  /** The value, or undefined on a miss. */
  get<T = unknown>(key: string, options?: KeyOptions): Promise<T | undefined> {
    return KEY_OPTIONS.refusal(options, 'cache.get()') ?? strings.get<T>(this.#ctx, key, options);
  }

  /** Write a value. True if written; false if nx/xx prevented it or ttl <= 0 (which deletes). */
  set(key: string, value: unknown, options?: SetOptions): Promise<boolean> {
    return SET_OPTIONS.refusal(options, 'cache.set()') ?? strings.set(this.#ctx, key, value, options);
  }

  /** Write only if the key does not exist. */
  add(key: string, value: unknown, options?: Omit<SetOptions, 'nx' | 'xx'>): Promise<boolean> {
    return (
      ADD_OPTIONS.refusal(options, 'cache.add()') ??
      strings.set(this.#ctx, key, value, { ...options, nx: true })
    );
  }

  /**
   * The cached value, or the factory's result stored under `key` — with grace, soft/hard
   * timeouts, cross-process single flight and tags (see docs/get-or-set.md).
   */
  getOrSet<T>(key: string, factory: Factory<T>, options?: GetOrSetOptions): Promise<T> {
    return (
      GET_OR_SET_OPTIONS.refusal(options, 'cache.getOrSet()') ?? getOrSet(this.#ctx, key, factory, options)
    );
  }

  /** Every entry carrying one of `tags` reads as a miss from now on, in every process. */
  invalidateTags(tags: readonly string[]): Promise<void> {
    return tagged.invalidateTags(this.#ctx, tags);
  }

  // ---------------------------------------------------------------- many keys

  /** Values of the keys that exist, in one MGET. */
  getMany<T = unknown>(keys: Iterable<string>, options?: KeyOptions): Promise<Map<string, T>> {
    return KEY_OPTIONS.refusal(options, 'cache.getMany()') ?? many.getMany<T>(this.#ctx, keys, options);
  }

  /** Write many values in one round trip (one pipeline of SET PX). All values are encoded first. */
  setMany(entries: Entries, options?: SetManyOptions): Promise<void> {
    return SET_MANY_OPTIONS.refusal(options, 'cache.setMany()') ?? many.setMany(this.#ctx, entries, options);
  }

  /** Number of keys that existed. */
  deleteMany(keys: Iterable<string>, options?: KeyOptions): Promise<number> {
    return KEY_OPTIONS.refusal(options, 'cache.deleteMany()') ?? many.deleteMany(this.#ctx, keys, options);
  }

  // ---------------------------------------------------------------- keys and expiry

  /** True if the key existed. */
  delete(key: string, options?: KeyOptions): Promise<boolean> {
    return KEY_OPTIONS.refusal(options, 'cache.delete()') ?? keyspace.del(this.#ctx, key, options);
  }

  /** True if the key exists (answered from memory when the near cache holds it). */
  has(key: string, options?: KeyOptions): Promise<boolean> {
    return KEY_OPTIONS.refusal(options, 'cache.has()') ?? keyspace.has(this.#ctx, key, options);
  }

  /** Remaining time to live in **milliseconds** (PTTL); null = no expiry; undefined = no such key. */
  ttl(key: string, options?: KeyOptions): Promise<number | null | undefined> {
    return KEY_OPTIONS.refusal(options, 'cache.ttl()') ?? keyspace.ttl(this.#ctx, key, options);
  }

  /**
   * Set a new TTL in **milliseconds** (`expire(k, 3600)` is 3.6 s; write '1h' for an hour) or a
   * duration string. 0 or less deletes, null persists, omitted = defaultTtl. False if no such key.
   */
  expire(key: string, ttl?: Ttl, options?: KeyOptions): Promise<boolean> {
    return KEY_OPTIONS.refusal(options, 'cache.expire()') ?? keyspace.expire(this.#ctx, key, ttl, options);
  }

  /** Expire at a moment (Date or epoch milliseconds); a past moment deletes. False if no such key. */
  expireAt(key: string, when: Date | number, options?: KeyOptions): Promise<boolean> {
    return (
      KEY_OPTIONS.refusal(options, 'cache.expireAt()') ?? keyspace.expireAt(this.#ctx, key, when, options)
    );
  }

  /** Remove the TTL. False if no such key. */
  persist(key: string, options?: KeyOptions): Promise<boolean> {
    return KEY_OPTIONS.refusal(options, 'cache.persist()') ?? keyspace.persist(this.#ctx, key, options);
  }

  /** Reset the TTL, in milliseconds or a duration string (default: defaultTtl). False if no such key. */
  touch(key: string, ttl?: Ttl, options?: KeyOptions): Promise<boolean> {
    return KEY_OPTIONS.refusal(options, 'cache.touch()') ?? keyspace.expire(this.#ctx, key, ttl, options);
  }

  /** User keys matching `glob` (prefix and version stripped). One SCAN loop on one node. */
  keys(glob: string, options?: ScanOptions): Promise<string[]> {
    return SCAN_OPTIONS.refusal(options, 'cache.keys()') ?? keyspace.keys(this.#ctx, glob, options);
  }

  /** User keys matching `glob`, one SCAN batch at a time (on the master: a cursor belongs to one node). */
  iterKeys(glob: string, options?: ScanOptions): AsyncIterableIterator<string> {
    SCAN_OPTIONS.check(options, 'cache.iterKeys()');
    return keyspace.iterKeys(this.#ctx, glob, options);
  }

  /** SCAN + UNLINK of this cache's keys matching `glob`; returns how many were deleted. */
  deletePattern(glob: string, options?: ScanOptions): Promise<number> {
    return (
      SCAN_OPTIONS.refusal(options, 'cache.deletePattern()') ??
      keyspace.deletePattern(this.#ctx, glob, options)
    );
  }

  /** Delete every key of this cache's prefix (all versions); returns how many. Not the whole database. */
  clear(): Promise<number> {
    return keyspace.clear(this.#ctx);
  }

  /** FLUSHDB: wipes the whole database, every prefix, every client's keys. */
  flushDb(): Promise<void> {
    return keyspace.flushDb(this.#ctx);
  }

  // ---------------------------------------------------------------- counters and versions

  /** Atomically add `delta`; keeps the TTL. KeyNotFoundError if missing (unless ignoreKeyCheck). */
  incr(key: string, delta = 1, options?: IncrOptions): Promise<number> {
    return INCR_OPTIONS.refusal(options, 'cache.incr()') ?? counters.incr(this.#ctx, key, delta, options);
  }

  /** `incr(key, -delta)`: atomically subtract `delta` (default 1); same rules as `incr`. */
  decr(key: string, delta = 1, options?: IncrOptions): Promise<number> {
    return INCR_OPTIONS.refusal(options, 'cache.decr()') ?? counters.decr(this.#ctx, key, delta, options);
  }

  /** Move the key to version + delta keeping value and TTL; returns the new version. */
  incrVersion(key: string, delta = 1, options?: KeyOptions): Promise<number> {
    return (
      KEY_OPTIONS.refusal(options, 'cache.incrVersion()') ??
      counters.incrVersion(this.#ctx, key, delta, options)
    );
  }

  /** `incrVersion(key, -delta)`: move the key to version - delta keeping value and TTL. */
  decrVersion(key: string, delta = 1, options?: KeyOptions): Promise<number> {
    return (
      KEY_OPTIONS.refusal(options, 'cache.decrVersion()') ??
      counters.decrVersion(this.#ctx, key, delta, options)
    );
  }

  // ---------------------------------------------------------------- locks and raw access

  /** A distributed lock named `name` (stored under the cache's key for `name`). Not yet acquired. */
  lock(name: string, options?: LockOptions): Lock {
    return lock(this.#ctx, name, options);
  }

  /** Run raw ioredis commands on the node the router picks for `intent`. */
  async withClient<R>(intent: Intent, fn: (client: Redis) => Promise<R>): Promise<R> {
    if (intent !== 'read' && intent !== 'write')
      throw new ConfigError("withClient: intent must be 'read' or 'write'");
    return this.#ctx.executor.run(intent, 'withClient', undefined, null, fn);
  }

  // ---------------------------------------------------------------- sets (members through the codec)

  /** Add members to a set; returns how many were not in it yet. */
  sadd(key: string, ...members: unknown[]): Promise<number> {
    return sets.sadd(this.#ctx, key, members);
  }

  /** Remove members from a set; returns how many were in it. */
  srem(key: string, ...members: unknown[]): Promise<number> {
    return sets.srem(this.#ctx, key, members);
  }

  /** Every member of a set (an empty Set when the key does not exist). */
  smembers<T = unknown>(key: string, options?: KeyOptions): Promise<Set<T>> {
    return KEY_OPTIONS.refusal(options, 'cache.smembers()') ?? sets.smembers<T>(this.#ctx, key, options);
  }

  /** True if `member` is in the set. */
  sismember(key: string, member: unknown, options?: KeyOptions): Promise<boolean> {
    return (
      KEY_OPTIONS.refusal(options, 'cache.sismember()') ?? sets.sismember(this.#ctx, key, member, options)
    );
  }

  /** For each member, whether it is in the set (one answer per member, in order). */
  smismember(key: string, ...members: unknown[]): Promise<boolean[]> {
    return sets.smismember(this.#ctx, key, members);
  }

  /** How many members the set has (0 when the key does not exist). */
  scard(key: string, options?: KeyOptions): Promise<number> {
    return KEY_OPTIONS.refusal(options, 'cache.scard()') ?? sets.scard(this.#ctx, key, options);
  }

  /** Remove and return one random member (undefined if empty), or a Set of up to `count`. */
  spop<T = unknown>(key: string, count?: undefined, options?: KeyOptions): Promise<T | undefined>;
  spop<T = unknown>(key: string, count: number, options?: KeyOptions): Promise<Set<T>>;
  spop<T = unknown>(key: string, count?: number, options?: KeyOptions): Promise<T | undefined | Set<T>> {
    return (
      countRefusal(count, 'cache.spop()') ??
      KEY_OPTIONS.refusal(options, 'cache.spop()') ??
      sets.spop<T>(this.#ctx, key, count, options)
    );
  }

  /** One random member (undefined if empty), or an array of `count` (negative: may repeat). */
  srandmember<T = unknown>(key: string, count?: undefined, options?: KeyOptions): Promise<T | undefined>;
  srandmember<T = unknown>(key: string, count: number, options?: KeyOptions): Promise<T[]>;
  srandmember<T = unknown>(key: string, count?: number, options?: KeyOptions): Promise<T | undefined | T[]> {
    return (
      countRefusal(count, 'cache.srandmember()') ??
      KEY_OPTIONS.refusal(options, 'cache.srandmember()') ??
      sets.srandmember<T>(this.#ctx, key, count, options)
    );
  }

  /** Move `member` from one set to another; true if it was moved. On a cluster both keys must share a hash slot. */
  smove(source: string, destination: string, member: unknown, options?: KeyOptions): Promise<boolean> {
    return (
      KEY_OPTIONS.refusal(options, 'cache.smove()') ??
      sets.smove(this.#ctx, source, destination, member, options)
    );
  }

  /** The members of the first set that are in none of the others (computed in the client across slots on a cluster). */
  sdiff<T = unknown>(...keys: string[]): Promise<Set<T>> {
    return sets.setAlgebra<T>(this.#ctx, 'sdiff', keys);
  }

  /** The members present in every one of the sets (computed in the client across slots on a cluster). */
  sinter<T = unknown>(...keys: string[]): Promise<Set<T>> {
    return sets.setAlgebra<T>(this.#ctx, 'sinter', keys);
  }

  /** The members of any of the sets (computed in the client across slots on a cluster). */
  sunion<T = unknown>(...keys: string[]): Promise<Set<T>> {
    return sets.setAlgebra<T>(this.#ctx, 'sunion', keys);
  }

  /** Store `sdiff(...keys)` in `destination`; returns its size. On a cluster all keys must share a hash slot. */
  sdiffstore(destination: string, ...keys: string[]): Promise<number> {
    return sets.setStore(this.#ctx, 'sdiffstore', destination, keys);
  }

  /** Store `sinter(...keys)` in `destination`; returns its size. On a cluster all keys must share a hash slot. */
  sinterstore(destination: string, ...keys: string[]): Promise<number> {
    return sets.setStore(this.#ctx, 'sinterstore', destination, keys);
  }

  /** Store `sunion(...keys)` in `destination`; returns its size. On a cluster all keys must share a hash slot. */
  sunionstore(destination: string, ...keys: string[]): Promise<number> {
    return sets.setStore(this.#ctx, 'sunionstore', destination, keys);
  }

  /** All members (optionally those whose stored bytes match `match`), via SSCAN on one node. */
  sscan<T = unknown>(key: string, options?: SScanOptions): Promise<Set<T>> {
    return SSCAN_OPTIONS.refusal(options, 'cache.sscan()') ?? sets.sscan<T>(this.#ctx, key, options);
  }

  // ---------------------------------------------------------------- hashes (fields are strings, values through the codec)

  /**
   * Set fields, as Redis' HSET: `hset(key, field, value)` or many at once with
   * `hset(key, { a: 1, b: 2 })` / a Map. Returns how many fields were new (0 if all were updated).
   */
  hset(key: string, field: string, value: unknown, options?: KeyOptions): Promise<number>;
  hset(key: string, fields: HashFields, options?: KeyOptions): Promise<number>;
  hset(
    key: string,
    fieldOrFields: string | HashFields,
    valueOrOptions?: unknown,
    options?: KeyOptions,
  ): Promise<number> {
    if (typeof fieldOrFields === 'string') {
      return (
        KEY_OPTIONS.refusal(options, 'cache.hset()') ??
        hashes.hset(this.#ctx, key, new Map([[fieldOrFields, valueOrOptions]]), options)
      );
    }
    return (
      KEY_OPTIONS.refusal(valueOrOptions, 'cache.hset()') ??
      hashes.hset(this.#ctx, key, fieldOrFields, valueOrOptions as KeyOptions | undefined)
    );
  }

  /** The value of one field of a hash, or undefined when the field or the key does not exist. */
  hget<T = unknown>(key: string, field: string, options?: KeyOptions): Promise<T | undefined> {
    return KEY_OPTIONS.refusal(options, 'cache.hget()') ?? hashes.hget<T>(this.#ctx, key, field, options);
  }

  /** Every field of a hash with its value, as a Map (empty when the key does not exist). */
  hgetall<T = unknown>(key: string, options?: KeyOptions): Promise<Map<string, T>> {
    return KEY_OPTIONS.refusal(options, 'cache.hgetall()') ?? hashes.hgetall<T>(this.#ctx, key, options);
  }

  /** Delete one field or several; returns how many existed. */
  hdel(key: string, fields: string | string[], options?: KeyOptions): Promise<number> {
    return KEY_OPTIONS.refusal(options, 'cache.hdel()') ?? hashes.hdel(this.#ctx, key, fields, options);
  }

  /** How many fields the hash has. */
  hlen(key: string, options?: KeyOptions): Promise<number> {
    return KEY_OPTIONS.refusal(options, 'cache.hlen()') ?? hashes.hlen(this.#ctx, key, options);
  }

  /** The field names of a hash. */
  hkeys(key: string, options?: KeyOptions): Promise<string[]> {
    return KEY_OPTIONS.refusal(options, 'cache.hkeys()') ?? hashes.hkeys(this.#ctx, key, options);
  }

  /** True if the hash has the field. */
  hexists(key: string, field: string, options?: KeyOptions): Promise<boolean> {
    return KEY_OPTIONS.refusal(options, 'cache.hexists()') ?? hashes.hexists(this.#ctx, key, field, options);
  }

  // ---------------------------------------------------------------- sorted sets (members through the codec)

  /** Add members with scores: `zadd(key, { alice: 1, bob: 2 })` or a Map for non-string members. */
  zadd(
    key: string,
    mapping: Record<string, number> | Map<unknown, number>,
    options?: ZAddOptions,
  ): Promise<number> {
    return ZADD_OPTIONS.refusal(options, 'cache.zadd()') ?? zsets.zadd(this.#ctx, key, mapping, options);
  }

  /** Members by rank, lowest score first, `start` to `stop` inclusive (negative counts from the end), as `[member, score]` pairs. */
  zrange<T = unknown>(
    key: string,
    start: number,
    stop: number,
    options: ZRangeOptions & { withScores: true },
  ): Promise<Array<[T, number]>>;
  /** Members by rank, lowest score first, `start` to `stop` inclusive (negative counts from the end). */
  zrange<T = unknown>(key: string, start: number, stop: number, options?: ZRangeOptions): Promise<T[]>;
  zrange<T = unknown>(key: string, start: number, stop: number, options?: ZRangeOptions) {
    return (
      ZRANGE_OPTIONS.refusal(options, 'cache.zrange()') ??
      zsets.zrange<T>(this.#ctx, key, start, stop, options, false)
    );
  }

  /** Members by rank, highest score first, `start` to `stop` inclusive, as `[member, score]` pairs. */
  zrevrange<T = unknown>(
    key: string,
    start: number,
    stop: number,
    options: ZRangeOptions & { withScores: true },
  ): Promise<Array<[T, number]>>;
  /** Members by rank, highest score first, `start` to `stop` inclusive (negative counts from the end). */
  zrevrange<T = unknown>(key: string, start: number, stop: number, options?: ZRangeOptions): Promise<T[]>;
  zrevrange<T = unknown>(key: string, start: number, stop: number, options?: ZRangeOptions) {
    return (
      ZRANGE_OPTIONS.refusal(options, 'cache.zrevrange()') ??
      zsets.zrange<T>(this.#ctx, key, start, stop, options, true)
    );
  }

  /** Members with a score between `min` and `max` (Redis bounds: `'(1'`, `'-inf'`), as `[member, score]` pairs. */
  zrangebyscore<T = unknown>(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options: ZRangeByScoreOptions & { withScores: true },
  ): Promise<Array<[T, number]>>;
  /** Members with a score between `min` and `max` (Redis bounds: `'(1'`, `'-inf'`), lowest first. */
  zrangebyscore<T = unknown>(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ZRangeByScoreOptions,
  ): Promise<T[]>;
  zrangebyscore<T = unknown>(key: string, min: ScoreBound, max: ScoreBound, options?: ZRangeByScoreOptions) {
    return (
      ZRANGE_BY_SCORE_OPTIONS.refusal(options, 'cache.zrangebyscore()') ??
      zsets.zrangebyscore<T>(this.#ctx, key, min, max, options)
    );
  }

  /** A member's score, or undefined when it is not in the sorted set. */
  zscore(key: string, member: unknown, options?: KeyOptions): Promise<number | undefined> {
    return KEY_OPTIONS.refusal(options, 'cache.zscore()') ?? zsets.zscore(this.#ctx, key, member, options);
  }

  /** A member's rank (0 = lowest score), or undefined when it is not in the sorted set. */
  zrank(key: string, member: unknown, options?: KeyOptions): Promise<number | undefined> {
    return KEY_OPTIONS.refusal(options, 'cache.zrank()') ?? zsets.zrank(this.#ctx, key, member, options);
  }

  /** Remove members from a sorted set; returns how many were in it. */
  zrem(key: string, ...members: unknown[]): Promise<number> {
    return zsets.zrem(this.#ctx, key, members);
  }

  /** Add `amount` to a member's score (creating it); returns the new score. Redis' argument order. */
  zincrby(key: string, amount: number, member: unknown, options?: KeyOptions): Promise<number> {
    return (
      KEY_OPTIONS.refusal(options, 'cache.zincrby()') ??
      zsets.zincrby(this.#ctx, key, amount, member, options)
    );
  }

  /** How many members the sorted set has. */
  zcard(key: string, options?: KeyOptions): Promise<number> {
    return KEY_OPTIONS.refusal(options, 'cache.zcard()') ?? zsets.zcard(this.#ctx, key, options);
  }

  /** How many members have a score between `min` and `max` (Redis bounds: `'(1'`, `'-inf'`). */
  zcount(key: string, min: ScoreBound, max: ScoreBound, options?: KeyOptions): Promise<number> {
    return KEY_OPTIONS.refusal(options, 'cache.zcount()') ?? zsets.zcount(this.#ctx, key, min, max, options);
  }

  /** Remove and return the `count` (default 1) lowest-scored members as [member, score] pairs. */
  zpopmin<T = unknown>(key: string, count = 1, options?: KeyOptions): Promise<Array<[T, number]>> {
    return (
      countRefusal(count, 'cache.zpopmin()') ??
      KEY_OPTIONS.refusal(options, 'cache.zpopmin()') ??
      zsets.zpop<T>(this.#ctx, 'min', key, count, options)
    );
  }

  /** Remove and return the `count` (default 1) highest-scored members as [member, score] pairs. */
  zpopmax<T = unknown>(key: string, count = 1, options?: KeyOptions): Promise<Array<[T, number]>> {
    return (
      countRefusal(count, 'cache.zpopmax()') ??
      KEY_OPTIONS.refusal(options, 'cache.zpopmax()') ??
      zsets.zpop<T>(this.#ctx, 'max', key, count, options)
    );
  }

  // ---------------------------------------------------------------- observability and lifecycle

  /**
   * Connect now instead of on the first operation: resolves once the master answers a PING
   * (through the router, so Sentinel routers also open their subscriptions); rejects with the
   * named error of the failure (SentinelUnavailableError, ConnectionInterruptedError, ...).
   */
  async ready(): Promise<void> {
    await this.#ctx.executor.run('write', 'ready', undefined, null, (client) => client.ping());
    // Sentinel routers also report when their +switch-master subscriptions are up.
    await this.#ctx.executor.router.ready?.();
  }

  /** Counters since the cache was created: hits and misses by tier, errors, failovers, breaker state, per-node operations. */
  stats(): CacheStats {
    const executor = this.#ctx.executor;
    const stats = executor.counters.snapshot(executor.router.stats());
    if (executor.near !== undefined) stats.nearCache = executor.near.stats();
    return stats;
  }

  /** The near cache's controls: `await cache.nearCache.clear()`. */
  get nearCache(): NearCacheControl {
    const near: NearLayer | undefined = this.#ctx.executor.near;
    return {
      get enabled() {
        return near?.enabled === true;
      },
      clear: async () => near?.flush('manual'),
      stats: () => near?.stats(),
    };
  }

  /** Listen to a cache event (`CacheEventMap` names each event's payload). A throwing listener never breaks an operation. */
  on<E extends CacheEvent>(event: E, fn: Listener<CacheEventMap[E]>): this {
    this.#ctx.executor.events.on(event, fn);
    return this;
  }

  /** Stop listening: removes a listener added with `on`. */
  off<E extends CacheEvent>(event: E, fn: Listener<CacheEventMap[E]>): this {
    this.#ctx.executor.events.off(event, fn);
    return this;
  }

  /** Close the router (every socket it opened). Idempotent; any later call throws CacheClosedError. */
  close(): Promise<void> {
    this.#ctx.fills.channel.close();
    return this.#ctx.executor.close();
  }

  /** The id this cache's operations carry on the `sentinel-cache:command` channel (telemetry). */
  get [CACHE_ID](): number {
    return this.#ctx.executor.cacheId;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#ctx.executor.closed;
  }

  /** `await using cache = createCache(...)`: closes the cache when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The factory of `compat: name`; ConfigError naming the known ones when there is none. */
function compatCodec(layers: CacheLayers, name: string): CompatCodecFactory {
  const factory = layers.compatCodecs?.[name];
  if (factory === undefined) {
    const known =
      Object.keys(layers.compatCodecs ?? {})
        .map((k) => `'${k}'`)
        .join(', ') || 'none';
    throw new ConfigError(`createCache: option 'compat' must be one of ${known}; got '${name}'`);
  }
  return factory;
}

/** Router events the cache re-emits to its own listeners. */
const FORWARDED = [
  'failover',
  'topology-change',
  'breaker-open',
  'breaker-half-open',
  'breaker-close',
  'rollback',
] as const;

/**
 * createCache threw: the router it was given belongs to nobody now (the caller never got a
 * cache to close), so close it here — its sockets and timers would keep the process alive.
 */
function closeGivenRouter(options: unknown): void {
  const router = (options as { router?: unknown } | null | undefined)?.router as
    | { close?: unknown }
    | undefined;
  if (typeof router?.close !== 'function') return;
  // Another cache's router: it stays open for that cache.
  if (routerInUse(router as Router)) return;
  try {
    Promise.resolve(router.close()).catch(() => {});
  } catch {
    // A broken router's close() must not replace the ConfigError the caller needs to see.
  }
}

/**
 * Create a cache. Options are validated here: a bad option throws ConfigError naming it (and
 * the router given is closed). Nothing connects until the first operation or `ready()`.
 * `layers` are the implementations of core's contracts (serializers and compressors, the near
 * cache, compat codecs); the package's `createCache` passes them, so users never do.
 */
export function createCache(options: CacheOptions, layers: CacheLayers): Cache {
  try {
    return buildCache(options, layers);
  } catch (err) {
    closeGivenRouter(options);
    throw err;
  }
}

function buildCache(options: CacheOptions, layers: CacheLayers): Cache {
  const resolved = resolveOptions(options);
  const { formats } = layers;
  const serializer = resolved.serializer ?? formats.defaultSerializer();
  const compressor = resolved.compressor ?? formats.defaultCompressor();
  const { maxValueBytes, compat } = resolved;
  const codec: ValueCodec =
    compat === undefined
      ? new Codec({ serializer, compressor, maxValueBytes }, formats)
      : compatCodec(layers, compat)({ serializer, compressor, maxValueBytes });
  const stats = new Counters();
  const events = new TypedEmitter<CacheEventMap>();
  const router = resolved.router;

  let near: NearLayer | undefined;
  if (resolved.nearCache !== undefined) {
    if (layers.nearCache === undefined) {
      throw new ConfigError(
        "Option 'nearCache' needs the near cache implementation: use createCache from 'sentinel-cache'",
      );
    }
    near = layers.nearCache(resolved.nearCache, {
      router,
      // Broadcast mode watches the keys this cache writes: `prefix:` with the default key
      // format; every key with a custom keyFunction (its format is unknown).
      broadcastPrefix: resolved.keyFunction === undefined ? `${resolved.keyPrefix}:` : '',
      sink: {
        flushed: (reason) => events.emit('near-flush', { reason }),
        error: (error) => events.emit('error', { error: toNamedError(error) }),
      },
    });
  }

  const executor = new Executor({
    router,
    counters: stats,
    events,
    ignoreErrors: resolved.ignoreErrors,
    near,
  });
  // Router listeners go on only once nothing can refuse the cache (a router shared with other
  // caches must not keep a refused one's), and come off when it closes.
  for (const event of FORWARDED) {
    executor.onRouter(event, (payload: RouterEventMap[typeof event]) => {
      if (event === 'failover') stats.failovers++;
      events.emit(event, payload as never);
    });
  }
  // Routers report what ioredis said; listeners get named errors (the original is the cause).
  executor.onRouter('error', ({ error }) => events.emit('error', { error: toNamedError(error) }));
  const fills = fillContext({
    executor,
    codec,
    prefix: resolved.keyPrefix,
    defaultTtl: resolved.defaultTtl,
    ignoreErrors: resolved.ignoreErrors,
  });
  // After a failover the fill channel's subscriber may be on a node that misses the new
  // master's messages: reopen it, and let getOrSet's waiters look at Redis again.
  executor.onRouter('failover', () => fills.channel.reset());
  executor.onRouter('topology-change', () => fills.channel.reset());

  return new Cache({
    executor,
    keys: new KeyBuilder(
      resolved.keyPrefix,
      resolved.keyFunction,
      resolved.reverseKeyFunction,
      near !== undefined ? { version: resolved.version } : undefined,
    ),
    codec,
    fills,
    defaultTtl: resolved.defaultTtl,
    version: resolved.version,
  });
}
