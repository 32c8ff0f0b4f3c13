/**
 * A 'replica-preferred' read that no replica can serve falls back to the master the sentinels
 * name *now*, not to the one the router last used.
 *
 * The race it pins down (router-master-pause.test.ts hit it about one run in four on a loaded
 * machine): the master is paused and reported down; the failover leader promotes a replica and
 * publishes +switch-master, but a read's fresh SENTINEL REPLICAS answer comes from a sentinel
 * that has already switched, before the router has processed the message. That answer lists
 * the new master's replicas, all flagged `disconnected` (the sentinel has just created them),
 * so no replica is usable, and the last master the router used is the paused one, reported
 * down. The read failed with MasterNotFoundError although the sentinels named a master that
 * answers.
 *
 * Here the sentinels are made to name another master without any +switch-master (quorum above
 * the number of sentinels, so they never fail over themselves; then SENTINEL REMOVE / MONITOR
 * on a replica promoted by hand). The read must be served by the newly named master. Discovery
 * only: it reads each fresh sentinel answer; pooled routes on the topology it holds and follows
 * +switch-master (its promoted-replica pool covers the same window).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology } from '../../src/topology/index.js';
import type { NodeAddress, Topology } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';
import { makeRouter, nodeClient, sameNode, type TestRouter } from './router-helpers.js';

describe('discovery router: a replica-preferred read with no usable replica', () => {
  let topo: Topology;
  let router: TestRouter | undefined;
  const clients: Redis[] = [];

  beforeAll(async () => {
    topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
  });

  afterAll(async () => {
    await router?.close();
    for (const c of clients) c.disconnect();
    await topo?.resumeMaster().catch(() => undefined);
    await topo?.stop();
  });

  /** A client of `address` (a sentinel or a data node), closed after the file. */
  function clientOf(address: NodeAddress): Redis {
    const c = nodeClient(topo, address);
    clients.push(c);
    return c;
  }

  it('goes to the master the sentinels name now, not to the last one it used (reported down)', async () => {
    const service = topo.service;
    const sentinels = topo.sentinels.map(clientOf);
    // No sentinel may start a failover of its own: the test moves the master itself.
    for (const s of sentinels) await s.call('SENTINEL', 'SET', service, 'quorum', '5');

    // Every sentinel's +sdown of the master, as the router's watcher receives them too.
    const downBy = new Set<number>();
    await Promise.all(
      topo.sentinels.map(async (address, i) => {
        const sub = clientOf(address);
        sub.on('message', (_channel: string, message: string) => {
          if (message.startsWith(`master ${service} `)) downBy.add(i);
        });
        await sub.subscribe('+sdown');
      }),
    );

    router = makeRouter('discovery', topo, { readFrom: 'replica-preferred' });
    await router.ready();
    const r = router;
    await r.execute('write', (c) => c.set('fresh:key', 'v')); // the router's last master: the current one
    await until(
      async () => (await r.execute('read', (c) => c.get('fresh:key'))) === 'v',
      10_000,
      'the key on a replica',
    );

    const old = await topo.pauseMaster();
    await until(
      () => downBy.size === topo.sentinels.length,
      15_000,
      'every sentinel to report the master down',
    );

    // A replica becomes master by hand; the sentinels are told to watch it instead. No
    // +switch-master is published, and none of them lists a usable replica of it yet.
    const promoted = topo.nodes.find((n) => !sameNode(n, old)) as NodeAddress;
    const node = clientOf(promoted);
    await node.call('REPLICAOF', 'NO', 'ONE');
    for (const s of sentinels) {
      await s.call('SENTINEL', 'REMOVE', service);
      await s.call('SENTINEL', 'MONITOR', service, promoted.host, String(promoted.port), '5');
      await s.call('SENTINEL', 'SET', service, 'down-after-milliseconds', '1000');
    }
    const replicas = (await sentinels[0]?.call('SENTINEL', 'REPLICAS', service)) as unknown[];
    expect(replicas).toEqual([]); // the situation under test: no replica to read

    // The read is served by the master the sentinels name now.
    await expect(r.execute('read', (c) => c.get('fresh:key'))).resolves.toBe('v');
  });
});
