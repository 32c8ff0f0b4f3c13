import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeAddress, startTopology, type Topology } from '../../src/topology/index.js';

async function run(address: NodeAddress, options: RedisOptions, ...command: string[]): Promise<unknown> {
  const c = new Redis({
    host: address.host,
    port: address.port,
    lazyConnect: true,
    connectTimeout: 2000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 0,
    enableReadyCheck: false,
    retryStrategy: () => null,
    ...options,
  });
  // The interesting error (TLS handshake, NOAUTH) arrives as an 'error' event; the promise
  // itself often only says "Connection is closed".
  let lastError: Error | undefined;
  c.on('error', (e: Error) => {
    lastError = e;
  });
  try {
    await c.connect();
    return await c.call(command[0]!, ...command.slice(1));
  } catch (error) {
    throw lastError ?? error;
  } finally {
    c.disconnect();
  }
}

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
