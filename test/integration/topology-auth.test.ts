import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology, type Topology } from '../../src/topology/index.js';
import { run } from '../fixtures/topology.js';

describe('topology with auth (requirepass + ACL users on data nodes and sentinels)', () => {
  const auth = {
    password: 'data "secret" 1',
    username: 'app',
    sentinelPassword: 'sentinel-secret',
    sentinelUsername: 'ops',
  };
  let t: Topology;
  beforeAll(async () => {
    t = await startTopology({ provider: 'process', auth });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('comes up healthy and every node and sentinel demands credentials', async () => {
    expect(await Promise.all([...t.nodes, ...t.sentinels].map((n) => t.role(n)))).toEqual([
      'master',
      'slave',
      'slave',
      'sentinel',
      'sentinel',
      'sentinel',
    ]);
    await expect(run(t.initialMaster, {}, 'ROLE')).rejects.toThrow(/NOAUTH/);
    await expect(run(t.sentinels[0]!, {}, 'ROLE')).rejects.toThrow(/NOAUTH/);
    await expect(run(t.initialMaster, { password: 'wrong' }, 'PING')).rejects.toThrow(/WRONGPASS|invalid/i);
    // The ACL user and the default user both work on data nodes.
    expect(await run(t.initialMaster, { username: 'app', password: auth.password }, 'PING')).toBe('PONG');
    expect(await run(t.initialMaster, { password: auth.password }, 'PING')).toBe('PONG');
    // The data password does not open a sentinel, the sentinel user does.
    await expect(run(t.sentinels[0]!, { password: auth.password }, 'PING')).rejects.toThrow(
      /WRONGPASS|invalid/i,
    );
    expect(await run(t.sentinels[0]!, { username: 'ops', password: auth.sentinelPassword }, 'PING')).toBe(
      'PONG',
    );
    expect(t.routerOptions()).toEqual({
      sentinels: t.sentinels,
      service: 'mymaster',
      password: auth.password,
      username: 'app',
      sentinelPassword: auth.sentinelPassword,
      sentinelUsername: 'ops',
    });
  });

  it('fails over when the master is killed (sentinels authenticate to nodes and to each other)', async () => {
    const killed = await t.killMaster();
    const next = await t.waitForNewMaster(30_000, killed);
    expect(await t.role(next)).toBe('master');
    await t.restartNode(killed);
    await t.waitForHealthy(40_000);
    expect(await t.role(killed)).toBe('slave');
  });
});
