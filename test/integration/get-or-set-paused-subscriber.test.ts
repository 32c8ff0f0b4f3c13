/**
 * getOrSet's fill subscriber (the pub/sub connection its waiters listen on) when its node is
 * paused (SIGSTOP): its commands are bounded like every data connection's, so it fails with a
 * named error, is dropped, and a new one is opened on the next wait; the waiter still gets the
 * holder's value. No failover here (one master, down-after far beyond the pause): nothing else
 * would replace the subscriber.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { CommandTimeoutError } from '../../src/core/errors.js';
import type { CacheEventMap } from '../../src/core/events.js';
import { createCache } from '../../src/create-cache.js';
import { startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';
import { uniquePrefix } from './cache-suite.js';
import { makeRouter, ROUTER_KINDS } from './router-helpers.js';

let topo: Topology;
const caches: Cache[] = [];

beforeAll(async () => {
  topo = await startTopology({ provider: 'process', replicas: 0, sentinels: 1, downAfterMs: 60_000 });
});

afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()));
  await topo?.resumeMaster();
  await topo?.stop();
});

describe.each(ROUTER_KINDS)('%s router: the fill subscriber on a paused node', (kind) => {
  it('fails with CommandTimeoutError, is dropped and reopened; the waiter gets the holder’s value', async () => {
    const prefix = uniquePrefix(`gos-paused-${kind}`);
    const holder = createCache({ router: makeRouter(kind, topo), keyPrefix: prefix });
    const waiter = createCache({ router: makeRouter(kind, topo), keyPrefix: prefix });
    caches.push(holder, waiter);
    const errors: Array<CacheEventMap['error']> = [];
    waiter.on('error', (e) => errors.push(e));

    let release!: () => void;
    let running!: () => void;
    const gate = new Promise<void>((done) => {
      release = done;
    });
    const started = new Promise<void>((done) => {
      running = done;
    });
    const holding = holder.getOrSet(
      'k',
      async () => {
        running();
        await gate;
        return 'from-holder';
      },
      { lockTimeout: '30s' },
    );
    await started;
    let calls = 0;
    const waiting = waiter.getOrSet(
      'k',
      () => {
        calls++;
        return 'from-waiter';
      },
      { lockTimeout: '30s' },
    );
    const channel = `${prefix}:__fill__:${prefix}:1:k`;
    const { host, port } = await topo.currentMaster();
    const master = new Redis({ host, port });
    const listening = (what: string) =>
      until(async () => ((await master.pubsub('NUMSUB', channel)) as [string, number])[1] > 0, 10_000, what);
    try {
      await listening('the waiter to listen on the fill channel');
      await topo.pauseMaster();
      const paused = Date.now();
      try {
        // The waiter's next look at Redis fails; it stops listening meanwhile, and the
        // subscriber's UNSUBSCRIBE gets no answer from the paused node.
        await until(
          () => errors.some((e) => e.operation === 'getOrSet' && e.error instanceof CommandTimeoutError),
          10_000,
          'the fill subscriber to fail with CommandTimeoutError while its node is paused',
        );
        console.log(`${kind}: fill subscriber failed ${Date.now() - paused} ms after the pause`);
      } finally {
        await topo.resumeMaster();
      }
      // The waiter listens again, on a new subscriber (the old one was disconnected).
      await listening('the waiter to listen again after the node resumed');
    } finally {
      release();
      master.disconnect();
    }
    expect(await holding).toBe('from-holder');
    // Delivered to the waiter (by a new subscriber, or its poll), not taken over after lockTimeout.
    expect(await waiting).toBe('from-holder');
    expect(calls).toBe(0);
  });
});
