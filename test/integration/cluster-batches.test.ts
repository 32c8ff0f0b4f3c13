/**
 * Batches (getMany, setMany, deleteMany) and tag stamps on routers.cluster while the cluster
 * changes under them (real Redis Cluster, 3 masters + 3 replicas):
 *
 * - a slot holding ~750 keys migrates to another master and back, 10 keys per MIGRATE (as
 *   `redis-cli --cluster reshard` moves them), while batches loop over keys of that slot and
 *   of every other shard: every key must get its right answer (compared with what was
 *   written), and no call may fail;
 * - three coordinated CLUSTER FAILOVERs (one per shard) while batches loop with ignoreErrors:
 *   no MOVED may escape, every failure is a named CacheError, and what getMany returns is
 *   what was written.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { CacheError, IncompleteError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { slotOf } from '../../src/routers/cluster/slot-map.js';
import { routers } from '../../src/routers/index.js';
import { type ClusterTopology, startCluster } from '../../src/topology/index.js';
import { migrateSlot } from './cluster-helpers.js';

let topo: ClusterTopology;

beforeAll(async () => {
  topo = await startCluster({ shards: 3, replicasPerShard: 1, nodeTimeoutMs: 1000 });
});

afterAll(async () => {
  await topo?.stop();
});

/** What loops saw: calls, failures (the first ones kept, as `name: message (cause)`), wrong answers. */
class Findings {
  readonly errors: string[] = [];
  readonly thrown: unknown[] = [];
  readonly wrong: string[] = [];
  calls = 0;
  failures = 0;
  slowestMs = 0;

  error(err: unknown): void {
    if (++this.failures > 20) return;
    this.thrown.push(err);
    const describe = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    const cause = err instanceof Error && err.cause !== undefined ? ` (cause ${describe(err.cause)})` : '';
    this.errors.push(`${describe(err)}${cause}`);
  }

  /** `got` must hold exactly `expected` (a Map of key → value). */
  compare(what: string, got: Map<string, unknown>, expected: ReadonlyMap<string, unknown>): void {
    let missing = 0;
    let different = 0;
    for (const [key, value] of expected) {
      if (!got.has(key)) missing++;
      else if (got.get(key) !== value) different++;
    }
    const extra = [...got.keys()].filter((k) => !expected.has(k)).length;
    if (missing + different + extra > 0) {
      this.wrongAnswer(`${what}: ${missing} missing, ${different} different, ${extra} unexpected`);
    }
  }

  wrongAnswer(what: string): void {
    if (this.wrong.length < 20) this.wrong.push(what);
  }
}

/** Runs `step` again and again until `stop()`; counts calls, records what `step` throws. */
function loop(findings: Findings, step: () => Promise<void>) {
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      findings.calls++;
      const t0 = performance.now();
      try {
        await step();
      } catch (err) {
        findings.error(err);
        await sleep(10);
      }
      findings.slowestMs = Math.max(findings.slowestMs, performance.now() - t0);
    }
  })();
  return async () => {
    stopped = true;
    await done;
  };
}

describe('cluster batches while a slot migrates', () => {
  const PREFIX = 'mig';
  /** User keys `{m}:...` and tags `{m}...` hash to the slot of 'm' (the key prefix is outside the braces). */
  const slot = slotOf('m');
  let cache: Cache;

  beforeAll(() => {
    cache = createCache({
      // A long command timeout: nothing in this test is slow on purpose, and a loaded machine
      // must not turn into a spurious failure.
      router: routers.cluster({ ...topo.routerOptions(), commandTimeoutMs: 3000 }),
      keyPrefix: PREFIX,
    });
  });

  afterAll(async () => {
    await cache?.close();
  });

  it('every key of getMany/setMany/deleteMany and of tagged entries gets its right answer, no call fails', async () => {
    const home = topo.shardOfSlot(slot);
    expect(topo.firstSlot(home)).not.toBe(slot);
    const from = await topo.currentMaster(home);
    const to = await topo.currentMaster((home + 1) % topo.shardCount);

    // Read set: 700 keys in the migrating slot, 280 spread over every shard, 20 tagged entries
    // (in the slot, with tags whose stamps are in the slot too: one stamp exists, one not).
    const known = new Map<string, unknown>();
    for (let i = 0; i < 700; i++) known.set(`{m}:r:${i}`, `r${i}`);
    for (let i = 0; i < 280; i++) known.set(`spread:r:${i}`, i);
    await cache.setMany(known);
    await cache.invalidateTags(['{m}t1']);
    for (let i = 0; i < 20; i++) {
      await cache.set(`{m}:tagged:${i}`, `t${i}`, { tags: ['{m}t1', '{m}t2'] });
      known.set(`{m}:tagged:${i}`, `t${i}`);
    }
    const readKeys = [...known.keys()];
    expect((await cache.getMany(readKeys)).size).toBe(1000);

    const writeKeys = [
      ...Array.from({ length: 40 }, (_, i) => `{m}:w:${i}`),
      ...Array.from({ length: 40 }, (_, i) => `spread:w:${i}`),
    ];

    // Two readers: the keys of the slot alone (one slot, one master), and all of them.
    const slotOnly = new Map([...known].filter(([k]) => k.startsWith('{m}')));
    const reads = new Findings();
    const writes = new Findings();
    const slotReads = new Findings();
    const stopSlotReads = loop(slotReads, async () => {
      slotReads.compare('getMany of the slot', await cache.getMany([...slotOnly.keys()]), slotOnly);
    });
    const stopReads = loop(reads, async () => {
      reads.compare('getMany', await cache.getMany(readKeys), known);
    });
    let generation = 0;
    const stopWrites = loop(writes, async () => {
      const g = ++generation;
      const entries = new Map(writeKeys.map((k) => [k, `g${g}`]));
      await cache.setMany(entries);
      writes.compare('getMany after setMany', await cache.getMany(writeKeys), entries);
      await cache.set('{m}:tagged:w', g, { tags: ['{m}t3', '{m}t4'] });
      if ((await cache.get('{m}:tagged:w')) !== g) writes.wrongAnswer('tagged get after set');
      await cache.invalidateTags(['{m}t3', '{m}t4']);
      if ((await cache.get('{m}:tagged:w')) !== undefined)
        writes.wrongAnswer('tagged get after invalidateTags');
      const deleted = await cache.deleteMany(writeKeys);
      if (deleted !== writeKeys.length)
        writes.wrongAnswer(`deleteMany deleted ${deleted} of ${writeKeys.length}`);
      writes.compare('getMany after deleteMany', await cache.getMany(writeKeys), new Map());
      // deletePattern scans every master: the importing node's SCAN finds keys it may not serve yet.
      await cache.setMany(writeKeys.map((k) => [`${k}:p${g}`, g] as const));
      const unlinked = await cache.deletePattern(`*:p${g}`);
      if (unlinked !== writeKeys.length)
        writes.wrongAnswer(`deletePattern deleted ${unlinked} of ${writeKeys.length}`);
    });

    let movedThere = 0;
    let movedBack = 0;
    const before = { slot: 0, all: 0, writes: 0 };
    try {
      // Calls that start once the migration has begun (the loops are warm by then).
      Object.assign(before, { slot: slotReads.calls, all: reads.calls, writes: writes.calls });
      movedThere = await migrateSlot(topo, slot, from, to);
      movedBack = await migrateSlot(topo, slot, to, from);
    } finally {
      await stopSlotReads();
      await stopReads();
      await stopWrites();
    }
    const loops = {
      'getMany of the slot (720 keys)': slotReads,
      'getMany (1000 keys)': reads,
      'write rounds': writes,
    };
    console.log(
      `[cluster migration] slot ${slot}: ${movedThere} keys moved there, ${movedBack} back, 10 per MIGRATE`,
      ...Object.entries(loops).map(
        ([what, f]) =>
          `\n  ${what}: ${f.calls} calls, ${f.wrong.length} wrong, ${f.failures} failed, slowest ${f.slowestMs.toFixed(0)} ms`,
      ),
      ...Object.values(loops)
        .flatMap((f) => [...f.wrong, ...f.errors])
        .slice(0, 6)
        .map((w) => `\n  ${w}`),
    );
    expect(movedThere).toBeGreaterThan(700);
    // The loops really ran while the slot was split.
    expect(slotReads.calls - before.slot).toBeGreaterThan(5);
    expect(reads.calls - before.all).toBeGreaterThan(5);
    expect(writes.calls - before.writes).toBeGreaterThan(2);
    for (const [what, f] of Object.entries(loops)) {
      expect(f.errors, `${what}: failures`).toEqual([]);
      expect(f.wrong, `${what}: wrong answers`).toEqual([]);
    }
    // The slot is home again: the topology's own view of shards holds for the other tests.
    await topo.waitForHealthy(30_000);
  });
});

describe('cluster batches through CLUSTER FAILOVERs', () => {
  it('with ignoreErrors, no MOVED escapes a batch, every failure is named, getMany returns what was written', async () => {
    const cache = createCache({
      router: routers.cluster(topo.routerOptions()),
      keyPrefix: 'fo',
      ignoreErrors: true,
    });
    const known = new Map(Array.from({ length: 300 }, (_, i) => [`r:${i}`, `r${i}`] as const));
    const writeKeys = Array.from({ length: 90 }, (_, i) => `w:${i}`);
    const findings = new Findings();
    const readsWithMisses = { calls: 0, missing: 0 };
    try {
      await cache.setMany(known);
      const readKeys = [...known.keys()];
      const stopReads = loop(findings, async () => {
        const got = await cache.getMany(readKeys);
        // ignoreErrors turns a failed node's keys into misses (honest); what is returned must be right.
        if (got.size < known.size) {
          readsWithMisses.calls++;
          readsWithMisses.missing += known.size - got.size;
        }
        const present = new Map([...known].filter(([k]) => got.has(k)));
        findings.compare('getMany', got, present);
      });
      let g = 0;
      const stopWrites = loop(findings, async () => {
        g++;
        await cache.setMany(writeKeys.map((k) => [k, g] as const));
        await cache.deleteMany(writeKeys);
      });
      try {
        for (let shard = 0; shard < topo.shardCount; shard++) await topo.failover(shard);
      } finally {
        await stopReads();
        await stopWrites();
      }
    } finally {
      await cache.close();
    }
    console.log(
      `[cluster CLUSTER FAILOVER x3] ${findings.calls} batch calls, ${findings.failures} thrown, ` +
        `${readsWithMisses.calls} getMany calls with misses (${readsWithMisses.missing} keys, failures ignored)`,
    );
    expect(
      findings.errors.filter((e) => /MOVED/.test(e)),
      'MOVED escaping a batch',
    ).toEqual([]);
    // ignoreErrors absorbs transient failures; what may still reach the caller is a batch that
    // failed half-way (IncompleteError), and only because of a transient failure.
    const unexpected = findings.thrown.filter(
      (e) => !(e instanceof IncompleteError && e.cause instanceof CacheError && e.cause.transient),
    );
    expect(unexpected.map(String), 'errors ignoreErrors should have absorbed').toEqual([]);
    expect(findings.wrong).toEqual([]);
    await topo.waitForHealthy(60_000);
  });
});
