/**
 * readFrom on routers.cluster (real Redis Cluster, 3 masters + 3 replicas), with the Sentinel
 * routers' meaning: 'replica' reads only from a replica of the key's slot and fails with
 * ReplicaNotFoundError when the slot has none usable; 'replica-preferred' falls back to the
 * master; write operations (their reads included) always run on the master.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { ReplicaNotFoundError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import type { ClusterRouter } from '../../src/routers/cluster/cluster-router.js';
import { slotOf } from '../../src/routers/cluster/slot-map.js';
import { routers } from '../../src/routers/index.js';
import { type ClusterShardView, type ClusterTopology, startCluster } from '../../src/topology/index.js';
import type { NodeAddress } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';
import { COMMAND_TIMEOUT_MS, NO_HANG_BUDGET_MS, nodeClient } from './cluster-helpers.js';

let topo: ClusterTopology;
let shards: ClusterShardView[];
let writer: Cache;
let strictRouter: ClusterRouter;
let strict: Cache;
let preferred: Cache;
/** One key per shard, written before the readers start. */
let keys: string[];

const keyOf = (a: NodeAddress) => `${a.host}:${a.port}`;

beforeAll(async () => {
  topo = await startCluster({ shards: 3, replicasPerShard: 1, nodeTimeoutMs: 1000 });
  shards = await topo.shards();
  const options = { ...topo.routerOptions(), commandTimeoutMs: COMMAND_TIMEOUT_MS };
  writer = createCache({ router: routers.cluster({ ...options, readFrom: 'master' }), keyPrefix: 'rf' });
  // Cache keys whose Redis keys (`rf:1:<key>`) live on shard 0, 1, 2.
  keys = [0, 1, 2].map((shard) => {
    for (let n = 0; ; n++) {
      if (topo.shardOfSlot(slotOf(`rf:1:rf-key-${n}`)) === shard) return `rf-key-${n}`;
    }
  });
  for (const key of keys) await writer.set(key, `v-${key}`);
  strictRouter = routers.cluster({ ...options, readFrom: 'replica' });
  strict = createCache({ router: strictRouter, keyPrefix: 'rf' });
  preferred = createCache({
    router: routers.cluster({ ...options, readFrom: 'replica-preferred' }),
    keyPrefix: 'rf',
  });
  // Redis 7.0 lists a replica in CLUSTER SLOTS once it has replicated something; until the
  // router's slot map has every shard's replica, a strict read fails with ReplicaNotFoundError.
  await until(
    async () => {
      const got = await Promise.all(keys.map((k) => strict.get(k).catch(() => undefined)));
      return got.every((v, i) => v === `v-${keys[i]}`);
    },
    15_000,
    'strict replica reads on every shard',
  );
});

afterAll(async () => {
  await Promise.all([writer?.close(), strict?.close(), preferred?.close()]);
  await topo?.stop();
});

function opsOf(router: ClusterRouter, addresses: NodeAddress[]): number {
  const nodes = router.stats().nodes;
  return addresses.reduce((n, a) => n + (nodes[keyOf(a)]?.ops ?? 0), 0);
}

describe("readFrom: 'replica' on a cluster", () => {
  it('reads run on the replicas only, never on a master', async () => {
    const masters = shards.map((s) => s.master);
    const replicas = shards.flatMap((s) => s.replicas);
    const mastersBefore = opsOf(strictRouter, masters);
    const replicasBefore = opsOf(strictRouter, replicas);
    for (let i = 0; i < 10; i++) {
      expect(await strict.get(keys[i % 3] as string)).toBe(`v-${keys[i % 3]}`);
    }
    expect(Object.fromEntries(await strict.getMany(keys))).toEqual(
      Object.fromEntries(keys.map((k) => [k, `v-${k}`])),
    );
    expect(opsOf(strictRouter, masters)).toBe(mastersBefore);
    expect(opsOf(strictRouter, replicas)).toBeGreaterThanOrEqual(replicasBefore + 13);
  });

  it('write operations, their reads included (tag stamps, incrVersion DUMP), run on the masters', async () => {
    const replicas = shards.flatMap((s) => s.replicas);
    const before = opsOf(strictRouter, replicas);
    // Tags whose stamps live on several shards: the stamp MGETs are part of the write.
    const tags = ['t-a', 't-b', 't-c', 't-d', 't-e', 't-f'];
    await strict.set('rf-written', 'w', { tags });
    // incrVersion across slots: DUMP + PTTL of the old key, RESTORE of the new one.
    await strict.set('rf-versioned', 'x');
    expect(await strict.incrVersion('rf-versioned')).toBe(2);
    expect(await writer.get('rf-versioned', { version: 2 })).toBe('x');
    expect(opsOf(strictRouter, replicas)).toBe(before);
  });

  describe('a shard whose replica is gone', () => {
    let gone: NodeAddress;

    beforeAll(async () => {
      gone = shards[2]?.replicas[0] as NodeAddress;
      const proc = topo.state().processes.find((p) => p.host === gone.host && p.port === gone.port);
      process.kill(proc?.pid as number, 'SIGKILL');
      const c = nodeClient(gone);
      await until(
        () =>
          c.ping().then(
            () => false,
            () => true,
          ),
        5000,
        'the replica to be gone',
      );
      c.disconnect();
    });

    afterAll(async () => {
      await until(
        async () => {
          await topo.restartNode(gone);
          return true;
        },
        10_000,
        'the replica restarted',
      ).catch(() => {});
      await topo.waitForHealthy(30_000).catch(() => {});
    });

    it("'replica': ReplicaNotFoundError at once for that shard; the other shards still read from replicas", async () => {
      const key = keys[2] as string;
      let error: unknown;
      await until(
        async () => {
          error = await strict.get(key).then(
            () => undefined,
            (e: unknown) => e,
          );
          return error instanceof ReplicaNotFoundError;
        },
        10_000,
        'ReplicaNotFoundError for the shard without a replica',
      );
      expect((error as Error).message).toMatch(/No usable replica for slot \d+/);
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await expect(strict.get(key)).rejects.toBeInstanceOf(ReplicaNotFoundError);
        expect(performance.now() - t0).toBeLessThan(NO_HANG_BUDGET_MS);
      }
      expect(await strict.get(keys[0] as string)).toBe(`v-${keys[0]}`);
      expect(await strict.get(keys[1] as string)).toBe(`v-${keys[1]}`);
      // Writes are not affected.
      await strict.set(key, 'written-while-no-replica');
      expect(await writer.get(key)).toBe('written-while-no-replica');
      // Once the cluster flags the replica failed, CLUSTER SLOTS no longer lists it: same answer.
      await new Promise((r) => setTimeout(r, 2500));
      await expect(strict.get(key)).rejects.toBeInstanceOf(ReplicaNotFoundError);
    });

    it("'replica-preferred': that shard's reads go to its master", async () => {
      const key = keys[2] as string;
      expect(await preferred.get(key)).toBe('written-while-no-replica');
      expect(await preferred.get(keys[0] as string)).toBe(`v-${keys[0]}`);
    });
  });
});
