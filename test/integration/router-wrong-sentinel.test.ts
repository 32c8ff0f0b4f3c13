/**
 * One sentinel with a wrong view: the first sentinel in the list names a replica as the
 * master (the other two are right). Per the Sentinel client spec, a ROLE mismatch means
 * "ask the next sentinel": writes must keep succeeding.
 *
 * A fresh topology (no failover yet, every configuration epoch 0), so the other sentinels'
 * hello messages do not correct the wrong one during the test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTopology } from '../../src/topology/index.js';
import type { NodeAddress, Topology } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';
import {
  makeRouter,
  NO_HANG_BUDGET_MS,
  nodeClient,
  ROUTER_KINDS,
  sameNode,
  settleWithin,
  type TestRouter,
} from './router-helpers.js';

let topo: Topology;
let master: NodeAddress;
let replica: NodeAddress;

async function monitor(sentinel: NodeAddress, target: NodeAddress): Promise<void> {
  const s = nodeClient(topo, sentinel);
  try {
    await s.call('SENTINEL', 'REMOVE', topo.service).catch(() => {});
    await s.call('SENTINEL', 'MONITOR', topo.service, target.host, String(target.port), '2');
    await s.call('SENTINEL', 'SET', topo.service, 'down-after-milliseconds', '1000');
    await s.call('SENTINEL', 'SET', topo.service, 'failover-timeout', '5000');
    await until(
      async () => {
        const reply = (await s.call('SENTINEL', 'get-master-addr-by-name', topo.service)) as string[];
        return reply?.[1] === String(target.port);
      },
      10_000,
      'the sentinel to name the target',
    );
  } finally {
    s.disconnect();
  }
}

beforeAll(async () => {
  topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
  master = await topo.currentMaster();
  const r = topo.nodes.find((n) => !sameNode(n, master));
  if (!r) throw new Error('no replica');
  replica = r;
});

afterAll(async () => {
  await topo?.stop();
});

describe.each(ROUTER_KINDS)('%s router', (kind) => {
  let router: TestRouter | undefined;

  afterEach(async () => {
    await router?.close();
    router = undefined;
    await monitor(topo.sentinels[0] as NodeAddress, master);
    await topo.waitForHealthy(60_000);
  });

  it('the first sentinel names a replica as master: ROLE says slave, the next sentinel is asked, writes succeed', async () => {
    await monitor(topo.sentinels[0] as NodeAddress, replica);
    const r = makeRouter(kind, topo);
    router = r;
    const failures: string[] = [];
    for (let i = 0; i < 50; i++) {
      const outcome = await settleWithin(
        r.execute('write', (c) => c.set(`wrong-sentinel:${kind}:${i}`, String(i))),
        NO_HANG_BUDGET_MS,
      );
      if (outcome.error) failures.push((outcome.error as Error).message);
    }
    expect(failures).toEqual([]);
    // Every write is on the real master.
    const c = nodeClient(topo, master);
    try {
      expect(await c.get(`wrong-sentinel:${kind}:49`)).toBe('49');
    } finally {
      c.disconnect();
    }
  });
});
