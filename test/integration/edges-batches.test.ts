/**
 * Big batches and partial work on a real redis-server: batches are split into bounded chunks
 * (no RangeError from argument spreads, no one huge pipeline that times out and holds up every
 * other operation), and a multi-step operation that fails half-way never reports its partial
 * work as complete, with or without ignoreErrors (IncompleteError carries what was done).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { CommandTimeoutError, IncompleteError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { commandCalls, useStandalone } from '../fixtures/reliability.js';

const redis = useStandalone();

/** `count` string keys `${prefix}${i}` written straight to Redis, 1,000 per pipeline. */
async function populate(raw: Redis, prefix: string, count: number, value = 'v'): Promise<void> {
  for (let from = 0; from < count; from += 1000) {
    const pipeline = raw.pipeline();
    for (let i = from; i < Math.min(count, from + 1000); i++) pipeline.set(`${prefix}${i}`, value);
    await pipeline.exec();
  }
}

function keyList(tag: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${tag}${i}`);
}

describe('batches are split into bounded chunks', () => {
  let cache: Cache;
  beforeAll(() => {
    // The default command timeout (500 ms): batches must fit in it chunk by chunk.
    cache = createCache({
      router: routers.standalone({ url: redis.server.url }),
      keyPrefix: 'b',
      defaultTtl: null,
    });
  });
  afterAll(async () => {
    await cache?.close();
  });

  it('getMany sends 1,000 keys per MGET (the documented chunk size)', async () => {
    const mgets = async (count: number): Promise<number> => {
      const before = (await commandCalls(redis.raw)).mget ?? 0;
      expect((await cache.getMany(keyList('chunk-', count))).size).toBe(0);
      return ((await commandCalls(redis.raw)).mget ?? 0) - before;
    };
    expect(await mgets(1000)).toBe(1);
    expect(await mgets(1001)).toBe(2);
    expect(await mgets(2500)).toBe(3);
  });

  it('setMany of 60,000 × 100 B succeeds while 10 concurrent gets keep answering', async () => {
    const value = 'x'.repeat(100);
    const entries = new Map(keyList('big-', 60_000).map((k) => [k, value] as const));
    await cache.set('probe', 'p');
    let stop = false;
    const getErrors: unknown[] = [];
    let gets = 0;
    const readers = Array.from({ length: 10 }, async () => {
      while (!stop) {
        try {
          expect(await cache.get('probe')).toBe('p');
          gets++;
        } catch (err) {
          getErrors.push(err);
        }
        await sleep(5);
      }
    });
    try {
      await cache.setMany(entries);
    } finally {
      stop = true;
      await Promise.all(readers);
    }
    expect(getErrors).toEqual([]);
    expect(gets).toBeGreaterThan(0);
    const stored = await redis.raw.eval("return #redis.call('KEYS', 'b:1:big-*')", 0);
    expect(stored).toBe(60_000);
    expect(await cache.get('big-59999')).toBe(value);
  }, 60_000);

  it('getMany and deleteMany of 200,000 keys work (no RangeError)', async () => {
    const keys = keyList('many-', 200_000);
    await cache.setMany(keys.slice(0, 1000).map((k) => [k, 'v'] as const));
    const found = await cache.getMany<string>(keys);
    expect(found.size).toBe(1000);
    expect(found.get('many-999')).toBe('v');
    expect(found.has('many-1000')).toBe(false);
    expect(await cache.deleteMany(keys)).toBe(1000);
    expect(await redis.raw.exists('b:1:many-0')).toBe(0);
  }, 60_000);

  // The variadic methods take what a caller can spread (~60k arguments in V8); the library adds
  // no spread of its own on top, and sends them to Redis 1,000 at a time.
  it('sadd / smismember / srem of 50,000 members work and count exactly', async () => {
    const members = keyList('m', 50_000);
    expect(await cache.sadd('s', ...members)).toBe(50_000);
    expect(await cache.sadd('s', ...members.slice(0, 5000), 'new')).toBe(1);
    expect(await cache.scard('s')).toBe(50_001);
    const present = await cache.smismember('s', ...members, 'absent');
    expect(present.length).toBe(50_001);
    expect(present.slice(0, 50_000).every(Boolean)).toBe(true);
    expect(present[50_000]).toBe(false);
    expect(await cache.srem('s', ...members)).toBe(50_000);
    expect(await cache.scard('s')).toBe(1);
  }, 60_000);

  it('zadd of 130,000 members, zrem of 50,000 and hdel of 130,000 fields work', async () => {
    const members = keyList('z', 130_000);
    const scores = Object.fromEntries(members.map((m, i) => [m, i]));
    expect(await cache.zadd('z', scores)).toBe(130_000);
    expect(await cache.zcard('z')).toBe(130_000);
    expect(await cache.zrem('z', ...members.slice(0, 50_000))).toBe(50_000);
    expect(await cache.zcard('z')).toBe(80_000);
    await cache.hset('h', 'f', 1);
    expect(await cache.hdel('h', [...members, 'f'])).toBe(1);
  }, 60_000);

  it('deletePattern with a huge scanCount deletes everything it finds (no RangeError)', async () => {
    await populate(redis.raw, 'b:1:pat-', 150_000);
    // SCAN COUNT 1,000,000 is one command the server spends the whole keyspace on, as asked; on a
    // loaded machine that took over the default 500 ms. The UNLINKs are what must be chunked.
    const patient = createCache({
      router: routers.standalone({ url: redis.server.url, commandTimeoutMs: 5_000 }),
      keyPrefix: 'b',
      defaultTtl: null,
    });
    try {
      expect(await patient.deletePattern('pat-*', { scanCount: 1_000_000 })).toBe(150_000);
    } finally {
      await patient.close();
    }
    expect(await redis.raw.exists('b:1:pat-0')).toBe(0);
  }, 60_000);
});

describe('partial work is never reported as complete (ignoreErrors: true)', () => {
  let cache: Cache;
  beforeAll(() => {
    cache = createCache({
      router: routers.standalone({ url: redis.server.url, commandTimeoutMs: 300 }),
      keyPrefix: 'p',
      defaultTtl: null,
      ignoreErrors: true,
    });
    cache.on('error', () => {});
  });
  afterAll(async () => {
    await cache?.close();
  });

  /**
   * Stall every client (reads too) for `ms`. Resolves once the pause is on, with a promise
   * that resolves when it has certainly ended.
   */
  async function stallAll(ms: number): Promise<{ ended: Promise<void> }> {
    await redis.raw.call('CLIENT', 'PAUSE', String(ms), 'ALL');
    return { ended: sleep(ms + 300) };
  }

  it('iterKeys that fails half-way throws IncompleteError instead of ending early', async () => {
    await populate(redis.raw, 'p:1:it-', 5000);
    const seen: string[] = [];
    let stall: { ended: Promise<void> } | undefined;
    let error: unknown;
    try {
      for await (const key of cache.iterKeys('it-*', { scanCount: 100 })) {
        seen.push(key);
        stall ??= await stallAll(1500);
      }
    } catch (err) {
      error = err;
    }
    await stall?.ended;
    expect(seen.length).toBeLessThan(5000);
    expect(error).toBeInstanceOf(IncompleteError);
    const incomplete = error as IncompleteError;
    expect(incomplete.code).toBe('INCOMPLETE');
    expect(incomplete.completed).toBe(seen.length);
    expect(incomplete.cause).toBeInstanceOf(CommandTimeoutError);
  }, 30_000);

  it('deletePattern that fails half-way throws IncompleteError with the true count', async () => {
    await redis.raw.flushdb(); // so that DBSIZE counts this test's keys only
    const total = 50_000;
    await populate(redis.raw, 'p:1:dp-', total);
    const watcher = redis.raw.duplicate();
    try {
      const deleting = cache.deletePattern('dp-*', { scanCount: 10 }).then(
        (count) => ({ count }),
        (error: unknown) => ({ error }),
      );
      // Stall the server once the deletion is well under way (but far from done).
      while ((await watcher.dbsize()) > total - 2000) await sleep(5);
      const stall = await stallAll(1500);
      const outcome = await deleting;
      await stall.ended;
      expect(outcome).toHaveProperty('error');
      const error = (outcome as { error: unknown }).error;
      expect(error).toBeInstanceOf(IncompleteError);
      const { completed } = error as IncompleteError;
      const left = await redis.raw.dbsize();
      expect(completed).toBeGreaterThan(0);
      expect(left).toBeGreaterThan(0);
      // The stalled UNLINK may still have run after the client gave up on it: never over-count.
      expect(completed).toBeLessThanOrEqual(total - left);
    } finally {
      watcher.disconnect();
    }
  }, 60_000);

  it('setMany with a TTL that fails half-way throws IncompleteError; each chunk is written whole, with its TTL', async () => {
    await redis.raw.flushdb(); // so that DBSIZE counts this test's keys only
    const total = 40_000;
    const entries = Array.from({ length: total }, (_, i) => [`sm-${i}`, 'x'.repeat(100)] as const);
    const watcher = redis.raw.duplicate();
    try {
      const writing = cache.setMany(entries, { ttl: '5m' }).then(
        () => ({ done: true }),
        (error: unknown) => ({ error }),
      );
      // Stall the server once a few chunks are written (but far from all).
      while ((await watcher.dbsize()) < 3000) await sleep(5);
      const stall = await stallAll(1500);
      const outcome = await writing;
      await stall.ended;
      expect(outcome).toHaveProperty('error');
      const error = (outcome as { error: unknown }).error;
      expect(error).toBeInstanceOf(IncompleteError);
      const { completed, cause } = error as IncompleteError;
      expect(cause).toBeInstanceOf(CommandTimeoutError);
      expect(completed).toBeGreaterThanOrEqual(3000);
      expect(completed).toBeLessThan(total);
      expect(completed % 1000).toBe(0); // acknowledged chunks only
      // One command per chunk: the server holds whole chunks (the stalled one may have run
      // after the client gave up on it: never fewer than acknowledged), each key with the TTL.
      const written = await redis.raw.dbsize();
      expect(written % 1000).toBe(0);
      expect(written).toBeGreaterThanOrEqual(completed);
      const pipeline = redis.raw.pipeline();
      for (let i = 0; i < written; i++) pipeline.pttl(`p:1:sm-${i}`);
      const pttls = (await pipeline.exec())?.map(([, t]) => t as number) ?? [];
      expect(pttls.length).toBe(written);
      expect(pttls.every((t) => t > 60_000 && t <= 300_000)).toBe(true);
    } finally {
      watcher.disconnect();
    }
  }, 60_000);

  it('a failure before anything was done still gives the harmless answer', async () => {
    const stall = await stallAll(1500);
    expect(await cache.deletePattern('nothing-*')).toBe(0);
    await stall.ended;
  }, 30_000);
});
