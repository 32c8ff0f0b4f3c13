/**
 * getOrSet grown up, in one process against a real redis-server: grace and stale serving,
 * soft/hard timeouts, tags, bad options, and the bytes of entries without an envelope.
 * (Several processes sharing one key: get-or-set-processes.test.ts.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { ConfigError, FactoryTimeoutError } from '../../src/core/errors.js';
import type { CacheEventMap } from '../../src/core/events.js';
import { createCache, createCache as createPackageCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { serializers } from '../../src/serializers/index.js';
import { startStandalone } from '../../src/topology/index.js';
import type { Standalone } from '../../src/topology/types.js';
import { warm } from '../fixtures/near.js';
import { until } from '../fixtures/until.js';
import { uniquePrefix } from './cache-suite.js';

let server: Standalone;
let cache: Cache;
let raw: Redis;
let prefix: string;

beforeAll(async () => {
  server = await startStandalone();
  prefix = uniquePrefix('gos');
  cache = createCache({ router: routers.standalone({ url: server.url }), keyPrefix: prefix });
  raw = new Redis(server.url);
});

afterAll(async () => {
  await cache?.close();
  raw?.disconnect();
  await server?.stop();
});

function staleEvents(c: Cache): Array<CacheEventMap['stale-served']> {
  const seen: Array<CacheEventMap['stale-served']> = [];
  c.on('stale-served', (e) => seen.push(e));
  return seen;
}

/** Makes `key`'s entry stale now (its logical expiry passed) by writing it with a past-due ttl. */
async function writeStale(key: string, value: unknown, graceMs = 60_000): Promise<void> {
  await cache.getOrSet(key, () => value, { ttl: 1, grace: graceMs });
  await sleep(5); // a time gap on purpose: past the 1 ms ttl
}

describe('entries without grace or tags', () => {
  it('keep the exact bytes of a plain set (no envelope)', async () => {
    await cache.set('plain-set', { a: 1 });
    await cache.getOrSet('plain-gos', () => ({ a: 1 }));
    const a = await raw.getBuffer(`${prefix}:1:plain-set`);
    const b = await raw.getBuffer(`${prefix}:1:plain-gos`);
    expect(b).toEqual(a);
    expect(a?.[1]).toBe(0x10);
    await cache.getOrSet('plain-int', () => 42);
    expect(await raw.get(`${prefix}:1:plain-int`)).toBe('42');
  });

  it('with grace: flag 0x1 and Redis PX = ttl + grace', async () => {
    await cache.getOrSet('graced', () => 'v', { ttl: '10s', grace: '1h' });
    const bytes = await raw.getBuffer(`${prefix}:1:graced`);
    expect(bytes?.[1]).toBe(0x11);
    const pttl = await raw.pttl(`${prefix}:1:graced`);
    expect(pttl).toBeGreaterThan(3_600_000);
    expect(pttl).toBeLessThanOrEqual(3_610_000);
  });
});

describe('grace', () => {
  it('expired + throwing factory → stale value, stale-served factory-error, error event', async () => {
    await writeStale('g-throw', 'old');
    const seen = staleEvents(cache);
    const errors: Error[] = [];
    cache.on('error', ({ error }) => errors.push(error));
    const boom = new Error('database down');
    const v = await cache.getOrSet(
      'g-throw',
      () => {
        throw boom;
      },
      { ttl: '1m', grace: '1m' },
    );
    expect(v).toBe('old');
    expect(seen).toContainEqual({ key: 'g-throw', reason: 'factory-error' });
    await until(() => errors.includes(boom), 5000, "the factory's error event");
  });

  it('without grace a throwing factory rejects with its own error', async () => {
    await writeStale('g-nograce', 'old');
    const boom = new Error('nope');
    await expect(
      cache.getOrSet('g-nograce', () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
  });

  it('the factory sees the stale value in ctx.stale; get() treats a stale entry as a miss', async () => {
    await writeStale('g-ctx', { n: 1 });
    expect(await cache.get('g-ctx')).toBeUndefined();
    let seen: unknown;
    const v = await cache.getOrSet(
      'g-ctx',
      (ctx) => {
        seen = ctx.stale;
        return { n: 2 };
      },
      { grace: '1m' },
    );
    expect(seen).toEqual({ n: 1 });
    expect(v).toEqual({ n: 2 });
    expect(await cache.get('g-ctx')).toEqual({ n: 2 });
  });

  it('while one caller refreshes, the others get the stale value at once (reason refreshing)', async () => {
    await writeStale('g-refresh', 'old');
    const seen = staleEvents(cache);
    let calls = 0;
    const factory = async () => {
      calls++;
      await sleep(1_500);
      return 'new';
    };
    const leader = cache.getOrSet('g-refresh', factory, { grace: '1m' });
    await until(() => calls === 1, 5000, 'the leader to start its factory');
    const started = Date.now();
    const others = await Promise.all(
      Array.from({ length: 20 }, () => cache.getOrSet('g-refresh', factory, { grace: '1m' })),
    );
    const othersMs = Date.now() - started;
    expect(others.every((v) => v === 'old')).toBe(true);
    expect(othersMs).toBeLessThan(1_000); // the factory takes 1.5 s: they did not wait for it
    expect(await leader).toBe('new');
    expect(calls).toBe(1);
    expect(seen.filter((e) => e.reason === 'refreshing').length).toBe(20);
  });

  it('another process refreshing (it holds the fill lock): stale at once, no second factory call', async () => {
    await writeStale('g-other', 'old');
    const other = createCache({ router: routers.standalone({ url: server.url }), keyPrefix: prefix });
    try {
      let calls = 0;
      const slow = async () => {
        calls++;
        await sleep(1_500);
        return 'new';
      };
      const refreshing = cache.getOrSet('g-other', slow, { grace: '1m' });
      await until(() => calls === 1, 5000, 'the refresh to hold the fill lock and run its factory');
      const seen = staleEvents(other);
      const started = Date.now();
      expect(await other.getOrSet('g-other', slow, { grace: '1m' })).toBe('old');
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(seen).toEqual([{ key: 'g-other', reason: 'refreshing' }]);
      expect(await refreshing).toBe('new');
      expect(calls).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('ctx.setTtl / ctx.setTags shape the stored entry', async () => {
    await cache.getOrSet(
      'g-adapt',
      (ctx) => {
        ctx.setTtl('1h');
        ctx.setTags(['adaptive']);
        return 'v';
      },
      { ttl: '10s' },
    );
    const pttl = await raw.pttl(`${prefix}:1:g-adapt`);
    expect(pttl).toBeGreaterThan(3_000_000);
    await cache.invalidateTags(['adaptive']);
    expect(await cache.get('g-adapt')).toBeUndefined();
  });
});

describe('timeouts', () => {
  it('soft timeout: stale returned quickly, the background value stored', async () => {
    await writeStale('t-soft', 'old');
    const seen = staleEvents(cache);
    const started = Date.now();
    const v = await cache.getOrSet(
      't-soft',
      async () => {
        await sleep(2_000);
        return 'new';
      },
      { grace: '1m', timeout: 100 },
    );
    const ms = Date.now() - started;
    console.log(`soft timeout 100 ms: stale returned after ${ms} ms`);
    expect(v).toBe('old');
    expect(ms).toBeLessThan(1_500); // timeout 100 ms; factory 2 s
    expect(seen).toContainEqual({ key: 't-soft', reason: 'timeout' });
    await until(async () => (await cache.get('t-soft')) === 'new', 15_000, 'the background value stored');
  });

  it('hard timeout without stale → FactoryTimeoutError (FACTORY_TIMEOUT); the value still lands', async () => {
    const started = Date.now();
    const error = await cache
      .getOrSet(
        't-hard',
        async () => {
          await sleep(2_000);
          return 'late';
        },
        { hardTimeout: 100 },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FactoryTimeoutError);
    expect((error as FactoryTimeoutError).code).toBe('FACTORY_TIMEOUT');
    expect((error as FactoryTimeoutError).key).toBe('t-hard');
    expect(Date.now() - started).toBeLessThan(1_500);
    await until(async () => (await cache.get('t-hard')) !== undefined, 15_000, 'the late value stored');
    expect(await cache.get('t-hard')).toBe('late');
  });

  it('hard timeout with stale → stale (reason timeout)', async () => {
    await writeStale('t-hard-stale', 'old');
    const seen = staleEvents(cache);
    const v = await cache.getOrSet(
      't-hard-stale',
      async () => {
        await sleep(2_000);
        return 'new';
      },
      { grace: '1m', hardTimeout: 100 },
    );
    expect(v).toBe('old');
    expect(seen).toContainEqual({ key: 't-hard-stale', reason: 'timeout' });
  });
});

describe('tags', () => {
  it('invalidateTags makes every entry carrying a tag a miss (get, getMany, getOrSet)', async () => {
    await cache.set('tag-a', 'a', { tags: ['user:1'] });
    await cache.set('tag-b', 'b', { tags: ['user:1', 'team:7'] });
    await cache.set('tag-c', 'c', { tags: ['team:7'] });
    await cache.getOrSet('tag-d', () => 'd', { tags: ['user:1'] });
    expect(await cache.get('tag-a')).toBe('a');
    expect([...(await cache.getMany(['tag-a', 'tag-b', 'tag-c', 'tag-d'])).keys()]).toEqual([
      'tag-a',
      'tag-b',
      'tag-c',
      'tag-d',
    ]);
    await cache.invalidateTags(['user:1']);
    expect(await cache.get('tag-a')).toBeUndefined();
    expect(await cache.get('tag-d')).toBeUndefined();
    expect([...(await cache.getMany(['tag-a', 'tag-b', 'tag-c', 'tag-d'])).keys()]).toEqual(['tag-c']);
    let calls = 0;
    expect(await cache.getOrSet('tag-d', () => `d${++calls}`, { tags: ['user:1'] })).toBe('d1');
    expect(await cache.getOrSet('tag-d', () => `d${++calls}`, { tags: ['user:1'] })).toBe('d1');
    // A new write after the invalidation is current again.
    await cache.set('tag-a', 'a2', { tags: ['user:1'] });
    expect(await cache.get('tag-a')).toBe('a2');
  });

  it('an invalidation while the factory runs makes its value a miss', async () => {
    let calls = 0;
    await cache.getOrSet(
      'tag-race',
      async () => {
        calls++;
        await cache.invalidateTags(['race']);
        return 'computed-before-invalidation';
      },
      { tags: ['race'] },
    );
    expect(await cache.get('tag-race')).toBeUndefined();
    expect(calls).toBe(1);
  });
});

describe('bad options → ConfigError naming the option, nothing written', () => {
  it.each([
    ['grace', { grace: -1 }],
    ['timeout', { timeout: '2s', hardTimeout: '1s' }],
    ['tags', { tags: [42] }],
    ['lock', { lock: 'redlock' }],
  ])('%s', async (option, options) => {
    let called = false;
    const error = await cache
      .getOrSet(
        `bad-${option}`,
        () => {
          called = true;
          return 1;
        },
        options as never,
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`'${option}'`);
    expect(called).toBe(false);
    expect(await raw.exists(`${prefix}:1:bad-${option}`)).toBe(0);
  });

  it('a factory returning undefined', async () => {
    const error = await cache.getOrSet('bad-undefined', () => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("'factory'");
    expect(await raw.exists(`${prefix}:1:bad-undefined`)).toBe(0);
  });

  it('a value the codec refuses: the error, nothing stored, the fill lock released', async () => {
    const small = createCache({
      router: routers.standalone({ url: server.url }),
      keyPrefix: prefix,
      maxValueBytes: 1024,
    });
    try {
      await expect(small.getOrSet('bad-big', () => 'x'.repeat(10_000))).rejects.toThrow(/maxValueBytes/);
      expect(await raw.exists(`${prefix}:1:bad-big`)).toBe(0);
      expect(await raw.exists(`${prefix}:__lock__:${prefix}:1:bad-big`)).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('set with non-string tags or negative grace', async () => {
    await expect(cache.set('bad-set', 1, { tags: 'x' as never })).rejects.toThrow(/'tags'/);
    await expect(cache.set('bad-set', 1, { grace: -5 })).rejects.toThrow(/'grace'/);
    await expect(cache.invalidateTags([null as never])).rejects.toThrow(/'invalidateTags'/);
    expect(await raw.exists(`${prefix}:1:bad-set`)).toBe(0);
  });
});

describe('lock: local', () => {
  it('one factory call per process for concurrent callers', async () => {
    let calls = 0;
    const values = await Promise.all(
      Array.from({ length: 50 }, () =>
        cache.getOrSet(
          'local-lock',
          async () => {
            calls++;
            await sleep(200);
            return 'v';
          },
          { lock: 'local' },
        ),
      ),
    );
    expect(values.every((v) => v === 'v')).toBe(true);
    expect(calls).toBe(1);
  });

  it('integers with an envelope keep their type (string serializer refuses them clearly)', async () => {
    expect(await cache.getOrSet('int-tagged', () => 7, { tags: ['ints'] })).toBe(7);
    expect(await cache.get('int-tagged')).toBe(7);
    const strings = createCache({
      router: routers.standalone({ url: server.url }),
      keyPrefix: prefix,
      serializer: serializers.string(),
    });
    try {
      expect(await strings.getOrSet('str-graced', () => 'text', { grace: '1m' })).toBe('text');
    } finally {
      await strings.close();
    }
  });
});

describe('with the near cache on', () => {
  it('a held tagged entry is checked on every hit: invalidateTags elsewhere makes it a miss here', async () => {
    const near = createPackageCache({
      router: routers.standalone({ url: server.url }),
      keyPrefix: prefix,
      nearCache: true,
    });
    try {
      await cache.set('near-tagged', 'v1', { tags: ['near'] });
      expect(await near.get('near-tagged')).toBe('v1');
      await warm(near, 'near-tagged');
      expect(await near.get('near-tagged')).toBe('v1');
      await cache.invalidateTags(['near']); // another cache: the entry's own key does not change
      expect(await near.get('near-tagged')).toBeUndefined();
      let calls = 0;
      expect(await near.getOrSet('near-tagged', () => `v${++calls + 1}`, { tags: ['near'] })).toBe('v2');
      expect(await near.get('near-tagged')).toBe('v2');
    } finally {
      await near.close();
    }
  });
});
