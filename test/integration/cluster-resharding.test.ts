/**
 * getOrSet, tags, one-slot atomic commands and key scans on routers.cluster while a hash slot
 * migrates (real Redis Cluster, 3 masters). While a slot is split between two masters, Redis
 * runs a multi-key command (or script) only where all its keys exist; otherwise it answers
 * TRYAGAIN, for as long as the migration lasts when one of the keys exists nowhere (getOrSet's
 * fill lock never exists beforehand). Most tests hold a slot of their own half-migrated
 * (IMPORTING / MIGRATING, some keys moved) and check every answer; others migrate a slot live,
 * 10 keys per MIGRATE, under load; the last one migrates a slot to a master just added to the
 * cluster (it serves no slot yet, so the slot map does not name it).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { createCache } from '../../src/create-cache.js';
import type { ClusterRouter } from '../../src/routers/cluster/cluster-router.js';
import { slotOf } from '../../src/routers/cluster/slot-map.js';
import { routers } from '../../src/routers/index.js';
import { type ClusterTopology, type NodeAddress, startCluster } from '../../src/topology/index.js';
import {
  addEmptyMaster,
  beginMigration,
  migrateSlot,
  nodeClient,
  type SlotMigration,
} from './cluster-helpers.js';

const PREFIX = 'resh';

let topo: ClusterTopology;
const opened: Cache[] = [];

beforeAll(async () => {
  topo = await startCluster({ shards: 3, replicasPerShard: 0, nodeTimeoutMs: 1000 });
});

afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  await topo?.stop();
});

/**
 * A cache with a router of its own (two of them behave like two processes), and the 'error'
 * events its operations emitted (a getOrSet store that failed is one; the router's own, such as
 * a slot map refresh that timed out on a loaded machine, are not counted).
 */
function newCache(keyPrefix = PREFIX): { cache: Cache; router: ClusterRouter; errors: string[] } {
  // A long command timeout: nothing here is slow on purpose, and a loaded machine must not turn
  // into a spurious failure.
  const router = routers.cluster({ ...topo.routerOptions(), commandTimeoutMs: 3000 });
  const cache = createCache({ router, keyPrefix });
  const errors: string[] = [];
  cache.on('error', ({ error, operation }) => {
    if (operation === undefined) return;
    const cause = error.cause instanceof Error ? ` (cause ${error.cause.name}: ${error.cause.message})` : '';
    errors.push(`${operation}: ${error.name}: ${error.message}${cause}`);
  });
  opened.push(cache);
  return { cache, router, errors };
}

/** The slot of hash tag `{tag}`: each test has its own, moved from its master to the next shard's. */
function slotOfTag(tag: string): { slot: number; home: number } {
  const slot = slotOf(`{${tag}}`);
  const home = topo.shardOfSlot(slot);
  // The topology names shards by their first slot: that one must stay where it is.
  expect(topo.firstSlot(home)).not.toBe(slot);
  return { slot, home };
}

/** The master of `shard` (the topology asks every node with a 1 s budget: a loaded machine may need two tries). */
async function masterOf(shard: number): Promise<NodeAddress> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await topo.currentMaster(shard);
    } catch (err) {
      if (attempt === 5) throw err;
      await sleep(200);
    }
  }
}

/** The masters a test moves the slot of `tag` between: its own, and the next shard's. */
async function endsOf(tag: string): Promise<{ slot: number; from: NodeAddress; to: NodeAddress }> {
  const { slot, home } = slotOfTag(tag);
  return { slot, from: await masterOf(home), to: await masterOf((home + 1) % topo.shardCount) };
}

async function split(tag: string): Promise<SlotMigration> {
  const { slot, from, to } = await endsOf(tag);
  return beginMigration(topo, slot, from, to);
}

/** Redis keys matching `pattern` on every master (getOrSet's lock keys are not user keys). */
async function keysOnMasters(pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const shard of await topo.shards()) {
    const node = nodeClient(shard.master, topo.auth?.password);
    try {
      found.push(...((await node.call('KEYS', pattern)) as string[]));
    } finally {
      node.disconnect();
    }
  }
  return found;
}

/** A factory that counts its calls, waits `delayMs`, then returns `value`. */
function counted<T>(value: T, delayMs = 0) {
  const factory = async () => {
    factory.calls++;
    if (delayMs > 0) await sleep(delayMs);
    return value;
  };
  factory.calls = 0;
  return factory;
}

describe.each([
  { lock: 'distributed', tagged: false },
  { lock: 'distributed', tagged: true },
  { lock: 'local', tagged: false },
  { lock: 'local', tagged: true },
] as const)('getOrSet while its slot migrates (lock: $lock, tags: $tagged)', ({ lock, tagged }) => {
  it('fills a missing key, refreshes stale values on either node, and get() finds every stored value', async () => {
    const t = `gos-${lock}-${tagged ? 'tags' : 'none'}`;
    const key = (name: string) => `{${t}}:${name}`;
    // Stamps in the migrating slot too: one exists (the tag was invalidated once), one does not.
    const tags = tagged ? [`{${t}}a`, `{${t}}b`] : [];
    const { cache: a, errors } = newCache();
    const { cache: b, errors: errorsOfB } = newCache();
    if (tagged) await a.invalidateTags([tags[0] as string]);
    const options = { lock, tags, ttl: '1h', grace: '1h' } as const;
    // Stale soon: one value stays on the source, one is written on the target once the slot is split.
    await a.set(key('on-source'), 'old', { ttl: 300, grace: '1h', tags });
    const migration = await split(t);
    try {
      await a.set(key('on-target'), 'old', { ttl: 300, grace: '1h', tags });

      // A missing key: two caches (two processes) with four callers each.
      const fill = counted('v1', 200);
      const answers = await Promise.all(
        [a, b].flatMap((cache) =>
          Array.from({ length: 4 }, () => cache.getOrSet(key('missing'), fill, options)),
        ),
      );
      expect(answers).toEqual(new Array(8).fill('v1'));
      if (lock === 'distributed') expect(fill.calls).toBe(1);
      else expect(fill.calls).toBeLessThanOrEqual(2);
      expect(await b.get(key('missing'))).toBe('v1');

      // Stale values, one on each node: the caller refreshes them.
      await sleep(350);
      for (const name of ['on-source', 'on-target']) {
        const refresh = counted(`new-${name}`);
        expect(await b.getOrSet(key(name), refresh, options)).toBe(`new-${name}`);
        expect(refresh.calls).toBe(1);
        expect(await a.get(key(name))).toBe(`new-${name}`);
      }

      if (tagged) {
        // An invalidation while the slot is split (of a tag every value here carries): the next
        // getOrSet computes again.
        await a.invalidateTags([tags[1] as string]);
        expect(await b.get(key('missing'))).toBeUndefined();
        const again = counted('v2');
        expect(await a.getOrSet(key('missing'), again, options)).toBe('v2');
        expect(again.calls).toBe(1);
      }
    } finally {
      await migration.finish();
    }
    expect(await a.get(key('missing'))).toBe(tagged ? 'v2' : 'v1');
    expect(await b.get(key('on-source'))).toBe(tagged ? undefined : 'new-on-source');
    expect(await b.get(key('on-target'))).toBe(tagged ? undefined : 'new-on-target');
    expect(await keysOnMasters(`${PREFIX}:__lock__:*${t}*`)).toEqual([]);
    expect([...errors, ...errorsOfB]).toEqual([]);
  });
});

describe('getOrSet store rules while the slot migrates', () => {
  it.each([
    { takeover: 'has stored by then', ms: 0 },
    { takeover: 'still computes then (it holds the lock)', ms: 2500 },
  ])('a holder whose lock expired stores nothing when the fill that took over $takeover', async ({ ms }) => {
    const t = `gos-takeover-${ms}`;
    const { cache: a, errors } = newCache();
    const { cache: b, errors: errorsOfB } = newCache();
    const migration = await split(t);
    try {
      // a's lock lives 500 ms, its factory 2 s: b takes over once the lock has expired.
      const slow = counted('from-a', 2000);
      const first = a.getOrSet(`{${t}}:k`, slow, { lockTimeout: 500 });
      await sleep(1000);
      const takeover = counted('from-b', ms);
      expect(await b.getOrSet(`{${t}}:k`, takeover, { lockTimeout: '5s' })).toBe('from-b');
      // a's callers get a's value; the key keeps b's, the newer one.
      expect(await first).toBe('from-a');
      expect([slow.calls, takeover.calls]).toEqual([1, 1]);
      expect(await a.get(`{${t}}:k`)).toBe('from-b');
    } finally {
      await migration.finish();
    }
    expect(await a.get(`{${t}}:k`)).toBe('from-b');
    expect(await keysOnMasters(`${PREFIX}:__lock__:*${t}*`)).toEqual([]);
    expect([...errors, ...errorsOfB]).toEqual([]);
  });

  it('a set() during a fill wins over the fill', async () => {
    const t = 'gos-set';
    const { cache, errors } = newCache();
    const migration = await split(t);
    try {
      const filling = cache.getOrSet(`{${t}}:k`, counted('from-fill', 1500));
      await sleep(700);
      await cache.set(`{${t}}:k`, 'from-set');
      // The fill's callers get its value (or the set's, if the set landed before the fill looked).
      expect(['from-fill', 'from-set']).toContain(await filling);
      expect(await cache.get(`{${t}}:k`)).toBe('from-set');
    } finally {
      await migration.finish();
    }
    expect(await cache.get(`{${t}}:k`)).toBe('from-set');
    expect(await keysOnMasters(`${PREFIX}:__lock__:*${t}*`)).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe('one-slot atomic commands while the slot migrates', () => {
  it('incrVersion and sinter/sdiff/sunion answer; sinterstore and smove fail with SlotMigratingError and change nothing', async () => {
    const t = 'ops';
    const { cache } = newCache();
    await cache.set(`{${t}}:counter`, 41, { ttl: '1h' });
    await cache.sadd(`{${t}}:a`, 1, 2, 3);
    await cache.sadd(`{${t}}:b`, 2, 3, 4);
    const migration = await split(t);
    try {
      // One set on each node; `{ops}:none` exists nowhere.
      await migration.move([`${PREFIX}:1:{${t}}:b`]);
      expect(await cache.incrVersion(`{${t}}:counter`)).toBe(2);
      expect(await cache.get(`{${t}}:counter`, { version: 2 })).toBe(41);
      expect(await cache.has(`{${t}}:counter`, { version: 1 })).toBe(false);
      expect(await cache.ttl(`{${t}}:counter`, { version: 2 })).toBeGreaterThan(3_000_000);
      expect(await cache.sinter(`{${t}}:a`, `{${t}}:b`)).toEqual(new Set([2, 3]));
      expect(await cache.sdiff(`{${t}}:a`, `{${t}}:b`, `{${t}}:none`)).toEqual(new Set([1]));
      expect(await cache.sunion(`{${t}}:a`, `{${t}}:none`)).toEqual(new Set([1, 2, 3]));
      const refused = { name: 'SlotMigratingError', code: 'SLOT_MIGRATING', transient: true };
      await expect(cache.sinterstore(`{${t}}:both`, `{${t}}:a`, `{${t}}:b`)).rejects.toMatchObject(refused);
      await expect(cache.smove(`{${t}}:a`, `{${t}}:b`, 1)).rejects.toMatchObject(refused);
      expect(await cache.smembers(`{${t}}:a`)).toEqual(new Set([1, 2, 3]));
      expect(await cache.smembers(`{${t}}:b`)).toEqual(new Set([2, 3, 4]));
      expect(await cache.has(`{${t}}:both`)).toBe(false);
    } finally {
      await migration.finish();
    }
    expect(await cache.sinterstore(`{${t}}:both`, `{${t}}:a`, `{${t}}:b`)).toBe(2);
    expect(await cache.smove(`{${t}}:a`, `{${t}}:b`, 1)).toBe(true);
  });
});

describe('tagged reads while the slot migrates', () => {
  it('reads stamps that share the migrating slot without waiting for a refused MGET', async () => {
    const t = 'tagread';
    const { cache, router } = newCache();
    const tags = [`{${t}}a`, `{${t}}b`];
    await cache.invalidateTags([tags[0] as string]);
    await cache.set(`{${t}}:k`, 'v', { tags });
    const migration = await split(t);
    const ops = () => Object.values(router.stats().nodes).reduce((sum, node) => sum + node.ops, 0);
    const reads = 20;
    let perRead = 0;
    let ms = 0;
    try {
      const before = ops();
      const t0 = performance.now();
      for (let i = 0; i < reads; i++) expect(await cache.get(`{${t}}:k`)).toBe('v');
      ms = (performance.now() - t0) / reads;
      perRead = (ops() - before) / reads;
    } finally {
      await migration.finish();
    }
    console.log(
      `[tagged get, stamps in the migrating slot] ${perRead.toFixed(1)} commands and ${ms.toFixed(1)} ms per read`,
    );
    // GET of the entry and one GET per stamp; the absent stamp's GET is redirected (ASK: ASKING +
    // GET): 5 (a slot map refresh may add one now and then). A refused MGET costs 8 redirections.
    expect(perRead).toBeLessThan(6);
  });
});

describe('key scans during a live migration', () => {
  it('keys() and deletePattern() find every key that exists throughout the call', async () => {
    const t = 'scan';
    const { slot, from, to } = await endsOf(t);
    // A prefix of its own: deletePattern('*') must count this test's keys only.
    const { cache } = newCache('resh-scan');
    const inSlot = Array.from({ length: 1500 }, (_, i) => `{${t}}:${i}`);
    const elsewhere = Array.from({ length: 150 }, (_, i) => `scan-spread:${i}`);
    await cache.setMany([...inSlot, ...elsewhere].map((k) => [k, 1] as const));
    const migrating = migrateSlot(topo, slot, from, to, { batch: 10, pauseMs: 5 });
    let finished = false;
    void migrating.finally(() => {
      finished = true;
    });
    const expected = new Set([...inSlot, ...elsewhere]);
    const misses: number[] = [];
    let calls = 0;
    try {
      while (!finished) {
        // A small COUNT: many round trips per master, so keys move between the masters' scans.
        const found = new Set(await cache.keys('*', { scanCount: 20 }));
        calls++;
        const missing = [...expected].filter((k) => !found.has(k)).length;
        if (missing > 0) misses.push(missing);
      }
    } finally {
      await migrating;
    }
    // deletePattern during a migration (back home): every key deleted.
    const back = migrateSlot(topo, slot, to, from, { batch: 10, pauseMs: 5 });
    await sleep(50);
    const deleted = await cache.deletePattern('*', { scanCount: 20 });
    await back;
    const left = await cache.keys('*');
    console.log(
      `[keys() during a live migration] ${calls} calls, ${misses.length} missed keys (${misses.slice(0, 5).join(', ')}); deletePattern deleted ${deleted} of ${expected.size}, ${left.length} left`,
    );
    expect(calls).toBeGreaterThan(2);
    expect(misses).toEqual([]);
    expect(deleted).toBe(expected.size);
    expect(left).toEqual([]);
  });
});

describe('getOrSet during a live migration', () => {
  it('two caches fill keys of the migrating slot round after round: right answers, no failure, one factory call per fill', async () => {
    const t = 'gos-live';
    const { slot, from, to } = await endsOf(t);
    const { cache: a, errors } = newCache();
    const { cache: b, errors: errorsOfB } = newCache();
    // Keys that keep the migration going for a few seconds (10 per MIGRATE).
    await a.setMany(Array.from({ length: 1500 }, (_, i) => [`{${t}}:filler:${i}`, i] as const));
    const keys = Array.from({ length: 20 }, (_, i) => `{${t}}:k${i}`);
    const options = { tags: [`{${t}}tag`], lockTimeout: '5s' } as const;
    const migrating = migrateSlot(topo, slot, from, to, { batch: 10, pauseMs: 10 });
    let finished = false;
    void migrating.finally(() => {
      finished = true;
    });
    const failures: string[] = [];
    const wrong: string[] = [];
    let rounds = 0;
    let extraCalls = 0;
    const latencies: number[] = [];
    try {
      while (!finished) {
        const round = ++rounds;
        await a.deleteMany(keys);
        let calls = 0;
        const answers = await Promise.all(
          [a, b].flatMap((cache) =>
            keys.map(async (key) => {
              const t0 = performance.now();
              try {
                const answer = await cache.getOrSet(
                  key,
                  async () => {
                    calls++;
                    await sleep(20);
                    return `${key}:${round}`;
                  },
                  options,
                );
                if (answer !== `${key}:${round}`) wrong.push(`${key}: ${String(answer)} in round ${round}`);
              } catch (err) {
                failures.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
              } finally {
                latencies.push(performance.now() - t0);
              }
            }),
          ),
        );
        expect(answers).toHaveLength(2 * keys.length);
        extraCalls += calls - keys.length;
      }
    } finally {
      await migrating;
    }
    latencies.sort((x, y) => x - y);
    const at = (q: number) => (latencies[Math.floor(q * (latencies.length - 1))] ?? 0).toFixed(0);
    console.log(
      `[getOrSet during a live migration] ${rounds} rounds of 2 x ${keys.length} calls, ${failures.length} failed, ${wrong.length} wrong, ${extraCalls} extra factory calls; latency p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, slowest ${at(1)} ms (factory 20 ms)`,
      ...[...failures, ...wrong].slice(0, 5).map((line) => `\n  ${line}`),
    );
    expect(rounds).toBeGreaterThan(2);
    expect(failures).toEqual([]);
    expect(wrong).toEqual([]);
    expect(extraCalls).toBe(0);
    expect([...errors, ...errorsOfB]).toEqual([]);
  });
});

describe('key scans while a slot migrates to a master that serves no slot yet', () => {
  it('keys(), iterKeys() and deletePattern() find the keys already moved there', async () => {
    const t = 'scan-new';
    const { slot, from } = await endsOf(t);
    const extra = await addEmptyMaster(topo);
    try {
      const { cache } = newCache('resh-new');
      const inSlot = Array.from({ length: 200 }, (_, i) => `{${t}}:${i}`);
      await cache.setMany(inSlot.map((k) => [k, 1] as const));
      const migration = await beginMigration(topo, slot, from, extra.address);
      try {
        // Half of the keys now live on a node the slot map does not name (it serves no slot).
        await migration.move(inSlot.slice(0, 100).map((k) => `resh-new:1:${k}`));
        const found = new Set(await cache.keys('*'));
        expect(inSlot.filter((k) => !found.has(k))).toEqual([]);
        const iterated = new Set<string>();
        for await (const k of cache.iterKeys('*')) iterated.add(k);
        expect(iterated.size).toBe(inSlot.length);
        expect(await cache.deletePattern('*')).toBe(inSlot.length);
        expect(await cache.keys('*')).toEqual([]);
      } finally {
        await migration.abort();
      }
    } finally {
      await extra.remove();
    }
  });
});
