/**
 * routers.cluster and startCluster on a real Redis Cluster (3 masters + 3 replicas of local
 * redis-server processes): the topology's controls, routing by slot, options, events, stats.
 * Shard failovers under load are in cluster-failover.test.ts.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  CacheClosedError,
  ConfigError,
  ConnectionInterruptedError,
} from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import type { ClusterRouter } from '../../src/routers/cluster/cluster-router.js';
import { slotOf } from '../../src/routers/cluster/slot-map.js';
import { routers } from '../../src/routers/index.js';
import { type ClusterTopology, startCluster } from '../../src/topology/index.js';
import { alive, spawnTsx, srcModule } from '../fixtures/child.js';
import { until } from '../fixtures/until.js';
import { COMMAND_TIMEOUT_MS, keysInShard, nodeClient } from './cluster-helpers.js';

let topo: ClusterTopology;

beforeAll(async () => {
  topo = await startCluster({ shards: 3, replicasPerShard: 1, nodeTimeoutMs: 1000 });
});

afterAll(async () => {
  await topo?.stop();
});

describe('startCluster', () => {
  it('starts 3 masters with one replica each, covering every slot', async () => {
    expect(topo.nodes).toHaveLength(6);
    expect(topo.shardCount).toBe(3);
    const shards = await topo.shards();
    expect(shards.map((s) => s.replicas.length)).toEqual([1, 1, 1]);
    const covered = shards.flatMap((s) => s.slots).reduce((n, [a, b]) => n + (b - a + 1), 0);
    expect(covered).toBe(16_384);
    expect(topo.firstSlot(0)).toBe(0);
    for (const s of shards) {
      const c = nodeClient(s.master);
      try {
        expect(String(((await c.call('ROLE')) as unknown[])[0])).toBe('master');
      } finally {
        c.disconnect();
      }
    }
  });

  it('refuses fewer than 3 shards with a clear error', async () => {
    await expect(startCluster({ shards: 2 })).rejects.toThrow(/shards must be an integer >= 3/);
  });

  it('routerOptions() lists every node as a seed', () => {
    expect(topo.routerOptions().nodes).toEqual(topo.nodes);
  });
});

describe('routers.cluster options', () => {
  it('refuses unknown keys, missing seeds and bad values with ConfigError', () => {
    const nodes = topo.routerOptions().nodes;
    expect(() => routers.cluster({ nodes, sentinels: [] } as never)).toThrow(ConfigError);
    expect(() => routers.cluster({ nodes, sentinels: [] } as never)).toThrow(
      /unknown option 'sentinels' for routers.cluster/,
    );
    expect(() => routers.cluster({ nodes: [] })).toThrow(/option 'nodes' must be a non-empty array/);
    expect(() => routers.cluster({ nodes: [{ host: '', port: 1 }] })).toThrow(ConfigError);
    expect(() => routers.cluster({ nodes: [{ host: 'h', port: 70000 }] })).toThrow(/nodes\[0\].port/);
    expect(() => routers.cluster({ nodes, commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs/);
    expect(() => routers.cluster({ nodes, readFrom: 'slave' as never })).toThrow(/readFrom/);
    expect(() => routers.cluster({ nodes, natMap: { 'a:1': { host: 'b' } } as never })).toThrow(/natMap/);
    expect(() => routers.cluster(null as never)).toThrow(ConfigError);
  });
});

describe('routers.cluster on a healthy cluster', () => {
  let router: ClusterRouter;

  beforeAll(() => {
    router = routers.cluster({ ...topo.routerOptions(), commandTimeoutMs: COMMAND_TIMEOUT_MS });
  });

  afterAll(async () => {
    await router?.close();
  });

  it('works right after construction (commands wait for the first slot map)', async () => {
    const fresh = routers.cluster({ nodes: [topo.nodes[0]!] });
    try {
      // Lazy, like every router: no connection before the first operation.
      expect(fresh.cluster.status).toBe('wait');
      expect(await fresh.execute('write', (c) => c.set('fresh-key', 'x'))).toBe('OK');
      expect(await fresh.execute('read', (c) => c.get('fresh-key'))).toBe('x');
    } finally {
      await fresh.close();
    }
  });

  it('puts each key on the master of its slot, on every shard', async () => {
    const shards = await topo.shards();
    for (let shard = 0; shard < 3; shard++) {
      const [key] = keysInShard(topo, shard, 'routing');
      await router.execute('write', (c) => c.set(key!, `on-${shard}`));
      const direct = nodeClient(shards[shard]!.master);
      try {
        expect(await direct.get(key!)).toBe(`on-${shard}`);
      } finally {
        direct.disconnect();
      }
      expect(await router.execute('read', (c) => c.get(key!))).toBe(`on-${shard}`);
    }
    const stats = router.stats();
    expect(stats.kind).toBe('cluster');
    const masters = Object.entries(stats.nodes).filter(([, n]) => n.role === 'master');
    expect(masters.length).toBe(3);
    expect(masters.every(([, n]) => n.ops > 0)).toBe(true);
  });

  it('reads from replicas with readFrom: replica', async () => {
    const shards = await topo.shards();
    const [key] = keysInShard(topo, 0, 'replica-read');
    await router.execute('write', (c) => c.set(key!, 'r'));
    const reader = routers.cluster({ ...topo.routerOptions(), readFrom: 'replica' });
    try {
      // Redis 7.0 lists a replica in CLUSTER SLOTS once its replication offset is above 0 (after
      // the first write), and the router picks that up on its next slot refresh (every second).
      const replicaKey = `${shards[0]!.replicas[0]!.host}:${shards[0]!.replicas[0]!.port}`;
      let value: string | null = null;
      await until(
        async () => {
          // Strict 'replica': ReplicaNotFoundError until the replica is in the slot map.
          value = await reader.execute('read', (c) => c.get(key!)).catch(() => null);
          return (reader.stats().nodes[replicaKey]?.ops ?? 0) > 0;
        },
        10_000,
        'a read served by the replica',
      );
      expect(value).toBe('r');
      // Writes still go to the master.
      await reader.execute('write', (c) => c.set(key!, 'w'));
    } finally {
      await reader.close();
    }
  });

  it('groupKeys() groups keys by the master of their slot, order kept inside each group', async () => {
    const keys = [0, 1, 2].flatMap((shard) => keysInShard(topo, shard, `group-${shard}`, 4));
    // Interleave the shards so grouping has work to do.
    const mixed = [0, 1, 2, 3].flatMap((i) => [keys[i]!, keys[4 + i]!, keys[8 + i]!]);
    const groups = router.groupKeys(mixed);
    expect(groups).toHaveLength(3);
    expect(groups.flat().sort((a, b) => a - b)).toEqual(mixed.map((_, i) => i));
    for (const group of groups) {
      const shards = new Set(group.map((i) => topo.shardOfSlot(slotOf(mixed[i]!))));
      expect(shards.size).toBe(1);
      expect([...group].sort((a, b) => a - b)).toEqual(group);
    }
  });

  it('a cache on it sends getMany/setMany/deleteMany as one round trip per master (a command per key), in parallel, order kept', async () => {
    const r = routers.cluster(topo.routerOptions());
    let executes = 0;
    const execute = r.execute.bind(r);
    r.execute = (intent, fn) => {
      executes++;
      return execute(intent, fn);
    };
    const cache = createCache({ router: r, keyPrefix: 'grouped' });
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
      const shards = new Set(keys.map((k) => topo.shardOfSlot(slotOf(`grouped:1:${k}`))));
      expect(shards.size).toBe(3);
      // Grouping needs the slot map: the first command after construction loads it (before
      // that, keys are grouped per slot: correct, only more round trips).
      await cache.get('warm-up');
      executes = 0;
      await cache.setMany(Object.fromEntries(keys.map((k, i) => [k, i])));
      expect(executes).toBe(3);
      executes = 0;
      const got = await cache.getMany([...keys, 'missing']);
      expect(executes).toBe(3);
      expect([...got.keys()]).toEqual(keys);
      expect([...got.values()]).toEqual(keys.map((_, i) => i));
      executes = 0;
      expect(await cache.deleteMany(keys)).toBe(60);
      expect(executes).toBe(3);
    } finally {
      await cache.close();
    }
  });

  it('with nearCache on, the near cache is on and serves repeated reads from memory (details: near-cache-cluster.test.ts)', async () => {
    const cache = createCache({
      router: routers.cluster(topo.routerOptions()),
      keyPrefix: 'near',
      nearCache: true,
    });
    const errors: Error[] = [];
    cache.on('error', ({ error }) => errors.push(error));
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `n${i}`);
      await cache.setMany(Object.fromEntries(keys.map((k, i) => [k, i])));
      // Tracking is turned on per node connection as each becomes ready: read until held.
      await until(
        async () => {
          expect([...(await cache.getMany(keys)).values()]).toEqual(keys.map((_, i) => i));
          return (cache.stats().nearCache?.entries ?? 0) === keys.length;
        },
        10_000,
        'every key held by the near cache',
      );
      const before = cache.stats().nearCache?.hits ?? 0;
      expect([...(await cache.getMany(keys)).values()]).toEqual(keys.map((_, i) => i));
      expect(cache.stats().nearCache?.hits).toBe(before + keys.length);
      expect(cache.nearCache.enabled).toBe(true);
      expect(errors.filter((e) => e instanceof ConfigError)).toEqual([]);
      expect(await cache.deleteMany(keys)).toBe(30);
    } finally {
      await cache.close();
    }
  });

  it('eachMaster() runs once on every master', async () => {
    const shards = await topo.shards();
    const ports = await router.eachMaster(async (client, node) => {
      expect(String(((await client.call('ROLE')) as unknown[])[0])).toBe('master');
      return node.port;
    });
    expect(ports.sort()).toEqual(shards.map((s) => s.master.port).sort());
  });

  it('passes reply errors through unchanged', async () => {
    const [key] = keysInShard(topo, 1, 'wrongtype');
    await router.execute('write', (c) => c.sadd(key!, 'm'));
    await expect(router.execute('read', (c) => c.get(key!))).rejects.toThrow(/^WRONGTYPE/);
  });

  it('fails with ConnectionInterruptedError, within the budget, when no seed answers', async () => {
    const dead = routers.cluster({ nodes: [{ host: '127.0.0.1', port: 1 }], connectTimeoutMs: 200 });
    try {
      const t0 = performance.now();
      await expect(dead.execute('read', (c) => c.get('x'))).rejects.toBeInstanceOf(
        ConnectionInterruptedError,
      );
      expect(performance.now() - t0).toBeLessThan(200 + COMMAND_TIMEOUT_MS + 1500);
    } finally {
      await dead.close();
    }
  });

  it('refuses work after close() with CacheClosedError', async () => {
    const r = routers.cluster(topo.routerOptions());
    await r.execute('read', (c) => c.get('x'));
    await r.close();
    await expect(r.execute('read', (c) => c.get('x'))).rejects.toBeInstanceOf(CacheClosedError);
  });
});

describe('a cluster with a password', () => {
  let secured: ClusterTopology;

  beforeAll(async () => {
    secured = await startCluster({ shards: 3, replicasPerShard: 0, auth: { password: 's3cret pass' } });
  });

  afterAll(async () => {
    await secured?.stop();
  });

  it('works with the password, and a wrong one is an AuthenticationError that does not show it', async () => {
    const ok = routers.cluster(secured.routerOptions());
    try {
      await ok.execute('write', (c) => c.set('auth-key', 'v'));
      expect(await ok.execute('read', (c) => c.get('auth-key'))).toBe('v');
    } finally {
      await ok.close();
    }
    const wrong = routers.cluster({
      ...secured.routerOptions(),
      password: 'wrong-password',
      connectTimeoutMs: 300,
    });
    try {
      const error = await wrong.execute('read', (c) => c.get('auth-key')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(String((error as Error).message)).not.toContain('wrong-password');
    } finally {
      await wrong.close();
    }
  });
});

describe('startCluster when the owning process dies without stop()', () => {
  it.each(['SIGTERM', 'SIGKILL'] as const)(
    '%s: every node is killed and the temp dir removed',
    async (signal) => {
      const dir = mkdtempSync(join(tmpdir(), 'sentinel-cache-cluster-child-'));
      try {
        const script = join(dir, 'child.mts');
        writeFileSync(
          script,
          [
            `import { startCluster } from ${srcModule('topology/index.ts')};`,
            'const t = await startCluster({ shards: 3, replicasPerShard: 0 });',
            'console.log(JSON.stringify({ pids: t.pids(), dir: t.dir }));',
            'setInterval(() => {}, 1000);',
          ].join('\n'),
        );
        const run = spawnTsx(script, [], { cwd: resolve(import.meta.dirname, '../..') });
        const exited = new Promise((r) => run.child.once('exit', r));
        await until(
          () => run.stdout.includes('\n') || run.child.exitCode !== null,
          60_000,
          'the child cluster',
        );
        const info = JSON.parse(run.stdout.split('\n')[0] ?? '') as { pids: number[]; dir: string };
        expect(info.pids).toHaveLength(3);
        expect(info.pids.every(alive)).toBe(true);
        run.child.kill(signal);
        await exited;
        // SIGTERM: the exit handlers; SIGKILL: the watchdog (a moment later).
        await until(() => info.pids.every((p) => !alive(p)) && !existsSync(info.dir), 10_000, 'cleanup');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('startCluster stop()', () => {
  it('stops every process and removes the temp dir', async () => {
    const small = await startCluster({ shards: 3, replicasPerShard: 0 });
    const pids = small.pids();
    expect(pids).toHaveLength(3);
    await small.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(small.dir)).toBe(false);
    await small.stop(); // idempotent
  });
});
