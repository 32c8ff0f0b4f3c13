/**
 * The near cache on one real redis-server (standalone router): every correctness rule of
 * README "Near cache" that does not need a failover (those are in near-cache-sentinel.test.ts).
 * Values are integers: the codec stores them as decimal strings, so a raw ioredis client
 * writes exactly what the cache would.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { CacheClosedError, CacheError, ConfigError } from '../../src/core/errors.js';
import type { CacheOptions } from '../../src/core/options.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { serializers } from '../../src/serializers/index.js';
import { startStandalone } from '../../src/topology/index.js';
import type { Standalone } from '../../src/topology/types.js';
import { warm } from '../fixtures/near.js';
import { until } from '../fixtures/until.js';
import { CODEC_MATRIX, defineCacheSuite, uniquePrefix } from './cache-suite.js';

/** Generous bound for "seen within a few ms" on a loaded machine; the real delay is measured by the bench script. */
const SEEN_WITHIN_MS = 1000;
/**
 * Room for a loaded 2-core machine (the router's 500 ms default timed out plain commands there,
 * at load ~20); still well under the paused-server test's 5 s "fails fast" bound.
 */
const COMMAND_TIMEOUT_MS = 2000;

let server: Standalone;
let raw: Redis;
const caches: Cache[] = [];

function nearCache(options: Partial<CacheOptions> = {}): Cache {
  const cache = createCache({
    router: routers.standalone({ url: server.url, commandTimeoutMs: COMMAND_TIMEOUT_MS }),
    keyPrefix: uniquePrefix('near'),
    nearCache: true,
    ...options,
  });
  caches.push(cache);
  return cache;
}

/** Polls until `get(key)` returns `expected`; returns how long it took. */
async function seen(
  cache: Cache,
  key: string,
  expected: unknown,
  budgetMs = SEEN_WITHIN_MS,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    const value = await cache.get(key);
    const elapsed = performance.now() - start;
    if (value === expected) return elapsed;
    if (elapsed > budgetMs) throw new Error(`${key}: still ${String(value)} after ${Math.round(elapsed)} ms`);
    await sleep(1);
  }
}

/** A near-cached cache on a prefix of its own, and its keys as Redis sees them (default key function). */
function tracked(options: Partial<CacheOptions> = {}): {
  cache: Cache;
  prefix: string;
  key: (k: string) => string;
} {
  const prefix = uniquePrefix('near');
  const cache = nearCache({ keyPrefix: prefix, ...options });
  return { cache, prefix, key: (k) => `${prefix}:1:${k}` };
}

beforeAll(async () => {
  server = await startStandalone();
  raw = new Redis(server.url);
});

afterAll(async () => {
  await Promise.allSettled(caches.map((c) => c.close()));
  raw?.disconnect();
  await server?.stop();
});

// Every Cache method behaves the same with the near cache on (two codec cases of the matrix).
defineCacheSuite(
  'standalone + near cache',
  async () => ({
    router: routers.standalone({ url: server.url, commandTimeoutMs: COMMAND_TIMEOUT_MS }),
    cleanup: async () => {},
  }),
  CODEC_MATRIX.slice(0, 2),
  { nearCache: true },
);

/** Two near-cached caches with prefixes of their own on one standalone router (one cache per module). */
function sharingOneRouter(a: Partial<CacheOptions> = {}, b: Partial<CacheOptions> = {}) {
  const router = routers.standalone({ url: server.url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  const make = (options: Partial<CacheOptions>) => {
    const prefix = uniquePrefix('near-shared');
    const cache = createCache({ router, keyPrefix: prefix, nearCache: true, ...options });
    caches.push(cache);
    return { cache, key: (k: string) => `${prefix}:1:${k}` };
  };
  return { router, a: make(a), make, b: make(b) };
}

describe('near caches sharing one standalone router', () => {
  it('another client overwrites a key of each cache 20 times: both caches see every write', async () => {
    const { a, b } = sharingOneRouter();
    await a.cache.set('k', 0);
    await b.cache.set('k', 0);
    for (let v = 1; v <= 20; v++) {
      await warm(a.cache, 'k');
      await warm(b.cache, 'k');
      await raw.set(a.key('k'), String(v));
      await raw.set(b.key('k'), String(v));
      const [ta, tb] = await Promise.all([seen(a.cache, 'k', v), seen(b.cache, 'k', v)]);
      expect(ta).toBeLessThan(SEEN_WITHIN_MS);
      expect(tb).toBeLessThan(SEEN_WITHIN_MS);
    }
    expect(a.cache.stats().nearCache?.invalidations).toBeGreaterThanOrEqual(20);
    expect(b.cache.stats().nearCache?.invalidations).toBeGreaterThanOrEqual(20);
  });

  it('closing one cache leaves the router and the other near cache working', async () => {
    const { a, b } = sharingOneRouter();
    await a.cache.set('k', 1);
    await b.cache.set('k', 1);
    await warm(a.cache, 'k');
    await warm(b.cache, 'k');
    await a.cache.close();
    await expect(a.cache.get('k')).rejects.toBeInstanceOf(CacheClosedError);
    for (let v = 2; v < 5; v++) {
      await raw.set(b.key('k'), String(v));
      expect(await seen(b.cache, 'k', v)).toBeLessThan(SEEN_WITHIN_MS);
      await warm(b.cache, 'k');
    }
  });

  it('broadcast mode with different prefixes: one registration covers both, also for a cache that joins later', async () => {
    const { a, b, make } = sharingOneRouter(
      { nearCache: { mode: 'broadcast' } },
      { nearCache: { mode: 'broadcast' } },
    );
    await a.cache.set('k', 1);
    await b.cache.set('k', 1);
    await warm(a.cache, 'k');
    await warm(b.cache, 'k');
    // A third cache after the connection is tracking: its prefix is added to the registration.
    const c = make({ nearCache: { mode: 'broadcast' } });
    await c.cache.set('k', 1);
    await warm(c.cache, 'k');
    for (let v = 2; v < 6; v++) {
      for (const x of [a, b, c]) await raw.set(x.key('k'), String(v));
      for (const x of [a, b, c]) {
        expect(await seen(x.cache, 'k', v)).toBeLessThan(SEEN_WITHIN_MS);
        await warm(x.cache, 'k');
      }
    }
  });

  it('broadcast mode: a cache whose prefix covers the tracked ones (custom keyFunction: every key) joins; nothing is missed', async () => {
    const broadcast: Partial<CacheOptions> = { nearCache: { mode: 'broadcast' } };
    const { router, a } = sharingOneRouter(broadcast, broadcast);
    const reasons: string[] = [];
    a.cache.on('near-flush', ({ reason }) => reasons.push(reason));
    await a.cache.set('k', 1);
    await warm(a.cache, 'k');
    const prefix = uniquePrefix('near-custom');
    const custom = createCache({
      router,
      nearCache: { mode: 'broadcast' },
      keyFunction: (key) => `${prefix}/${key}`,
      reverseKeyFunction: (redisKey) => redisKey.slice(prefix.length + 1),
    });
    caches.push(custom);
    // The connection tracked the narrower prefixes: re-tracked from scratch, what was held dropped.
    expect(reasons).toEqual(['disconnect']);
    await custom.set('k', 1);
    await warm(custom, 'k');
    await warm(a.cache, 'k');
    for (let v = 2; v < 6; v++) {
      await raw.set(a.key('k'), String(v));
      await raw.set(`${prefix}/k`, String(v));
      expect(await seen(a.cache, 'k', v)).toBeLessThan(SEEN_WITHIN_MS);
      expect(await seen(custom, 'k', v)).toBeLessThan(SEEN_WITHIN_MS);
      await warm(a.cache, 'k');
      await warm(custom, 'k');
    }
  });

  it("a near cache in another mode than the router's others is refused with a ConfigError; the first keeps working", async () => {
    const { router, a } = sharingOneRouter();
    await a.cache.set('k', 1);
    await warm(a.cache, 'k');
    expect(() =>
      createCache({ router, keyPrefix: uniquePrefix('near-other'), nearCache: { mode: 'broadcast' } }),
    ).toThrow(/nearCache.mode/);
    // The refused cache did not close the router the first one uses.
    await raw.set(a.key('k'), '2');
    expect(await seen(a.cache, 'k', 2)).toBeLessThan(SEEN_WITHIN_MS);
    expect(await a.cache.set('k2', 1)).toBe(true);
  });
});

describe('near cache on standalone', () => {
  it('serves repeated reads from memory and counts them', async () => {
    const { cache } = tracked();
    await cache.set('hot', 1);
    await warm(cache, 'hot');
    const before = cache.stats().nearCache;
    for (let i = 0; i < 100; i++) expect(await cache.get('hot')).toBe(1);
    const after = cache.stats().nearCache;
    expect(after?.hits).toBe((before?.hits ?? 0) + 100);
    expect(after?.entries).toBeGreaterThanOrEqual(1);
    expect(after?.enabled).toBe(true);
    expect(cache.nearCache.enabled).toBe(true);
  });

  it('a hit hands every caller its own object or Buffer: mutating one never changes the next hit', async () => {
    const { cache } = tracked();
    await cache.set('obj', { n: 1, list: [1, 2] });
    await warm(cache, 'obj');
    const first = await cache.get<{ n: number; list: number[] }>('obj');
    if (first === undefined) throw new Error('expected a value');
    first.n = 2;
    first.list.push(3);
    expect(await cache.get('obj')).toEqual({ n: 1, list: [1, 2] });

    const bytes = tracked({ serializer: serializers.msgpack() }).cache;
    await bytes.set('buf', Buffer.from('abc'));
    await warm(bytes, 'buf');
    const held = await bytes.get<Buffer>('buf');
    held?.fill(0x7a);
    expect((await bytes.get<Buffer>('buf'))?.toString()).toBe('abc');
    expect(await bytes.get('buf')).not.toBe(await bytes.get('buf'));
  });

  it('a hit is still a promise: a bad key rejects (never throws synchronously), a closed cache rejects', async () => {
    const { cache } = tracked();
    await cache.set('k', 'v');
    await warm(cache, 'k');
    const hit = cache.get('k');
    expect(hit).toBeInstanceOf(Promise);
    expect(await hit).toBe('v');
    let pending: Promise<unknown> | undefined;
    expect(() => {
      pending = cache.get(42 as unknown as string);
    }).not.toThrow();
    await expect(pending).rejects.toBeInstanceOf(ConfigError);
    await cache.close();
    await expect(cache.get('k')).rejects.toBeInstanceOf(CacheClosedError);
  });

  it('a write by a raw ioredis client is seen within a bound, in every process (two caches)', async () => {
    const a = tracked();
    const b = nearCache({ keyPrefix: a.prefix });
    await a.cache.set('shared', 1);
    await warm(a.cache, 'shared');
    await warm(b, 'shared');
    for (let v = 2; v < 12; v++) {
      await raw.set(a.key('shared'), String(v));
      const [ta, tb] = await Promise.all([seen(a.cache, 'shared', v), seen(b, 'shared', v)]);
      expect(ta).toBeLessThan(SEEN_WITHIN_MS);
      expect(tb).toBeLessThan(SEEN_WITHIN_MS);
      // Served from memory again afterwards (re-read and re-tracked).
      await warm(a.cache, 'shared');
    }
    expect(a.cache.stats().nearCache?.invalidations).toBeGreaterThanOrEqual(10);
  });

  it("a caller spinning on a held key (no timer in its loop) sees another process's write", async () => {
    const { cache, key } = tracked();
    await cache.set('flag', 0);
    await warm(cache, 'flag');
    // Another process writes the flag a moment after the spin starts: spawning needs no event-loop turn.
    const writer = spawn(
      'sh',
      ['-c', `sleep 0.3; redis-cli -u '${server.url}' SET '${key('flag')}' 1 >/dev/null`],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise((resolve) => writer.on('exit', resolve));
    // The clock bounds the spin (a timer could not fire while it starves the event loop).
    const deadline = performance.now() + 10_000;
    let value: number | undefined = 0;
    let reads = 0;
    while (value !== 1 && performance.now() < deadline) {
      value = await cache.get<number>('flag');
      reads++;
    }
    await exited;
    expect(value).toBe(1);
    expect(reads).toBeGreaterThan(1);
  });

  it('a held "no such key" is dropped when another client creates the key', async () => {
    const { cache, key } = tracked();
    await warm(cache, 'absent');
    expect(await cache.has('absent')).toBe(false);
    await raw.set(key('absent'), '4');
    expect(await seen(cache, 'absent', 4)).toBeLessThan(SEEN_WITHIN_MS);
  });

  it('an idle near cache keeps its entries: the invalidation connection answers its pings', async () => {
    const { cache } = tracked();
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    await cache.set('idle', 1);
    await warm(cache, 'idle');
    await sleep(3500);
    expect(reasons).toEqual([]);
    const hits = cache.stats().nearCache?.hits ?? 0;
    expect(await cache.get('idle')).toBe(1);
    expect(cache.stats().nearCache?.hits).toBe(hits + 1);
  });

  it('a raw DEL and a raw EXPIRE are seen too', async () => {
    const { cache, key } = tracked();
    await cache.set('gone', 5, { ttl: null });
    await warm(cache, 'gone');
    await raw.del(key('gone'));
    await seen(cache, 'gone', undefined);
    expect(await cache.has('gone')).toBe(false);
    await cache.set('short-lived', 6, { ttl: null });
    await warm(cache, 'short-lived');
    await raw.pexpire(key('short-lived'), 1);
    await seen(cache, 'short-lived', undefined);
  });

  it('our own writes are visible to our next read at once (set, delete, incr, expire, setMany)', async () => {
    const { cache } = tracked();
    await cache.set('own', 1);
    await warm(cache, 'own');
    await cache.set('own', 2);
    expect(await cache.get('own')).toBe(2);
    await warm(cache, 'own');
    expect(await cache.incr('own', 5)).toBe(7);
    expect(await cache.get('own')).toBe(7);
    await warm(cache, 'own');
    await cache.setMany({ own: 8, other: 9 });
    expect(await cache.get('own')).toBe(8);
    await warm(cache, 'own');
    expect(await cache.expire('own', 0)).toBe(true);
    expect(await cache.get('own')).toBeUndefined();
    // A held "no such key" is dropped by our own write as well.
    await warm(cache, 'own');
    expect(await cache.has('own')).toBe(false);
    await cache.add('own', 10);
    expect(await cache.has('own')).toBe(true);
    expect(await cache.get('own')).toBe(10);
    await warm(cache, 'own');
    expect(await cache.delete('own')).toBe(true);
    expect(await cache.get('own')).toBeUndefined();
    const many = await cache.getMany(['own', 'other']);
    expect([...many]).toEqual([['other', 9]]);
  });

  it("an entry is never served past its key's Redis TTL (PTTL read with the value)", async () => {
    const { cache } = tracked({ nearCache: { ttl: '1m' } });
    await cache.set('short', 1, { ttl: 1500 });
    const writtenAt = performance.now();
    await warm(cache, 'short');
    const hitsBefore = cache.stats().nearCache?.hits ?? 0;
    // Poll until the value disappears. A read that starts after the write resolved + TTL must
    // miss: the key has expired in Redis by then, whatever the near cache held.
    let servedLate = 0;
    for (;;) {
      const startedAt = performance.now();
      const value = await cache.get('short');
      if (value !== undefined && startedAt > writtenAt + 1500) servedLate++;
      if (value === undefined) break;
      if (startedAt - writtenAt > 10_000) throw new Error('value never expired');
      await sleep(5);
    }
    expect(servedLate).toBe(0);
    expect(cache.stats().nearCache?.hits ?? 0).toBeGreaterThan(hitsBefore);
  });

  it("an entry is not served past the near cache's own ttl", async () => {
    const { cache } = tracked({ nearCache: { ttl: '1s' } });
    await cache.set('own-ttl', 1, { ttl: null });
    await warm(cache, 'own-ttl');
    await sleep(1300);
    const misses = cache.stats().nearCache?.misses ?? 0;
    expect(await cache.get('own-ttl')).toBe(1);
    expect(cache.stats().nearCache?.misses).toBe(misses + 1);
  });

  it('FLUSHDB by another client flushes everything, with a near-flush event', async () => {
    const { cache } = tracked();
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    await cache.set('f1', 1);
    await warm(cache, 'f1');
    await raw.flushdb();
    await seen(cache, 'f1', undefined);
    expect(reasons).toContain('flushdb');
    expect(cache.stats().nearCache?.flushes).toBeGreaterThanOrEqual(1);
  });

  it('cache.nearCache.clear() drops every entry (reason manual)', async () => {
    const { cache } = tracked();
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    await cache.set('c1', 1);
    await warm(cache, 'c1');
    expect(cache.stats().nearCache?.entries).toBeGreaterThan(0);
    await cache.nearCache.clear();
    expect(cache.stats().nearCache?.entries).toBe(0);
    expect(reasons).toEqual(['manual']);
  });

  it('losing the invalidation connection flushes (disconnect) and tracking comes back on a new one', async () => {
    const { cache, key } = tracked();
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    await cache.set('k', 1);
    await warm(cache, 'k');
    // Kill every pub/sub connection: the invalidation channels (ours and other caches').
    await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await until(() => reasons.includes('disconnect'), 5000, "near-flush 'disconnect'");
    expect(cache.stats().nearCache?.entries).toBe(0);
    // Re-tracked into a new channel: served from memory again, and invalidated again.
    await warm(cache, 'k');
    await raw.set(key('k'), '2');
    await seen(cache, 'k', 2);
  });

  it('losing the tracking data connection flushes (disconnect); reads work again after the reconnect', async () => {
    const { cache, key } = tracked();
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    await cache.set('d', 1);
    await warm(cache, 'd');
    await raw.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    await until(() => reasons.includes('disconnect'), 5000, "near-flush 'disconnect'");
    await raw.set(key('d'), '3');
    // The standalone router reconnects; the value read afterwards is the new one.
    await until(async () => (await cache.get('d')) === 3, 10_000, 'the new value after the reconnect');
    await warm(cache, 'd');
  });

  it('a read in flight while its key is invalidated never stores the old value (tight writer/reader race)', async () => {
    const { cache, key } = tracked();
    await cache.set('race', 0);
    await warm(cache, 'race');
    let stop = false;
    let regressions = 0;
    // Readers hammer the key while it changes; each checks that values never go backwards.
    const readers = Array.from({ length: 8 }, async () => {
      let last = -1;
      while (!stop) {
        const v = (await cache.get<number>('race')) ?? -1;
        if (v < last) regressions++;
        last = Math.max(last, v);
        // A hit resolves without I/O: yield, or the readers starve the sockets they race with.
        await new Promise((r) => setImmediate(r));
      }
    });
    const iterations = 300;
    let maxSeenDelay = 0;
    try {
      for (let i = 1; i <= iterations; i++) {
        await raw.set(key('race'), String(i));
        // Every write is eventually seen: a stored stale value would stay until the next write.
        maxSeenDelay = Math.max(maxSeenDelay, await seen(cache, 'race', i, 2000));
      }
    } finally {
      stop = true;
      await Promise.all(readers);
    }
    expect(regressions).toBe(0);
    expect(maxSeenDelay).toBeLessThan(2000);
    // It was a race with the near cache in play, not a network-only run.
    expect(cache.stats().nearCache?.hits).toBeGreaterThan(iterations);
  });

  it('memory stays under maxEntries with 1M distinct keys read', async () => {
    // A batch is one MGET and a script of PTTLs: give it room on a loaded machine.
    const { cache } = tracked({
      router: routers.standalone({ url: server.url, commandTimeoutMs: 10_000 }),
      nearCache: { maxEntries: 5000 },
    });
    const batch = 2000;
    let maxEntries = 0;
    for (let start = 0; start < 1_000_000; start += batch) {
      const keys = Array.from({ length: batch }, (_, i) => `m${start + i}`);
      await cache.getMany(keys);
      maxEntries = Math.max(maxEntries, cache.stats().nearCache?.entries ?? 0);
    }
    expect(maxEntries).toBeLessThanOrEqual(5000);
    expect(maxEntries).toBeGreaterThan(1000);
  }, 240_000);

  it('memory stays under maxBytes with 1 KB values', async () => {
    const maxBytes = 256 * 1024;
    const { cache } = tracked({ nearCache: { maxBytes, maxEntries: 1_000_000 } });
    const value = 'x'.repeat(1024);
    const entries = new Map<string, string>();
    for (let i = 0; i < 3000; i++) entries.set(`b${i}`, value);
    await cache.setMany(entries);
    let maxBytesSeen = 0;
    for (let start = 0; start < 3000; start += 500) {
      const got = await cache.getMany([...entries.keys()].slice(start, start + 500));
      expect(got.size).toBe(500);
      maxBytesSeen = Math.max(maxBytesSeen, cache.stats().nearCache?.bytes ?? 0);
    }
    expect(maxBytesSeen).toBeLessThanOrEqual(maxBytes);
    expect(maxBytesSeen).toBeGreaterThan(maxBytes / 2);
  });

  it('getMany: every key held → no command, answered before the event loop turns; partly held → one MGET (and one script of PTTLs) for the missing keys only', async () => {
    const { cache, prefix, key } = tracked();
    const keys = Array.from({ length: 10 }, (_, i) => `gm${i}`);
    await cache.setMany(keys.map((k, i) => [k, `v${i}`] as const));
    const expected = new Map(keys.map((k, i) => [k, `v${i}`]));
    // Read until every key is held (the connection's tracking must be on before a read is kept).
    const deadline = Date.now() + 10_000;
    for (;;) {
      const missesBefore = cache.stats().nearCache?.misses ?? 0;
      expect(await cache.getMany(keys)).toEqual(expected);
      if ((cache.stats().nearCache?.misses ?? 0) === missesBefore) break;
      if (Date.now() > deadline) throw new Error('the near cache never held every key');
      await sleep(20);
    }
    // Every command on the server that names one of this cache's keys, in execution order.
    const monitor = await raw.monitor();
    const seenCommands: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((a) => a.startsWith(`${prefix}:`))) seenCommands.push(args);
    });
    /** Every command sent before this call has been seen by the monitor. */
    const drained = async () => {
      const marker = `${prefix}:marker:${Math.random()}`;
      await raw.get(marker);
      const until = Date.now() + 10_000;
      while (!seenCommands.some((c) => c.includes(marker))) {
        if (Date.now() > until) throw new Error('MONITOR never showed the marker');
        await sleep(5);
      }
      seenCommands.length = 0;
    };
    try {
      await drained();
      const hitsBefore = cache.stats().nearCache?.hits ?? 0;
      const order: string[] = [];
      setImmediate(() => order.push('event loop turned'));
      const all = await cache.getMany(keys);
      order.push('answered');
      expect(all).toEqual(expected);
      expect([...all.keys()]).toEqual(keys);
      expect(order[0]).toBe('answered');
      expect((cache.stats().nearCache?.hits ?? 0) - hitsBefore).toBe(keys.length);
      await drained(); // clears what it saw: nothing of ours may have been sent before the marker

      // Our own write of two keys drops their entries: the next getMany holds the other eight.
      await cache.setMany([
        ['gm3', 'new3'],
        ['gm7', 'new7'],
      ]);
      await drained();
      const partly = await cache.getMany(keys);
      expect(partly).toEqual(new Map([...expected, ['gm3', 'new3'], ['gm7', 'new7']]));
      expect([...partly.keys()]).toEqual(keys);
      await raw.get(`${prefix}:marker:end`);
      const until2 = Date.now() + 10_000;
      while (!seenCommands.some((c) => c.includes(`${prefix}:marker:end`))) {
        if (Date.now() > until2) throw new Error('MONITOR never showed the marker');
        await sleep(5);
      }
      const reads = seenCommands
        .filter((c) => !c.includes(`${prefix}:marker:end`))
        .map((c) => [(c[0] as string).toLowerCase(), ...c.slice(1)]);
      // One MGET of the two missing keys only, and with it one script (PTTLS) of their PTTLs
      // (read to bound the entries), which MONITOR shows too.
      expect(reads.filter((c) => c[0] === 'mget')).toEqual([['mget', key('gm3'), key('gm7')]]);
      expect(reads.filter((c) => c[0] === 'evalsha' || c[0] === 'eval').map((c) => c.slice(3))).toEqual([
        [key('gm3'), key('gm7')],
      ]);
      expect(
        reads
          .filter((c) => !['evalsha', 'eval', 'mget'].includes(c[0] as string))
          .map((c) => c.join(' '))
          .sort(),
      ).toEqual([`pttl ${key('gm3')}`, `pttl ${key('gm7')}`]);
    } finally {
      monitor.disconnect();
    }
  });

  it('getMany through the near cache: a held Buffer value is a copy for every caller', async () => {
    const { cache } = tracked({ serializer: serializers.string() });
    await cache.set('buf', Buffer.from('abc'));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const hitsBefore = cache.stats().nearCache?.hits ?? 0;
      const first = (await cache.getMany<Buffer>(['buf'])).get('buf') as Buffer;
      expect(first.toString()).toBe('abc');
      first.fill(0x7a); // the caller changes its own copy
      if ((cache.stats().nearCache?.hits ?? 0) > hitsBefore) break;
      if (Date.now() > deadline) throw new Error('the near cache never held the key');
      await sleep(20);
    }
    const again = (await cache.getMany<Buffer>(['buf'])).get('buf') as Buffer;
    expect(again.toString()).toBe('abc');
  });

  it("broadcast mode: invalidated for every key under the cache's prefix", async () => {
    const { cache, key } = tracked({ nearCache: { mode: 'broadcast' } });
    await cache.set('bc', 1);
    await warm(cache, 'bc');
    await raw.set(key('bc'), '2');
    await seen(cache, 'bc', 2);
    // getMany through the near cache too.
    await warm(cache, 'bc');
    await raw.set(key('bc'), '3');
    const start = performance.now();
    while ((await cache.getMany(['bc'])).get('bc') !== 3) {
      if (performance.now() - start > SEEN_WITHIN_MS) throw new Error('getMany kept the old value');
      await sleep(1);
    }
  });

  it('a server that refuses CLIENT (ACL) → ConfigError event; the cache works without a near cache', async () => {
    const user = `nocli${Date.now()}`;
    await raw.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '&*', '+@all', '-client');
    try {
      const url = new URL(server.url);
      url.username = user;
      url.password = 'pw';
      const errors: Error[] = [];
      const prefix = uniquePrefix('nocli');
      const cache = createCache({
        router: routers.standalone({ url: url.toString() }),
        keyPrefix: prefix,
        nearCache: true,
      });
      caches.push(cache);
      cache.on('error', ({ error }) => errors.push(error));
      await cache.set('k', 1);
      await until(
        async () => {
          await cache.get('k');
          return errors.length > 0;
        },
        5000,
        'the near cache to report CLIENT TRACKING refused',
      );
      expect(errors[0]).toBeInstanceOf(ConfigError);
      expect(errors[0]?.message).toMatch(/CLIENT TRACKING/);
      expect(cache.nearCache.enabled).toBe(false);
      expect(cache.stats().nearCache?.enabled).toBe(false);
      // Works, and every read goes to Redis (a raw write is seen at once, no memory involved).
      await raw.set(`${prefix}:1:k`, '2');
      expect(await cache.get('k')).toBe(2);
      expect(cache.stats().nearCache?.hits).toBe(0);
    } finally {
      await raw.call('ACL', 'DELUSER', user);
    }
  });

  it('a paused server: a read fails fast with a named error, and held entries are dropped once pings fail', async () => {
    const { cache } = tracked();
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    await cache.set('p', 1);
    await warm(cache, 'p');
    await server.pause();
    try {
      const started = performance.now();
      const err = await cache.get('not-held').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CacheError);
      expect(performance.now() - started).toBeLessThan(5000);
      // Nobody can write to a paused server, but it may be failed over: its invalidation
      // connection stops answering pings and everything held goes.
      await until(() => reasons.includes('disconnect'), 10_000, "near-flush 'disconnect'");
      expect(cache.stats().nearCache?.entries).toBe(0);
    } finally {
      await server.resume();
    }
    // Back: reads work and are held again.
    await until(async () => (await cache.get('p')) === 1, 10_000, 'reads after the resume');
    await warm(cache, 'p');
  });

  it('without the option: no near cache, nearCache.clear() is a no-op, no stats', async () => {
    const cache = createCache({
      router: routers.standalone({ url: server.url }),
      keyPrefix: uniquePrefix('off'),
    });
    caches.push(cache);
    const flushes: string[] = [];
    cache.on('near-flush', ({ reason }) => flushes.push(reason));
    await cache.set('k', 1);
    expect(await cache.get('k')).toBe(1);
    expect(cache.nearCache.enabled).toBe(false);
    expect(cache.stats().nearCache).toBeUndefined();
    await cache.nearCache.clear();
    expect(flushes).toEqual([]);
  });

  it('nearCache options are validated', () => {
    const router = routers.standalone({ url: server.url });
    try {
      expect(() => createCache({ router, nearCache: { maxEntries: 0 } })).toThrow(ConfigError);
      expect(() => createCache({ router, nearCache: { ttl: null } })).toThrow(/nearCache.ttl/);
      expect(() => createCache({ router, nearCache: { mode: 'x' as 'default' } })).toThrow(/nearCache.mode/);
      expect(() => createCache({ router, nearCache: { size: 1 } as never })).toThrow(/nearCache.size/);
      expect(() => createCache({ router, nearCache: 'yes' as never })).toThrow(ConfigError);
    } finally {
      void router.close();
    }
  });
});
