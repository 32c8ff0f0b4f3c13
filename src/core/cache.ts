import type { Redis } from 'ioredis';
import { compressors } from '../compressors/index.js';
import type { Intent, Router, RouterEventMap } from '../routers/types.js';
import { serializers } from '../serializers/index.js';
import { Codec } from './codec.js';
import { CacheClosedError, ConfigError, isTransient, KeyNotFoundError, NotAnIntegerError } from './errors.js';
import { type CacheEvent, type CacheEventMap, type Listener, TypedEmitter } from './events.js';
import { defaultKeyFunction, escapeGlob, type KeyFunction, type ReverseKeyFunction } from './keys.js';
import { Lock, type LockOptions } from './lock.js';
import { type CacheOptions, resolveOptions } from './options.js';
import { INCR_EXISTING, MOVE_KEEP_TTL, PERSIST_EXISTING } from './scripts.js';
import { SingleFlight } from './single-flight.js';
import { type CacheStats, Counters } from './stats.js';
import { parseTtl, type Ttl } from './ttl.js';

export interface KeyOptions {
  /** Key version; default: the cache's `version` option. */
  version?: number;
}

export interface SetOptions extends KeyOptions {
  /** ms, '30s', '5m', ... or null for no expiry; default: `defaultTtl`. 0 or less deletes the key. */
  ttl?: Ttl;
  /** Only write if the key does not exist. */
  nx?: boolean;
  /** Only write if the key exists. */
  xx?: boolean;
}

export interface SetManyOptions extends KeyOptions {
  ttl?: Ttl;
}

export interface ScanOptions extends KeyOptions {
  /** SCAN COUNT hint per round trip. Default 1000. */
  scanCount?: number;
}

export interface IncrOptions extends KeyOptions {
  /** Treat a missing key as 0 instead of throwing KeyNotFoundError. */
  ignoreKeyCheck?: boolean;
}

export interface ZAddOptions extends KeyOptions {
  nx?: boolean;
  xx?: boolean;
  gt?: boolean;
  lt?: boolean;
  /** Count changed elements (not only added ones). */
  ch?: boolean;
}

export interface ZRangeOptions extends KeyOptions {
  withScores?: boolean;
}

export interface ZRangeByScoreOptions extends ZRangeOptions {
  offset?: number;
  count?: number;
}

export interface SScanOptions extends KeyOptions {
  /** Glob applied by Redis to the stored (encoded) member bytes. */
  match?: string;
  count?: number;
}

/** A score bound: a number, '-inf' / '+inf', or an exclusive bound like '(1.5'. */
export type ScoreBound = number | string;

type Entries = Map<string, unknown> | Iterable<readonly [string, unknown]> | Record<string, unknown>;

/** State shared by a cache and its `withVersion()` views. */
interface CacheCore {
  readonly router: Router;
  readonly codec: Codec;
  readonly counters: Counters;
  readonly events: TypedEmitter<CacheEventMap>;
  readonly flights: SingleFlight;
  readonly prefix: string;
  readonly keyFunction: KeyFunction | undefined;
  readonly reverseKeyFunction: ReverseKeyFunction | undefined;
  readonly defaultTtl: number | null;
  readonly ignoreErrors: boolean;
  closing: Promise<void> | undefined;
}

// Fallbacks for ignoreErrors, as shared functions so the hot path allocates nothing for them.
// `null` as a fallback means "this operation has no harmless answer: always rethrow".
type Fallback<T> = (() => T) | null;
const UNDEFINED = () => undefined;
const NULL = () => null;
const ZERO = () => 0;
const EMPTY_ARRAY = () => [];
const EMPTY_OBJECT = (): Record<string, never> => ({});

const DEFAULT_SCAN_COUNT = 1000;

/**
 * What ignoreErrors turns into a miss / no-op: the transient failures (a node down or
 * refusing for now: timeouts, failovers, OOM, MISCONF, LOADING, ...), see core/errors.ts.
 */
function isIgnorable(err: unknown): boolean {
  return isTransient(err);
}

function isNotAnInteger(err: unknown): boolean {
  return err instanceof Error && /not an integer|out of range/.test(err.message);
}

function parseScore(raw: Buffer | string): number {
  const text = typeof raw === 'string' ? raw : raw.toString('latin1');
  if (text === 'inf' || text === '+inf') return Number.POSITIVE_INFINITY;
  if (text === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/**
 * ioredis' typed overloads cannot express argument lists built at run time (ZADD flags, optional
 * WITHSCORES/LIMIT). Its generic `call`/`callBuffer` would do, but under auto-pipelining they drop
 * the command name (ioredis 5 bug), so call the named methods through a loose view instead.
 */
function loose(client: Redis): Record<string, (...args: unknown[]) => Promise<unknown>> {
  return client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
}

/** A sorted-set range's bounds, plus WITHSCORES when asked for. */
function rangeArgs(
  from: ScoreBound,
  to: ScoreBound,
  options: ZRangeOptions | undefined,
): Array<string | number> {
  return options?.withScores === true ? [from, to, 'WITHSCORES'] : [from, to];
}

function scanCountOf(options: ScanOptions | undefined): number {
  const count = options?.scanCount ?? DEFAULT_SCAN_COUNT;
  if (!Number.isSafeInteger(count) || count <= 0) {
    throw new ConfigError(`scanCount must be a positive integer; got ${String(options?.scanCount)}`);
  }
  return count;
}

function entriesOf(entries: Entries): Iterable<readonly [string, unknown]> {
  if (entries instanceof Map) return entries;
  if (typeof entries !== 'object' || entries === null) {
    // A string is iterable: it would be taken for entries named after its characters.
    throw new ConfigError('setMany: entries must be a Map, an iterable of [key, value] pairs or an object');
  }
  if (typeof (entries as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return entries as Iterable<readonly [string, unknown]>;
  }
  return Object.entries(entries as Record<string, unknown>);
}

/**
 * The cache: django-redis's API over a Router. Values go through the codec (serializer +
 * compressor), keys through the key function, commands through `router.execute(intent, fn)`.
 * Reads use 'read' intent (a replica may serve them), writes use 'write' (the master).
 */
export class Cache {
  readonly #core: CacheCore;
  readonly #version: number;

  /** @internal use createCache() */
  constructor(core: CacheCore, version: number) {
    this.#core = core;
    this.#version = version;
  }

  /** The default version of this cache (or view). */
  get version(): number {
    return this.#version;
  }

  /** The router serving this cache. */
  get router(): Router {
    return this.#core.router;
  }

  /**
   * The same cache with another default version — for the variadic methods (`sadd`, `sinter`,
   * `zrem`, ...) that cannot take an options object: `cache.withVersion(2).sadd('k', 'a')`.
   */
  withVersion(version: number): Cache {
    if (!Number.isSafeInteger(version))
      throw new ConfigError(`version must be an integer; got ${String(version)}`);
    return new Cache(this.#core, version);
  }

  // ---------------------------------------------------------------- plumbing

  #versionOf(options: KeyOptions | undefined): number {
    const version = options?.version;
    if (version === undefined) return this.#version;
    if (!Number.isSafeInteger(version))
      throw new ConfigError(`version must be an integer; got ${String(version)}`);
    return version;
  }

  #build(key: unknown, version: number): string {
    if (typeof key !== 'string') {
      throw new ConfigError(`key must be a string; got ${key === null ? 'null' : typeof key}`);
    }
    if (!(key as string & { isWellFormed(): boolean }).isWellFormed()) {
      // UTF-8 cannot carry a lone surrogate: it would be sent as U+FFFD, so two different
      // keys would silently share one Redis key.
      throw new ConfigError('key must be a well-formed string (it contains a lone UTF-16 surrogate)');
    }
    const core = this.#core;
    return core.keyFunction === undefined
      ? `${core.prefix}:${version}:${key}`
      : core.keyFunction(key, core.prefix, version);
  }

  #key(key: unknown, options: KeyOptions | undefined): string {
    return this.#build(key, this.#versionOf(options));
  }

  #iterableKeys(keys: Iterable<string>): Iterable<string> {
    if (typeof keys !== 'object' || keys === null || typeof keys[Symbol.iterator] !== 'function') {
      // A string is iterable: it would be taken for a list of one-character keys.
      throw new ConfigError(
        `keys must be an array (or iterable) of strings; got ${keys === null ? 'null' : typeof keys}`,
      );
    }
    return keys;
  }

  #keysOf(keys: Iterable<string>, version: number): string[] {
    const out: string[] = [];
    for (const key of this.#iterableKeys(keys)) out.push(this.#build(key, version));
    return out;
  }

  /** SCAN pattern for a user glob: prefix glob-escaped, so it matches only this prefix. */
  #pattern(glob: unknown, version: number): string {
    if (typeof glob !== 'string') throw new ConfigError('pattern must be a string');
    const core = this.#core;
    return (core.keyFunction ?? defaultKeyFunction)(glob, escapeGlob(core.prefix), version);
  }

  #userKey(redisKey: string, version: number): string {
    const core = this.#core;
    if (core.reverseKeyFunction !== undefined) return core.reverseKeyFunction(redisKey);
    return redisKey.slice(core.prefix.length + String(version).length + 2);
  }

  #ttlOf(ttl: Ttl | undefined): number | null {
    return ttl === undefined ? this.#core.defaultTtl : parseTtl(ttl);
  }

  #encode(value: unknown): Buffer | string {
    return this.#core.codec.encode(value);
  }

  #decode<T>(raw: Buffer, key: string): T {
    return this.#core.codec.decode(raw, key) as T;
  }

  #decodeSet<T>(raws: Buffer[], key: string): Set<T> {
    const out = new Set<T>();
    for (const raw of raws) out.add(this.#decode<T>(raw, key));
    return out;
  }

  #decodePairs<T>(flat: Buffer[], key: string): Array<[T, number]> {
    const out: Array<[T, number]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      out.push([this.#decode<T>(flat[i] as Buffer, key), parseScore(flat[i + 1] as Buffer)]);
    }
    return out;
  }

  /** Run `fn` through the router; apply ignoreErrors; count errors. */
  async #exec<T, F = T>(
    intent: Intent,
    operation: string,
    key: string | undefined,
    fallback: Fallback<F>,
    fn: (client: Redis) => Promise<T>,
  ): Promise<T | F> {
    const core = this.#core;
    if (core.closing !== undefined) throw new CacheClosedError();
    try {
      return await core.router.execute(intent, fn);
    } catch (err) {
      core.counters.errors++;
      if (fallback !== null && core.ignoreErrors && isIgnorable(err)) {
        core.counters.ignoredErrors++;
        const error = err instanceof Error ? err : new Error(String(err));
        core.events.emit('error', { error, operation, key });
        return fallback();
      }
      throw err;
    }
  }

  #hit(key: string): void {
    const core = this.#core;
    core.counters.hits++;
    if (core.events.has('hit')) core.events.emit('hit', { key });
  }

  #miss(key: string): void {
    const core = this.#core;
    core.counters.misses++;
    if (core.events.has('miss')) core.events.emit('miss', { key });
  }

  // ---------------------------------------------------------------- strings

  /** The value, or undefined on a miss. */
  async get<T = unknown>(key: string, options?: KeyOptions): Promise<T | undefined> {
    const redisKey = this.#key(key, options);
    const raw = await this.#exec('read', 'get', key, NULL, (client) => client.getBuffer(redisKey));
    if (raw === null) {
      this.#miss(key);
      return undefined;
    }
    this.#hit(key);
    return this.#decode<T>(raw, key);
  }

  /** Write a value. True if written; false if nx/xx prevented it or ttl <= 0 (which deletes). */
  async set(key: string, value: unknown, options?: SetOptions): Promise<boolean> {
    const redisKey = this.#key(key, options);
    const ttl = this.#ttlOf(options?.ttl);
    const nx = options?.nx === true;
    const xx = options?.xx === true;
    if (nx && xx) throw new ConfigError('set: nx and xx cannot both be true');
    // Encode before any I/O: a value the serializer refuses means nothing is written.
    const encoded = this.#encode(value);
    if (ttl !== null && ttl <= 0) {
      // Expire now. With nx an existing key must survive (django-redis semantics); a missing
      // one would be expired at once: nothing to do either way.
      if (!nx) await this.#exec('write', 'set', key, ZERO, (client) => client.del(redisKey));
      return false;
    }
    const reply = await this.#exec('write', 'set', key, NULL, (client) => {
      if (ttl === null) {
        if (nx) return client.set(redisKey, encoded, 'NX');
        if (xx) return client.set(redisKey, encoded, 'XX');
        return client.set(redisKey, encoded);
      }
      if (nx) return client.set(redisKey, encoded, 'PX', ttl, 'NX');
      if (xx) return client.set(redisKey, encoded, 'PX', ttl, 'XX');
      return client.set(redisKey, encoded, 'PX', ttl);
    });
    return reply === 'OK';
  }

  /** Write only if the key does not exist. */
  async add(key: string, value: unknown, options?: Omit<SetOptions, 'nx' | 'xx'>): Promise<boolean> {
    return this.set(key, value, { ...options, nx: true });
  }

  /** Values of the keys that exist, in one MGET. */
  async getMany<T = unknown>(keys: Iterable<string>, options?: KeyOptions): Promise<Map<string, T>> {
    const version = this.#versionOf(options);
    const userKeys = Array.isArray(keys) ? (keys as string[]) : [...this.#iterableKeys(keys)];
    const result = new Map<string, T>();
    if (userKeys.length === 0) return result;
    const redisKeys = this.#keysOf(userKeys, version);
    const raws = await this.#exec('read', 'getMany', undefined, EMPTY_ARRAY, (client) =>
      client.mgetBuffer(...redisKeys),
    );
    if (raws.length === 0) {
      for (const key of userKeys) this.#miss(key);
      return result;
    }
    for (let i = 0; i < userKeys.length; i++) {
      const key = userKeys[i] as string;
      const raw = raws[i];
      if (raw === null || raw === undefined) {
        this.#miss(key);
      } else {
        this.#hit(key);
        result.set(key, this.#decode<T>(raw, key));
      }
    }
    return result;
  }

  /** Write many values in one round trip (one pipeline of SET PX). All values are encoded first. */
  async setMany(entries: Entries, options?: SetManyOptions): Promise<void> {
    const version = this.#versionOf(options);
    const ttl = this.#ttlOf(options?.ttl);
    const redisKeys: string[] = [];
    const values: Array<Buffer | string> = [];
    for (const [key, value] of entriesOf(entries)) {
      redisKeys.push(this.#build(key, version));
      values.push(this.#encode(value));
    }
    if (redisKeys.length === 0) return;
    if (ttl !== null && ttl <= 0) {
      await this.#exec('write', 'setMany', undefined, ZERO, (client) => client.del(...redisKeys));
      return;
    }
    await this.#exec('write', 'setMany', undefined, UNDEFINED, async (client) => {
      const pipeline = client.pipeline();
      for (let i = 0; i < redisKeys.length; i++) {
        if (ttl === null) pipeline.set(redisKeys[i] as string, values[i] as Buffer | string);
        else pipeline.set(redisKeys[i] as string, values[i] as Buffer | string, 'PX', ttl);
      }
      const results = await pipeline.exec();
      for (const [err] of results ?? []) if (err) throw err;
    });
  }

  /** True if the key existed. */
  async delete(key: string, options?: KeyOptions): Promise<boolean> {
    const redisKey = this.#key(key, options);
    return (await this.#exec('write', 'delete', key, ZERO, (client) => client.del(redisKey))) === 1;
  }

  /** Number of keys that existed. */
  async deleteMany(keys: Iterable<string>, options?: KeyOptions): Promise<number> {
    const redisKeys = this.#keysOf(keys, this.#versionOf(options));
    if (redisKeys.length === 0) return 0;
    return this.#exec('write', 'deleteMany', undefined, ZERO, (client) => client.del(...redisKeys));
  }

  /** SCAN + UNLINK of this cache's keys matching `glob`; returns how many were deleted. */
  async deletePattern(glob: string, options?: ScanOptions): Promise<number> {
    const pattern = this.#pattern(glob, this.#versionOf(options));
    const count = scanCountOf(options);
    return this.#exec('write', 'deletePattern', glob, ZERO, (client) =>
      unlinkMatching(client, pattern, count),
    );
  }

  async has(key: string, options?: KeyOptions): Promise<boolean> {
    const redisKey = this.#key(key, options);
    return (await this.#exec('read', 'has', key, ZERO, (client) => client.exists(redisKey))) === 1;
  }

  // ---------------------------------------------------------------- counters and versions

  /** Atomically add `delta`; keeps the TTL. KeyNotFoundError if missing (unless ignoreKeyCheck). */
  async incr(key: string, delta = 1, options?: IncrOptions): Promise<number> {
    if (!Number.isSafeInteger(delta)) throw new ConfigError(`delta must be an integer; got ${String(delta)}`);
    const redisKey = this.#key(key, options);
    const ignoreKeyCheck = options?.ignoreKeyCheck === true;
    let reply: unknown;
    try {
      reply = await this.#exec('write', 'incr', key, null, (client) =>
        ignoreKeyCheck ? client.incrby(redisKey, delta) : INCR_EXISTING.run(client, [redisKey], [delta]),
      );
    } catch (err) {
      if (isNotAnInteger(err)) throw new NotAnIntegerError(key, { cause: err });
      throw err;
    }
    if (reply === null) throw new KeyNotFoundError(key);
    return Number(reply);
  }

  async decr(key: string, delta = 1, options?: IncrOptions): Promise<number> {
    if (!Number.isSafeInteger(delta)) throw new ConfigError(`delta must be an integer; got ${String(delta)}`);
    return this.incr(key, -delta, options);
  }

  /** Move the key to version + delta keeping value and TTL; returns the new version. */
  async incrVersion(key: string, delta = 1, options?: KeyOptions): Promise<number> {
    if (!Number.isSafeInteger(delta)) throw new ConfigError(`delta must be an integer; got ${String(delta)}`);
    const from = this.#versionOf(options);
    const to = from + delta;
    const fromKey = this.#build(key, from);
    const toKey = this.#build(key, to);
    const moved = await this.#exec('write', 'incrVersion', key, null, (client) =>
      MOVE_KEEP_TTL.run(client, [fromKey, toKey], []),
    );
    if (moved !== 1) throw new KeyNotFoundError(key);
    return to;
  }

  async decrVersion(key: string, delta = 1, options?: KeyOptions): Promise<number> {
    if (!Number.isSafeInteger(delta)) throw new ConfigError(`delta must be an integer; got ${String(delta)}`);
    return this.incrVersion(key, -delta, options);
  }

  // ---------------------------------------------------------------- expiry

  /** Remaining ms; null = no expiry; undefined = no such key. */
  async ttl(key: string, options?: KeyOptions): Promise<number | null | undefined> {
    const redisKey = this.#key(key, options);
    const ms = await this.#exec('read', 'ttl', key, UNDEFINED, (client) => client.pttl(redisKey));
    if (ms === undefined || ms === -2) return undefined;
    if (ms === -1) return null;
    return ms;
  }

  /** Set a new TTL (0 or less deletes, null persists, omitted = defaultTtl). False if no such key. */
  async expire(key: string, ttl?: Ttl, options?: KeyOptions): Promise<boolean> {
    const redisKey = this.#key(key, options);
    const ms = this.#ttlOf(ttl);
    if (ms === null) {
      return (
        (await this.#exec('write', 'expire', key, ZERO, (c) => PERSIST_EXISTING.run(c, [redisKey], []))) === 1
      );
    }
    return (await this.#exec('write', 'expire', key, ZERO, (client) => client.pexpire(redisKey, ms))) === 1;
  }

  /** Expire at a moment (Date or epoch ms); a past moment deletes. False if no such key. */
  async expireAt(key: string, when: Date | number, options?: KeyOptions): Promise<boolean> {
    const redisKey = this.#key(key, options);
    const at = when instanceof Date ? when.getTime() : when;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      throw new ConfigError('expireAt: when must be a Date or epoch milliseconds');
    }
    const ms = Math.ceil(at);
    return (
      (await this.#exec('write', 'expireAt', key, ZERO, (client) => client.pexpireat(redisKey, ms))) === 1
    );
  }

  /** Remove the TTL. False if no such key. */
  async persist(key: string, options?: KeyOptions): Promise<boolean> {
    const redisKey = this.#key(key, options);
    return (
      (await this.#exec('write', 'persist', key, ZERO, (c) => PERSIST_EXISTING.run(c, [redisKey], []))) === 1
    );
  }

  /** Reset the TTL (default: defaultTtl). False if no such key. */
  async touch(key: string, ttl?: Ttl, options?: KeyOptions): Promise<boolean> {
    return this.expire(key, ttl, options);
  }

  // ---------------------------------------------------------------- keys

  /** User keys matching `glob` (prefix and version stripped). One SCAN loop on one node. */
  async keys(glob: string, options?: ScanOptions): Promise<string[]> {
    const version = this.#versionOf(options);
    const pattern = this.#pattern(glob, version);
    const count = scanCountOf(options);
    const redisKeys = await this.#exec('read', 'keys', glob, EMPTY_ARRAY, async (client) => {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', count);
        cursor = next;
        for (const k of batch) found.push(k);
      } while (cursor !== '0');
      return found;
    });
    // SCAN may return a key twice (rehashing); report each once.
    return [...new Set(redisKeys)].map((k) => this.#userKey(k, version));
  }

  /**
   * User keys matching `glob`, fetched one SCAN batch at a time. Each batch runs on the master
   * ('write' intent): a SCAN cursor is only meaningful on the node that issued it, and a read
   * could be routed to a different replica for each batch.
   */
  async *iterKeys(glob: string, options?: ScanOptions): AsyncIterableIterator<string> {
    const version = this.#versionOf(options);
    const pattern = this.#pattern(glob, version);
    const count = scanCountOf(options);
    let cursor = '0';
    do {
      const [next, batch] = await this.#exec(
        'write',
        'iterKeys',
        glob,
        (): [string, string[]] => ['0', []],
        (client) => client.scan(cursor, 'MATCH', pattern, 'COUNT', count),
      );
      cursor = next;
      for (const k of batch) yield this.#userKey(k, version);
    } while (cursor !== '0');
  }

  // ---------------------------------------------------------------- compound

  /**
   * The cached value, or the factory's result stored under `key`. Concurrent calls for the same
   * key in this process share one lookup and one factory call. An undefined result is returned
   * but not stored.
   */
  async getOrSet<T>(key: string, factory: () => T | Promise<T>, options?: SetOptions): Promise<T> {
    const redisKey = this.#key(key, options);
    if (typeof factory !== 'function') throw new ConfigError('getOrSet: factory must be a function');
    return this.#core.flights.run(redisKey, async () => {
      const cached = await this.get<T>(key, options);
      if (cached !== undefined) return cached;
      const value = await factory();
      if (value !== undefined) await this.set(key, value, options);
      return value;
    });
  }

  /** A distributed lock named `name` (stored under the cache's key for `name`). Not yet acquired. */
  lock(name: string, options?: LockOptions): Lock {
    const redisKey = this.#key(name, options);
    return new Lock(name, redisKey, (fn) => this.#exec('write', 'lock', name, null, fn), options);
  }

  /** Delete every key of this cache's prefix (all versions); returns how many. Not the whole database. */
  async clear(): Promise<number> {
    const core = this.#core;
    const pattern = (core.keyFunction ?? defaultKeyFunction)('*', escapeGlob(core.prefix), '*');
    // The glob's version '*' also matches another cache whose prefix extends this one after a
    // colon ('app' vs 'app:v2' → 'app:v2:1:k'): with the default key format, keep only keys
    // whose version part is an integer.
    const own = core.keyFunction === undefined ? ownKeyTest(core.prefix) : undefined;
    return this.#exec('write', 'clear', undefined, ZERO, (client) =>
      unlinkMatching(client, pattern, DEFAULT_SCAN_COUNT, own),
    );
  }

  /** FLUSHDB: wipes the whole database, every prefix, every client's keys. */
  async flushDb(): Promise<void> {
    await this.#exec('write', 'flushDb', undefined, null, (client) => client.flushdb());
  }

  /** Run raw ioredis commands on the node the router picks for `intent`. */
  async withClient<R>(intent: Intent, fn: (client: Redis) => Promise<R>): Promise<R> {
    if (intent !== 'read' && intent !== 'write')
      throw new ConfigError("withClient: intent must be 'read' or 'write'");
    return this.#exec(intent, 'withClient', undefined, null, fn);
  }

  // ---------------------------------------------------------------- sets (members through the codec)

  #members(members: readonly unknown[]): Array<Buffer | string> {
    const out: Array<Buffer | string> = new Array(members.length);
    for (let i = 0; i < members.length; i++) out[i] = this.#encode(members[i]);
    return out;
  }

  async sadd(key: string, ...members: unknown[]): Promise<number> {
    const redisKey = this.#key(key, undefined);
    if (members.length === 0) return 0;
    const encoded = this.#members(members);
    return this.#exec('write', 'sadd', key, ZERO, (client) => client.sadd(redisKey, ...encoded));
  }

  async srem(key: string, ...members: unknown[]): Promise<number> {
    const redisKey = this.#key(key, undefined);
    if (members.length === 0) return 0;
    const encoded = this.#members(members);
    return this.#exec('write', 'srem', key, ZERO, (client) => client.srem(redisKey, ...encoded));
  }

  async smembers<T = unknown>(key: string, options?: KeyOptions): Promise<Set<T>> {
    const redisKey = this.#key(key, options);
    const raws = await this.#exec('read', 'smembers', key, EMPTY_ARRAY, (client) =>
      client.smembersBuffer(redisKey),
    );
    return this.#decodeSet<T>(raws, key);
  }

  async sismember(key: string, member: unknown, options?: KeyOptions): Promise<boolean> {
    const redisKey = this.#key(key, options);
    const encoded = this.#encode(member);
    return (
      (await this.#exec('read', 'sismember', key, ZERO, (client) => client.sismember(redisKey, encoded))) ===
      1
    );
  }

  async smismember(key: string, ...members: unknown[]): Promise<boolean[]> {
    const redisKey = this.#key(key, undefined);
    if (members.length === 0) return [];
    const encoded = this.#members(members);
    const replies = await this.#exec(
      'read',
      'smismember',
      key,
      () => encoded.map(() => 0),
      (client) => client.smismember(redisKey, ...encoded),
    );
    return replies.map((r) => r === 1);
  }

  async scard(key: string, options?: KeyOptions): Promise<number> {
    const redisKey = this.#key(key, options);
    return this.#exec('read', 'scard', key, ZERO, (client) => client.scard(redisKey));
  }

  /** Remove and return one random member (undefined if empty), or a Set of up to `count`. */
  spop<T = unknown>(key: string, count?: undefined, options?: KeyOptions): Promise<T | undefined>;
  spop<T = unknown>(key: string, count: number, options?: KeyOptions): Promise<Set<T>>;
  async spop<T = unknown>(
    key: string,
    count?: number,
    options?: KeyOptions,
  ): Promise<T | undefined | Set<T>> {
    const redisKey = this.#key(key, options);
    if (count === undefined) {
      const raw = await this.#exec('write', 'spop', key, NULL, (client) => client.spopBuffer(redisKey));
      return raw === null ? undefined : this.#decode<T>(raw, key);
    }
    const raws = await this.#exec('write', 'spop', key, EMPTY_ARRAY, (client) =>
      client.spopBuffer(redisKey, count),
    );
    return this.#decodeSet<T>(raws, key);
  }

  /** One random member (undefined if empty), or an array of `count` (negative: may repeat). */
  srandmember<T = unknown>(key: string, count?: undefined, options?: KeyOptions): Promise<T | undefined>;
  srandmember<T = unknown>(key: string, count: number, options?: KeyOptions): Promise<T[]>;
  async srandmember<T = unknown>(
    key: string,
    count?: number,
    options?: KeyOptions,
  ): Promise<T | undefined | T[]> {
    const redisKey = this.#key(key, options);
    if (count === undefined) {
      const raw = await this.#exec('read', 'srandmember', key, NULL, (client) =>
        client.srandmemberBuffer(redisKey),
      );
      return raw === null ? undefined : this.#decode<T>(raw, key);
    }
    const raws = await this.#exec('read', 'srandmember', key, EMPTY_ARRAY, (client) =>
      client.srandmemberBuffer(redisKey, count),
    );
    return raws.map((raw) => this.#decode<T>(raw, key));
  }

  async smove(source: string, destination: string, member: unknown, options?: KeyOptions): Promise<boolean> {
    const version = this.#versionOf(options);
    const from = this.#build(source, version);
    const to = this.#build(destination, version);
    const encoded = this.#encode(member);
    return (
      (await this.#exec('write', 'smove', source, ZERO, (client) => client.smove(from, to, encoded))) === 1
    );
  }

  async sdiff<T = unknown>(...keys: string[]): Promise<Set<T>> {
    return this.#setAlgebra<T>('sdiff', keys);
  }

  async sinter<T = unknown>(...keys: string[]): Promise<Set<T>> {
    return this.#setAlgebra<T>('sinter', keys);
  }

  async sunion<T = unknown>(...keys: string[]): Promise<Set<T>> {
    return this.#setAlgebra<T>('sunion', keys);
  }

  async #setAlgebra<T>(op: 'sdiff' | 'sinter' | 'sunion', keys: string[]): Promise<Set<T>> {
    if (keys.length === 0) return new Set();
    const redisKeys = this.#keysOf(keys, this.#version);
    const raws = await this.#exec('read', op, keys[0], EMPTY_ARRAY, (client) => {
      if (op === 'sdiff') return client.sdiffBuffer(...redisKeys);
      if (op === 'sinter') return client.sinterBuffer(...redisKeys);
      return client.sunionBuffer(...redisKeys);
    });
    return this.#decodeSet<T>(raws, keys[0] as string);
  }

  async sdiffstore(destination: string, ...keys: string[]): Promise<number> {
    return this.#setStore('sdiffstore', destination, keys);
  }

  async sinterstore(destination: string, ...keys: string[]): Promise<number> {
    return this.#setStore('sinterstore', destination, keys);
  }

  async sunionstore(destination: string, ...keys: string[]): Promise<number> {
    return this.#setStore('sunionstore', destination, keys);
  }

  async #setStore(op: 'sdiffstore' | 'sinterstore' | 'sunionstore', destination: string, keys: string[]) {
    const dest = this.#build(destination, this.#version);
    if (keys.length === 0) throw new ConfigError(`${op}: at least one source key is required`);
    const redisKeys = this.#keysOf(keys, this.#version);
    return this.#exec('write', op, destination, ZERO, (client) => client[op](dest, ...redisKeys));
  }

  /** All members (optionally those whose stored bytes match `match`), via SSCAN on one node. */
  async sscan<T = unknown>(key: string, options?: SScanOptions): Promise<Set<T>> {
    const redisKey = this.#key(key, options);
    const count = options?.count ?? DEFAULT_SCAN_COUNT;
    const match = options?.match;
    const raws = await this.#exec('read', 'sscan', key, EMPTY_ARRAY, async (client) => {
      const found: Buffer[] = [];
      let cursor = '0';
      do {
        const [next, batch] =
          match === undefined
            ? await client.sscanBuffer(redisKey, cursor, 'COUNT', count)
            : await client.sscanBuffer(redisKey, cursor, 'MATCH', match, 'COUNT', count);
        cursor = next.toString();
        for (const m of batch) found.push(m);
      } while (cursor !== '0');
      return found;
    });
    return this.#decodeSet<T>(raws, key);
  }

  // ---------------------------------------------------------------- hashes (fields are strings, values through the codec)

  #field(field: unknown): string {
    if (typeof field !== 'string') throw new ConfigError('hash field must be a string');
    return field;
  }

  /** Set one field; returns 1 if the field is new, 0 if it was updated. */
  async hset(key: string, field: string, value: unknown, options?: KeyOptions): Promise<number> {
    const redisKey = this.#key(key, options);
    const f = this.#field(field);
    const encoded = this.#encode(value);
    return this.#exec('write', 'hset', key, ZERO, (client) => client.hset(redisKey, f, encoded));
  }

  async hget<T = unknown>(key: string, field: string, options?: KeyOptions): Promise<T | undefined> {
    const redisKey = this.#key(key, options);
    const f = this.#field(field);
    const raw = await this.#exec('read', 'hget', key, NULL, (client) => client.hgetBuffer(redisKey, f));
    return raw === null ? undefined : this.#decode<T>(raw, key);
  }

  async hgetall<T = unknown>(key: string, options?: KeyOptions): Promise<Map<string, T>> {
    const redisKey = this.#key(key, options);
    const raw = await this.#exec('read', 'hgetall', key, EMPTY_OBJECT, (client) =>
      client.hgetallBuffer(redisKey),
    );
    const out = new Map<string, T>();
    for (const [field, value] of Object.entries(raw)) out.set(field, this.#decode<T>(value, key));
    return out;
  }

  /** Delete one field or several; returns how many existed. */
  async hdel(key: string, fields: string | string[], options?: KeyOptions): Promise<number> {
    const redisKey = this.#key(key, options);
    const list = typeof fields === 'string' ? [fields] : fields.map((f) => this.#field(f));
    if (list.length === 0) return 0;
    return this.#exec('write', 'hdel', key, ZERO, (client) => client.hdel(redisKey, ...list));
  }

  async hlen(key: string, options?: KeyOptions): Promise<number> {
    const redisKey = this.#key(key, options);
    return this.#exec('read', 'hlen', key, ZERO, (client) => client.hlen(redisKey));
  }

  async hkeys(key: string, options?: KeyOptions): Promise<string[]> {
    const redisKey = this.#key(key, options);
    return this.#exec('read', 'hkeys', key, EMPTY_ARRAY, (client) => client.hkeys(redisKey));
  }

  async hexists(key: string, field: string, options?: KeyOptions): Promise<boolean> {
    const redisKey = this.#key(key, options);
    const f = this.#field(field);
    return (await this.#exec('read', 'hexists', key, ZERO, (client) => client.hexists(redisKey, f))) === 1;
  }

  // ---------------------------------------------------------------- sorted sets (members through the codec)

  /** Add members with scores: `zadd(key, { alice: 1, bob: 2 })` or a Map for non-string members. */
  async zadd(
    key: string,
    mapping: Record<string, number> | Map<unknown, number>,
    options?: ZAddOptions,
  ): Promise<number> {
    const redisKey = this.#key(key, options);
    const args: Array<string | number | Buffer> = [];
    if (options?.nx) args.push('NX');
    if (options?.xx) args.push('XX');
    if (options?.gt) args.push('GT');
    if (options?.lt) args.push('LT');
    if (options?.ch) args.push('CH');
    const pairs = mapping instanceof Map ? mapping.entries() : Object.entries(mapping);
    let n = 0;
    for (const [member, score] of pairs) {
      if (typeof score !== 'number' || Number.isNaN(score))
        throw new ConfigError('zadd: scores must be numbers');
      args.push(String(score), this.#encode(member));
      n++;
    }
    if (n === 0) return 0;
    return Number(
      await this.#exec('write', 'zadd', key, ZERO, (client) => loose(client).zadd!(redisKey, ...args)),
    );
  }

  zrange<T = unknown>(
    key: string,
    start: number,
    stop: number,
    options: ZRangeOptions & { withScores: true },
  ): Promise<Array<[T, number]>>;
  zrange<T = unknown>(key: string, start: number, stop: number, options?: ZRangeOptions): Promise<T[]>;
  zrange<T = unknown>(key: string, start: number, stop: number, options?: ZRangeOptions) {
    return this.#range<T>('zrangeBuffer', key, rangeArgs(start, stop, options), options);
  }

  zrevrange<T = unknown>(
    key: string,
    start: number,
    stop: number,
    options: ZRangeOptions & { withScores: true },
  ): Promise<Array<[T, number]>>;
  zrevrange<T = unknown>(key: string, start: number, stop: number, options?: ZRangeOptions): Promise<T[]>;
  zrevrange<T = unknown>(key: string, start: number, stop: number, options?: ZRangeOptions) {
    return this.#range<T>('zrevrangeBuffer', key, rangeArgs(start, stop, options), options);
  }

  zrangebyscore<T = unknown>(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options: ZRangeByScoreOptions & { withScores: true },
  ): Promise<Array<[T, number]>>;
  zrangebyscore<T = unknown>(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ZRangeByScoreOptions,
  ): Promise<T[]>;
  zrangebyscore<T = unknown>(key: string, min: ScoreBound, max: ScoreBound, options?: ZRangeByScoreOptions) {
    // WITHSCORES must come before LIMIT.
    const args = rangeArgs(min, max, options);
    if (options?.offset !== undefined || options?.count !== undefined) {
      args.push('LIMIT', options.offset ?? 0, options.count ?? -1);
    }
    return this.#range<T>('zrangebyscoreBuffer', key, args, options);
  }

  /** `args` already carry WITHSCORES when `options.withScores` is set (see rangeArgs). */
  async #range<T>(
    method: 'zrangeBuffer' | 'zrevrangeBuffer' | 'zrangebyscoreBuffer',
    key: string,
    args: Array<string | number>,
    options: ZRangeOptions | undefined,
  ): Promise<T[] | Array<[T, number]>> {
    const redisKey = this.#key(key, options);
    const raws = (await this.#exec('read', method.slice(0, -6), key, EMPTY_ARRAY, (client) =>
      loose(client)[method]!(redisKey, ...args),
    )) as Buffer[];
    if (options?.withScores === true) return this.#decodePairs<T>(raws, key);
    return raws.map((raw) => this.#decode<T>(raw, key));
  }

  async zscore(key: string, member: unknown, options?: KeyOptions): Promise<number | undefined> {
    const redisKey = this.#key(key, options);
    const encoded = this.#encode(member);
    const raw = await this.#exec('read', 'zscore', key, NULL, (client) => client.zscore(redisKey, encoded));
    return raw === null ? undefined : parseScore(raw);
  }

  async zrank(key: string, member: unknown, options?: KeyOptions): Promise<number | undefined> {
    const redisKey = this.#key(key, options);
    const encoded = this.#encode(member);
    const rank = await this.#exec('read', 'zrank', key, NULL, (client) => client.zrank(redisKey, encoded));
    return rank === null ? undefined : rank;
  }

  async zrem(key: string, ...members: unknown[]): Promise<number> {
    const redisKey = this.#key(key, undefined);
    if (members.length === 0) return 0;
    const encoded = this.#members(members);
    return this.#exec('write', 'zrem', key, ZERO, (client) => client.zrem(redisKey, ...encoded));
  }

  /** Add `amount` to a member's score (creating it); returns the new score. */
  async zincrby(key: string, member: unknown, amount: number, options?: KeyOptions): Promise<number> {
    const redisKey = this.#key(key, options);
    const encoded = this.#encode(member);
    if (typeof amount !== 'number' || Number.isNaN(amount))
      throw new ConfigError('zincrby: amount must be a number');
    return parseScore(
      await this.#exec('write', 'zincrby', key, null, (client) => client.zincrby(redisKey, amount, encoded)),
    );
  }

  async zcard(key: string, options?: KeyOptions): Promise<number> {
    const redisKey = this.#key(key, options);
    return this.#exec('read', 'zcard', key, ZERO, (client) => client.zcard(redisKey));
  }

  async zcount(key: string, min: ScoreBound, max: ScoreBound, options?: KeyOptions): Promise<number> {
    const redisKey = this.#key(key, options);
    return this.#exec('read', 'zcount', key, ZERO, (client) => client.zcount(redisKey, min, max));
  }

  /** Remove and return the `count` (default 1) lowest-scored members as [member, score] pairs. */
  zpopmin<T = unknown>(key: string, count = 1, options?: KeyOptions): Promise<Array<[T, number]>> {
    return this.#pop<T>('zpopminBuffer', key, count, options);
  }

  /** Remove and return the `count` (default 1) highest-scored members as [member, score] pairs. */
  zpopmax<T = unknown>(key: string, count = 1, options?: KeyOptions): Promise<Array<[T, number]>> {
    return this.#pop<T>('zpopmaxBuffer', key, count, options);
  }

  async #pop<T>(
    method: 'zpopminBuffer' | 'zpopmaxBuffer',
    key: string,
    count: number,
    options?: KeyOptions,
  ): Promise<Array<[T, number]>> {
    const redisKey = this.#key(key, options);
    const raws = (await this.#exec('write', method.slice(0, -6), key, EMPTY_ARRAY, (client) =>
      loose(client)[method]!(redisKey, count),
    )) as Buffer[];
    return this.#decodePairs<T>(raws, key);
  }

  // ---------------------------------------------------------------- observability and lifecycle

  stats(): CacheStats {
    return this.#core.counters.snapshot(this.#core.router.stats());
  }

  on<E extends CacheEvent>(event: E, fn: Listener<CacheEventMap[E]>): this {
    this.#core.events.on(event, fn);
    return this;
  }

  off<E extends CacheEvent>(event: E, fn: Listener<CacheEventMap[E]>): this {
    this.#core.events.off(event, fn);
    return this;
  }

  /** Close the router (every socket it opened). Idempotent; any later call throws CacheClosedError. */
  close(): Promise<void> {
    const core = this.#core;
    if (core.closing === undefined) core.closing = core.router.close();
    return core.closing;
  }

  get closed(): boolean {
    return this.#core.closing !== undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** SCAN MATCH `pattern` and UNLINK what it finds, batch by batch, on one client. */
async function unlinkMatching(
  client: Redis,
  pattern: string,
  count: number,
  keep?: (redisKey: Buffer) => boolean,
): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, found] = await client.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', count);
    cursor = next.toString();
    const batch = keep === undefined ? found : found.filter(keep);
    if (batch.length > 0) deleted += await client.unlink(...batch);
  } while (cursor !== '0');
  return deleted;
}

/** Is a Redis key `${prefix}:${integer version}:...` (byte-exact, whatever the prefix contains)? */
function ownKeyTest(prefix: string): (redisKey: Buffer) => boolean {
  const head = Buffer.from(`${prefix}:`, 'utf8');
  return (redisKey) => {
    if (redisKey.length <= head.length || !redisKey.subarray(0, head.length).equals(head)) return false;
    let i = head.length;
    if (redisKey[i] === 0x2d /* - */) i++;
    const digitsFrom = i;
    while (i < redisKey.length && (redisKey[i] as number) >= 0x30 && (redisKey[i] as number) <= 0x39) i++;
    return i > digitsFrom && redisKey[i] === 0x3a /* : */;
  };
}

const FORWARDED = [
  'failover',
  'topology-change',
  'breaker-open',
  'breaker-half-open',
  'breaker-close',
] as const;

/** Create a cache. Options are validated here: a bad option throws ConfigError naming it. */
export function createCache(options: CacheOptions): Cache {
  const resolved = resolveOptions(options);
  const serializer = resolved.serializer ?? serializers.msgpack();
  const compressor = resolved.compressor ?? compressors.none();
  const codec = new Codec({ serializer, compressor, maxValueBytes: resolved.maxValueBytes });
  const counters = new Counters();
  const events = new TypedEmitter<CacheEventMap>();
  const router = resolved.router;

  for (const event of FORWARDED) {
    router.on(event, (payload: RouterEventMap[typeof event]) => {
      if (event === 'failover') counters.failovers++;
      events.emit(event, payload as never);
    });
  }
  router.on('error', ({ error }) => events.emit('error', { error }));

  const core: CacheCore = {
    router,
    codec,
    counters,
    events,
    flights: new SingleFlight(),
    prefix: resolved.keyPrefix,
    keyFunction: resolved.keyFunction,
    reverseKeyFunction: resolved.reverseKeyFunction,
    defaultTtl: resolved.defaultTtl,
    ignoreErrors: resolved.ignoreErrors,
    closing: undefined,
  };
  return new Cache(core, resolved.version);
}
