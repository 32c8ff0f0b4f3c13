/**
 * The near cache on routers.cluster, on one real Redis Cluster (3 masters + 3 replicas): every
 * node connection ioredis opens tracks into an invalidation connection of its node; raw writes on
 * every shard are seen, FLUSHALL / a lost connection / a shard failover flush, and no stale value
 * is served afterwards. The failover tests run last (they move masters).
 * Values are integers: the codec stores them as decimal strings, so a raw client writes exactly
 * what the cache would.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import type { CacheOptions } from '../../src/core/options.js';
import { createCache } from '../../src/create-cache.js';
import { slotOf } from '../../src/routers/cluster/slot-map.js';
import { routers } from '../../src/routers/index.js';
import { type ClusterTopology, startCluster } from '../../src/topology/index.js';
import { warm } from '../fixtures/near.js';
import { until } from '../fixtures/until.js';
import { CODEC_MATRIX, defineCacheSuite, uniquePrefix } from './cache-suite.js';
import { migrateSlot, nodeClient } from './cluster-helpers.js';

/** Generous bound for "seen within a few ms" on a loaded machine. */
const SEEN_WITHIN_MS = 1000;
/** Room for a 2-core machine at load average ~15: a timeout is not what these tests are about. */
const ROOMY = { commandTimeoutMs: 2000, connectTimeoutMs: 3000, slotsRefreshTimeoutMs: 1000 };

let topo: ClusterTopology;
let raw: Cluster;
const caches: Cache[] = [];

beforeAll(async () => {
  topo = await startCluster({ shards: 3, replicasPerShard: 1, nodeTimeoutMs: 1000 });
  raw = new Cluster(topo.routerOptions().nodes);
});

// Each test's caches go when it ends: their invalidation connections ping every node every second.
afterEach(async () => {
  await Promise.allSettled(caches.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await Promise.allSettled(caches.map((c) => c.close()));
  raw?.disconnect();
  await topo?.resumeMaster();
  await topo?.stop();
});

function nearCache(options: Partial<CacheOptions> = {}, routerOptions = {}): Cache {
  const cache = createCache({
    router: routers.cluster({ ...topo.routerOptions(), ...ROOMY, ...routerOptions }),
    keyPrefix: uniquePrefix('nearc'),
    nearCache: true,
    ...options,
  });
  caches.push(cache);
  return cache;
}

/** A near-cached cache on a prefix of its own; `key(k)` is k as Redis sees it, `on(shard)` a user key on that shard. */
function tracked(options: Partial<CacheOptions> = {}, routerOptions = {}) {
  const prefix = uniquePrefix('nearc');
  const cache = nearCache({ keyPrefix: prefix, ...options }, routerOptions);
  const key = (k: string) => `${prefix}:1:${k}`;
  const on = (shard: number, name: string): string => {
    for (let n = 0; ; n++) {
      const k = `${name}${n}`;
      if (topo.shardOfSlot(slotOf(key(k))) === shard) return k;
    }
  };
  return { cache, prefix, key, on };
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
    const value = await cache.get(key).catch(() => 'error');
    const elapsed = performance.now() - start;
    if (value === expected) return elapsed;
    if (elapsed > budgetMs) throw new Error(`${key}: still ${String(value)} after ${Math.round(elapsed)} ms`);
    await sleep(1);
  }
}

/**
 * Reads `key` until `expected` comes back; every successful read on the way must be `expected`
 * (called right after `expected` was written: anything else is a stale value).
 */
async function neverStale(cache: Cache, key: string, expected: unknown, budgetMs: number): Promise<void> {
  const start = performance.now();
  for (;;) {
    let value: unknown;
    try {
      value = await cache.get(key);
    } catch {
      // The failed shard: a named error, fast; try again.
      if (performance.now() - start > budgetMs) throw new Error(`${key}: no answer within ${budgetMs} ms`);
      await sleep(20);
      continue;
    }
    expect(value).toBe(expected);
    return;
  }
}

async function waitForReason(reasons: string[], reason: string, timeoutMs = 10_000): Promise<void> {
  await until(
    () => reasons.includes(reason),
    timeoutMs,
    `near-flush '${reason}' (got ${reasons.join(', ')})`,
  );
}

// Every Cache method behaves the same with the near cache on, on a cluster (one codec case).
defineCacheSuite(
  'cluster + near cache',
  async () => ({
    router: routers.cluster({ ...topo.routerOptions(), ...ROOMY, readFrom: 'master' }),
    cleanup: async () => {},
  }),
  CODEC_MATRIX.slice(0, 1),
  { nearCache: true },
);

describe('near cache on routers.cluster', () => {
  it('serves repeated reads from memory on every shard and counts them', async () => {
    const { cache, on } = tracked();
    for (let shard = 0; shard < topo.shardCount; shard++) {
      const k = on(shard, 'hot');
      await cache.set(k, shard);
      await warm(cache, k);
      const before = cache.stats().nearCache;
      for (let i = 0; i < 50; i++) expect(await cache.get(k)).toBe(shard);
      expect(cache.stats().nearCache?.hits).toBe((before?.hits ?? 0) + 50);
    }
    const stats = cache.stats().nearCache;
    expect(stats?.enabled).toBe(true);
    expect(stats?.entries).toBeGreaterThanOrEqual(3);
    expect(cache.nearCache.enabled).toBe(true);
  });

  it('a write by a raw client to a key on every shard is seen within a bound (two caches)', async () => {
    const a = tracked();
    const b = nearCache({ keyPrefix: a.prefix });
    const delays: number[] = [];
    for (let shard = 0; shard < topo.shardCount; shard++) {
      const k = a.on(shard, 'shared');
      await a.cache.set(k, 1);
      await warm(a.cache, k);
      await warm(b, k);
      for (let v = 2; v < 6; v++) {
        await raw.set(a.key(k), String(v));
        const [ta, tb] = await Promise.all([seen(a.cache, k, v), seen(b, k, v)]);
        expect(ta).toBeLessThan(SEEN_WITHIN_MS);
        expect(tb).toBeLessThan(SEEN_WITHIN_MS);
        delays.push(ta, tb);
        await warm(a.cache, k);
      }
    }
    delays.sort((x, y) => x - y);
    console.log(
      `near cache on a cluster: raw write seen after p50 ${delays[delays.length >> 1]?.toFixed(2)} ms, max ${delays.at(-1)?.toFixed(2)} ms (${delays.length} reads, 3 shards, 2 caches)`,
    );
    expect(a.cache.stats().nearCache?.invalidations).toBeGreaterThanOrEqual(12);
  });

  it('getMany across shards is served from memory and invalidated per key', async () => {
    const { cache, key, on } = tracked();
    const keys = [0, 1, 2].map((s) => on(s, 'many'));
    await cache.setMany(Object.fromEntries(keys.map((k, i) => [k, i])));
    for (const k of keys) await warm(cache, k);
    const before = cache.stats().nearCache?.hits ?? 0;
    expect([...(await cache.getMany(keys)).values()]).toEqual([0, 1, 2]);
    expect(cache.stats().nearCache?.hits).toBe(before + 3);
    await raw.set(key(keys[1] as string), '7');
    const start = performance.now();
    while ((await cache.getMany(keys)).get(keys[1] as string) !== 7) {
      if (performance.now() - start > SEEN_WITHIN_MS) throw new Error('getMany kept the old value');
      await sleep(1);
    }
  });

  it('our own writes are visible to our next read at once, on every shard', async () => {
    const { cache, on } = tracked();
    for (let shard = 0; shard < topo.shardCount; shard++) {
      const k = on(shard, 'own');
      await cache.set(k, 1);
      await warm(cache, k);
      await cache.set(k, 2);
      expect(await cache.get(k)).toBe(2);
      await cache.incr(k);
      expect(await cache.get(k)).toBe(3);
      await cache.delete(k);
      expect(await cache.get(k)).toBeUndefined();
    }
  });

  it('broadcast mode: invalidated on every shard', async () => {
    const { cache, key, on } = tracked({ nearCache: { mode: 'broadcast' } });
    for (let shard = 0; shard < topo.shardCount; shard++) {
      const k = on(shard, 'bc');
      await cache.set(k, 1);
      await warm(cache, k);
      await raw.set(key(k), '2');
      expect(await seen(cache, k, 2)).toBeLessThan(SEEN_WITHIN_MS);
    }
  });

  it('readFrom replica: reads tracked on the replicas are invalidated by replicated writes', async () => {
    const { cache, key, on } = tracked({}, { readFrom: 'replica' });
    for (let shard = 0; shard < topo.shardCount; shard++) {
      const k = on(shard, 'rep');
      await raw.set(key(k), '1');
      await seen(cache, k, 1, 5000);
      await warm(cache, k);
      await raw.set(key(k), '2');
      expect(await seen(cache, k, 2)).toBeLessThan(SEEN_WITHIN_MS);
    }
  });

  it('a read in flight while its key is invalidated never stores the old value (writer/reader race)', async () => {
    const { cache, key, on } = tracked();
    const k = on(1, 'race');
    await cache.set(k, 0);
    await warm(cache, k);
    let stop = false;
    let regressions = 0;
    const readers = Array.from({ length: 8 }, async () => {
      let last = -1;
      while (!stop) {
        const v = (await cache.get<number>(k)) ?? -1;
        if (v < last) regressions++;
        last = Math.max(last, v);
        await new Promise((r) => setImmediate(r));
      }
    });
    const iterations = 200;
    let maxSeenDelay = 0;
    try {
      for (let i = 1; i <= iterations; i++) {
        await raw.set(key(k), String(i));
        maxSeenDelay = Math.max(maxSeenDelay, await seen(cache, k, i, 2000));
      }
    } finally {
      stop = true;
      await Promise.all(readers);
    }
    expect(regressions).toBe(0);
    expect(maxSeenDelay).toBeLessThan(2000);
    expect(cache.stats().nearCache?.hits).toBeGreaterThan(iterations);
  });

  it('a read through a node connection whose tracking is not on yet is not kept', async () => {
    // A hook registered before the near cache's holds every node connection untracked for a
    // while after it is ready; ioredis lends it to commands meanwhile.
    const router = routers.cluster({ ...topo.routerOptions(), ...ROOMY });
    let hold = true;
    router.onDataConnection(async () => {
      while (hold) await sleep(20);
    });
    const prefix = uniquePrefix('nearc');
    const cache = createCache({ router, keyPrefix: prefix, nearCache: true });
    caches.push(cache);
    const k = 'early';
    await raw.set(`${prefix}:1:${k}`, '1');
    for (let i = 0; i < 5; i++) expect(await cache.get(k)).toBe(1);
    expect(cache.stats().nearCache?.hits).toBe(0);
    expect(cache.stats().nearCache?.entries).toBe(0);
    await raw.set(`${prefix}:1:${k}`, '2');
    expect(await cache.get(k)).toBe(2);
    // Once tracking is on, reads are kept and invalidated as usual.
    hold = false;
    await warm(cache, k);
    await raw.set(`${prefix}:1:${k}`, '3');
    expect(await seen(cache, k, 3)).toBeLessThan(SEEN_WITHIN_MS);
  });

  it('two near caches with their own prefixes on one router: another client overwrites both keys on every shard, both see every write', async () => {
    const router = routers.cluster({ ...topo.routerOptions(), ...ROOMY });
    const prefixes = [uniquePrefix('nearc-a'), uniquePrefix('nearc-b')];
    const pair = prefixes.map((prefix) => createCache({ router, keyPrefix: prefix, nearCache: true }));
    caches.push(...pair);
    for (let shard = 0; shard < topo.shardCount; shard++) {
      const names = prefixes.map((prefix) => {
        for (let n = 0; ; n++) if (topo.shardOfSlot(slotOf(`${prefix}:1:s${n}`)) === shard) return `s${n}`;
      });
      for (let v = 1; v <= 5; v++) {
        for (const [i, cache] of pair.entries()) {
          await cache.set(names[i] as string, v - 1);
          await warm(cache, names[i] as string);
        }
        for (const [i, prefix] of prefixes.entries()) await raw.set(`${prefix}:1:${names[i]}`, String(v));
        for (const [i, cache] of pair.entries()) {
          expect(await seen(cache, names[i] as string, v)).toBeLessThan(SEEN_WITHIN_MS);
        }
      }
    }
  });

  it('two near caches in broadcast mode with their own prefixes on one router: both are invalidated', async () => {
    const router = routers.cluster({ ...topo.routerOptions(), ...ROOMY });
    const prefixes = [uniquePrefix('nearc-ba'), uniquePrefix('nearc-bb')];
    const pair = prefixes.map((prefix) =>
      createCache({ router, keyPrefix: prefix, nearCache: { mode: 'broadcast' } }),
    );
    caches.push(...pair);
    for (const [i, cache] of pair.entries()) {
      await cache.set('k', 1);
      await warm(cache, 'k');
      await raw.set(`${prefixes[i]}:1:k`, '2');
      expect(await seen(cache, 'k', 2)).toBeLessThan(SEEN_WITHIN_MS);
    }
  });

  it('a slot moved to another master (SETSLOT + MIGRATE): a key read while absent, then written there by another client, is seen', async () => {
    // The periodic slot-map refresh would end a stale window after a while: make it long, so
    // the test shows whether the near cache itself is exact.
    const { cache, key } = tracked({}, { slotsRefreshIntervalMs: 60_000 });
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    // Two keys of one slot (a hash tag) that is not a shard's first slot (the health check's).
    let tag = '';
    for (let n = 0; tag === ''; n++) {
      const slot = slotOf(`mv${n}`);
      if (![0, 1, 2].some((shard) => topo.firstSlot(shard) === slot)) tag = `mv${n}`;
    }
    const absent = `{${tag}}absent`;
    const present = `{${tag}}present`;
    const slot = slotOf(key(absent));
    await cache.set(present, 1);
    await warm(cache, present);
    for (let i = 0; i < 3; i++) expect(await cache.get(absent)).toBeUndefined();
    const shards = await topo.shards();
    const owner = topo.shardOfSlot(slot);
    const from = shards[owner]?.master as { host: string; port: number };
    const to = shards[(owner + 1) % shards.length]?.master as { host: string; port: number };
    await migrateSlot(topo, slot, from, to, { batch: 100, pauseMs: 0 });
    try {
      const node = nodeClient(to);
      try {
        await node.set(key(absent), '2');
        await node.set(key(present), '3');
      } finally {
        node.disconnect();
      }
      expect(await seen(cache, absent, 2)).toBeLessThan(SEEN_WITHIN_MS);
      expect(await seen(cache, present, 3)).toBeLessThan(SEEN_WITHIN_MS);
      expect(await cache.has(absent)).toBe(true);
      // The read that met MOVED refreshed the slot map: the router reported the change, and
      // everything held was dropped.
      await waitForReason(reasons, 'topology-change');
      // Held again on the new master, and invalidated by its writes.
      await warm(cache, present);
      const again = nodeClient(to);
      try {
        await again.set(key(present), '4');
      } finally {
        again.disconnect();
      }
      expect(await seen(cache, present, 4)).toBeLessThan(SEEN_WITHIN_MS);
    } finally {
      await migrateSlot(topo, slot, to, from, { batch: 100, pauseMs: 0 });
    }
  });

  it('FLUSHALL on one master flushes everything (reason flushdb)', async () => {
    const { cache, on } = tracked();
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    const k0 = on(0, 'fa');
    const k2 = on(2, 'fa');
    await cache.set(k0, 1);
    await cache.set(k2, 1);
    await warm(cache, k0);
    await warm(cache, k2);
    const shard0 = (await topo.shards())[0];
    const node = nodeClient(shard0?.master as { host: string; port: number });
    try {
      await node.flushall();
    } finally {
      node.disconnect();
    }
    await waitForReason(reasons, 'flushdb');
    expect(await seen(cache, k0, undefined)).toBeLessThan(SEEN_WITHIN_MS);
    // Everything was dropped, also what another shard held (a flush of everything).
    const held = cache.stats().nearCache;
    expect(held?.flushes).toBeGreaterThanOrEqual(1);
    expect(await cache.get(k2)).toBe(1);
  });

  it('the invalidation connection killed on one master flushes (disconnect) and tracking comes back', async () => {
    const { cache, key, on } = tracked();
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    const k = on(1, 'kill');
    await cache.set(k, 1);
    await warm(cache, k);
    const master = (await topo.shards())[1]?.master as { host: string; port: number };
    const node = nodeClient(master);
    try {
      await node.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    } finally {
      node.disconnect();
    }
    await waitForReason(reasons, 'disconnect');
    // Re-tracked into a new channel: served from memory again, and invalidated again.
    await warm(cache, k);
    await raw.set(key(k), '2');
    expect(await seen(cache, k, 2)).toBeLessThan(SEEN_WITHIN_MS);
  });

  it('the data connection killed on one master flushes (disconnect); the new one tracks again', async () => {
    const { cache, key, on } = tracked();
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    const k = on(2, 'dkill');
    await cache.set(k, 1);
    await warm(cache, k);
    const master = (await topo.shards())[2]?.master as { host: string; port: number };
    const node = nodeClient(master);
    try {
      await node.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    } finally {
      node.disconnect();
    }
    await waitForReason(reasons, 'disconnect');
    await raw.set(key(k), '3');
    expect(await seen(cache, k, 3, 10_000)).toBeLessThan(10_000);
    await warm(cache, k);
    await raw.set(key(k), '4');
    expect(await seen(cache, k, 4)).toBeLessThan(SEEN_WITHIN_MS);
  });

  it('a coordinated shard failover (CLUSTER FAILOVER) flushes, and no stale value is served afterwards', async () => {
    const { cache, key, on } = tracked();
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    const k = on(0, 'fo');
    const other = on(2, 'fo');
    await cache.set(k, 1);
    await cache.set(other, 1);
    await warm(cache, k);
    await warm(cache, other);
    await topo.failover(0);
    await waitForReason(reasons, 'failover', 15_000);
    expect(reasons).toContain('topology-change');
    await raw.set(key(k), '2');
    await neverStale(cache, k, 2, 5000);
    // Tracked on the new master: held again, and invalidated by its writes.
    await warm(cache, k);
    await raw.set(key(k), '3');
    expect(await seen(cache, k, 3)).toBeLessThan(SEEN_WITHIN_MS);
    await raw.set(key(other), '5');
    expect(await seen(cache, other, 5)).toBeLessThan(SEEN_WITHIN_MS);
    await topo.waitForHealthy();
  }, 150_000);

  it('a paused shard master: entries are flushed, and after the promotion the new value is read, never the old', async () => {
    const { cache, key, on } = tracked();
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    cache.on('error', () => {});
    const k = on(1, 'pause');
    await cache.set(k, 1);
    await warm(cache, k);
    const old = await topo.pauseMaster(1);
    try {
      // The paused master's invalidation connection stops answering its pings: flushed.
      await waitForReason(reasons, 'disconnect', 10_000);
      const next = await topo.waitForNewMaster(1, 30_000, old);
      // Written on the new master directly (a plain Cluster client would wait on the paused one).
      const node = nodeClient(next);
      try {
        await node.set(key(k), '2');
        await neverStale(cache, k, 2, 10_000);
        await warm(cache, k);
        await node.set(key(k), '3');
        expect(await seen(cache, k, 3)).toBeLessThan(SEEN_WITHIN_MS);
      } finally {
        node.disconnect();
      }
    } finally {
      await topo.resumeMaster(1);
    }
    await topo.waitForHealthy();
  }, 150_000);
});
