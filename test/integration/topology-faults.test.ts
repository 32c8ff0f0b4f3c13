import { afterAll, describe, expect, it } from 'vitest';
import { startTopology, type Topology } from '../../src/topology/index.js';
import { sentinelMaster } from '../fixtures/topology.js';
import { until } from '../fixtures/until.js';

/**
 * Each fault gets its own topology and the tests run concurrently: most of their time is
 * spent waiting on Sentinel's timers (down-after, the 8 s grace before a returning old master
 * is converted, the 10 s replica INFO period), not on CPU.
 */
describe.concurrent('process topology: faults', () => {
  const topologies: Topology[] = [];
  afterAll(async () => {
    await Promise.all(topologies.map((t) => t.stop()));
  });
  async function fresh(): Promise<Topology> {
    const t = await startTopology({ provider: 'process' });
    topologies.push(t);
    return t;
  }

  it('pauseMaster → sentinels announce a new master; the resumed old master becomes a replica', async () => {
    const t = await fresh();
    const before = await t.currentMaster();
    const waiting = t.waitForNewMaster(30_000, before);
    const paused = await t.pauseMaster();
    expect(paused).toEqual(before);
    expect(await t.role(paused)).toBe('unreachable');
    const next = await waiting;
    expect(next).not.toEqual(before);
    expect(t.nodes).toContainEqual(next);
    expect(await t.role(next)).toBe('master');
    await t.resumeMaster();
    await until(async () => (await t.role(paused)) === 'slave', 30_000, 'old master reconfigured as replica');
    await t.waitForHealthy(30_000);
    expect(await t.currentMaster()).toEqual(next);
  });

  it('killMaster → new master; the restarted node rejoins as a replica; then a second failover works', async () => {
    const t = await fresh();
    const before = await t.currentMaster();
    const killed = await t.killMaster();
    expect(killed).toEqual(before);
    expect(await t.role(killed)).toBe('unreachable');
    const next = await t.waitForNewMaster(30_000, killed);
    expect(next).not.toEqual(killed);
    expect(await t.role(next)).toBe('master');
    await t.restartNode(killed);
    await until(
      async () => (await t.role(killed)) === 'slave',
      30_000,
      'restarted node reconfigured as replica',
    );
    await t.waitForHealthy(30_000);
    // Healthy means safe to fail over again: no sentinel still holds a stale view of the
    // restarted node (that once aborted the next failover).
    await until(
      () =>
        t.failover().then(
          () => true,
          () => false,
        ),
      30_000,
      'sentinel accepts SENTINEL FAILOVER',
      200, // each attempt asks a sentinel to start a failover: not faster than that
    );
    expect(await t.waitForNewMaster(30_000, next)).not.toEqual(next);
  });

  it('failover() → new master; the old master becomes a replica', async () => {
    const t = await fresh();
    const before = await t.currentMaster();
    await t.failover();
    const next = await t.waitForNewMaster(30_000, before);
    expect(next).not.toEqual(before);
    await until(async () => (await t.role(before)) === 'slave', 30_000, 'old master reconfigured as replica');
    await t.waitForHealthy(30_000);
    for (const s of t.sentinels) expect(await sentinelMaster(t, s)).toEqual(next);
  });
});
