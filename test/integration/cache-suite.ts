/**
 * The django-redis backend suite (tests/test_backend.py) ported to vitest, run against a real
 * Redis through whatever Router the caller supplies, for a matrix of serializer × compressor.
 *
 * Reusable: the standalone test runs it on one redis-server; the Sentinel router tests run it
 * on the discovery and pooled routers. The suite therefore assumes nothing about the node
 * beyond what the router gives: every cache it creates has a unique prefix, it only deletes
 * under its own prefixes (never FLUSHDB), and each test starts by clearing its own prefix.
 * Routers that read from replicas should be configured with readFrom: 'master' for this suite
 * (it reads its own writes immediately, as the django-redis tests do).
 *
 * Not ported (not applicable): the 2^63 overflow cases of test_incr/test_decr (JS numbers above
 * 2^53 are not integers the codec stores as decimals), the mock-based cases (empty pipeline,
 * itersize settings, close mocks), the HerdClient/ShardClient skips, primary/replica switching
 * (covered by the router suites).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compressors } from '../../src/compressors/index.js';
import type { Cache } from '../../src/core/cache.js';
import {
  ConfigError,
  KeyNotFoundError,
  LockError,
  NotAnIntegerError,
  SerializationError,
} from '../../src/core/errors.js';
import type { Compressor, Serializer } from '../../src/core/formats.js';
import type { CacheOptions } from '../../src/core/options.js';
import { createCache } from '../../src/create-cache.js';
import type { Router } from '../../src/routers/types.js';
import { serializers } from '../../src/serializers/index.js';
import { zstdAvailable } from '../fixtures/zstd.js';

export interface SuiteRouter {
  router: Router;
  /** Called after the cache (and with it the router) has been closed. */
  cleanup(): Promise<void>;
}

export interface CodecCase {
  serializer: 'json' | 'msgpack' | 'v8' | 'string';
  compressor: 'none' | 'lz4' | 'zlib' | 'gzip' | 'brotli' | 'zstd';
}

/** The matrix of issue 3 (v8 with brotli where this process has no zstd: Node 20 without zstd-napi). */
export const CODEC_MATRIX: readonly CodecCase[] = [
  { serializer: 'json', compressor: 'none' },
  { serializer: 'msgpack', compressor: 'lz4' },
  { serializer: 'v8', compressor: zstdAvailable ? 'zstd' : 'brotli' },
  { serializer: 'string', compressor: 'gzip' },
  { serializer: 'json', compressor: 'brotli' },
  { serializer: 'msgpack', compressor: 'zlib' },
];

export function makeSerializer(name: CodecCase['serializer']): Serializer {
  return serializers[name]();
}

/** minLength 0: compress whenever it helps, so the compressed path is exercised by short values too. */
export function makeCompressor(name: CodecCase['compressor']): Compressor {
  return name === 'none' ? compressors.none() : compressors[name]({ minLength: 0 });
}

export function uniquePrefix(tag: string): string {
  return `sc-test-${tag}-${randomBytes(4).toString('hex')}`;
}

/** A TTL that expires well within a test, and a wait that outlasts it. */
/** For tests that wait for a key to expire: the wait is a lower bound, so load cannot break them. */
const SHORT_TTL = 300;
const AFTER_SHORT_TTL = 700;
/**
 * For tests that expect a key to still be there before its TTL ends: seconds of room, so a
 * loaded machine's slow round trips cannot expire it early.
 */
const LIVE_TTL = 2000;
const AFTER_LIVE_TTL = 2500;

export function defineCacheSuite(
  name: string,
  makeRouter: () => Promise<SuiteRouter>,
  matrix: readonly CodecCase[] = CODEC_MATRIX,
  /** Extra createCache options for the suite's main cache (e.g. `{ nearCache: true }`). */
  extra: Partial<CacheOptions> = {},
): void {
  for (const codec of matrix) {
    describe(`${name}: django-redis backend suite [${codec.serializer}/${codec.compressor}]`, () => {
      const onlyStrings = codec.serializer === 'string';
      let target: SuiteRouter;
      let cache: Cache;
      let prefix: string;

      beforeAll(async () => {
        target = await makeRouter();
        prefix = uniquePrefix(`${codec.serializer}-${codec.compressor}`);
        cache = createCache({
          router: target.router,
          serializer: makeSerializer(codec.serializer),
          compressor: makeCompressor(codec.compressor),
          keyPrefix: prefix,
          ...extra,
        });
      });

      afterAll(async () => {
        try {
          await cache?.clear();
        } finally {
          await cache?.close();
          await target?.cleanup();
        }
      });

      beforeEach(async () => {
        await cache.clear();
      });

      // ------------------------------------------------------------------ set / get / add

      it('setnx', async () => {
        await cache.delete('test_key_nx');
        expect(await cache.get('test_key_nx')).toBeUndefined();
        expect(await cache.set('test_key_nx', 1, { nx: true })).toBe(true);
        expect(await cache.set('test_key_nx', 2, { nx: true })).toBe(false);
        expect(await cache.get('test_key_nx')).toBe(1);
        await cache.delete('test_key_nx');
        expect(await cache.get('test_key_nx')).toBeUndefined();
      });

      it('setnx with timeout', async () => {
        expect(await cache.set('test_key_nx', 1, { ttl: SHORT_TTL, nx: true })).toBe(true);
        await sleep(AFTER_SHORT_TTL);
        expect(await cache.get('test_key_nx')).toBeUndefined();

        // the timeout of a refused nx write does not touch the existing key
        await cache.set('test_key_nx', 1, { ttl: null });
        expect(await cache.set('test_key_nx', 2, { ttl: SHORT_TTL, nx: true })).toBe(false);
        await sleep(AFTER_SHORT_TTL);
        expect(await cache.get('test_key_nx')).toBe(1);
      });

      it('xx writes only existing keys', async () => {
        expect(await cache.set('xx', 'a', { xx: true })).toBe(false);
        expect(await cache.has('xx')).toBe(false);
        await cache.set('xx', 'a');
        expect(await cache.set('xx', 'b', { xx: true })).toBe(true);
        expect(await cache.get('xx')).toBe('b');
        await expect(cache.set('xx', 'c', { nx: true, xx: true })).rejects.toThrow(ConfigError);
      });

      it('unicode and unusual keys are stored and read back exactly', async () => {
        const keys = [
          'ключ',
          '',
          'with space',
          'line\nbreak',
          'glob*?[ab]\\',
          'colon:in:key',
          '🔑',
          'k'.repeat(10_000),
        ];
        for (const [i, key] of keys.entries()) await cache.set(key, `value-${i}`);
        for (const [i, key] of keys.entries()) expect(await cache.get(key)).toBe(`value-${i}`);
        expect(new Set(await cache.keys('*'))).toEqual(new Set(keys));
      });

      it('integers', async () => {
        await cache.set('test_key', 2);
        const res = await cache.get('test_key');
        expect(res).toBe(2);
        expect(typeof res).toBe('number');
        for (const n of [0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
          await cache.set('n', n);
          expect(await cache.get('n')).toBe(n);
        }
      });

      it('strings', async () => {
        await cache.set('test_key', 'hello'.repeat(1000));
        expect(await cache.get('test_key')).toBe('hello'.repeat(1000));
        await cache.set('test_key', '2');
        const two = await cache.get('test_key');
        expect(two).toBe('2');
        expect(typeof two).toBe('string');
        await cache.set('empty', '');
        expect(await cache.get('empty')).toBe('');
      });

      it('unicode values', async () => {
        await cache.set('test_key', 'heló');
        expect(await cache.get('test_key')).toBe('heló');
        await cache.set('test_key', 'Ωμέγα 🎉 \u0000 end');
        expect(await cache.get('test_key')).toBe('Ωμέγα 🎉 \u0000 end');
      });

      it.skipIf(onlyStrings)('dicts', async () => {
        const now = new Date('2024-05-06T07:08:09.123Z');
        // json stores dates as ISO strings (like django-redis' JSONSerializer); the others keep Date.
        const date = codec.serializer === 'json' ? now.toISOString() : now;
        const value = { id: 1, date, name: 'Foo', nested: { list: [1, 'two', null, { three: 3 }] } };
        await cache.set('test_key', value);
        expect(await cache.get('test_key')).toEqual(value);
      });

      it.skipIf(onlyStrings)('floats', async () => {
        await cache.set('test_key', 1.345620002);
        expect(await cache.get('test_key')).toBe(1.345620002);
        await cache.set('test_key', -0.5);
        expect(await cache.get('test_key')).toBe(-0.5);
      });

      it.skipIf(onlyStrings)('booleans stay booleans (not 1/0)', async () => {
        await cache.set('bool', true);
        expect(await cache.get('bool')).toBe(true);
        await cache.set('bool', false);
        expect(await cache.get('bool')).toBe(false);
      });

      it.skipIf(onlyStrings)('arrays, null and a large compressible object', async () => {
        await cache.set('arr', [1, 'a', [2, 3], { b: true }]);
        expect(await cache.get('arr')).toEqual([1, 'a', [2, 3], { b: true }]);
        await cache.set('null', null);
        expect(await cache.get('null')).toBeNull();
        expect(await cache.has('null')).toBe(true);
        const big = Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `user-${i}`, tags: ['a', 'b'] }));
        await cache.set('big', big);
        expect(await cache.get('big')).toEqual(big);
      });

      it.skipIf(codec.serializer === 'json')('Buffers round-trip', async () => {
        const bytes = Buffer.from([0, 1, 2, 255, 254, 0x5b]);
        await cache.set('buf', bytes);
        expect(Buffer.compare(Buffer.from((await cache.get('buf')) as Uint8Array), bytes)).toBe(0);
      });

      // ------------------------------------------------------------------ timeouts

      it('timeout', async () => {
        await cache.set('test_key', 222, { ttl: SHORT_TTL });
        await sleep(AFTER_SHORT_TTL);
        expect(await cache.get('test_key')).toBeUndefined();
      });

      it('timeout as a duration string', async () => {
        await cache.set('test_key', 222, { ttl: '10s' });
        const ttl = await cache.ttl('test_key');
        expect(ttl).toBeGreaterThan(8_000);
        expect(ttl).toBeLessThanOrEqual(10_000);
      });

      it('timeout 0 deletes', async () => {
        await cache.set('test_key', 222);
        expect(await cache.set('test_key', 222, { ttl: 0 })).toBe(false);
        expect(await cache.get('test_key')).toBeUndefined();
      });

      it('negative timeout deletes, but nx never deletes an existing key', async () => {
        await cache.set('test_key', 222, { ttl: -1 });
        expect(await cache.get('test_key')).toBeUndefined();

        await cache.set('test_key', 222, { ttl: null });
        await cache.set('test_key', 222, { ttl: -1 });
        expect(await cache.get('test_key')).toBeUndefined();

        await cache.set('test_key', 222, { ttl: null });
        await cache.set('test_key', 222, { ttl: -1, nx: true });
        expect(await cache.get('test_key')).toBe(222);
      });

      it('tiny timeout', async () => {
        await cache.set('test_key', 222, { ttl: 0.00001 });
        expect([undefined, 222]).toContain(await cache.get('test_key'));
      });

      it('no timeout (null) and the default timeout', async () => {
        await cache.set('forever', 1, { ttl: null });
        expect(await cache.ttl('forever')).toBeNull();
        await cache.set('default', 1);
        const ttl = await cache.ttl('default');
        expect(ttl).toBeGreaterThan(290_000);
        expect(ttl).toBeLessThanOrEqual(300_000);
      });

      it('set add', async () => {
        await cache.set('add_key', 'Initial value');
        expect(await cache.add('add_key', 'New value')).toBe(false);
        expect(await cache.get('add_key')).toBe('Initial value');
        expect(await cache.add('other_key', 'New value')).toBe(true);
        expect(await cache.get('other_key')).toBe('New value');
      });

      // ------------------------------------------------------------------ many

      it('get many', async () => {
        await cache.set('a', 1);
        await cache.set('b', 2);
        await cache.set('c', 3);
        expect(await cache.getMany(['a', 'b', 'c', 'missing'])).toEqual(
          new Map([
            ['a', 1],
            ['b', 2],
            ['c', 3],
          ]),
        );
        expect(await cache.getMany([])).toEqual(new Map());
      });

      it('get many unicode', async () => {
        await cache.set('a', '1');
        await cache.set('b', '2');
        await cache.set('ц', '3');
        expect(await cache.getMany(['a', 'b', 'ц'])).toEqual(
          new Map([
            ['a', '1'],
            ['b', '2'],
            ['ц', '3'],
          ]),
        );
      });

      it('set many (object, Map, ttl)', async () => {
        await cache.setMany({ a: 1, b: 2, c: 3 });
        expect(await cache.getMany(['a', 'b', 'c'])).toEqual(
          new Map([
            ['a', 1],
            ['b', 2],
            ['c', 3],
          ]),
        );
        await cache.setMany(
          new Map([
            ['x', 'X'],
            ['y', 'Y'],
          ]),
          { ttl: '20s' },
        );
        expect(await cache.get('y')).toBe('Y');
        expect(await cache.ttl('x')).toBeGreaterThan(15_000);
        await cache.setMany({ a: 9 }, { ttl: 0 });
        expect(await cache.has('a')).toBe(false);
      });

      it('set many over several chunks: every key gets the TTL (one script per chunk), or none without one', async () => {
        // 2,100 keys: three chunks of at most 1,000 (BATCH_SIZE), the last one short.
        const entries = Array.from(
          { length: 2100 },
          (_, i) => [`tl${i}`, i % 2 === 0 ? i : `v${i}`] as const,
        );
        await cache.setMany(entries, { ttl: '20s' });
        const ttls = await Promise.all(entries.map(([k]) => cache.ttl(k)));
        for (const [i, t] of ttls.entries()) {
          expect(t, `tl${i}`).toBeGreaterThan(10_000);
          expect(t, `tl${i}`).toBeLessThanOrEqual(20_000);
        }
        const read = await cache.getMany(entries.map(([k]) => k));
        expect(read).toEqual(new Map(entries));
        // Without a TTL (MSET per chunk) the same keys lose theirs: a plain write replaces the key.
        await cache.setMany(entries, { ttl: null });
        const persistent = await Promise.all(entries.map(([k]) => cache.ttl(k)));
        expect(persistent.every((t) => t === null)).toBe(true);
        expect(await cache.getMany(entries.map(([k]) => k))).toEqual(new Map(entries));
      });

      it('delete', async () => {
        await cache.setMany({ a: 1, b: 2, c: 3 });
        expect(await cache.delete('a')).toBe(true);
        expect(await cache.getMany(['a', 'b', 'c'])).toEqual(
          new Map([
            ['b', 2],
            ['c', 3],
          ]),
        );
        expect(await cache.delete('a')).toBe(false);
      });

      it('delete many (array, generator, empty)', async () => {
        await cache.setMany({ a: 1, b: 2, c: 3 });
        expect(await cache.deleteMany(['a', 'b'])).toBe(2);
        expect(await cache.getMany(['a', 'b', 'c'])).toEqual(new Map([['c', 3]]));
        expect(await cache.deleteMany(['a', 'b'])).toBe(0);

        await cache.setMany({ a: 1, b: 2 });
        function* gen() {
          yield 'a';
          yield 'b';
        }
        expect(await cache.deleteMany(gen())).toBe(2);
        expect(await cache.deleteMany((function* () {})())).toBe(0);
      });

      // ------------------------------------------------------------------ incr / decr / versions

      it('incr', async () => {
        await cache.set('num', 1);
        expect(await cache.incr('num')).toBe(2);
        expect(await cache.get('num')).toBe(2);
        await cache.incr('num', 10);
        expect(await cache.get('num')).toBe(12);
        await cache.set('num', 3);
        await cache.incr('num', 2);
        expect(await cache.get('num')).toBe(5);
      });

      it('incr keeps the TTL, and no TTL stays no TTL', async () => {
        await cache.set('num', 1, { ttl: '60s' });
        await cache.incr('num');
        expect(await cache.ttl('num')).toBeGreaterThan(50_000);
        await cache.set('num', 1, { ttl: null });
        await cache.incr('num');
        expect(await cache.ttl('num')).toBeNull();
      });

      it('incr error: missing key, non-integer value, bad delta', async () => {
        await expect(cache.incr('numnum')).rejects.toBeInstanceOf(KeyNotFoundError);
        expect(await cache.has('numnum')).toBe(false);
        await cache.set('word', 'abc');
        await expect(cache.incr('word')).rejects.toBeInstanceOf(NotAnIntegerError);
        expect(await cache.get('word')).toBe('abc');
        await cache.set('str2', '2'); // a string, not an integer: stored with a header
        await expect(cache.incr('str2')).rejects.toBeInstanceOf(NotAnIntegerError);
        await expect(cache.incr('numnum', 1.5, { ignoreKeyCheck: true })).rejects.toBeInstanceOf(ConfigError);
      });

      it.skipIf(onlyStrings)('incr of a float is NotAnIntegerError', async () => {
        await cache.set('f', 1.5);
        await expect(cache.incr('f')).rejects.toBeInstanceOf(NotAnIntegerError);
      });

      it('incr ignore key check', async () => {
        expect(await cache.incr('num', 1, { ignoreKeyCheck: true })).toBe(1);
        expect(await cache.get('num')).toBe(1);
        await cache.delete('num');
        await cache.incr('num', 10, { ignoreKeyCheck: true });
        expect(await cache.get('num')).toBe(10);
        await cache.set('num', 3);
        await cache.incr('num', 2, { ignoreKeyCheck: true });
        expect(await cache.get('num')).toBe(5);
      });

      it('decr', async () => {
        await cache.set('num', 20);
        await cache.decr('num');
        expect(await cache.get('num')).toBe(19);
        await cache.decr('num', 20);
        expect(await cache.get('num')).toBe(-1);
        expect(await cache.decr('num', 2)).toBe(-3);
        expect(await cache.get('num')).toBe(-3);
        await expect(cache.decr('missing')).rejects.toBeInstanceOf(KeyNotFoundError);
      });

      it('incr and decr with versions', async () => {
        await cache.set('num', 5, { version: 3 });
        expect(await cache.incr('num', 1, { version: 3 })).toBe(6);
        await expect(cache.incr('num')).rejects.toBeInstanceOf(KeyNotFoundError);
        expect(await cache.decr('num', 2, { version: 3 })).toBe(4);
        expect(await cache.get('num', { version: 3 })).toBe(4);
      });

      it('version', async () => {
        await cache.set('keytest', 2, { version: 2 });
        expect(await cache.get('keytest')).toBeUndefined();
        expect(await cache.get('keytest', { version: 2 })).toBe(2);
        expect(await cache.withVersion(2).get('keytest')).toBe(2);
      });

      it('incr version', async () => {
        await cache.set('keytest', 2);
        expect(await cache.incrVersion('keytest')).toBe(2);
        expect(await cache.get('keytest')).toBeUndefined();
        expect(await cache.get('keytest', { version: 2 })).toBe(2);
        expect(await cache.decrVersion('keytest', 1, { version: 2 })).toBe(1);
        expect(await cache.get('keytest')).toBe(2);
        await expect(cache.incrVersion('nope')).rejects.toBeInstanceOf(KeyNotFoundError);
      });

      it('incr version keeps the TTL', async () => {
        await cache.set('my_key', 'hello world!', { ttl: '60s' });
        await cache.incrVersion('my_key');
        expect(await cache.get('my_key', { version: 2 })).toBe('hello world!');
        expect(await cache.ttl('my_key', { version: 2 })).toBeGreaterThan(50_000);
      });

      it('ttl incr version no timeout', async () => {
        await cache.set('my_key', 'hello world!', { ttl: null });
        await cache.incrVersion('my_key');
        expect(await cache.get('my_key', { version: 2 })).toBe('hello world!');
        expect(await cache.ttl('my_key', { version: 2 })).toBeNull();
      });

      it('incr version moves sets and hashes too', async () => {
        await cache.sadd('s', 'a', 'b');
        await cache.hset('h', 'f', 'v');
        await cache.incrVersion('s');
        await cache.incrVersion('h');
        expect(await cache.withVersion(2).smembers('s')).toEqual(new Set(['a', 'b']));
        expect(await cache.hget('h', 'f', { version: 2 })).toBe('v');
      });

      // ------------------------------------------------------------------ patterns and keys

      it('delete pattern', async () => {
        for (const key of ['foo-aa', 'foo-ab', 'foo-bb', 'foo-bc']) await cache.set(key, 'foo');
        expect(await cache.deletePattern('*foo-a*')).toBe(2);
        expect(new Set(await cache.keys('foo*'))).toEqual(new Set(['foo-bb', 'foo-bc']));
        expect(await cache.deletePattern('*foo-a*')).toBe(0);
      });

      it('delete pattern with a custom scan count', async () => {
        for (let i = 0; i < 25; i++) await cache.set(`foo-a${i}`, i);
        await cache.set('foo-b', 'keep');
        expect(await cache.deletePattern('foo-a*', { scanCount: 2 })).toBe(25);
        expect(await cache.keys('*')).toEqual(['foo-b']);
      });

      it('delete pattern only in the given version', async () => {
        await cache.set('v', 1);
        await cache.set('v', 2, { version: 2 });
        expect(await cache.deletePattern('v', { version: 2 })).toBe(1);
        expect(await cache.get('v')).toBe(1);
      });

      it('glob characters in the prefix never widen deletePattern, keys or clear', async () => {
        const tag = randomBytes(3).toString('hex');
        // Unescaped, 'g*{tag}' would match 'gXYZ{tag}', and 'g?[ab]{tag}' would match 'gXa{tag}'.
        const globby = createCache({
          router: target.router,
          keyPrefix: `g*${tag}`,
          serializer: makeSerializer(codec.serializer),
        });
        const globby2 = createCache({
          router: target.router,
          keyPrefix: `g?[ab]${tag}`,
          serializer: makeSerializer(codec.serializer),
        });
        const victim = createCache({
          router: target.router,
          keyPrefix: `gXYZ${tag}`,
          serializer: makeSerializer(codec.serializer),
        });
        const victim2 = createCache({
          router: target.router,
          keyPrefix: `gXa${tag}`,
          serializer: makeSerializer(codec.serializer),
        });
        try {
          await victim.set('foo', 'victim');
          await victim2.set('foo', 'victim2');
          await globby.set('foo', 'mine');
          await globby2.set('foo', 'mine2');
          expect(await globby.keys('*')).toEqual(['foo']);
          expect(await globby2.keys('*')).toEqual(['foo']);
          expect(await globby.deletePattern('*')).toBe(1);
          expect(await globby2.deletePattern('f*')).toBe(1);
          await globby.set('bar', 1);
          await globby2.set('bar', 1);
          expect(await globby.clear()).toBe(1);
          expect(await globby2.clear()).toBe(1);
          expect(await victim.get('foo')).toBe('victim');
          expect(await victim2.get('foo')).toBe('victim2');
        } finally {
          await victim.clear();
          await victim2.clear();
          // The router is shared with the suite's cache: it closes with the last of them.
          await Promise.all([globby, globby2, victim, victim2].map((c) => c.close()));
        }
      });

      it('keys with glob characters are matched literally when escaped', async () => {
        await cache.set('a*b', 1);
        await cache.set('aXb', 2);
        expect(new Set(await cache.keys('a*b'))).toEqual(new Set(['a*b', 'aXb']));
        expect(await cache.keys('a\\*b')).toEqual(['a*b']);
      });

      it('iter keys', async () => {
        await cache.set('foo1', 1);
        await cache.set('foo2', 1);
        await cache.set('foo3', 1);
        await cache.set('bar', 1);
        const result = new Set<string>();
        for await (const key of cache.iterKeys('foo*')) result.add(key);
        expect(result).toEqual(new Set(['foo1', 'foo2', 'foo3']));
      });

      it('iter keys itersize', async () => {
        for (let i = 0; i < 3; i++) await cache.set(`foo${i}`, 1);
        const result: string[] = [];
        for await (const key of cache.iterKeys('foo*', { scanCount: 2 })) result.push(key);
        // SCAN guarantees every key present throughout is returned at least once; a rehash caused by
        // other tests writing to the same database may repeat one, as with redis-py's scan_iter.
        expect(new Set(result)).toEqual(new Set(['foo0', 'foo1', 'foo2']));
        expect(result.length).toBeGreaterThanOrEqual(3);
      });

      it('iter keys generator', async () => {
        await cache.set('foo1', 1);
        const iterator = cache.iterKeys('foo*');
        const first = await iterator.next();
        expect(first.done).toBe(false);
        expect(first.value).toBe('foo1');
      });

      it('keys of another version are not listed', async () => {
        await cache.set('k1', 1);
        await cache.set('k2', 1, { version: 2 });
        expect(await cache.keys('k*')).toEqual(['k1']);
        expect(await cache.keys('k*', { version: 2 })).toEqual(['k2']);
      });

      it('has', async () => {
        expect(await cache.has('h')).toBe(false);
        await cache.set('h', 0);
        expect(await cache.has('h')).toBe(true);
        expect(await cache.has('h', { version: 2 })).toBe(false);
      });

      // ------------------------------------------------------------------ ttl / expire / persist / touch

      it('ttl', async () => {
        await cache.set('foo', 'bar', { ttl: 10_000 });
        const ttl = await cache.ttl('foo');
        expect(ttl).toBeGreaterThan(9_000);
        expect(ttl).toBeLessThanOrEqual(10_000);

        await cache.set('foo', 'foo', { ttl: null });
        expect(await cache.ttl('foo')).toBeNull();

        await cache.set('foo', 'foo', { ttl: -1 });
        expect(await cache.ttl('foo')).toBeUndefined();
        expect(await cache.ttl('not-existent-key')).toBeUndefined();
      });

      it('pttl precision (fractional seconds)', async () => {
        await cache.set('foo', 'bar', { ttl: '5.5s' });
        const ttl = await cache.ttl('foo');
        expect(ttl).toBeGreaterThan(5_000);
        expect(ttl).toBeLessThanOrEqual(5_500);
      });

      it('persist', async () => {
        await cache.set('foo', 'bar', { ttl: 20_000 });
        expect(await cache.persist('foo')).toBe(true);
        expect(await cache.ttl('foo')).toBeNull();
        expect(await cache.persist('foo')).toBe(true); // exists, already without TTL
        expect(await cache.persist('not-existent-key')).toBe(false);
      });

      it('expire', async () => {
        await cache.set('foo', 'bar', { ttl: null });
        expect(await cache.expire('foo', 20_000)).toBe(true);
        const ttl = await cache.ttl('foo');
        expect(ttl).toBeGreaterThan(19_000);
        expect(ttl).toBeLessThanOrEqual(20_000);
        expect(await cache.expire('not-existent-key', 20_000)).toBe(false);
      });

      it('expire with the default timeout', async () => {
        await cache.set('foo', 'bar', { ttl: null });
        expect(await cache.expire('foo')).toBe(true);
        expect(await cache.ttl('foo')).toBeGreaterThan(290_000);
        expect(await cache.expire('not-existent-key')).toBe(false);
      });

      it('pexpire (ms precision)', async () => {
        await cache.set('foo', 'bar', { ttl: null });
        expect(await cache.expire('foo', 20_500)).toBe(true);
        const ttl = await cache.ttl('foo');
        expect(ttl).toBeGreaterThan(20_000);
        expect(ttl).toBeLessThanOrEqual(20_500);
      });

      it('expire at (Date, epoch ms, past, missing)', async () => {
        await cache.set('foo', 'bar', { ttl: null });
        expect(await cache.expireAt('foo', new Date(Date.now() + 3_600_000))).toBe(true);
        let ttl = await cache.ttl('foo');
        expect(ttl).toBeGreaterThan(3_590_000);
        expect(ttl).toBeLessThanOrEqual(3_600_000);

        await cache.set('foo', 'bar', { ttl: null });
        expect(await cache.expireAt('foo', Date.now() + 7_200_000)).toBe(true);
        ttl = await cache.ttl('foo');
        expect(ttl).toBeGreaterThan(7_190_000);

        expect(await cache.expireAt('foo', new Date(Date.now() - 7_200_000))).toBe(true);
        expect(await cache.get('foo')).toBeUndefined();
        expect(await cache.expireAt('not-existent-key', new Date(Date.now() + 7_200_000))).toBe(false);
      });

      it('touch zero timeout', async () => {
        await cache.set('test_key', 222, { ttl: 10_000 });
        expect(await cache.touch('test_key', 0)).toBe(true);
        expect(await cache.get('test_key')).toBeUndefined();
      });

      it('touch positive timeout', async () => {
        await cache.set('test_key', 222, { ttl: 10_000 });
        expect(await cache.touch('test_key', LIVE_TTL)).toBe(true);
        expect(await cache.get('test_key')).toBe(222);
        await sleep(AFTER_LIVE_TTL);
        expect(await cache.get('test_key')).toBeUndefined();
      });

      it('touch negative timeout', async () => {
        await cache.set('test_key', 222, { ttl: 10_000 });
        expect(await cache.touch('test_key', -1)).toBe(true);
        expect(await cache.get('test_key')).toBeUndefined();
      });

      it('touch missed key', async () => {
        expect(await cache.touch('test_key_does_not_exist', 1000)).toBe(false);
      });

      it('touch forever', async () => {
        await cache.set('test_key', 'foo', { ttl: LIVE_TTL });
        expect(await cache.touch('test_key', null)).toBe(true);
        expect(await cache.ttl('test_key')).toBeNull();
        await sleep(AFTER_LIVE_TTL);
        expect(await cache.get('test_key')).toBe('foo');
      });

      it('touch forever nonexistent', async () => {
        expect(await cache.touch('test_key_does_not_exist', null)).toBe(false);
      });

      it('touch default timeout', async () => {
        await cache.set('test_key', 'foo', { ttl: LIVE_TTL });
        expect(await cache.touch('test_key')).toBe(true);
        await sleep(AFTER_LIVE_TTL);
        expect(await cache.get('test_key')).toBe('foo');
        expect(await cache.ttl('test_key')).toBeGreaterThan(290_000);
      });

      // ------------------------------------------------------------------ lock

      it('lock', async () => {
        const lock = cache.lock('foobar');
        expect(await lock.acquire()).toBe(true);
        expect(await cache.has('foobar')).toBe(true);
        expect(await lock.locked()).toBe(true);
        expect(await lock.owned()).toBe(true);
        await lock.release();
        expect(await cache.has('foobar')).toBe(false);
        await expect(lock.release()).rejects.toBeInstanceOf(LockError);
      });

      it('lock released by another task (not thread-bound)', async () => {
        const lock = cache.lock('foobar', { ttl: '10s' });
        await lock.acquire();
        await Promise.resolve().then(() => lock.release());
        expect(await cache.has('foobar')).toBe(false);
      });

      it('lock contention: non-blocking, blocking timeout, wait for release', async () => {
        const holder = cache.lock('res', { ttl: '10s' });
        await holder.acquire();
        const other = cache.lock('res', { ttl: '10s', sleepMs: 20 });
        expect(await other.acquire({ blocking: false })).toBe(false);
        await expect(other.acquire({ blockingTimeout: 100 })).rejects.toBeInstanceOf(LockError);
        const waiting = other.acquire({ blockingTimeout: '5s' });
        await sleep(50);
        await holder.release();
        expect(await waiting).toBe(true);
        expect(await other.owned()).toBe(true);
        expect(await holder.owned()).toBe(false);
        await other.release();
      });

      it('lock token check: an expired holder cannot release or extend the new owner', async () => {
        const first = cache.lock('tok', { ttl: 100 });
        await first.acquire();
        await sleep(300);
        const second = cache.lock('tok', { ttl: '10s' });
        expect(await second.acquire({ blocking: false })).toBe(true);
        await expect(first.extend()).rejects.toBeInstanceOf(LockError);
        const first2 = cache.lock('tok', { ttl: 100 });
        // A fresh Lock object has no token, so it cannot release someone else's lock either.
        await expect(first2.release()).rejects.toBeInstanceOf(LockError);
        expect(await second.owned()).toBe(true);
        await second.release();
      });

      it('lock extend and ttl expiry', async () => {
        const lock = cache.lock('ext', { ttl: 2000 });
        await lock.acquire();
        await lock.extend('20s');
        expect(await cache.ttl('ext')).toBeGreaterThan(15_000);
        await lock.extend(null);
        expect(await cache.ttl('ext')).toBeNull();
        await lock.release();
        const shortLived = cache.lock('short', { ttl: SHORT_TTL });
        await shortLived.acquire();
        await sleep(AFTER_SHORT_TTL);
        expect(await shortLived.locked()).toBe(false);
      });

      it('lock with await using releases at scope end', async () => {
        {
          await using lock = cache.lock('scoped', { ttl: '10s' });
          await lock.acquire();
          expect(await cache.has('scoped')).toBe(true);
        }
        expect(await cache.has('scoped')).toBe(false);
      });

      // ------------------------------------------------------------------ clear

      it('clear', async () => {
        await cache.set('foo', 'bar');
        await cache.set('foo', 'bar', { version: 7 });
        expect(await cache.get('foo')).toBe('bar');
        await cache.clear();
        expect(await cache.get('foo')).toBeUndefined();
        expect(await cache.get('foo', { version: 7 })).toBeUndefined();
      });

      it('clear leaves other prefixes alone', async () => {
        const other = createCache({ router: target.router, keyPrefix: `${prefix}-other` });
        try {
          await other.set('foo', 'kept');
          await cache.set('foo', 'gone');
          await cache.clear();
          expect(await other.get('foo')).toBe('kept');
        } finally {
          await other.clear();
          await other.close();
        }
      });

      // ------------------------------------------------------------------ hashes

      it('hset', async () => {
        expect(await cache.hset('foo_hash1', 'foo1', 'bar1')).toBe(1);
        await cache.hset('foo_hash1', 'foo2', 'bar2');
        expect(await cache.hset('foo_hash1', 'foo2', 'bar2b')).toBe(0);
        expect(await cache.hlen('foo_hash1')).toBe(2);
        expect(await cache.hexists('foo_hash1', 'foo1')).toBe(true);
        expect(await cache.hexists('foo_hash1', 'foo2')).toBe(true);
        expect(await cache.hget('foo_hash1', 'foo2')).toBe('bar2b');
        expect(await cache.hget('foo_hash1', 'nope')).toBeUndefined();
      });

      it('hset many fields: an object or a Map, one HSET, nothing written when a value is refused', async () => {
        expect(await cache.hset('foo_hash_many', { a: 'A', b: 'b' })).toBe(2);
        expect(
          await cache.hset(
            'foo_hash_many',
            new Map([
              ['b', 'B'],
              ['c', 'C'],
            ]),
          ),
        ).toBe(1);
        expect(await cache.hgetall('foo_hash_many')).toEqual(
          new Map([
            ['a', 'A'],
            ['b', 'B'],
            ['c', 'C'],
          ]),
        );
        expect(await cache.hset('foo_hash_many', { d: 'D' }, { version: 2 })).toBe(1);
        expect(await cache.hget('foo_hash_many', 'd', { version: 2 })).toBe('D');
        await expect(cache.hset('foo_hash_many', {})).rejects.toThrow(/at least one field/);
        await expect(cache.hset('foo_hash_many', ['a', 1] as never)).rejects.toThrow(
          /plain object or a Map.*got an array/,
        );
        await expect(cache.hset('foo_hash_many', { e: 'E', f: () => 0 })).rejects.toBeInstanceOf(
          SerializationError,
        );
        expect(await cache.hexists('foo_hash_many', 'e')).toBe(false);
      });

      it('hdel', async () => {
        await cache.hset('foo_hash2', 'foo1', 'bar1');
        await cache.hset('foo_hash2', 'foo2', 'bar2');
        expect(await cache.hlen('foo_hash2')).toBe(2);
        expect(await cache.hdel('foo_hash2', 'foo1')).toBe(1);
        expect(await cache.hlen('foo_hash2')).toBe(1);
        expect(await cache.hexists('foo_hash2', 'foo1')).toBe(false);
        expect(await cache.hexists('foo_hash2', 'foo2')).toBe(true);
        expect(await cache.hdel('foo_hash2', ['foo2', 'nope'])).toBe(1);
      });

      it('hlen', async () => {
        expect(await cache.hlen('foo_hash3')).toBe(0);
        await cache.hset('foo_hash3', 'foo1', 'bar1');
        expect(await cache.hlen('foo_hash3')).toBe(1);
        await cache.hset('foo_hash3', 'foo2', 'bar2');
        expect(await cache.hlen('foo_hash3')).toBe(2);
      });

      it('hkeys', async () => {
        await cache.hset('foo_hash4', 'foo1', 'bar1');
        await cache.hset('foo_hash4', 'foo2', 'bar2');
        await cache.hset('foo_hash4', 'foo3', 'bar3');
        expect((await cache.hkeys('foo_hash4')).sort()).toEqual(['foo1', 'foo2', 'foo3']);
      });

      it('hexists', async () => {
        await cache.hset('foo_hash5', 'foo1', 'bar1');
        expect(await cache.hexists('foo_hash5', 'foo1')).toBe(true);
        expect(await cache.hexists('foo_hash5', 'foo')).toBe(false);
      });

      it('hgetall decodes values; field names stay plain strings', async () => {
        await cache.hset('h', 'n', 42);
        await cache.hset('h', 'ключ', 'значение');
        expect(await cache.hgetall('h')).toEqual(
          new Map<string, unknown>([
            ['n', 42],
            ['ключ', 'значение'],
          ]),
        );
        expect(await cache.hgetall('missing')).toEqual(new Map());
        await expect(cache.hset('h', 1 as unknown as string, 'x')).rejects.toThrow(ConfigError);
      });

      it.skipIf(onlyStrings)('hash values of any type', async () => {
        await cache.hset('h', 'obj', { a: [1, 2] });
        expect(await cache.hget('h', 'obj')).toEqual({ a: [1, 2] });
      });

      // ------------------------------------------------------------------ sets

      it('sadd, scard, smembers, sismember, smismember, srem', async () => {
        expect(await cache.sadd('foo', 'bar1', 'bar2')).toBe(2);
        expect(await cache.sadd('foo', 'bar2', 'bar3')).toBe(1);
        expect(await cache.scard('foo')).toBe(3);
        expect(await cache.smembers('foo')).toEqual(new Set(['bar1', 'bar2', 'bar3']));
        expect(await cache.sismember('foo', 'bar1')).toBe(true);
        expect(await cache.sismember('foo', 'nope')).toBe(false);
        expect(await cache.smismember('foo', 'bar1', 'nope', 'bar3')).toEqual([true, false, true]);
        expect(await cache.srem('foo', 'bar1', 'nope')).toBe(1);
        expect(await cache.smembers('foo')).toEqual(new Set(['bar2', 'bar3']));
        expect(await cache.smembers('empty')).toEqual(new Set());
      });

      it('set members of other types go through the codec', async () => {
        const members: unknown[] = onlyStrings ? ['a', 1, 'ü'] : ['a', 1, 2.5, { x: 1 }, [1, 2], true];
        await cache.sadd('mixed', ...members);
        expect(await cache.scard('mixed')).toBe(members.length);
        expect([...(await cache.smembers('mixed'))]).toEqual(expect.arrayContaining(members));
        expect(await cache.sismember('mixed', members[members.length - 1])).toBe(true);
      });

      it('spop and srandmember', async () => {
        await cache.sadd('foo', 'a', 'b', 'c');
        const random = await cache.srandmember('foo');
        expect(['a', 'b', 'c']).toContain(random);
        expect((await cache.srandmember('foo', 2)).length).toBe(2);
        expect((await cache.srandmember('foo', -5)).length).toBe(5);
        const popped = await cache.spop('foo');
        expect(['a', 'b', 'c']).toContain(popped);
        expect(await cache.scard('foo')).toBe(2);
        const rest = await cache.spop('foo', 5);
        expect(rest.size).toBe(2);
        expect(await cache.spop('foo')).toBeUndefined();
        expect(await cache.srandmember('foo')).toBeUndefined();
      });

      /**
       * Keys an atomic multi-key command can take together: on a router with several masters
       * (a cluster), one hash tag puts them in one slot.
       */
      const together = (...keys: string[]) =>
        target.router.canCombine === undefined ? keys : keys.map((k) => `{together}${k}`);

      it('smove', async () => {
        const [src, dst] = together('src', 'dst') as [string, string];
        await cache.sadd(src, 'a', 'b');
        await cache.sadd(dst, 'c');
        expect(await cache.smove(src, dst, 'a')).toBe(true);
        expect(await cache.smove(src, dst, 'zzz')).toBe(false);
        expect(await cache.smembers(src)).toEqual(new Set(['b']));
        expect(await cache.smembers(dst)).toEqual(new Set(['a', 'c']));
      });

      it('sdiff, sinter, sunion and their store variants', async () => {
        await cache.sadd('s1', 'a', 'b', 'c');
        await cache.sadd('s2', 'b', 'c', 'd');
        expect(await cache.sdiff('s1', 's2')).toEqual(new Set(['a']));
        expect(await cache.sinter('s1', 's2')).toEqual(new Set(['b', 'c']));
        expect(await cache.sunion('s1', 's2')).toEqual(new Set(['a', 'b', 'c', 'd']));
        const [t1, t2, d, i, u] = together('s1', 's2', 'd', 'i', 'u') as [
          string,
          string,
          string,
          string,
          string,
        ];
        await cache.sadd(t1, 'a', 'b', 'c');
        await cache.sadd(t2, 'b', 'c', 'd');
        expect(await cache.sdiffstore(d, t1, t2)).toBe(1);
        expect(await cache.smembers(d)).toEqual(new Set(['a']));
        expect(await cache.sinterstore(i, t1, t2)).toBe(2);
        expect(await cache.smembers(i)).toEqual(new Set(['b', 'c']));
        expect(await cache.sunionstore(u, t1, t2)).toBe(4);
        expect(await cache.smembers(u)).toEqual(new Set(['a', 'b', 'c', 'd']));
      });

      it('set ops over many keys (on a cluster: many slots, computed in the client)', async () => {
        const keys = Array.from({ length: 12 }, (_, n) => `many-${n}`);
        for (const [n, key] of keys.entries())
          await cache.sadd(key, 'all', `only-${n}`, ...(n % 2 ? ['odd'] : []));
        expect(await cache.sinter(...keys)).toEqual(new Set(['all']));
        expect((await cache.sunion(...keys)).size).toBe(1 + 12 + 1);
        expect(await cache.sdiff(keys[1]!, ...keys.slice(2))).toEqual(new Set(['only-1']));
        if (target.router.canCombine !== undefined) {
          // Atomic variants cannot span slots: a ConfigError that names the fix.
          await expect(cache.sinterstore('dest', ...keys)).rejects.toThrow(/hash tag/);
          await expect(cache.smove(keys[0]!, keys[1]!, 'all')).rejects.toBeInstanceOf(ConfigError);
        }
      });

      it('set ops with a version view', async () => {
        const v2 = cache.withVersion(2);
        await v2.sadd('s', 'x');
        expect(await cache.smembers('s')).toEqual(new Set());
        expect(await cache.smembers('s', { version: 2 })).toEqual(new Set(['x']));
        expect(await v2.sinter('s', 's')).toEqual(new Set(['x']));
      });

      it('sscan', async () => {
        const members = Array.from({ length: 50 }, (_, i) => `m${i}`);
        await cache.sadd('big', ...members);
        expect(await cache.sscan('big', { scanCount: 5 })).toEqual(new Set(members));
        // match applies to the stored bytes: a member's text appears inside them
        const matched = await cache.sscan('big', { match: '*m1*' });
        expect([...matched].every((m) => String(m).startsWith('m1'))).toBe(true);
        expect(matched.size).toBe(11);
      });

      // ------------------------------------------------------------------ sorted sets

      it('zadd, zrange, zrange withScores, zrevrange, zcard', async () => {
        expect(await cache.zadd('z', { a: 1, b: 2, c: 3 })).toBe(3);
        expect(await cache.zadd('z', { a: 1.5 })).toBe(0);
        expect(await cache.zcard('z')).toBe(3);
        expect(await cache.zrange('z', 0, -1)).toEqual(['a', 'b', 'c']);
        expect(await cache.zrange('z', 0, -1, { withScores: true })).toEqual([
          ['a', 1.5],
          ['b', 2],
          ['c', 3],
        ]);
        expect(await cache.zrevrange('z', 0, 1)).toEqual(['c', 'b']);
        expect(await cache.zrevrange('z', 0, 0, { withScores: true })).toEqual([['c', 3]]);
      });

      it('zadd flags', async () => {
        await cache.zadd('z', { a: 1 });
        expect(await cache.zadd('z', { a: 5, b: 1 }, { nx: true })).toBe(1);
        expect(await cache.zscore('z', 'a')).toBe(1);
        expect(await cache.zadd('z', { a: 5, c: 1 }, { xx: true, ch: true })).toBe(1);
        expect(await cache.zscore('z', 'a')).toBe(5);
        expect(await cache.zscore('z', 'c')).toBeUndefined();
      });

      it('zrangebyscore, zcount, zscore, zrank', async () => {
        await cache.zadd('z', { a: 1, b: 2, c: 3, d: 4 });
        expect(await cache.zrangebyscore('z', 2, 3)).toEqual(['b', 'c']);
        expect(await cache.zrangebyscore('z', '(1', '+inf', { withScores: true })).toEqual([
          ['b', 2],
          ['c', 3],
          ['d', 4],
        ]);
        expect(await cache.zrangebyscore('z', '-inf', '+inf', { offset: 1, count: 2 })).toEqual(['b', 'c']);
        expect(await cache.zcount('z', 2, '+inf')).toBe(3);
        expect(await cache.zscore('z', 'c')).toBe(3);
        expect(await cache.zscore('z', 'x')).toBeUndefined();
        expect(await cache.zrank('z', 'a')).toBe(0);
        expect(await cache.zrank('z', 'd')).toBe(3);
        expect(await cache.zrank('z', 'x')).toBeUndefined();
      });

      it('zrem, zincrby, zpopmin, zpopmax', async () => {
        await cache.zadd('z', { a: 1, b: 2, c: 3, d: 4 });
        expect(await cache.zrem('z', 'a', 'nope')).toBe(1);
        expect(await cache.zincrby('z', 10, 'b')).toBe(12);
        expect(await cache.zincrby('z', 0.5, 'new')).toBe(0.5);
        expect(await cache.zpopmin('z')).toEqual([['new', 0.5]]);
        expect(await cache.zpopmax('z', 2)).toEqual([
          ['b', 12],
          ['d', 4],
        ]);
        expect(await cache.zrange('z', 0, -1)).toEqual(['c']);
        expect(await cache.zpopmin('empty')).toEqual([]);
      });

      it('infinite scores', async () => {
        await cache.zadd('z', { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY });
        expect(await cache.zrange('z', 0, -1, { withScores: true })).toEqual([
          ['lo', Number.NEGATIVE_INFINITY],
          ['hi', Number.POSITIVE_INFINITY],
        ]);
      });

      it.skipIf(onlyStrings)('sorted-set members of any type (Map form)', async () => {
        await cache.zadd(
          'z',
          new Map<unknown, number>([
            [{ id: 1 }, 2],
            [7, 1],
          ]),
        );
        expect(await cache.zrange('z', 0, -1)).toEqual([7, { id: 1 }]);
        expect(await cache.zscore('z', { id: 1 })).toBe(2);
      });

      // ------------------------------------------------------------------ getOrSet, withClient, stats

      it('getOrSet calls the factory only on a miss', async () => {
        let calls = 0;
        const factory = async () => {
          calls++;
          return 'computed';
        };
        expect(await cache.getOrSet('gos', factory, { ttl: '10s' })).toBe('computed');
        expect(await cache.getOrSet('gos', factory)).toBe('computed');
        expect(calls).toBe(1);
        expect(await cache.ttl('gos')).toBeGreaterThan(5_000);
      });

      it('withClient runs raw commands on the routed node', async () => {
        await cache.set('raw', 5);
        const value = await cache.withClient('read', (client) => client.get(`${prefix}:1:raw`));
        expect(value).toBe('5');
      });

      it('stats count hits and misses', async () => {
        const before = cache.stats();
        await cache.set('s', 1);
        await cache.get('s');
        await cache.get('nope');
        const after = cache.stats();
        expect(after.hits - before.hits).toBe(1);
        expect(after.misses - before.misses).toBe(1);
        expect(Object.values(after.nodes).reduce((n, node) => n + node.ops, 0)).toBeGreaterThan(0);
      });

      it('non-string keys are refused with a clear error and nothing is sent', async () => {
        for (const key of [1, null, undefined, {}, Symbol('k')]) {
          await expect(cache.get(key as unknown as string)).rejects.toThrow(/key must be a string/);
          await expect(cache.set(key as unknown as string, 1)).rejects.toBeInstanceOf(ConfigError);
        }
        await expect(cache.getMany(['ok', 2 as unknown as string])).rejects.toThrow(ConfigError);
      });
    });
  }
}
