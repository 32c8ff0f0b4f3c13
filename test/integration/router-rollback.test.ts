/**
 * Rollback detection on both Sentinel routers, on real servers (master + 2 replicas + 3
 * sentinels): Sentinel promotes a replica that does not hold writes the master acknowledged,
 * and the router says so (`rollback` event, stats, near cache flushed); a normal SENTINEL
 * FAILOVER under a write load reports nothing (no false positive).
 *
 * The stale promotion, made deterministic: the other replica gets `replica-priority 0` (never
 * promoted), the chosen one loses its replication link (a wrong `masterauth`, then its master
 * connection killed: it cannot reconnect), the cache writes for ~2 s (acknowledged by the
 * master only), then SENTINEL FAILOVER: Sentinel accepts a replica whose link has been down
 * less than 10 × down-after-milliseconds, and it is the only candidate.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import type { NearFlushEvent, RollbackEvent } from '../../src/core/events.js';
import { createCache } from '../../src/create-cache.js';
import { startTopology } from '../../src/topology/index.js';
import type { NodeAddress, Topology } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';
import {
  makeRouter,
  missingOn,
  onNode,
  ROUTER_KINDS,
  replication,
  sameNode,
  sentinelPriorities,
  type TestRouter,
  WriteLoad,
} from './router-helpers.js';

describe.each(ROUTER_KINDS)('%s router: rollback detection', (kind) => {
  let topo: Topology;
  let cache: Cache | undefined;
  let router: TestRouter | undefined;
  let load: WriteLoad | undefined;
  /** Node settings a test changed, restored after it. */
  const restore: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
  });

  afterAll(async () => {
    await topo?.stop();
  });

  afterEach(async () => {
    await load?.stop();
    load = undefined;
    await cache?.close();
    cache = undefined;
    await router?.close();
    router = undefined;
    for (const fn of restore.splice(0)) await fn().catch(() => {});
    await topo.waitForHealthy(30_000);
  });

  it('a replica without the acknowledged writes is promoted: rollback reported, counted, near cache flushed', async () => {
    const r = makeRouter(kind, topo);
    const c = createCache({ router: r, nearCache: true, keyPrefix: `rb-${kind}` });
    cache = c;
    const rollbacks: RollbackEvent[] = [];
    const flushes: NearFlushEvent[] = [];
    c.on('rollback', (e) => rollbacks.push(e));
    c.on('near-flush', (e) => flushes.push(e));
    await c.ready();

    const master = await topo.currentMaster();
    const [stale, other] = topo.nodes.filter((n) => !sameNode(n, master)) as [NodeAddress, NodeAddress];
    // Only `stale` may be promoted; wait until every sentinel has read the new priority.
    await onNode(topo, other, (x) => x.config('SET', 'replica-priority', '0'));
    restore.push(() => onNode(topo, other, (x) => x.config('SET', 'replica-priority', '100')));
    await until(
      async () => (await sentinelPriorities(topo, other)).every((p) => p === '0'),
      30_000,
      'the sentinels to see replica-priority 0',
    );

    await c.set('held', 'v1');
    expect(await c.get('held')).toBe('v1'); // now in the near cache
    expect(await c.get('held')).toBe('v1');
    expect(c.stats().nearCache?.entries).toBeGreaterThan(0);

    // Cut the stale replica off: it cannot authenticate to its master any more.
    restore.push(() => onNode(topo, stale, (x) => x.config('SET', 'masterauth', '')));
    await onNode(topo, stale, async (x) => {
      await x.config('SET', 'masterauth', 'not-the-password');
      await x.call('CLIENT', 'KILL', 'TYPE', 'master');
    });
    await until(
      async () => (await replication(topo, stale)).master_link_status === 'down',
      10_000,
      'the stale replica to lose its link',
    );
    const staleOffset = Number((await replication(topo, stale)).master_repl_offset);

    // ~2 s of writes the master acknowledges and the stale replica never gets.
    const written: string[] = [];
    const tWrites = performance.now();
    for (let i = 0; performance.now() - tWrites < 2000; i++) {
      await c.set(`lost:${i}`, i);
      written.push(`lost:${i}`);
      if (i % 20 === 0) await sleep(10);
    }
    const writesMs = performance.now() - tWrites;
    const masterOffset = Number((await replication(topo, master)).master_repl_offset);
    expect(masterOffset).toBeGreaterThan(staleOffset);

    await topo.failover();
    const promoted = await topo.waitForNewMaster(30_000, master);
    expect(promoted).toEqual(stale);
    await until(() => rollbacks.length > 0, 15_000, 'the rollback event');

    // The writes really are gone from the new master.
    const gone = await onNode(topo, promoted, (x) => x.exists(...written.map((k) => `rb-${kind}:1:${k}`)));
    expect(gone).toBe(0);

    expect(rollbacks).toHaveLength(1);
    const e = rollbacks[0] as RollbackEvent;
    expect(e.service).toBe(topo.service);
    expect(e.from).toEqual(master);
    expect(e.to).toEqual(stale);
    // The promoted node kept exactly what it had when its link went down.
    expect(e.promotedOffset).toBe(staleOffset);
    expect(e.ackedOffset).toBeGreaterThan(staleOffset);
    expect(e.ackedOffset).toBeLessThanOrEqual(masterOffset);
    // From the first sample after the link went down to the last write, within a few periods.
    expect(e.estimatedLostMs).toBeGreaterThan(writesMs / 2);
    expect(e.estimatedLostMs).toBeLessThan(writesMs + 3000);
    expect(c.stats().rollbacks).toBe(1);
    expect(r.stats().rollbacks).toBe(1);
    expect(flushes.map((f) => f.reason)).toContain('rollback');

    // Nothing more is reported as writes go on against the new master.
    await c.set('after', 1);
    await sleep(1000);
    await c.set('after', 2);
    expect(rollbacks).toHaveLength(1);
  });

  it('a normal SENTINEL FAILOVER under a write load: no rollback reported', async () => {
    const r = makeRouter(kind, topo);
    router = r;
    const rollbacks: RollbackEvent[] = [];
    r.on('rollback', (e) => rollbacks.push(e));
    await r.ready();
    const l = new WriteLoad(r, `rb-normal-${kind}-${Date.now()}`);
    load = l;
    await until(() => l.acks.length > 500, 15_000, 'steady writes');
    const old = await topo.currentMaster();
    await topo.failover();
    const next = await topo.waitForNewMaster(30_000, old);
    const tSwitch = performance.now();
    await until(() => l.ackedAfter(tSwitch).length > 200, 15_000, 'writes on the new master');
    // The check runs at the switch; give it time to answer (it is looked for, not awaited).
    await sleep(2000);
    await l.stop();
    load = undefined;
    const lost = await missingOn(topo, next, l.acks);
    // No report without a loss. (With the write fence, a normal failover loses nothing.)
    expect({ lost: lost.length, rollbacks }).toEqual({ lost: 0, rollbacks: [] });
    expect(r.stats().rollbacks).toBe(0);
  });
});
