import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology, type Topology } from '../../src/topology/index.js';
import { client, sentinelMaster } from '../fixtures/topology.js';
import { until } from '../fixtures/until.js';

describe('process topology: shape', () => {
  let t: Topology;
  beforeAll(async () => {
    t = await startTopology({ provider: 'process' });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('has one master, two replicas and three sentinels with the right roles', async () => {
    expect(t.provider).toBe('process');
    expect(t.nodes).toHaveLength(3);
    expect(t.sentinels).toHaveLength(3);
    expect(t.nodes[0]).toEqual(t.initialMaster);
    // ROLE straight from each server, not through the topology's helper.
    const roles = await Promise.all(
      [...t.nodes, ...t.sentinels].map(async (a) => {
        const c = client(a);
        try {
          return ((await c.call('ROLE')) as string[])[0];
        } finally {
          c.disconnect();
        }
      }),
    );
    expect(roles).toEqual(['master', 'slave', 'slave', 'sentinel', 'sentinel', 'sentinel']);
    expect(await Promise.all(t.nodes.map((n) => t.role(n)))).toEqual(['master', 'slave', 'slave']);
    for (const s of t.sentinels) expect(await sentinelMaster(t, s)).toEqual(t.initialMaster);
    expect(await t.currentMaster()).toEqual(t.initialMaster);
    expect(t.routerOptions()).toEqual({ sentinels: t.sentinels, service: 'mymaster' });
  });

  it('replicates a write on the master to every replica', async () => {
    const master = client(t.initialMaster);
    try {
      await master.set('topology-test', 'hello');
    } finally {
      master.disconnect();
    }
    for (const replica of t.nodes.slice(1)) {
      await until(
        async () => {
          const c = client(replica);
          try {
            return (await c.get('topology-test')) === 'hello';
          } finally {
            c.disconnect();
          }
        },
        30_000,
        `replica ${replica.port} has the key`,
      );
    }
  });

  it('stopReplica/startReplica and stopSentinel/startSentinel take nodes out and back', async () => {
    const replica = await t.stopReplica(1);
    expect(await t.role(replica)).toBe('unreachable');
    await t.stopSentinel(2);
    expect(await t.role(t.sentinels[2]!)).toBe('unreachable');
    // Healthy means: what is running is consistent.
    await t.waitForHealthy(30_000);
    await t.startReplica(1);
    await t.startSentinel(2);
    expect(await t.role(replica)).toBe('slave');
    expect(await t.role(t.sentinels[2]!)).toBe('sentinel');
    await t.waitForHealthy(30_000);
  });

  it('all sentinels down, then back: they resume monitoring from their rewritten configs', async () => {
    await Promise.all(t.sentinels.map((_, i) => t.stopSentinel(i)));
    await expect(t.currentMaster()).rejects.toThrow(/no sentinel answered/);
    await Promise.all(t.sentinels.map((_, i) => t.startSentinel(i)));
    await t.waitForHealthy(30_000);
    expect(await t.currentMaster()).toEqual(t.initialMaster);
  });
});
