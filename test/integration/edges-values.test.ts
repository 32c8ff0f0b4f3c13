/**
 * Integers, times and prefixes at the edges, on a real redis-server: a counter never leaves
 * the safe integer range silently (NotAnIntegerError, value unchanged), out-of-range times
 * are ConfigErrors before anything is sent, and a key prefix that could pass for another
 * prefix's versioned keys ('e' vs 'e:2') is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { ConfigError, NotAnIntegerError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { useStandalone } from '../fixtures/reliability.js';

const redis = useStandalone();
const MAX = Number.MAX_SAFE_INTEGER;

function cacheWith(keyPrefix: string): Cache {
  return createCache({ router: routers.standalone({ url: redis.server.url }), keyPrefix, defaultTtl: null });
}

describe('integers and times', () => {
  let cache: Cache;
  beforeAll(() => {
    cache = cacheWith('ints');
  });
  afterAll(async () => {
    await cache?.close();
  });

  it('incr up to MAX_SAFE_INTEGER works; past it is NotAnIntegerError and the value is unchanged', async () => {
    await cache.set('n', MAX - 2);
    expect(await cache.incr('n', 2)).toBe(MAX);
    await expect(cache.incr('n', 1)).rejects.toBeInstanceOf(NotAnIntegerError);
    expect(await redis.raw.get('ints:1:n')).toBe(String(MAX));
    await cache.set('neg', -MAX);
    await expect(cache.decr('neg', 1)).rejects.toBeInstanceOf(NotAnIntegerError);
    expect(await redis.raw.get('ints:1:neg')).toBe(String(-MAX));
    // The same with ignoreKeyCheck (a plain INCRBY before).
    await expect(cache.incr('n', 1, { ignoreKeyCheck: true })).rejects.toBeInstanceOf(NotAnIntegerError);
    expect(await redis.raw.get('ints:1:n')).toBe(String(MAX));
  });

  it('a value beyond the safe range written by another client is NotAnIntegerError, not a rounded number', async () => {
    await redis.raw.set('ints:1:big', '9007199254740993');
    await expect(cache.incr('big', 0)).rejects.toBeInstanceOf(NotAnIntegerError);
    await expect(cache.incr('big', -1)).rejects.toBeInstanceOf(NotAnIntegerError);
    expect(await redis.raw.get('ints:1:big')).toBe('9007199254740993');
  });

  it('int64 overflow is NotAnIntegerError, not a raw ReplyError', async () => {
    await redis.raw.set('ints:1:i64', '9223372036854775807');
    const error = await cache.incr('i64', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotAnIntegerError);
    const error2 = await cache.incr('i64', 1, { ignoreKeyCheck: true }).catch((e: unknown) => e);
    expect(error2).toBeInstanceOf(NotAnIntegerError);
    expect(await redis.raw.get('ints:1:i64')).toBe('9223372036854775807');
  });

  it('expireAt out of range is ConfigError, and nothing is sent', async () => {
    await cache.set('t', 1);
    await expect(cache.expireAt('t', 1e21)).rejects.toBeInstanceOf(ConfigError);
    await expect(cache.expireAt('t', new Date(Number.NaN))).rejects.toBeInstanceOf(ConfigError);
    await expect(cache.expireAt('t', -1e21)).rejects.toBeInstanceOf(ConfigError);
    expect(await cache.ttl('t')).toBeNull();
    // In range: a far but valid time works.
    const far = Date.now() + 10 * 365 * 86_400_000;
    expect(await cache.expireAt('t', far)).toBe(true);
    expect(await cache.ttl('t')).toBeGreaterThan(0);
  });
});

describe('key prefixes that could pass for another prefix are refused', () => {
  it.each(['e:2', 'e:-3', 'tenant:42:cache', ':1', 'a:b:0'])('keyPrefix %j → ConfigError', (prefix) => {
    expect(() => cacheWith(prefix)).toThrow(ConfigError);
  });

  it.each(['e', 'e:v2', 'tenant:t42:cache', 'app.2', 'x2', ''])('keyPrefix %j is fine', async (prefix) => {
    const cache = cacheWith(prefix);
    await cache.close();
  });

  it("clear(), deletePattern('*') and keys('*') of prefix 'e' touch only its own keys", async () => {
    const e = cacheWith('e');
    const ev2 = cacheWith('e:v2');
    try {
      await e.set('mine', 1);
      await ev2.set('theirs', 2);
      expect(await e.keys('*')).toEqual(['mine']);
      expect(await e.deletePattern('*')).toBe(1);
      await e.set('mine', 1);
      expect(await e.clear()).toBe(1);
      expect(await ev2.get('theirs')).toBe(2);
    } finally {
      await e.close();
      await ev2.close();
    }
  });
});
