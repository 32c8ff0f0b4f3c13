/**
 * The near cache behind Sentinel (pooled and discovery routers): invalidation by a raw
 * client on the master, reads from replicas invalidated by replicated writes, and a real
 * SENTINEL FAILOVER with no stale read after +switch-master. One topology for the file.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { createCache } from '../../src/create-cache.js';
import type { ReadFrom } from '../../src/routers/types.js';
import { startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import { warm } from '../fixtures/near.js';
import { until } from '../fixtures/until.js';
import { uniquePrefix } from './cache-suite.js';
import { makeRouter, nodeClient, ROUTER_KINDS, type RouterKind, sameNode } from './router-helpers.js';

/** Generous bound for "seen within a few ms" on a loaded machine (the real delay is measured separately). */
const SEEN_WITHIN_MS = 1000;

let topo: Topology;

beforeAll(async () => {
  topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
});

afterAll(async () => {
  await topo?.stop();
});

async function nearCacheOn(kind: RouterKind, readFrom: ReadFrom = 'master') {
  const router = makeRouter(kind, topo, { readFrom });
  await router.ready();
  const prefix = uniquePrefix(`near-${kind}`);
  const cache = createCache({ router, keyPrefix: prefix, nearCache: true });
  return { cache, key: (k: string) => `${prefix}:1:${k}` };
}

async function masterClient(): Promise<Redis> {
  const raw = nodeClient(topo, await topo.currentMaster());
  await raw.connect();
  return raw;
}

/** Poll until get(key) === expected, asserting values never go back to older ones. */
async function seen(cache: Cache, key: string, expected: number, budgetMs = SEEN_WITHIN_MS): Promise<number> {
  const start = performance.now();
  for (;;) {
    const value = await cache.get<number>(key);
    const elapsed = performance.now() - start;
    if (value === expected) return elapsed;
    if (value !== undefined && value > expected) throw new Error(`${key}: ${value} before ${expected}?`);
    if (elapsed > budgetMs) throw new Error(`${key}: still ${String(value)} after ${Math.round(elapsed)} ms`);
    await sleep(1);
  }
}

describe.each(ROUTER_KINDS)('near cache on %s', (kind) => {
  it('a raw write on the master is seen within a bound; own writes at once', async () => {
    const { cache, key } = await nearCacheOn(kind);
    const raw = await masterClient();
    try {
      await cache.set('k', 1);
      await warm(cache, 'k');
      for (let v = 2; v < 8; v++) {
        await raw.set(key('k'), String(v));
        expect(await seen(cache, 'k', v)).toBeLessThan(SEEN_WITHIN_MS);
        await warm(cache, 'k');
      }
      await cache.set('k', 100);
      expect(await cache.get('k')).toBe(100);
      expect(cache.stats().nearCache?.hits).toBeGreaterThan(6);
    } finally {
      raw.disconnect();
      await cache.close();
    }
  });

  it('two near caches with their own prefixes on one router: another client overwrites both keys 20 times, both see every write', async () => {
    const router = makeRouter(kind, topo);
    await router.ready();
    const prefixes = [uniquePrefix(`near-${kind}-a`), uniquePrefix(`near-${kind}-b`)];
    const pair = prefixes.map((prefix) => createCache({ router, keyPrefix: prefix, nearCache: true }));
    const raw = await masterClient();
    try {
      for (const cache of pair) await cache.set('k', 0);
      for (let v = 1; v <= 20; v++) {
        for (const cache of pair) await warm(cache, 'k');
        for (const prefix of prefixes) await raw.set(`${prefix}:1:k`, String(v));
        for (const cache of pair) expect(await seen(cache, 'k', v)).toBeLessThan(SEEN_WITHIN_MS);
      }
      // Closing one leaves the other (and the router) working.
      const [a, b] = pair as [Cache, Cache];
      await a.close();
      await warm(b, 'k');
      await raw.set(`${prefixes[1]}:1:k`, '21');
      expect(await seen(b, 'k', 21)).toBeLessThan(SEEN_WITHIN_MS);
    } finally {
      raw.disconnect();
      await Promise.all(pair.map((cache) => cache.close()));
    }
  });

  it('reads from replicas: a master write invalidates through the replica, values never go back', async () => {
    const { cache, key } = await nearCacheOn(kind, 'replica');
    const raw = await masterClient();
    try {
      await raw.set(key('r'), '0');
      await until(async () => (await cache.get('r')) === 0, 10_000, 'replicas to have the key');
      await warm(cache, 'r');
      let last = 0;
      for (let v = 1; v <= 50; v++) {
        await raw.set(key('r'), String(v));
        // Monotonic through replicas that may lag: an entry read before the replicated write
        // is dropped when the replica applies it, never kept past it.
        await seen(cache, 'r', v, 2000);
        last = v;
      }
      expect(last).toBe(50);
      expect(cache.stats().nearCache?.invalidations).toBeGreaterThan(0);
    } finally {
      raw.disconnect();
      await cache.close();
    }
  });

  it('SENTINEL FAILOVER: everything is flushed on +switch-master, no stale read after it', async () => {
    const { cache, key } = await nearCacheOn(kind);
    const reasons: string[] = [];
    cache.on('near-flush', ({ reason }) => reasons.push(reason));
    let switchedAt: number | undefined;
    cache.on('failover', () => {
      switchedAt ??= performance.now();
    });
    try {
      await cache.set('f', 1);
      await warm(cache, 'f');
      expect(cache.stats().nearCache?.entries).toBeGreaterThan(0);
      const old = await topo.currentMaster();
      // A reader keeps reading through the failover.
      let stop = false;
      const reads: Array<{ at: number; value: number | undefined }> = [];
      const reader = (async () => {
        while (!stop) {
          const at = performance.now();
          const value = await cache.get<number>('f').catch(() => undefined);
          reads.push({ at, value });
          await sleep(1);
        }
      })();
      try {
        await topo.failover();
        const next = await topo.waitForNewMaster(30_000, old);
        await until(() => switchedAt !== undefined, 10_000, '+switch-master to reach the cache');
        expect(reasons.some((r) => r === 'failover' || r === 'topology-change')).toBe(true);
        // A raw client writes on the new master: it never saw our tracking.
        const raw = nodeClient(topo, next);
        await raw.connect();
        let writtenAt: number;
        try {
          await raw.set(key('f'), '2');
          writtenAt = performance.now();
        } finally {
          raw.disconnect();
        }
        await until(async () => (await cache.get('f').catch(() => undefined)) === 2, 10_000, 'the new value');
        const doneAt = performance.now();
        await sleep(200);
        stop = true;
        await reader;
        // No read that started after the new master's write was acknowledged returned the old value.
        const stale = reads.filter((r) => r.at > writtenAt && r.value === 1);
        expect(stale).toEqual([]);
        expect(reads.filter((r) => r.at > doneAt).every((r) => r.value === 2 || r.value === undefined)).toBe(
          true,
        );
        expect(sameNode(await topo.currentMaster(), next)).toBe(true);
      } finally {
        stop = true;
        await reader;
      }
      // Served from memory again on the new master, and invalidated by it.
      await warm(cache, 'f');
      const raw = await masterClient();
      try {
        await raw.set(key('f'), '3');
        expect(await seen(cache, 'f', 3)).toBeLessThan(SEEN_WITHIN_MS);
      } finally {
        raw.disconnect();
      }
    } finally {
      await cache.close();
      await topo.waitForHealthy(30_000);
    }
  }, 120_000);
});
