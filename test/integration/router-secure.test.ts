/**
 * Separate credentials and TLS for sentinels and data nodes, through both routers, on a
 * topology where every node and sentinel requires a password and speaks TLS only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, CacheError } from '../../src/core/errors.js';
import type { Router } from '../../src/routers/types.js';
import { startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import { makeRouter, NO_HANG_BUDGET_MS, ROUTER_KINDS, settleWithin } from './router-helpers.js';

const auth = {
  password: 'data-secret-Zq9',
  username: 'app',
  sentinelPassword: 'sentinel-secret-Wx7',
  sentinelUsername: 'ops',
};
let topo: Topology;

beforeAll(async () => {
  topo = await startTopology({
    provider: 'process',
    replicas: 2,
    sentinels: 3,
    downAfterMs: 1000,
    auth,
    tls: true,
  });
});

afterAll(async () => {
  await topo?.stop();
});

function expectNoSecret(err: unknown): void {
  const text = `${String(err)} ${(err as Error)?.stack ?? ''}`;
  for (const secret of [auth.password, auth.sentinelPassword]) expect(text).not.toContain(secret);
}

describe.each(ROUTER_KINDS)('%s router with auth and TLS', (kind) => {
  async function use(r: Router, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } finally {
      await r.close();
    }
  }

  /** The error of one write through a router built with `extra` (throws if the write hangs). */
  async function writeErrorWith(extra: Parameters<typeof makeRouter>[2]): Promise<unknown> {
    const r = makeRouter(kind, topo, extra);
    try {
      return (
        await settleWithin(
          r.execute('write', (c) => c.set('x', '1')),
          NO_HANG_BUDGET_MS,
        )
      ).error;
    } finally {
      await r.close();
    }
  }

  it('separate credentials and CAs for sentinels and data nodes: reads and writes work', async () => {
    const opts = topo.routerOptions();
    expect(opts.tls).toBeDefined();
    expect(opts.sentinelTls).toBeDefined();
    const r = makeRouter(kind, topo, { readFrom: 'replica-preferred' });
    await use(r, async () => {
      await r.execute('write', (c) => c.set('secure', 'yes'));
      expect(await r.execute('write', (c) => c.get('secure'))).toBe('yes');
      const read = await settleWithin(
        r.execute('read', (c) => c.exists('secure')),
        NO_HANG_BUDGET_MS,
      );
      expect(read.error).toBeUndefined();
    });
  });

  it('wrong data-node password: AuthenticationError, password not in the message', async () => {
    const error = await writeErrorWith({ password: 'not-the-password-123' });
    expect(error).toBeInstanceOf(AuthenticationError);
    expectNoSecret(error);
    expect(String(error)).not.toContain('not-the-password-123');
  });

  it('wrong sentinel password: AuthenticationError, password not in the message', async () => {
    const error = await writeErrorWith({ sentinelPassword: 'not-the-sentinel-password' });
    expect(error).toBeInstanceOf(AuthenticationError);
    expectNoSecret(error);
    expect(String(error)).not.toContain('not-the-sentinel-password');
  });

  it('sentinels without TLS options: a named error, fast (no plaintext fallback)', async () => {
    const error = await writeErrorWith({ sentinelTls: undefined });
    expect(error).toBeInstanceOf(CacheError);
    expectNoSecret(error);
  });
});
