/**
 * Bad and unusual keys against a real redis-server: non-string keys are refused with a
 * ConfigError before any command is sent; every string key (empty, 10 KB, unicode, control
 * characters, glob characters) is stored under exactly `${prefix}:${version}:${key}` and reads
 * back exactly; glob characters in keys and in the prefix never widen deletePattern / keys /
 * clear beyond what was asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { ConfigError } from '../../src/core/errors.js';
import { escapeGlob } from '../../src/core/keys.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { serializers } from '../../src/serializers/index.js';
import { commandCalls, useStandalone } from '../fixtures/reliability.js';

/** A redis-server for this file, and a raw client on it (bypasses the cache). */
const redis = useStandalone();

function cacheWith(keyPrefix: string): Cache {
  return createCache({
    router: routers.standalone({ url: redis.server.url }),
    serializer: serializers.msgpack(),
    keyPrefix,
    defaultTtl: null,
  });
}

const NON_STRING_KEYS: Array<[string, unknown]> = [
  ['a number', 42],
  ['undefined', undefined],
  ['null', null],
  ['an object', { toString: () => 'sneaky' }],
  ['an array', ['a']],
  ['a symbol', Symbol('k')],
  ['a BigInt', 1n],
  ['a boolean', true],
  ['a boxed String', new String('boxed')],
];

/** Each method family that takes a key, called with `k` in the key position. */
const KEY_METHODS: Array<[string, (c: Cache, k: unknown) => Promise<unknown>]> = [
  ['get', (c, k) => c.get(k as string)],
  ['set', (c, k) => c.set(k as string, 'v')],
  ['add', (c, k) => c.add(k as string, 'v')],
  ['delete', (c, k) => c.delete(k as string)],
  ['has', (c, k) => c.has(k as string)],
  ['getMany', (c, k) => c.getMany(['fine', k as string])],
  [
    'setMany',
    (c, k) =>
      c.setMany(
        new Map([
          ['fine', 1],
          [k as string, 2],
        ]),
      ),
  ],
  ['deleteMany', (c, k) => c.deleteMany(['fine', k as string])],
  ['incr', (c, k) => c.incr(k as string, 1, { ignoreKeyCheck: true })],
  ['ttl', (c, k) => c.ttl(k as string)],
  ['expire', (c, k) => c.expire(k as string, 1000)],
  ['getOrSet', (c, k) => c.getOrSet(k as string, () => 'v')],
  ['hset', (c, k) => c.hset(k as string, 'f', 'v')],
  ['hget', (c, k) => c.hget(k as string, 'f')],
  ['sadd', (c, k) => c.sadd(k as string, 'm')],
  ['smembers', (c, k) => c.smembers(k as string)],
  ['zadd', (c, k) => c.zadd(k as string, { m: 1 })],
  ['zrange', (c, k) => c.zrange(k as string, 0, -1)],
  ['sinter', (c, k) => c.sinter('fine', k as string)],
  ['deletePattern', (c, k) => c.deletePattern(k as string)],
  ['keys', (c, k) => c.keys(k as string)],
];

describe('non-string keys are refused before anything is sent', () => {
  let cache: Cache;
  beforeAll(async () => {
    cache = cacheWith('bad-keys');
    await cache.get('warm-up');
  });
  afterAll(async () => {
    await cache?.close();
  });

  it.each(NON_STRING_KEYS)(
    '%s: ConfigError from every method family, no command issued',
    async (_label, key) => {
      const before = await commandCalls(redis.raw);
      for (const [method, call] of KEY_METHODS) {
        const error = await call(cache, key).then(
          (value) => new Error(`${method} resolved with ${String(value)}`),
          (e: unknown) => e,
        );
        expect(error, `${method}: ${String(error)}`).toBeInstanceOf(ConfigError);
        expect((error as Error).message, method).toMatch(/must be a string/);
      }
      const after = await commandCalls(redis.raw);
      // The only command between the two snapshots is the first INFO itself.
      const sent = Object.entries(after).filter(([cmd, n]) => n !== (before[cmd] ?? 0) && cmd !== 'info');
      expect(sent).toEqual([]);
    },
  );

  it('a string where a list of keys is expected is refused, not split into characters', async () => {
    await cache.set('k', 1);
    for (const call of [
      () => cache.getMany('key' as unknown as string[]),
      () => cache.deleteMany('key' as unknown as string[]),
      () => cache.getMany(undefined as unknown as string[]),
      () => cache.deleteMany(null as unknown as string[]),
      () => cache.setMany('kv' as unknown as Record<string, unknown>),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(ConfigError);
    }
    expect(await cache.get('k')).toBe(1);
    expect(await redis.raw.exists('bad-keys:1:v')).toBe(0);
  });

  it('a key with a lone surrogate is refused (UTF-8 cannot carry it: two such keys would collide)', async () => {
    await expect(cache.set('a\uD800', 1)).rejects.toBeInstanceOf(ConfigError);
    await expect(cache.get('a\uDFFF')).rejects.toBeInstanceOf(ConfigError);
    expect(await redis.raw.exists('bad-keys:1:a\uFFFD')).toBe(0);
  });
});

const LONG = 'k'.repeat(10 * 1024);
const ODD_KEYS: Array<[string, string]> = [
  ['empty', ''],
  ['10 KB', LONG],
  ['emoji', 'cache-😀-🧪👩‍👩‍👧'],
  ['RTL with an override', 'שלום-مرحبا-\u202Eabc'],
  ['combining (NFD)', 'e\u0301'],
  ['precomposed (NFC)', '\u00e9'],
  ['spaces', '  a key with spaces  '],
  ['newlines', 'line1\nline2\r\n'],
  ['tab and NUL', 'a\tb\u0000c'],
  ['colons (looks like prefix:version)', 'other:2:key'],
  ['star', 'a*'],
  ['question mark', 'a?'],
  ['brackets', 'a[bc]'],
  ['caret in brackets', '[^a]'],
  ['backslash', 'a\\*b'],
  ['only glob', '*'],
  ['RESP-looking', '*1\r\n$4\r\nPING\r\n'],
];

describe('odd string keys are stored and read back exactly', () => {
  let cache: Cache;
  beforeAll(() => {
    cache = cacheWith('odd');
  });
  afterAll(async () => {
    await cache?.close();
  });

  it.each(ODD_KEYS)('%s', async (_label, key) => {
    const value = { key };
    expect(await cache.set(key, value)).toBe(true);
    // Stored under exactly prefix:version:key, byte for byte.
    expect(await redis.raw.exists(Buffer.from(`odd:1:${key}`, 'utf8'))).toBe(1);
    expect(await cache.get(key)).toEqual(value);
    expect(await cache.has(key)).toBe(true);
    expect((await cache.getMany([key, 'absent'])).get(key)).toEqual(value);
    expect(await cache.keys(escapeGlob(key))).toEqual([key]);
    const iterated: string[] = [];
    for await (const k of cache.iterKeys(escapeGlob(key))) iterated.push(k);
    expect(iterated).toEqual([key]);
    expect(await cache.delete(key)).toBe(true);
    expect(await cache.get(key)).toBeUndefined();
  });

  it('NFC and NFD spellings are different keys (no normalization)', async () => {
    await cache.set('\u00e9', 'nfc');
    await cache.set('e\u0301', 'nfd');
    expect(await cache.get('\u00e9')).toBe('nfc');
    expect(await cache.get('e\u0301')).toBe('nfd');
    await cache.deleteMany(['\u00e9', 'e\u0301']);
  });
});

describe('glob characters never widen deletePattern / keys / clear', () => {
  let cache: Cache;
  const KEYS = ['a*', 'ab', 'ac', 'a?', 'a[b]', 'a\\', 'b*'];
  beforeAll(() => {
    cache = cacheWith('glob');
  });
  afterAll(async () => {
    await cache?.close();
  });

  async function reset(): Promise<void> {
    await cache.clear();
    await cache.setMany(Object.fromEntries(KEYS.map((k) => [k, k])));
  }

  it('an escaped pattern matches only the literal key', async () => {
    for (const literal of KEYS) {
      await reset();
      expect((await cache.keys(escapeGlob(literal))).sort(), literal).toEqual([literal]);
      expect(await cache.deletePattern(escapeGlob(literal)), literal).toBe(1);
      const left = await cache.keys('*');
      expect(left.sort()).toEqual(KEYS.filter((k) => k !== literal).sort());
    }
  });

  it('an unescaped pattern matches what Redis globbing asks for, and nothing outside the prefix', async () => {
    await reset();
    expect((await cache.keys('a?')).sort()).toEqual(['a*', 'a?', 'a\\', 'ab', 'ac'].sort());
    expect((await cache.keys('a[bc]')).sort()).toEqual(['ab', 'ac']);
    expect((await cache.keys('a[^b]')).sort()).toEqual(['a*', 'a?', 'a\\', 'ac'].sort());
    expect(await cache.deletePattern('a[bc]')).toBe(2);
    expect((await cache.keys('*')).sort()).toEqual(['a*', 'a?', 'a[b]', 'a\\', 'b*'].sort());
  });

  it("clear() of prefix 'app' leaves a cache with prefix 'app:v2' (or 'app:') alone", async () => {
    const app = cacheWith('app');
    const v2 = cacheWith('app:v2');
    const colon = cacheWith('app:');
    try {
      await app.set('k', 1);
      await app.set('k', 2, { version: 7 });
      await app.set('k', 3, { version: -1 });
      await v2.set('k', 'other cache');
      await colon.set('k', 'other cache');
      expect(await app.clear()).toBe(3);
      expect(await redis.raw.exists('app:v2:1:k')).toBe(1);
      expect(await redis.raw.exists('app::1:k')).toBe(1);
      expect(await v2.get('k')).toBe('other cache');
    } finally {
      await v2.clear();
      await colon.clear();
      await Promise.all([app.close(), v2.close(), colon.close()]);
    }
  });

  it('glob characters in keyPrefix are escaped: one cache never reaches another prefix', async () => {
    // Each prefix, used unescaped as a glob, would match the others' keys.
    const prefixes = ['p*', 'pX', 'p?', 'p[X]', 'p\\', 'p[^Y]'];
    const caches = prefixes.map((p) => cacheWith(p));
    try {
      for (const c of caches) await c.set('k', c.router.kind);
      await redis.raw.set('pZ:1:k', 'foreign');
      const star = caches[0] as Cache;
      expect(await star.keys('*')).toEqual(['k']);
      expect(await star.deletePattern('*')).toBe(1);
      // The other prefixes' keys and the foreign key survive.
      for (const p of prefixes.slice(1)) expect(await redis.raw.exists(`${p}:1:k`), p).toBe(1);
      expect(await redis.raw.exists('pZ:1:k')).toBe(1);
      for (const c of caches.slice(1)) {
        expect(await c.clear()).toBe(1);
      }
      expect(await redis.raw.exists('pZ:1:k')).toBe(1);
      for (const p of prefixes) expect(await redis.raw.exists(`${p}:1:k`), p).toBe(0);
    } finally {
      await Promise.all(caches.map((c) => c.close()));
      await redis.raw.del('pZ:1:k');
    }
  });
});
