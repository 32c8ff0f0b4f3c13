/**
 * Tags on routers.cluster (real Redis Cluster, 3 masters + 3 replicas): tags whose stamp keys
 * hash to slots on different masters, through set / get / getMany / getOrSet / invalidateTags.
 * One MGET or one script cannot span slots (CROSSSLOT); the cache reads and bumps the stamps
 * per slot instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { tagStampKey } from '../../src/core/tags.js';
import { createCache } from '../../src/create-cache.js';
import type { ClusterRouter } from '../../src/routers/cluster/cluster-router.js';
import { slotOf } from '../../src/routers/cluster/slot-map.js';
import { routers } from '../../src/routers/index.js';
import { type ClusterTopology, startCluster } from '../../src/topology/index.js';

const PREFIX = 'ctags';

let topo: ClusterTopology;
let router: ClusterRouter;
let cache: Cache;

beforeAll(async () => {
  topo = await startCluster({ shards: 3, replicasPerShard: 1, nodeTimeoutMs: 1000 });
  router = routers.cluster({ ...topo.routerOptions(), readFrom: 'master' });
  cache = createCache({ router, keyPrefix: PREFIX });
});

afterAll(async () => {
  await cache?.close();
  await topo?.stop();
});

/** One tag per shard, `${name}-<n>`, whose stamp key lives on that shard. */
function tagsOnEveryShard(name: string): string[] {
  return [0, 1, 2].map((shard) => {
    for (let n = 0; ; n++) {
      const tag = `${name}-${n}`;
      if (topo.shardOfSlot(slotOf(tagStampKey(PREFIX, tag))) === shard) return tag;
    }
  });
}

async function stamp(tag: string): Promise<string | null> {
  return router.cluster.get(tagStampKey(PREFIX, tag));
}

describe('tags in several hash slots on a cluster', () => {
  it('the tags of these tests really have their stamps on three different masters', () => {
    const tags = tagsOnEveryShard('probe');
    const shards = tags.map((t) => topo.shardOfSlot(slotOf(tagStampKey(PREFIX, t))));
    expect(new Set(shards).size).toBe(3);
  });

  it('set with tags, get, invalidateTags of several tags: entries invalidated, no CROSSSLOT', async () => {
    const [a, b, c] = tagsOnEveryShard('set') as [string, string, string];
    await cache.set('s:all', 'v-all', { tags: [a, b, c] });
    await cache.set('s:c', 'v-c', { tags: [c] });
    await cache.set('s:ab', 'v-ab', { tags: [a, b] });
    expect(await cache.get('s:all')).toBe('v-all');
    expect(Object.fromEntries(await cache.getMany(['s:all', 's:c', 's:ab']))).toEqual({
      's:all': 'v-all',
      's:c': 'v-c',
      's:ab': 'v-ab',
    });

    await cache.invalidateTags([a, b]);
    // Each stamp was bumped on its own master.
    expect([await stamp(a), await stamp(b), await stamp(c)]).toEqual(['1', '1', null]);
    expect(await cache.get('s:all')).toBeUndefined();
    expect(await cache.get('s:ab')).toBeUndefined();
    expect(await cache.get('s:c')).toBe('v-c');
    expect([...(await cache.getMany(['s:all', 's:c', 's:ab'])).keys()]).toEqual(['s:c']);

    // Written again after the invalidation: current again.
    await cache.set('s:all', 'v-all-2', { tags: [a, b, c] });
    expect(await cache.get('s:all')).toBe('v-all-2');
    await cache.invalidateTags([c]);
    expect(await cache.get('s:all')).toBeUndefined();
    expect(await cache.get('s:c')).toBeUndefined();
  });

  for (const lock of ['distributed', 'local'] as const) {
    it(`getOrSet (lock '${lock}') with tags on three masters: cached, then invalidated by any one`, async () => {
      const tags = tagsOnEveryShard(`gos-${lock}`);
      let calls = 0;
      const factory = () => {
        calls++;
        return `value-${calls}`;
      };
      const key = `gos:${lock}`;
      expect(await cache.getOrSet(key, factory, { tags, lock })).toBe('value-1');
      expect(await cache.getOrSet(key, factory, { tags, lock })).toBe('value-1');
      expect(calls).toBe(1);
      for (const [i, tag] of tags.entries()) {
        await cache.invalidateTags([tag]);
        expect(await cache.get(key)).toBeUndefined();
        expect(await cache.getOrSet(key, factory, { tags, lock })).toBe(`value-${i + 2}`);
        expect(await cache.getOrSet(key, factory, { tags, lock })).toBe(`value-${i + 2}`);
      }
      expect(calls).toBe(4);
    });
  }

  it('getOrSet: an invalidation of any of its tags while the factory runs makes its value a miss', async () => {
    const tags = tagsOnEveryShard('during');
    let calls = 0;
    const value = await cache.getOrSet(
      'during',
      async () => {
        calls++;
        // The stamps were read before the factory ran, so this invalidation wins.
        await cache.invalidateTags([tags[2] as string]);
        return 'computed';
      },
      { tags },
    );
    expect(value).toBe('computed');
    expect(await cache.get('during')).toBeUndefined();
    expect(await cache.getOrSet('during', () => 'again', { tags })).toBe('again');
    expect(await cache.get('during')).toBe('again');
    expect(calls).toBe(1);
  });

  it('getOrSet: a caller joining a running fill after an invalidation of any of its tags gets a fresh value; a set() made meanwhile is kept', async () => {
    const tags = tagsOnEveryShard('joined');
    let release!: () => void;
    let running!: () => void;
    const gate = new Promise<void>((done) => {
      release = done;
    });
    const started = new Promise<void>((done) => {
      running = done;
    });
    const leader = cache.getOrSet(
      'joined',
      async () => {
        running();
        await gate;
        return 'before-invalidation';
      },
      { tags },
    );
    await started;
    await cache.invalidateTags([tags[1] as string]);
    const joiner = cache.getOrSet('joined', () => 'fresh', { tags });
    release();
    expect(await leader).toBe('before-invalidation');
    expect(await joiner).toBe('fresh');
    expect(await cache.get('joined')).toBe('fresh');

    // The store script (value and lock keys in one slot) keeps a set() made while a factory runs.
    let again!: () => void;
    let computing!: () => void;
    const held = new Promise<void>((done) => {
      again = done;
    });
    const inFactory = new Promise<void>((done) => {
      computing = done;
    });
    const filling = cache.getOrSet(
      'kept',
      async () => {
        computing();
        await held;
        return 'computed';
      },
      { tags },
    );
    await inFactory;
    await cache.set('kept', 'explicit');
    again();
    expect(await filling).toBe('computed');
    expect(await cache.get('kept')).toBe('explicit');
  });

  it('ctx.setTags with tags in other slots than the call’s tags', async () => {
    const [a, b, c] = tagsOnEveryShard('settags') as [string, string, string];
    expect(
      await cache.getOrSet(
        'settags',
        (ctx) => {
          ctx.setTags([b, c]);
          return 'v';
        },
        { tags: [a] },
      ),
    ).toBe('v');
    await cache.invalidateTags([a]);
    expect(await cache.get('settags')).toBe('v');
    await cache.invalidateTags([c]);
    expect(await cache.get('settags')).toBeUndefined();
  });

  it('grace: a stale value of an entry with tags on three masters is served while refreshing', async () => {
    const tags = tagsOnEveryShard('grace');
    await cache.getOrSet('grace', () => 'old', { tags, ttl: 1000, grace: 60_000 });
    await new Promise((r) => setTimeout(r, 1100));
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const refreshing = cache.getOrSet(
      'grace',
      async () => {
        await gate;
        return 'new';
      },
      { tags, ttl: 60_000, grace: 60_000, timeout: 0 },
    );
    expect(await refreshing).toBe('old');
    release();
    await expect.poll(() => cache.get('grace'), { timeout: 5000 }).toBe('new');
  });
});
