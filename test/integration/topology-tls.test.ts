import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, startTopology, type Topology } from '../../src/topology/index.js';
import { run } from '../fixtures/topology.js';

describe('topology with TLS (tls-port only, generated CA)', () => {
  let t: Topology;
  beforeAll(async () => {
    t = await startTopology({ provider: 'process', tls: true });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('exposes the PEMs and accepts only verified TLS connections', async () => {
    expect(t.tls?.ca).toContain('BEGIN CERTIFICATE');
    expect(t.tls?.cert).toContain('BEGIN CERTIFICATE');
    expect(t.tls?.key).toContain('PRIVATE KEY');
    const tls = { ca: t.tls!.ca };
    expect(await run(t.initialMaster, { tls }, 'PING')).toBe('PONG');
    expect(await run(t.sentinels[0]!, { tls }, 'PING')).toBe('PONG');
    // Plain TCP gets no answer from a TLS port.
    await expect(run(t.initialMaster, {}, 'PING')).rejects.toThrow();
    // Verification is real: without our CA the server certificate is rejected.
    await expect(run(t.initialMaster, { tls: {} }, 'PING')).rejects.toThrow(/certificate/i);
    expect(t.routerOptions().tls).toEqual({ ca: t.tls!.ca });
  });

  it('replicates over TLS and fails over (sentinels talk TLS)', async () => {
    const master = await t.currentMaster();
    const replicaInfo = (await run(t.nodes[1]!, { tls: { ca: t.tls!.ca } }, 'INFO', 'replication')) as string;
    expect(replicaInfo).toContain('master_link_status:up');
    const waiting = t.waitForNewMaster(30_000, master);
    await t.pauseMaster();
    const next = await waiting;
    expect(next).not.toEqual(master);
    await t.resumeMaster();
    // Sentinel converts the resumed old master after its next INFO of it (every 10 s) and an
    // 8 s grace; over TLS on a loaded machine that has taken more than 40 s.
    await t.waitForHealthy(90_000);
    expect(await t.role(master)).toBe('slave');
  }, 150_000);
});

describe('standalone with password and TLS', () => {
  it('serves a rediss:// URL with credentials', async () => {
    const s = await startStandalone({ password: 'pw', username: 'u', tls: true });
    try {
      expect(s.url).toBe(`rediss://u:pw@127.0.0.1:${s.port}`);
      const c = new Redis(s.url, { tls: { ca: s.tls!.ca }, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      try {
        expect(await c.ping()).toBe('PONG');
      } finally {
        c.disconnect();
      }
      await expect(
        run({ host: s.host, port: s.port }, { tls: { ca: s.tls!.ca } }, 'GET', 'x'),
      ).rejects.toThrow(/NOAUTH/);
    } finally {
      await s.stop();
    }
  });
});
