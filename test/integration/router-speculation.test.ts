/**
 * Speculative discovery reads (speculativeReads, the default) on a real topology (master + 2
 * replicas + 3 sentinels, down-after 1000 ms): a read goes to the last answer's node together
 * with its sentinel query, and its reply may reach the caller only if the fresh answer names
 * that node. The router's read audit channel reports, for every reply handed to a caller, the
 * nodes the fresh answer named; the reply itself says which node produced it (the test's own
 * operation records its connection's address). The two are checked against each other, so a
 * reply from a node the answer did not name fails the test whatever the router believes.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { addressKey } from '../../src/routers/sentinel/address.js';
import { READ_AUDIT_CHANNEL, type ReadAuditMessage } from '../../src/routers/sentinel/read-audit.js';
import type { NodeAddress, ReadFrom } from '../../src/routers/types.js';
import { startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';
import {
  COMMAND_TIMEOUT_MS,
  makeRouter,
  missingOn,
  NO_HANG_BUDGET_MS,
  nodeClient,
  type TestRouter,
  WriteLoad,
} from './router-helpers.js';

/** What the test's read operation returns: the value and the node that answered. */
interface Served {
  node: string;
  value: string | null;
  startedAt: number;
}

function servedBy(client: Redis): string {
  return addressKey({ host: client.options.host as string, port: client.options.port as number });
}

/** Every reply handed to a caller, and what the router's read audit channel said about each. */
class ReadAudit {
  readonly named = new Map<object, readonly string[]>();
  readonly delivered: Served[] = [];
  /** Replies published more than once (each must be published exactly once). */
  readonly twice: unknown[] = [];

  /** Subscribes to `router`'s reads; returns the unsubscribe. */
  attach(router: TestRouter): () => void {
    const onRead = (message: unknown) => {
      const { router: from, result, named } = message as ReadAuditMessage;
      if (from !== router) return;
      if (this.named.has(result as object)) this.twice.push(result);
      this.named.set(result as object, named);
    };
    subscribe(READ_AUDIT_CHANNEL, onRead);
    return () => unsubscribe(READ_AUDIT_CHANNEL, onRead);
  }

  read(router: TestRouter, key: string): Promise<Served> {
    const startedAt = performance.now();
    return router
      .execute('read', async (c) => ({ node: servedBy(c), value: await c.get(key), startedAt }))
      .then((served) => {
        this.delivered.push(served);
        return served;
      });
  }

  /** Replies whose node the fresh answer did not name, that were never audited, or audited twice. */
  violations(): { served: Served; named: readonly string[] | undefined }[] {
    return this.delivered
      .filter((s) => !this.named.get(s)?.includes(s.node) || this.twice.includes(s))
      .map((served) => ({ served, named: this.named.get(served) }));
  }
}

/** N readers in a loop over keys the write load wrote earlier. */
class ReadLoad {
  readonly errors: { at: number; error: unknown }[] = [];
  readonly slow: number[] = [];
  private stopped = false;
  private readonly done: Promise<unknown>;

  constructor(
    private readonly router: TestRouter,
    private readonly audit: ReadAudit,
    private readonly keys: () => string[],
    readers = 10,
  ) {
    this.done = Promise.all(Array.from({ length: readers }, () => this.reader()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async reader(): Promise<void> {
    while (!this.stopped) {
      const keys = this.keys();
      const key = keys.length > 0 ? (keys[(Math.random() * keys.length) | 0] as string) : 'none';
      const t0 = performance.now();
      try {
        await this.audit.read(this.router, key);
      } catch (error) {
        this.errors.push({ at: performance.now(), error });
        await sleep(10);
      }
      const ms = performance.now() - t0;
      if (ms > NO_HANG_BUDGET_MS) this.slow.push(ms);
    }
  }
}

describe('discovery speculative reads', () => {
  let topo: Topology;
  let router: TestRouter | undefined;
  let writes: WriteLoad | undefined;
  let reads: ReadLoad | undefined;
  let paused = false;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
  });

  afterAll(async () => {
    await topo?.stop();
  });

  afterEach(async () => {
    await reads?.stop();
    await writes?.stop();
    await router?.close();
    reads = undefined;
    writes = undefined;
    router = undefined;
    for (const c of cleanups.splice(0)) await c().catch(() => {});
    if (paused) await topo.resumeMaster();
    paused = false;
    await topo.waitForHealthy(30_000);
  });

  function discovery(extra: Parameters<typeof makeRouter>[2] = {}): TestRouter {
    router = makeRouter('discovery', topo, extra);
    return router;
  }

  /** A read audit on `r` for this test (unsubscribed after it). */
  function audited(r: TestRouter): ReadAudit {
    const audit = new ReadAudit();
    const detach = audit.attach(r);
    cleanups.push(async () => detach());
    return audit;
  }

  async function mixedLoad(readFrom: ReadFrom, tag: string) {
    const r = discovery({ readFrom });
    const audit = audited(r);
    await r.ready();
    const w = new WriteLoad(r, `spec-${tag}-${Date.now()}`, 4);
    writes = w;
    await until(() => w.acks.length > 50, 10_000, 'first writes');
    reads = new ReadLoad(r, audit, () => w.acks.slice(-500).map((a) => a.key), 12);
    await until(() => (r.stats().speculation?.hits ?? 0) > 200, 10_000, 'speculative read hits');
    return { r, audit, w, reads };
  }

  async function expectNoLostWrites(w: WriteLoad): Promise<void> {
    await topo.waitForHealthy(30_000);
    const master = await topo.currentMaster();
    expect(w.acks.length).toBeGreaterThan(50);
    expect(await missingOn(topo, master, w.acks)).toEqual([]);
  }

  function expectFastNamedFailures(load: { errors: { error: unknown }[]; slow: unknown[] }): void {
    expect(load.slow, 'operations slower than the no-hang budget').toEqual([]);
    for (const { error } of load.errors) expect(error).toBeInstanceOf(CacheError);
  }

  for (const readFrom of ['master', 'replica-preferred'] as const) {
    it(`readFrom '${readFrom}', SENTINEL FAILOVER under 90/10-ish load: every reply came from a node its fresh answer named, no acknowledged write lost`, async () => {
      const { r, audit, w, reads: rl } = await mixedLoad(readFrom, `failover-${readFrom}`);
      const old = await topo.currentMaster();
      await topo.failover();
      await topo.waitForNewMaster(30_000, old);
      const tSwitch = performance.now();
      await until(() => w.ackedAfter(tSwitch).length > 50, 15_000, 'writes after the switch');
      const hitsAtSwitch = r.stats().speculation?.hits ?? 0;
      await until(
        () => (r.stats().speculation?.hits ?? 0) > hitsAtSwitch + 100,
        15_000,
        'hits after the switch',
      );
      await rl.stop();
      await w.stop();

      expect(audit.delivered.length).toBeGreaterThan(500);
      expect(audit.violations()).toEqual([]);
      expectFastNamedFailures(rl);
      expectFastNamedFailures(w);
      const spec = r.stats().speculation;
      expect(spec?.sent).toBe((spec?.hits ?? 0) + (spec?.misses ?? 0));
      await expectNoLostWrites(w);
    });

    it(`readFrom '${readFrom}', master paused (SIGSTOP) until failed over: every reply came from a node its fresh answer named, no acknowledged write lost`, async () => {
      const { r, audit, w, reads: rl } = await mixedLoad(readFrom, `pause-${readFrom}`);
      const old = await topo.currentMaster();
      await topo.pauseMaster();
      paused = true;
      await topo.waitForNewMaster(30_000, old);
      const tSwitch = performance.now();
      await until(() => w.ackedAfter(tSwitch).length > 50, 15_000, 'writes after the switch');
      await topo.resumeMaster();
      paused = false;
      await until(async () => (await topo.role(old)) === 'slave', 20_000, 'the old master to be demoted');
      const hitsNow = r.stats().speculation?.hits ?? 0;
      await until(() => (r.stats().speculation?.hits ?? 0) > hitsNow + 100, 15_000, 'hits after the switch');
      await rl.stop();
      await w.stop();

      expect(audit.violations()).toEqual([]);
      expectFastNamedFailures(rl);
      expectFastNamedFailures(w);
      if (readFrom === 'master') {
        // The paused master's reads time out: the outage was visible to readers too.
        expect(rl.errors.length).toBeGreaterThan(0);
      }
      await expectNoLostWrites(w);
    });
  }

  for (const hang of [false, true]) {
    it(`a reply from a replica the fresh answer no longer names is discarded and the read runs on the named one${hang ? " (the hung replica's timeout never surfaces)" : ''}`, async () => {
      // natMap is applied to every sentinel answer: rewriting replica A to replica B makes the
      // answers name only B, while A is a real replica the last answer still named.
      const natMap: Record<string, NodeAddress> = {};
      const r = discovery({ readFrom: 'replica', natMap });
      const audit = audited(r);
      await r.ready();
      const writer = nodeClient(topo, await topo.currentMaster());
      cleanups.push(async () => writer.disconnect());
      await writer.set('spec:key', 'v');
      await until(
        async () =>
          (await Promise.all(Array.from({ length: 6 }, () => audit.read(r, 'spec:key')))).every(
            (s) => s.value === 'v',
          ),
        10_000,
        'the key on both replicas',
      );
      // Warm: speculation hits on both replicas (round robin over the last answer).
      for (let i = 0; i < 20; i++)
        await Promise.all(Array.from({ length: 4 }, () => audit.read(r, 'spec:key')));
      const warm = new Set(audit.delivered.map((s) => s.node));
      expect(warm.size).toBe(2);
      const [a, b] = [...warm] as [string, string];
      expect(r.stats().speculation?.hits).toBeGreaterThan(50);

      if (hang) {
        // Every command on A now waits (past commandTimeoutMs): a speculative read sent there fails late.
        const aClient = nodeClient(topo, toAddress(a));
        cleanups.push(async () => {
          await aClient.call('CLIENT', 'UNPAUSE').catch(() => {});
          aClient.disconnect();
        });
        await aClient.call('CLIENT', 'PAUSE', '3000', 'ALL');
      }
      natMap[a] = toAddress(b);
      const before = r.stats().speculation ?? { sent: 0, misses: 0, reruns: 0, discardedErrors: 0 };
      const t0 = performance.now();
      // Issued together: round robin over the last answer [A, B] sends about half to A.
      const results = await Promise.all(Array.from({ length: 10 }, () => audit.read(r, 'spec:key')));
      const ms = performance.now() - t0;
      const after = r.stats().speculation ?? { sent: 0, misses: 0, reruns: 0, discardedErrors: 0 };

      expect(after.sent - before.sent).toBe(10);
      // Every read started after the rewrite: only B may have answered it.
      for (const s of results) expect(s).toMatchObject({ node: b, value: 'v' });
      expect(audit.violations()).toEqual([]);
      expect(after.misses - before.misses).toBeGreaterThan(0);
      expect(after.reruns - before.reruns).toBe(after.misses - before.misses);
      if (hang) {
        expect(ms, 'the reads did not wait for A').toBeLessThan(COMMAND_TIMEOUT_MS + 1000);
        // A's replies time out later: counted and dropped, never seen by a caller.
        await until(
          () => (r.stats().speculation?.discardedErrors ?? 0) > before.discardedErrors,
          5000,
          'the discarded speculative reads to time out',
        );
      }
    });
  }

  it('with the near cache attached, reads that reach Redis wait for their answer (the near cache keeps replies on arrival)', async () => {
    const r = discovery({ readFrom: 'master' });
    const cache = createCache({ router: r, keyPrefix: 'spec-near', nearCache: true });
    cleanups.push(() => cache.close());
    await cache.set('k', 'v');
    for (let i = 0; i < 20; i++) {
      await cache.delete(`miss-${i}`);
      expect(await cache.get(`miss-${i}`)).toBeUndefined();
      expect(await cache.get('k')).toBe('v');
    }
    expect(r.stats().speculation?.sent).toBe(0);
    // The same router without a near cache speculates.
    const plain = makeRouter('discovery', topo, { readFrom: 'master' });
    cleanups.push(() => plain.close());
    for (let i = 0; i < 20; i++) await plain.execute('read', (c) => c.get('k'));
    expect(plain.stats().speculation?.sent).toBeGreaterThan(0);
  });

  it('speculativeReads: false sends no read ahead of its answer', async () => {
    const r = discovery({ readFrom: 'master', speculativeReads: false });
    const audit = audited(r);
    await r.ready();
    for (let i = 0; i < 50; i++) await audit.read(r, 'spec:off');
    expect(r.stats().speculation).toBeUndefined();
    expect(audit.delivered).toHaveLength(50);
    expect(audit.violations()).toEqual([]);
  });
});

function toAddress(key: string): NodeAddress {
  const i = key.lastIndexOf(':');
  return { host: key.slice(0, i), port: Number(key.slice(i + 1)) };
}
