/**
 * Locks at the edges, on real servers: a release or an acquire that fails transiently keeps
 * its token (retry-able, never a lock nobody can release), the default TTL is finite, a
 * blocking acquire rides out a paused master and a Sentinel failover until its deadline, and
 * `waitReplicas` refuses a lock that no replica acknowledged.
 *
 * Faults: `CLIENT PAUSE <ms> WRITE` on the server (write commands and scripts wait, exactly
 * like a stalled master: the command runs once the pause ends, after the client gave up).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { CommandTimeoutError, ConfigError, LockError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import { useStandalone } from '../fixtures/reliability.js';
import { makeRouter, ROUTER_KINDS } from './router-helpers.js';

const PAUSE_MS = 1500;

describe('locks on a stalled standalone server', () => {
  const redis = useStandalone();
  let cache: Cache;

  beforeAll(() => {
    cache = createCache({
      router: routers.standalone({ url: redis.server.url, commandTimeoutMs: 300 }),
      keyPrefix: 'locks',
    });
  });
  afterAll(async () => {
    await cache?.close();
  });

  /** Stall every write for PAUSE_MS; resolves when the pause has certainly ended. */
  async function stallWrites(): Promise<() => Promise<void>> {
    await redis.raw.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
    const ends = sleep(PAUSE_MS + 300);
    return () => ends;
  }

  it('has a finite default TTL (30 s), not "until released"', async () => {
    const lock = cache.lock('default-ttl');
    expect(await lock.acquire()).toBe(true);
    const pttl = await redis.raw.pttl(lock.key);
    expect(pttl).toBeGreaterThan(20_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
    await lock.release();
  });

  it('a release that timed out keeps the token: retrying it releases the lock', async () => {
    const lock = cache.lock('release-retry', { ttl: '60s' });
    expect(await lock.acquire()).toBe(true);
    const resumed = await stallWrites();
    await expect(lock.release()).rejects.toBeInstanceOf(CommandTimeoutError);
    expect(lock.held).toBe(true);
    await resumed();
    await lock.release(); // whether the stalled release ran or not, this one settles it
    expect(lock.held).toBe(false);
    expect(await redis.raw.exists(lock.key)).toBe(0);
    const other = cache.lock('release-retry', { ttl: '60s' });
    expect(await other.acquire({ blocking: false })).toBe(true);
    await other.release();
  });

  it('an acquire whose SET timed out (and ran later) is recognised by the next acquire', async () => {
    const lock = cache.lock('acquire-timeout', { ttl: '60s' });
    const resumed = await stallWrites();
    await expect(lock.acquire({ blocking: false })).rejects.toBeInstanceOf(CommandTimeoutError);
    await resumed();
    // The stalled SET NX ran after the pause: the key holds this Lock's token.
    expect(await redis.raw.exists(lock.key)).toBe(1);
    expect(await lock.acquire({ blocking: false })).toBe(true);
    expect(await lock.owned()).toBe(true);
    await lock.release();
    expect(await redis.raw.exists(lock.key)).toBe(0);
  });

  it('an acquire whose SET timed out can be cleaned up with release()', async () => {
    const lock = cache.lock('acquire-cleanup', { ttl: '60s' });
    const resumed = await stallWrites();
    await expect(lock.acquire({ blocking: false })).rejects.toBeInstanceOf(CommandTimeoutError);
    await resumed();
    expect(await redis.raw.exists(lock.key)).toBe(1);
    await lock.release();
    expect(await redis.raw.exists(lock.key)).toBe(0);
  });

  it('a blocking acquire rides out a stalled master until its deadline', async () => {
    const lock = cache.lock('blocking-stall', { ttl: '60s', sleepMs: 50 });
    await stallWrites();
    expect(await lock.acquire({ blockingTimeout: '15s' })).toBe(true);
    expect(await lock.owned()).toBe(true);
    await lock.release();
  });

  it('a blocking acquire that runs out of time throws LockError (never returns false)', async () => {
    const holder = cache.lock('blocking-deadline', { ttl: '60s' });
    await holder.acquire();
    const other = cache.lock('blocking-deadline', { ttl: '60s', sleepMs: 50 });
    const resumed = await stallWrites();
    await expect(other.acquire({ blockingTimeout: 1000 })).rejects.toBeInstanceOf(LockError);
    await resumed();
    await holder.release();
  });

  it('waitReplicas: a lock no replica acknowledged is given back and refused with LockError', async () => {
    const lock = cache.lock('wait-none', { ttl: '60s', waitReplicas: 1, waitTimeoutMs: 100 });
    await expect(lock.acquire({ blocking: false })).rejects.toBeInstanceOf(LockError);
    expect(lock.held).toBe(false);
    expect(await redis.raw.exists(lock.key)).toBe(0);
  });

  it('refuses bad lock options with ConfigError', () => {
    expect(() => cache.lock('bad', { waitReplicas: -1 })).toThrow(ConfigError);
    expect(() => cache.lock('bad', { waitReplicas: 1, waitTimeoutMs: 0 })).toThrow(ConfigError);
    expect(() => cache.lock('bad', { ttl: 0 })).toThrow(ConfigError);
  });
});

describe.each(ROUTER_KINDS)('locks through a Sentinel failover (%s)', (kind) => {
  let topo: Topology;
  let cache: Cache;

  beforeAll(async () => {
    topo = await startTopology({ provider: 'process', replicas: 1, sentinels: 3, downAfterMs: 1000 });
    cache = createCache({ router: makeRouter(kind, topo), keyPrefix: `locks-${kind}` });
  });
  afterAll(async () => {
    await cache?.close();
    await topo?.stop();
  });

  it('waitReplicas: 1 acquires when the replica acknowledges', async () => {
    const lock = cache.lock('wait-one', { ttl: '60s', waitReplicas: 1, waitTimeoutMs: 2000 });
    expect(await lock.acquire({ blocking: false })).toBe(true);
    await lock.release();
  });

  it('a blocking acquire started during SENTINEL FAILOVER waits it out and holds the lock on the new master', async () => {
    const before = await topo.currentMaster();
    const switched = topo.waitForNewMaster(30_000, before);
    await topo.failover();
    const results: boolean[] = [];
    // Several acquisitions while the switch happens: none may fail before its deadline.
    for (let i = 0; i < 5; i++) {
      const lock = cache.lock(`failover-${i}`, { ttl: '60s', sleepMs: 100 });
      results.push(await lock.acquire({ blockingTimeout: '20s' }));
      await lock.release();
      await sleep(300);
    }
    expect(results).toEqual([true, true, true, true, true]);
    const after = await switched;
    expect(after).not.toEqual(before);
    const lock = cache.lock('after', { ttl: '60s' });
    expect(await lock.acquire({ blockingTimeout: '20s' })).toBe(true);
    expect(await lock.owned()).toBe(true);
    await lock.release();
  }, 90_000);
});
