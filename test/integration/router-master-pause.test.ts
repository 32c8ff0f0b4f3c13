/**
 * `readFrom: 'replica-preferred'` reads through a master failure, 10 readers, both replicas
 * healthy: the master SIGSTOPped for 6 s (down-after 1000 ms, so the sentinels fail over
 * meanwhile), and a coordinated SENTINEL FAILOVER under a write load. In both, the sentinel
 * that leads the failover kills the client connections of the promoted replica (REPLICAOF NO
 * ONE) and of the other replica (REPLICAOF <new master>), which then resyncs: for a moment no
 * replica serves. A read still has a node that can answer it (the replica being promoted), so
 * the goal is 0 failed reads, and no read waits on the paused master.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheError } from '../../src/core/errors.js';
import { startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';
import { makeRouter, ROUTER_KINDS, type TestRouter, WriteLoad } from './router-helpers.js';

const READERS = 10;
const PAUSE_MS = 6000;

/** READERS readers of one key, each in a loop, recording every failure. */
class ReadLoad {
  reads = 0;
  readonly failures: unknown[] = [];
  readonly wrongValues: unknown[] = [];
  private stopped = false;
  private readonly done: Promise<unknown>;

  constructor(
    private readonly router: TestRouter,
    private readonly key: string,
  ) {
    this.done = Promise.all(Array.from({ length: READERS }, () => this.reader()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Failures as `name: message` with how often each occurred (a readable diff when it fails). */
  failureSummary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.failures as Error[]) {
      const cause = e.cause instanceof Error ? ` (cause ${e.cause.name}: ${e.cause.message})` : '';
      const line = `${e.name}: ${e.message}${cause}`;
      out[line] = (out[line] ?? 0) + 1;
    }
    return out;
  }

  private async reader(): Promise<void> {
    while (!this.stopped) {
      try {
        const v = await this.router.execute('read', (c) => c.get(this.key));
        if (v !== 'v') this.wrongValues.push(v);
        this.reads++;
      } catch (error) {
        this.failures.push(error);
        await sleep(10); // a failing reader does not spin
      }
    }
  }
}

describe.each(ROUTER_KINDS)('%s router: replica-preferred reads through a master failure', (kind) => {
  let topo: Topology;
  let router: TestRouter | undefined;
  let reads: ReadLoad | undefined;
  let writes: WriteLoad | undefined;
  let paused = false;

  beforeAll(async () => {
    topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
  });

  afterAll(async () => {
    await topo?.stop();
  });

  afterEach(async () => {
    await reads?.stop();
    await writes?.stop();
    reads = undefined;
    writes = undefined;
    await router?.close();
    router = undefined;
    if (paused) await topo.resumeMaster();
    paused = false;
    await topo.waitForHealthy(30_000);
  });

  async function startReads(key: string): Promise<{ r: TestRouter; l: ReadLoad }> {
    const r = makeRouter(kind, topo, { readFrom: 'replica-preferred' });
    router = r;
    await r.ready();
    await r.execute('write', (c) => c.set(key, 'v'));
    await until(
      async () => (await r.execute('read', (c) => c.get(key))) === 'v',
      10_000,
      'the key on a replica',
    );
    const l = new ReadLoad(r, key);
    reads = l;
    await until(() => l.reads > 1000, 10_000, 'steady reads');
    return { r, l };
  }

  /** The readers keep being served after the switch (what came after it counts too). */
  async function readsGoOn(l: ReadLoad): Promise<void> {
    const at = l.reads;
    await until(() => l.reads > at + 500, 15_000, 'reads after the new master');
  }

  it('master paused 6 s: 0 failed reads', async () => {
    const { r, l } = await startReads('pause:key');
    const old = await topo.currentMaster();
    const before = l.reads;
    await topo.pauseMaster();
    paused = true;
    await sleep(PAUSE_MS); // the fault itself: the master stays stopped this long
    const duringPause = l.reads - before;
    await topo.resumeMaster();
    paused = false;
    await topo.waitForNewMaster(30_000, old);
    await readsGoOn(l);
    await l.stop();

    // The figures the issue asks for (reads served, reads failed) — visible in the test log.
    console.log(
      `[${kind}] master paused ${PAUSE_MS} ms: ${l.reads} reads (${duringPause} during the pause), ${l.failures.length} failed`,
    );
    expect(l.failureSummary()).toEqual({});
    expect(l.wrongValues).toEqual([]);
    expect(duringPause).toBeGreaterThan(100);
    await r.execute('write', (c) => c.set('pause:after', '1'));
  });

  it('SENTINEL FAILOVER under a write load: 0 failed reads', async () => {
    const { r, l } = await startReads('failover:key');
    const w = new WriteLoad(r, `${kind}-failover-${Date.now()}`);
    writes = w;
    await until(() => w.acks.length > 100, 10_000, 'steady writes');
    const old = await topo.currentMaster();
    await topo.failover();
    await topo.waitForNewMaster(30_000, old);
    await until(async () => (await topo.role(old)) === 'slave', 20_000, 'the old master to be demoted');
    await readsGoOn(l);
    await l.stop();
    await w.stop();

    console.log(
      `[${kind}] SENTINEL FAILOVER: ${l.reads} reads, ${l.failures.length} failed; ` +
        `writes ${w.acks.length} acknowledged, ${w.errors.length} failed`,
    );
    expect(l.failureSummary()).toEqual({});
    expect(l.wrongValues).toEqual([]);
    // Writes fail during the promotion (held, then a named error), never hang.
    for (const { error } of w.errors) expect(error).toBeInstanceOf(CacheError);
    expect(w.slow).toEqual([]);
  });
});
