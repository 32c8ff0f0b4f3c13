/**
 * What a Sentinel failover does to getOrSet's fill lock (it lives on the master): at worst one
 * extra factory call, never a hang. Four caches (four "processes": separate flights, channels
 * and connections) × 10 callers on one cold key while the master fails over.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { CacheError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { startTopology } from '../../src/topology/index.js';
import type { NodeAddress, Topology } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';
import { uniquePrefix } from './cache-suite.js';
import { makeRouter } from './router-helpers.js';

/** One call's no-hang budget: the failover itself (down-after 1 s + election) plus lockTimeout. */
const CALL_BUDGET_MS = 30_000;

let topo: Topology;
let caches: Cache[] = [];
let killed: NodeAddress | undefined;

beforeAll(async () => {
  topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
});

afterAll(async () => {
  await topo?.stop();
});

afterEach(async () => {
  await Promise.all(caches.map((c) => c.close()));
  caches = [];
  if (killed) await topo.restartNode(killed);
  killed = undefined;
  await topo.waitForHealthy(30_000);
});

async function stampedeThrough(fault: () => Promise<void>) {
  const prefix = uniquePrefix('gos-failover');
  caches = Array.from({ length: 4 }, () =>
    createCache({ router: makeRouter('pooled', topo), keyPrefix: prefix }),
  );
  let calls = 0;
  const factory = async () => {
    const n = ++calls;
    await sleep(2_000); // a slow factory: the fault lands while it runs
    return `value-${n}`;
  };
  const started = Date.now();
  const settled = Promise.all(
    caches.flatMap((cache) =>
      Array.from({ length: 10 }, async () => {
        const t0 = Date.now();
        try {
          const value = await cache.getOrSet('cold', factory, { ttl: '1m', lockTimeout: '5s' });
          return { value, ms: Date.now() - t0 };
        } catch (error) {
          return { error, ms: Date.now() - t0 };
        }
      }),
    ),
  );
  await until(() => calls === 1, 10_000, 'the lock holder to start its factory');
  await fault();
  const results = await settled;
  return { results, calls, totalMs: Date.now() - started };
}

function expectNoHangAtMostOneExtraCall(outcome: Awaited<ReturnType<typeof stampedeThrough>>): void {
  const { results, calls } = outcome;
  expect(calls).toBeGreaterThanOrEqual(1);
  expect(calls, 'factory calls').toBeLessThanOrEqual(2);
  for (const r of results) {
    expect(r.ms, 'a call took longer than the no-hang budget').toBeLessThan(CALL_BUDGET_MS);
    if ('error' in r) expect(r.error).toBeInstanceOf(CacheError);
    else expect(r.value).toMatch(/^value-[12]$/);
  }
  // The holder's own callers always get its value (a failed store is reported, not thrown).
  expect(results.filter((r) => 'value' in r).length).toBeGreaterThanOrEqual(10);
}

describe.each(['pooled', 'discovery'] as const)('%s router: waiters are woken by pub/sub', (kind) => {
  it("a waiter in another cache gets the holder's value when it is stored, not at lockTimeout", async () => {
    const prefix = uniquePrefix(`gos-wake-${kind}`);
    caches = [0, 1].map(() => createCache({ router: makeRouter(kind, topo), keyPrefix: prefix }));
    const [holder, waiter] = caches as [Cache, Cache];
    let calls = 0;
    const factory = async () => {
      calls++;
      await sleep(1_000); // a slow factory: the waiter must be woken when it stores
      return 'filled';
    };
    const first = holder.getOrSet('k', factory, { lockTimeout: '20s' });
    await until(() => calls === 1, 10_000, 'the holder to start its factory');
    const started = Date.now();
    expect(await waiter.getOrSet('k', factory, { lockTimeout: '20s' })).toBe('filled');
    const waitedMs = Date.now() - started;
    expect(await first).toBe('filled');
    expect(calls).toBe(1);
    // Woken by the holder's message (~1 s), far from the 20 s lock timeout a lost wake-up would cost.
    expect(waitedMs).toBeLessThan(5_000);
  });
});

describe('getOrSet through a failover', () => {
  it('SENTINEL FAILOVER during the factory: every call settles, at most one extra factory call', async () => {
    const outcome = await stampedeThrough(() => topo.failover());
    console.log(
      `failover: ${outcome.calls} factory call(s), ${outcome.results.filter((r) => 'error' in r).length} errors, ${outcome.totalMs} ms`,
    );
    expectNoHangAtMostOneExtraCall(outcome);
  });

  it('master killed during the factory: every call settles (value or named error), at most one extra call', async () => {
    const outcome = await stampedeThrough(async () => {
      killed = await topo.killMaster();
    });
    console.log(
      `kill: ${outcome.calls} factory call(s), ${outcome.results.filter((r) => 'error' in r).length} errors, ${outcome.totalMs} ms`,
    );
    expectNoHangAtMostOneExtraCall(outcome);
  });
});
