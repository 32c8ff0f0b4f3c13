/**
 * Rollback detection when Sentinel promotes the *resumed old master* back before it resynced
 * (what the first chaos campaign of issue 24 saw: an old master at offset 1,640,402 promoted
 * while the master it replaced was at 2,003,173; counters went back, acknowledged writes
 * vanished; cf. redis/redis#13533). Both Sentinel routers, on one topology (master A, replicas
 * B and C, 3 sentinels), each with a near cache and instrumented:
 *
 *   A paused (SIGSTOP) → the sentinels fail over to B → the caches write to B (acknowledged
 *   writes, an incr counter) → A resumed; Sentinel reconfigures it as B's replica ~8 s later →
 *   before A holds B's writes, SENTINEL FAILOVER promotes A.
 *
 * Per router kind, two caches: a steady writer (incr + a unique key, from B's promotion until
 * after A's) and a sparse one (a few writes right after B's promotion, then reads only: a
 * mostly-reading cache, whose last acknowledged point on B is below the bytes A holds).
 *
 * How the sequence is made deterministic (Redis 7.0 replication.c and sentinel.c):
 * - Only A can be promoted at the second failover, only B at the first: C has
 *   `replica-priority 0` (sentinelSelectSlave skips it; the test waits until every sentinel has
 *   read it from INFO).
 * - A cannot resync partially from B: after A is resumed (still a master until Sentinel
 *   converts it, which sentinel.c does only after it has reported role:master for 4 × the
 *   publish period, 8 s), it takes a 64 KB write B never sees — as a resumed master takes the
 *   writes that queued while it was paused. Its offset is then past B's `second_repl_offset`
 *   (where B's copy of A's history ends), and masterTryPartialResynchronization refuses a PSYNC
 *   past it: a full resync is the only way.
 * - That full resync does not start: B has `repl-diskless-sync yes` (the topology's) with
 *   `repl-diskless-sync-delay 60`, so B waits 60 s for more replicas before it streams the RDB,
 *   far longer than the test (it sends newlines meanwhile, so A's link does not time out).
 *   A keeps its old data and history; the test waits until A reports role:slave of B, link
 *   down, and B lists A as `state=wait_bgsave` (the PSYNC refused, the RDB not started).
 * - Sentinel accepts A: not down, priority 100, and `master_link_down_since_seconds:-1` (a
 *   former master that never completed a sync; repl_down_since is 0), which passes the
 *   "link down < 10 × down-after" rule. SENTINEL FAILOVER is retried while a sentinel answers
 *   NOGOODSLAVE (its INFO of A not refreshed yet).
 * The negative: the same sequence with `repl-diskless-sync-delay 0`; the test waits until A
 * has synced (link up, serving B's history) and holds the offset B had then, before SENTINEL
 * FAILOVER: nothing is lost, and nothing may be reported. (Link up alone is not enough: once
 * it promoted A with its link up and serving B's history, but still 6 KB short — Redis 7
 * streams to a replica after a diskless sync only once it acknowledged the RDB — and the
 * routers rightly reported that rollback: 55 acknowledged writes lost.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { CacheError } from '../../src/core/errors.js';
import type { RollbackEvent } from '../../src/core/events.js';
import { createCache } from '../../src/create-cache.js';
import { instrument, METRICS } from '../../src/telemetry/index.js';
import { startTopology } from '../../src/topology/index.js';
import type { NodeAddress, Topology } from '../../src/topology/types.js';
import { point, testMeterProvider } from '../fixtures/metrics.js';
import { until } from '../fixtures/until.js';
import {
  makeRouter,
  onNode,
  ROUTER_KINDS,
  type RouterKind,
  replication,
  sameNode,
  sentinelPriorities,
  type TestRouter,
} from './router-helpers.js';

/** "No hang": every cache operation settles within this (command timeouts, fence waits, reconnects). */
const NO_HANG_MS = 10_000;
/** Sparse writers: this many rounds (incr + a unique key), one every SPARSE_GAP_MS (> the 250 ms sampling period). */
const SPARSE_ROUNDS = 8;
const SPARSE_GAP_MS = 250;
/** Written on the resumed old master before Sentinel converts it: its history diverges from B's. */
const RESUMED_WRITE_BYTES = 64 * 1024;

type Writer = 'steady' | 'sparse';

interface Client {
  label: string;
  kind: RouterKind;
  writer: Writer;
  prefix: string;
  router: TestRouter;
  cache: Cache;
  rollbacks: { at: number; event: RollbackEvent }[];
  flushes: { at: number; reason: string }[];
  /** Acknowledged writes of unique keys (`w:<n>`). */
  acks: { key: string; at: number }[];
  /** Acknowledged `incr('ctr')` results, in order. */
  incrs: { at: number; value: number }[];
  errors: { at: number; name: string; named: boolean; message: string }[];
  maxOpMs: number;
  seq: number;
}

/** `state=` of `replica` in a master's INFO replication (`slaveN:ip=...,port=...,state=...`). */
function replicaState(info: Record<string, string>, replica: NodeAddress): string | undefined {
  for (const [k, v] of Object.entries(info)) {
    if (!/^slave\d+$/.test(k)) continue;
    const f = Object.fromEntries(v.split(',').map((kv) => kv.split('=') as [string, string]));
    if (Number(f.port) === replica.port) return f.state;
  }
  return undefined;
}

/** Runs one cache operation, recording its failure (by name) and its duration. */
async function op<T>(c: Client, fn: () => Promise<T>): Promise<{ value: T } | undefined> {
  const t0 = performance.now();
  try {
    return { value: await fn() };
  } catch (error) {
    c.errors.push({
      at: performance.now(),
      name: (error as Error)?.name ?? typeof error,
      named: error instanceof CacheError,
      message: String((error as Error)?.message ?? error),
    });
    await sleep(20);
    return undefined;
  } finally {
    c.maxOpMs = Math.max(c.maxOpMs, performance.now() - t0);
  }
}

/** One round of writes: `incr('ctr')`, then a unique key. */
async function writeRound(c: Client): Promise<void> {
  const n = await op(c, () => c.cache.incr('ctr', 1, { ignoreKeyCheck: true }));
  if (n !== undefined) c.incrs.push({ at: performance.now(), value: n.value });
  const key = `w:${c.seq++}`;
  if ((await op(c, () => c.cache.set(key, key))) !== undefined) c.acks.push({ key, at: performance.now() });
}

/** Reads `key` until a read is answered from the near cache's memory. */
async function holdInNearCache(c: Client, key: string): Promise<void> {
  await until(
    async () => {
      const before = c.cache.stats().nearCache?.hits ?? 0;
      await c.cache.get(key);
      return (c.cache.stats().nearCache?.hits ?? 0) > before;
    },
    10_000,
    `${c.label}: the near cache to hold ${key}`,
  );
}

/** Acknowledged keys of `c` absent on `address`. */
async function missingOn(topo: Topology, address: NodeAddress, c: Client, acks = c.acks) {
  if (acks.length === 0) return [];
  const present = await onNode(topo, address, (x) =>
    x.pipeline(acks.map((a) => ['exists', `${c.prefix}:1:${a.key}`])).exec(),
  );
  return acks.filter((_, i) => present?.[i]?.[1] !== 1);
}

function decreases(incrs: { value: number }[]): number {
  let n = 0;
  for (let i = 1; i < incrs.length; i++) if ((incrs[i]?.value ?? 0) <= (incrs[i - 1]?.value ?? 0)) n++;
  return n;
}

describe('Sentinel promotes the resumed old master before it resynced (both Sentinel routers)', () => {
  let topo: Topology;
  let A: NodeAddress;
  let B: NodeAddress;
  let C: NodeAddress;

  beforeAll(async () => {
    topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
    A = await topo.currentMaster();
    [B, C] = topo.nodes.filter((n) => !sameNode(n, A)) as [NodeAddress, NodeAddress];
    // C is never promoted: B at the first failover, A at the second.
    await onNode(topo, C, (x) => x.config('SET', 'replica-priority', '0'));
    await until(
      async () => (await sentinelPriorities(topo, C)).every((p) => p === '0'),
      30_000,
      'the sentinels to see replica-priority 0 on C',
    );
  });

  afterAll(async () => {
    await topo?.resumeMaster().catch(() => {});
    await topo?.stop();
  });

  /**
   * The whole sequence, with `caughtUp` deciding whether A syncs from B before it is promoted.
   * Returns what was observed; the tests judge it.
   */
  async function scenario(caughtUp: boolean) {
    await topo.waitForHealthy(30_000);
    expect(await topo.currentMaster()).toEqual(A);
    const tag = caughtUp ? 'caught-up' : 'held';
    const metrics = testMeterProvider();
    const clients: Client[] = [];
    const log: Record<string, unknown> = {};
    let stopLoad = false;
    const loops: Promise<void>[] = [];
    try {
      for (const kind of ROUTER_KINDS) {
        for (const writer of ['steady', 'sparse'] as const) {
          const label = `${kind}-${writer}`;
          const prefix = `rbr-${tag}-${label}`;
          const router = makeRouter(kind, topo);
          const cache = createCache({ router, nearCache: true, keyPrefix: prefix });
          const c: Client = {
            label,
            kind,
            writer,
            prefix,
            router,
            cache,
            rollbacks: [],
            flushes: [],
            acks: [],
            incrs: [],
            errors: [],
            maxOpMs: 0,
            seq: 0,
          };
          cache.on('rollback', (event) => c.rollbacks.push({ at: performance.now(), event }));
          cache.on('near-flush', (e) => c.flushes.push({ at: performance.now(), reason: e.reason }));
          instrument(cache, { meterProvider: metrics.provider, name: label });
          clients.push(c);
        }
      }
      await Promise.all(clients.map((c) => c.cache.ready()));

      // On A: a counter at 3 and `held`, replicated to B before A is paused (nothing of ours is
      // lost at the first failover).
      for (const c of clients) {
        for (let i = 0; i < 3; i++) await writeRound(c);
        await c.cache.set('held', 'on-A');
      }
      const aOffset = Number((await replication(topo, A)).master_repl_offset);
      await until(
        async () => Number((await replication(topo, B)).master_repl_offset) >= aOffset,
        10_000,
        'B to hold what A acknowledged',
      );

      // 1. A paused: the sentinels fail over to B.
      expect(await topo.pauseMaster()).toEqual(A);
      expect(await topo.waitForNewMaster(30_000, A)).toEqual(B);
      const tB = performance.now();
      await until(
        async () => (await replication(topo, B)).role === 'master',
        10_000,
        'B to answer as master',
      );
      const bInfo = await replication(topo, B);
      // B's copy of A's history ends at second_repl_offset - 1: beyond it, B's history is its own.
      const branchAt = Number(bInfo.second_repl_offset) - 1;
      log.b = { replid: bInfo.master_replid, replid2: bInfo.master_replid2, branchAt };
      // Hold (or not) the full resync B will owe A.
      await onNode(topo, B, (x) => x.config('SET', 'repl-diskless-sync-delay', caughtUp ? '0' : '60'));

      // 2. The caches write to B. Sparse writers first, while B's offset is still near branchAt.
      for (const c of clients) {
        await until(
          async () => (await op(c, () => c.cache.set('held', 'on-B'))) !== undefined,
          15_000,
          `${c.label} to write to B`,
        );
        await holdInNearCache(c, 'held');
      }
      const sparse = clients.filter((c) => c.writer === 'sparse');
      for (let i = 0; i < SPARSE_ROUNDS; i++) {
        await Promise.all(sparse.map((c) => writeRound(c)));
        await sleep(SPARSE_GAP_MS);
      }
      for (const c of clients) {
        loops.push(
          (async () => {
            while (!stopLoad) {
              if (c.writer === 'steady') await writeRound(c);
              else await op(c, () => c.cache.get('held'));
              await sleep(c.writer === 'steady' ? 2 : 100);
            }
          })(),
        );
      }
      await until(
        () => clients.filter((c) => c.writer === 'steady').every((c) => c.acks.length > 200),
        15_000,
        'steady writes on B',
      );
      const beforeResume = clients.map((c) => c.rollbacks.length);

      // 3. A resumed: a master until Sentinel converts it; it takes a write B never sees.
      await topo.resumeMaster();
      await onNode(topo, A, (x) => x.set(`rbr-${tag}-resumed`, 'x'.repeat(RESUMED_WRITE_BYTES)));
      await until(
        async () => {
          const r = await replication(topo, A);
          if (r.role !== 'slave' || r.master_host !== B.host || Number(r.master_port) !== B.port)
            return false;
          if (caughtUp) return r.master_link_status === 'up' && r.master_replid === bInfo.master_replid;
          // B refused A's PSYNC and holds its full resync: A is listed waiting for the RDB.
          return (
            r.master_link_status === 'down' && replicaState(await replication(topo, B), A) === 'wait_bgsave'
          );
        },
        30_000,
        caughtUp ? 'A to resync from B' : "A to be B's replica, its full resync held by B",
      );
      if (caughtUp) {
        // Synced is not caught up: after a diskless sync B streams to A only once A has
        // acknowledged the RDB (Redis 7), so A's link can be up while B still holds writes for
        // it. Caught up: A holds what B held after A's link came up.
        const bOffset = Number((await replication(topo, B)).master_repl_offset);
        await until(
          async () => Number((await replication(topo, A)).master_repl_offset) >= bOffset,
          15_000,
          'A to hold what B held',
        );
      }
      const aBefore = await replication(topo, A);
      log.aBeforePromotion = {
        replid: aBefore.master_replid,
        offset: Number(aBefore.master_repl_offset),
        link: aBefore.master_link_status,
        stateOnB: replicaState(await replication(topo, B), A),
        linkDownSince: aBefore.master_link_down_since_seconds,
      };

      // 4. SENTINEL FAILOVER: A is the only candidate.
      await until(
        async () => {
          await topo.failover();
          return true;
        },
        20_000,
        'a sentinel to accept SENTINEL FAILOVER',
        250,
      );
      const promoted = await topo.waitForNewMaster(30_000, B);
      const tSwitch = performance.now();
      const aAfter = await replication(topo, A);
      log.aAfterPromotion = {
        replid: aAfter.master_replid,
        replid2: aAfter.master_replid2,
        secondOffset: Number(aAfter.second_repl_offset),
        offset: Number(aAfter.master_repl_offset),
      };

      // Not a precondition: a cache without one is judged below, with everything else it saw.
      if (!caughtUp)
        await until(() => clients.every((c) => c.rollbacks.length > 0), 15_000, 'a rollback event').catch(
          () => {},
        );
      // The routers follow: writes land on A.
      await until(
        () =>
          clients
            .filter((c) => c.writer === 'steady')
            .every((c) => c.acks.some((a) => a.at > tSwitch + 1000)),
        20_000,
        'steady writes after the switch',
      );
      // The check runs at the switch; give it time to answer (it is looked for, not awaited).
      await sleep(2000);
      stopLoad = true;
      await Promise.all(loops);
      // Every cache once more, after the switch: a write (with its incr) and the held key.
      const held: Record<string, unknown> = {};
      for (const c of clients) {
        await until(
          async () => {
            const before = c.incrs.length;
            await writeRound(c);
            if (c.incrs.length > before) return true;
            throw new Error(`${c.errors.at(-1)?.name}: ${c.errors.at(-1)?.message}`);
          },
          15_000,
          `${c.label} to write after the switch`,
        );
        held[c.label] = await c.cache.get('held');
      }
      const m = await metrics.collect();

      const results = [];
      for (const c of clients) {
        const lost = await missingOn(topo, A, c);
        const after = c.acks.filter((a) => a.at > tSwitch);
        results.push({
          c,
          lost,
          // Acknowledged by B from its promotion on, then lost: from the switch to B to the last one.
          lostWindowMs: lost.length === 0 ? 0 : (lost.at(-1)?.at ?? tB) - tB,
          landedOnA: after.length - (await missingOn(topo, A, c, after)).length,
          decreases: decreases(c.incrs),
          held: held[c.label],
          telemetry: point<number>(m.get(METRICS.rollbacks), { 'cache.name': c.label })?.value ?? 0,
          rollbacksBeforeResume: beforeResume[clients.indexOf(c)],
          cacheStats: c.cache.stats().rollbacks,
          routerStats: c.router.stats().rollbacks,
        });
      }
      return {
        promoted,
        tSwitch,
        branchAt,
        bReplid: bInfo.master_replid,
        aReplidBefore: aBefore.master_replid,
        aBefore: Number(aBefore.master_repl_offset),
        results,
        log,
      };
    } finally {
      stopLoad = true;
      await Promise.all(loops);
      await topo.resumeMaster().catch(() => {});
      await onNode(topo, B, (x) => x.config('SET', 'repl-diskless-sync-delay', '0')).catch(() => {});
      for (const c of clients) await c.cache.close().catch(() => {});
      await metrics.shutdown();
    }
  }

  /** What both cases print of a cache's run, beside their own fields. */
  function outcome(r: Awaited<ReturnType<typeof scenario>>['results'][number]) {
    return {
      label: r.c.label,
      lost: r.lost.length,
      decreases: r.decreases,
      errors: r.c.errors.length,
      errorNames: [...new Set(r.c.errors.map((e) => e.name))],
      maxOpMs: Math.round(r.c.maxOpMs),
    };
  }

  function commonChecks(r: Awaited<ReturnType<typeof scenario>>['results'][number]) {
    const { c } = r;
    // No hang, named errors only.
    expect(c.maxOpMs, `${c.label}: slowest operation`).toBeLessThan(NO_HANG_MS);
    expect(
      c.errors.filter((e) => !e.named),
      `${c.label}: errors that are not a CacheError`,
    ).toEqual([]);
    // The router follows the new master: writes after the switch land on A.
    expect(r.landedOnA, `${c.label}: writes after the switch on A`).toBeGreaterThan(0);
  }

  it('reported: rollback event (old/new master, offsets, window), counted, near cache flushed, data really gone', async () => {
    const s = await scenario(false);
    expect(s.promoted).toEqual(A);
    // A held its own history only, with more bytes than B had when it branched off: promoted
    // with nothing of B's.
    expect(s.aReplidBefore).not.toBe(s.bReplid);
    expect(s.aBefore).toBeGreaterThan(s.branchAt);
    const summary = s.results.map((r) => ({
      ...outcome(r),
      events: r.c.rollbacks.map((x) => ({
        ...x.event,
        afterSwitchMs: Math.round(x.at - s.tSwitch),
      })),
      lostWindowMs: Math.round(r.lostWindowMs),
    }));
    console.log(JSON.stringify({ log: s.log, summary }, null, 1));
    for (const r of s.results) {
      const { c } = r;
      commonChecks(r);
      // The first failover (A paused, B caught up) lost nothing of ours: no report then.
      expect(r.rollbacksBeforeResume, `${c.label}: rollbacks before A was resumed`).toBe(0);
      // The data really went back: acknowledged writes gone, the counter lower than it was.
      expect(r.lost.length, `${c.label}: acknowledged writes missing on A`).toBeGreaterThan(0);
      expect(r.decreases, `${c.label}: times incr returned no more than before`).toBeGreaterThan(0);
      // Reported once, naming both masters and where A's copy of our history ends: where B's
      // history branched off A's (A's own bytes past it are not ours).
      expect(
        c.rollbacks.map((x) => x.event),
        `${c.label}: rollback events`,
      ).toEqual([
        {
          service: topo.service,
          from: B,
          to: A,
          ackedOffset: expect.any(Number),
          promotedOffset: s.branchAt,
          estimatedLostMs: expect.any(Number),
        },
      ]);
      const e = c.rollbacks[0]?.event as RollbackEvent;
      expect(e.ackedOffset, `${c.label}: ackedOffset`).toBeGreaterThan(s.branchAt);
      // The window: from B's promotion to the last write of ours B acknowledged, within a few periods.
      expect(e.estimatedLostMs, `${c.label}: estimatedLostMs`).toBeGreaterThan(r.lostWindowMs / 2);
      expect(e.estimatedLostMs, `${c.label}: estimatedLostMs`).toBeLessThan(r.lostWindowMs + 3000);
      // Counted in stats and telemetry.
      expect(r.cacheStats, `${c.label}: cache stats`).toBe(1);
      expect(r.routerStats, `${c.label}: router stats`).toBe(1);
      expect(r.telemetry, `${c.label}: ${METRICS.rollbacks}`).toBe(1);
      // The near cache was flushed for it, and B's value of `held` did not survive.
      expect(
        c.flushes.filter((f) => f.reason === 'rollback'),
        `${c.label}: near-cache flushes for the rollback`,
      ).toHaveLength(1);
      expect(r.held, `${c.label}: held after the rollback`).toBe('on-A');
    }
  }, 120_000);

  it('not reported when the old master resynced before its promotion: nothing lost, nothing reported', async () => {
    const s = await scenario(true);
    expect(s.promoted).toEqual(A);
    const summary = s.results.map((r) => ({
      ...outcome(r),
      events: r.c.rollbacks.length,
    }));
    console.log(JSON.stringify({ log: s.log, summary }, null, 1));
    for (const r of s.results) {
      const { c } = r;
      commonChecks(r);
      expect(
        { lost: r.lost.length, decreases: r.decreases, rollbacks: c.rollbacks.map((x) => x.event) },
        `${c.label}: nothing lost, nothing reported`,
      ).toEqual({ lost: 0, decreases: 0, rollbacks: [] });
      expect(r.cacheStats, `${c.label}: cache stats`).toBe(0);
      expect(r.routerStats, `${c.label}: router stats`).toBe(0);
      expect(r.telemetry, `${c.label}: ${METRICS.rollbacks}`).toBe(0);
      expect(r.held, `${c.label}: held`).toBe('on-B');
    }
  }, 120_000);
});
