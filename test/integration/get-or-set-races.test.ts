/**
 * getOrSet where its features meet, against one real redis-server: a fill whose producer was
 * paused (SIGSTOP, a real child process) must not replace a value stored after it began, and a
 * value invalidated by tag before a call started is never that call's answer — neither through
 * an in-process join nor through another process's fill message.
 */
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { startStandalone } from '../../src/topology/index.js';
import type { Standalone } from '../../src/topology/types.js';
import { spawnTsx, type TsxChild } from '../fixtures/child.js';
import { until } from '../fixtures/until.js';
import { uniquePrefix } from './cache-suite.js';

const WORKER = resolve(import.meta.dirname, '../fixtures/get-or-set-worker.ts');
/** Waiting for a child process to start (tsx compiles the worker) on a loaded machine. */
const CHILD_START_MS = 60_000;

let server: Standalone;
let raw: Redis;
let cache: Cache;
let prefix: string;
const children: TsxChild[] = [];

beforeAll(async () => {
  server = await startStandalone();
  raw = new Redis(server.url);
  prefix = uniquePrefix('gos-races');
  cache = createCache({ router: routers.standalone({ url: server.url }), keyPrefix: prefix });
});

afterAll(async () => {
  for (const c of children) {
    if (c.child.exitCode === null) {
      c.child.kill('SIGCONT');
      c.child.kill('SIGKILL');
    }
  }
  await cache?.close();
  raw?.disconnect();
  await server?.stop();
});

function startWorker(job: Record<string, unknown>): TsxChild {
  const child = spawnTsx(WORKER, [
    JSON.stringify({ url: server.url, prefix, callers: 1, factoryMs: 0, ...job }),
  ]);
  children.push(child);
  return child;
}

/** The worker's exit code and the values its callers got (its last stdout line). */
async function finished(c: TsxChild): Promise<{ code: number | null; values: string[] }> {
  const code =
    c.child.exitCode ?? (await new Promise<number | null>((done) => c.child.on('exit', (n) => done(n))));
  const last = c.stdout.trim().split('\n').at(-1) ?? '';
  return { code, values: last.startsWith('{') ? (JSON.parse(last) as { values: string[] }).values : [] };
}

/** A factory that says when it started and finishes when the test lets it. */
function gatedFactory<T>(value: T) {
  let release!: () => void;
  let started!: () => void;
  const gate = new Promise<void>((done) => {
    release = done;
  });
  const running = new Promise<void>((done) => {
    started = done;
  });
  let calls = 0;
  return {
    factory: async () => {
      calls++;
      started();
      await gate;
      return value;
    },
    running,
    release,
    calls: () => calls,
  };
}

describe('a fill never replaces a value stored after it began', () => {
  it('a lock holder paused past lockTimeout (SIGSTOP) does not overwrite the value of the process that took over', async () => {
    const gate = `${prefix}:gate:paused-holder`;
    const holder = startWorker({ key: 'paused-holder', lockTimeout: 1_000, ttl: '1h', gate });
    await until(() => holder.stdout.includes('factory'), CHILD_START_MS, 'the holder to run its factory');
    holder.child.kill('SIGSTOP');
    try {
      // Its factory may return as soon as it runs again; it does not run before SIGCONT.
      await raw.rpush(gate, 'go');
      // Its lock (PX 1 s) runs out: this process takes the lock over and stores a newer value.
      const value = await cache.getOrSet('paused-holder', () => 'took-over', {
        lockTimeout: 1_000,
        ttl: '1h',
      });
      expect(value).toBe('took-over');
    } finally {
      holder.child.kill('SIGCONT');
    }
    const { code, values } = await finished(holder);
    expect(code, holder.output).toBe(0);
    expect(values).toEqual([`from-${holder.child.pid}`]); // its own callers get what it computed
    expect(await cache.get('paused-holder')).toBe('took-over');
    expect(await raw.pttl(`${prefix}:1:paused-holder`)).toBeGreaterThan(3_000_000);
  });

  it("lock 'local': a process paused in a background refresh (soft timeout) does not overwrite a newer value", async () => {
    await cache.getOrSet('paused-local', () => 'old', { ttl: 1, grace: '1m', lock: 'local' });
    await sleep(5); // a time gap on purpose: 'old' is now stale (1 ms ttl), within grace
    const gate = `${prefix}:gate:paused-local`;
    const refresher = startWorker({
      key: 'paused-local',
      lock: 'local',
      ttl: '1h',
      grace: '1m',
      timeout: 100,
      gate,
      lingerMs: 3_000, // time for the background refresh to store before the worker closes
    });
    // Its caller got the stale value at the soft timeout; the factory goes on behind.
    await until(() => refresher.stdout.includes('{'), CHILD_START_MS, 'the soft timeout to serve stale');
    refresher.child.kill('SIGSTOP');
    try {
      await raw.rpush(gate, 'go');
      expect(
        await cache.getOrSet('paused-local', () => 'newer', { lock: 'local', ttl: '1h', grace: '1m' }),
      ).toBe('newer');
    } finally {
      refresher.child.kill('SIGCONT');
    }
    const { code, values } = await finished(refresher);
    expect(code, refresher.output).toBe(0);
    expect(values).toEqual(['old']);
    expect(await cache.get('paused-local')).toBe('newer');
  });

  it('a set() while a fill runs is kept: the fill does not replace it', async () => {
    const lockKey = `${prefix}:__lock__:${prefix}:1:set-during-fill`;
    const fill = gatedFactory('computed');
    const pending = cache.getOrSet('set-during-fill', fill.factory, { ttl: '1h' });
    await fill.running;
    expect(await raw.exists(lockKey)).toBe(1);
    await cache.set('set-during-fill', 'explicit', { ttl: '1h' });
    fill.release();
    expect(await pending).toBe('computed');
    expect(await cache.get('set-during-fill')).toBe('explicit');
    // Its lock is released all the same (the next miss need not wait for it to expire).
    expect(await raw.exists(lockKey)).toBe(0);
  });
});

describe('a value invalidated before a call started is not its answer', () => {
  it('same process: a caller joining a running fill after invalidateTags returned gets a fresh value', async () => {
    const first = gatedFactory('computed-before-invalidation');
    const leader = cache.getOrSet('join', first.factory, { tags: ['t-join'] });
    await first.running;
    await cache.invalidateTags(['t-join']);
    let calls = 0;
    const joiner = cache.getOrSet(
      'join',
      () => {
        calls++;
        return 'fresh';
      },
      { tags: ['t-join'] },
    );
    first.release();
    expect(await leader).toBe('computed-before-invalidation'); // it started before the invalidation
    expect(await joiner).toBe('fresh');
    expect(calls).toBe(1);
    expect(await cache.get('join')).toBe('fresh');
  });

  it('same process: a caller joining a refresh is not served a stale value invalidated before it started', async () => {
    await cache.getOrSet('stale-join', () => 'old', { ttl: 1, grace: '1m', tags: ['t-stale'] });
    await sleep(5); // a time gap on purpose: past the 1 ms ttl
    const refresh = gatedFactory('refreshed-before-invalidation');
    const leader = cache.getOrSet('stale-join', refresh.factory, { grace: '1m', tags: ['t-stale'] });
    await refresh.running;
    await cache.invalidateTags(['t-stale']);
    let calls = 0;
    const joiner = cache.getOrSet(
      'stale-join',
      () => {
        calls++;
        return 'fresh';
      },
      { grace: '1m', tags: ['t-stale'] },
    );
    refresh.release();
    expect(await leader).toBe('refreshed-before-invalidation');
    expect(await joiner).toBe('fresh');
    expect(calls).toBe(1);
  });

  it("another process's fill message carrying an invalidated value is not served: the waiter fills afresh", async () => {
    const gate = `${prefix}:gate:xproc`;
    const holder = startWorker({ key: 'xproc', tags: ['t-xproc'], gate, lockTimeout: 20_000 });
    await until(() => holder.stdout.includes('factory'), CHILD_START_MS, 'the holder to run its factory');
    await cache.invalidateTags(['t-xproc']);
    let calls = 0;
    const started = Date.now();
    const waiter = cache.getOrSet(
      'xproc',
      () => {
        calls++;
        return 'fresh';
      },
      { tags: ['t-xproc'], lockTimeout: 20_000 },
    );
    const channel = `${prefix}:__fill__:${prefix}:1:xproc`;
    await until(
      async () => ((await raw.pubsub('NUMSUB', channel)) as [string, number])[1] > 0,
      10_000,
      'the waiter to listen on the fill channel',
    );
    await raw.rpush(gate, 'go');
    expect(await waiter).toBe('fresh');
    expect(calls).toBe(1);
    // It filled as soon as the holder delivered, not after its lockTimeout.
    expect(Date.now() - started).toBeLessThan(15_000);
    const { code, values } = await finished(holder);
    expect(code, holder.output).toBe(0);
    expect(values).toEqual([`from-${holder.child.pid}`]);
    expect(await cache.get('xproc')).toBe('fresh');
  });
});

describe('a waiter takes the value of the fill it waits for, and no other', () => {
  it("a message of another fill of the key (a late one from an earlier fill) is not taken for the holder's value", async () => {
    const other = createCache({ router: routers.standalone({ url: server.url }), keyPrefix: prefix });
    try {
      const held = gatedFactory('from-holder');
      const holding = other.getOrSet('late', held.factory, { lockTimeout: 20_000 });
      await held.running;
      let calls = 0;
      const waiter = cache.getOrSet(
        'late',
        () => {
          calls++;
          return 'from-waiter';
        },
        { lockTimeout: 20_000 },
      );
      const channel = `${prefix}:__fill__:${prefix}:1:late`;
      await until(
        async () => ((await raw.pubsub('NUMSUB', channel)) as [string, number])[1] > 0,
        10_000,
        'the waiter to listen on the fill channel',
      );
      // What an earlier fill of the key published, arriving only now: a stored value's bytes,
      // alone and behind another fill's token.
      await cache.set('late-source', 'stale');
      const stale = (await raw.getBuffer(`${prefix}:1:late-source`)) as Buffer;
      await raw.publish(channel, stale);
      await raw.publish(channel, Buffer.concat([Buffer.from('0'.repeat(32)), stale]));
      await sleep(300); // gives the stale messages time to be (wrongly) taken: nothing to poll for
      held.release();
      expect(await waiter).toBe('from-holder');
      expect(await holding).toBe('from-holder');
      expect([held.calls(), calls]).toEqual([1, 0]);
    } finally {
      await other.close();
    }
  });
});
