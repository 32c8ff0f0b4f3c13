/**
 * A master demoted behind the sentinels' back: the router holds a connection verified as
 * master, the node now replies READONLY. The write must be evicted/retried, the retry must
 * pass a fresh ROLE check, and nothing may be acknowledged by a node that is not master.
 * Own topology (1 replica, 1 sentinel): the manual role swap confuses the sentinels.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterNotFoundError } from '../../src/core/errors.js';
import { startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import {
  makeRouter,
  NO_HANG_BUDGET_MS,
  nodeClient,
  ROUTER_KINDS,
  sameNode,
  settleWithin,
} from './router-helpers.js';

describe.each(ROUTER_KINDS)('%s router: READONLY from a demoted master', (kind) => {
  let topo: Topology;

  beforeAll(async () => {
    // A long down-after keeps the sentinel from reacting while the test runs.
    topo = await startTopology({ provider: 'process', replicas: 1, sentinels: 1, downAfterMs: 60_000 });
  });

  afterAll(async () => {
    await topo?.stop();
  });

  it('evicts, re-resolves, refuses the node by ROLE: MasterNotFoundError, nothing written', async () => {
    const router = makeRouter(kind, topo);
    try {
      expect(await router.execute('write', (c) => c.set('before', '1'))).toBe('OK');
      const master = await topo.currentMaster();
      const replica = topo.nodes.find((n) => !sameNode(n, master));
      if (!replica) throw new Error('no replica');
      const m = nodeClient(topo, master);
      const r = nodeClient(topo, replica);
      try {
        // Swap roles without telling the sentinel: it keeps naming `master` for now.
        await r.replicaof('NO', 'ONE');
        await m.replicaof(replica.host, String(replica.port));
        const { error } = await settleWithin(
          router.execute('write', (c) => c.set('after', '1')),
          NO_HANG_BUDGET_MS,
        );
        expect(error).toBeInstanceOf(MasterNotFoundError);
        expect((error as Error).message).toMatch(/not a master|READONLY/);
        // The node that replied READONLY was counted, and the write exists nowhere.
        expect(router.stats().nodes[`${master.host}:${master.port}`]?.errors).toBeGreaterThanOrEqual(1);
        expect(await m.exists('after')).toBe(0);
        expect(await r.exists('after')).toBe(0);
      } finally {
        // Put the roles back so the sentinel never needs to act.
        await m.replicaof('NO', 'ONE');
        await r.replicaof(master.host, String(master.port));
        m.disconnect();
        r.disconnect();
      }
    } finally {
      await router.close();
    }
  });
});
