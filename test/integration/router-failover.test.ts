/**
 * Both Sentinel routers through real failovers (master + 2 replicas + 3 sentinels,
 * down-after 1000 ms): SIGSTOP, SIGKILL and SENTINEL FAILOVER under a steady write load.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheError } from '../../src/core/errors.js';
import type { RouterEventMap } from '../../src/routers/types.js';
import { startTopology } from '../../src/topology/index.js';
import type { NodeAddress, Topology } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';
import {
  commandCalls,
  makeRouter,
  missingOn,
  nodeClient,
  ROUTER_KINDS,
  sameNode,
  type TestRouter,
  WriteLoad,
} from './router-helpers.js';

describe.each(ROUTER_KINDS)('%s router through failovers', (kind) => {
  let topo: Topology;
  let router: TestRouter | undefined;
  let load: WriteLoad | undefined;
  let paused = false;
  let killed: NodeAddress | undefined;

  beforeAll(async () => {
    topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
  });

  afterAll(async () => {
    await topo?.stop();
  });

  afterEach(async () => {
    await load?.stop();
    await router?.close();
    load = undefined;
    router = undefined;
    if (paused) await topo.resumeMaster();
    paused = false;
    if (killed) await topo.restartNode(killed);
    killed = undefined;
    await topo.waitForHealthy(30_000);
  });

  async function startLoad(tag: string) {
    router = makeRouter(kind, topo);
    const failovers: RouterEventMap['failover'][] = [];
    router.on('failover', (e) => failovers.push(e));
    await router.ready();
    load = new WriteLoad(router, `${kind}-${tag}-${Date.now()}`);
    await until(() => (load?.acks.length ?? 0) > 100, 10_000, 'steady writes');
    return { router, load, failovers };
  }

  function expectNamedFastFailures(l: WriteLoad): void {
    expect(l.slow, 'operations that took longer than the no-hang budget').toEqual([]);
    for (const { error } of l.errors) expect(error).toBeInstanceOf(CacheError);
  }

  it('master paused (SIGSTOP): fails fast, writes resume on the new master, the old one is never written again', async () => {
    const { router: r, load: l, failovers } = await startLoad('pause');
    const old = await topo.currentMaster();
    const psetexBefore = await commandCalls(topo, old, 'psetex'); // earlier tests count too
    const tFault = performance.now();
    await topo.pauseMaster();
    paused = true;
    const next = await topo.waitForNewMaster(30_000, old);
    l.markSwitch();
    const tSwitch = performance.now();
    await until(() => l.ackedAfter(tSwitch).length > 50, 10_000, 'writes acknowledged after +switch-master');
    await topo.resumeMaster();
    paused = false;
    await until(async () => (await topo.role(old)) === 'slave', 20_000, 'the old master to be demoted');
    await sleep(1000);
    await l.stop();

    expectNamedFastFailures(l);
    expect(l.errors.filter((e) => e.at >= tFault).length, 'the outage was visible').toBeGreaterThan(0);
    expect(failovers.some((f) => sameNode(f.to, next))).toBe(true);
    expect(r.stats().failovers).toBeGreaterThanOrEqual(1);
    // Every write acknowledged after the switch is on the new master...
    const after = l.ackedAfter(tSwitch);
    expect(await missingOn(topo, next, after)).toEqual([]);
    // ...and none of them went to the old master (PSETEX is only used after the switch).
    expect(await commandCalls(topo, old, 'psetex')).toBe(psetexBefore);
    const psetexAcks = after.filter((a) => a.command === 'psetex').length;
    expect(psetexAcks).toBeGreaterThan(0);
    expect(await commandCalls(topo, next, 'psetex')).toBeGreaterThanOrEqual(psetexAcks);
  });

  it('master killed (SIGKILL): fails fast, writes resume on the new master', async () => {
    const { load: l, failovers } = await startLoad('kill');
    const old = await topo.killMaster();
    killed = old;
    const next = await topo.waitForNewMaster(30_000, old);
    l.markSwitch();
    const tSwitch = performance.now();
    await until(() => l.ackedAfter(tSwitch).length > 50, 10_000, 'writes acknowledged after +switch-master');
    await l.stop();

    expectNamedFastFailures(l);
    expect(failovers.some((f) => sameNode(f.to, next))).toBe(true);
    expect(await missingOn(topo, next, l.ackedAfter(tSwitch))).toEqual([]);
  });

  it('+switch-master closes clients to the old master that operations still hold (borrowed clients too)', async () => {
    router = makeRouter(kind, topo);
    await router.ready();
    const old = await topo.currentMaster();
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let borrowed: Redis | undefined;
    const op = router.execute('write', async (c) => {
      borrowed = c;
      await c.set('held', '1');
      await held; // the operation keeps its client across the failover
      return c.set('held', '2');
    });
    await until(() => borrowed !== undefined, 5000, 'the operation to start');
    await topo.failover();
    const next = await topo.waitForNewMaster(30_000, old);
    await until(() => borrowed?.status === 'end', 5000, 'the held client to be closed');
    release();
    // The late write through the held client is refused locally: it never reaches the old master.
    await expect(op).rejects.toBeInstanceOf(CacheError);
    expect(await router.execute('write', (c) => c.set('held', '3'))).toBe('OK');
    const raw = nodeClient(topo, next);
    try {
      expect(await raw.get('held')).toBe('3');
    } finally {
      raw.disconnect();
    }
  });

  it('SENTINEL FAILOVER: zero acknowledged writes lost, the old master gets no write after the switch', async () => {
    const { load: l, failovers } = await startLoad('failover');
    const old = await topo.currentMaster();
    const psetexBefore = await commandCalls(topo, old, 'psetex'); // earlier tests count too
    await topo.failover();
    const next = await topo.waitForNewMaster(30_000, old);
    l.markSwitch();
    const tSwitch = performance.now();
    await until(() => l.ackedAfter(tSwitch).length > 50, 10_000, 'writes acknowledged after +switch-master');
    await until(async () => (await topo.role(old)) === 'slave', 20_000, 'the old master to be demoted');
    await sleep(500);
    await l.stop();

    expectNamedFastFailures(l);
    expect(failovers.some((f) => sameNode(f.to, next))).toBe(true);
    await topo.waitForHealthy(30_000);
    const master = await topo.currentMaster();
    expect(sameNode(master, next)).toBe(true);
    // Every acknowledged write, before, during and after the failover, survived it.
    expect(l.acks.length).toBeGreaterThan(100);
    expect(await missingOn(topo, master, l.acks)).toEqual([]);
    expect(await commandCalls(topo, old, 'psetex')).toBe(psetexBefore);
  });
});
