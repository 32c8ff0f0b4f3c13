/**
 * Load and leaks, for the standalone, discovery and pooled routers on real redis-server
 * processes: 10,000 concurrent operations all settle (healthy, and with the master paused
 * under them); after close() a child process exits on its own (healthy and dead servers);
 * every method family used after close() throws CacheClosedError.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import {
  CacheClosedError,
  CircuitOpenError,
  CommandTimeoutError,
  ConnectionInterruptedError,
  MasterNotFoundError,
} from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import type { Router } from '../../src/routers/types.js';
import { serializers } from '../../src/serializers/index.js';
import { startStandalone, startTopology, type Topology } from '../../src/topology/index.js';
import type { Standalone } from '../../src/topology/types.js';
import { runTsx } from '../fixtures/child.js';
import { closedPort, errorName, settleWithin } from '../fixtures/reliability.js';

const KINDS = ['standalone', 'discovery', 'pooled'] as const;
type Kind = (typeof KINDS)[number];
const COMMAND_TIMEOUT_MS = 500;
const CONNECT_TIMEOUT_MS = 1000;
const timeouts = { commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS };
/**
 * The healthy storms prove "all succeed", not "fast": on a loaded 2-core machine 10,000
 * queued commands can take longer than COMMAND_TIMEOUT_MS to drain, so they run with room.
 */
const HEALTHY_COMMAND_TIMEOUT_MS = 15_000;
const OPERATIONS = 10_000;
/** 10,000 operations on a shared 2-core machine: generous, it only has to prove "no hang". */
const LOAD_BUDGET_MS = 30_000;
const EXIT_BUDGET_MS = 15_000;

let server: Standalone;
let topology: Topology;

beforeAll(async () => {
  [server, topology] = await Promise.all([
    startStandalone(),
    startTopology({ provider: 'process', replicas: 1, sentinels: 2, quorum: 1, downAfterMs: 5000 }),
  ]);
});

afterAll(async () => {
  await topology?.resumeMaster().catch(() => {});
  await Promise.all([server?.stop(), topology?.stop()]);
});

function routerOptions(kind: Kind, commandTimeoutMs = COMMAND_TIMEOUT_MS): Record<string, unknown> {
  const t = { ...timeouts, commandTimeoutMs };
  if (kind === 'standalone') return { host: server.host, port: server.port, ...t };
  return { ...topology.routerOptions(), ...t, readFrom: 'replica-preferred' };
}

function makeRouter(kind: Kind, options = routerOptions(kind)): Router {
  if (kind === 'standalone') return routers.standalone(options);
  const sentinelOptions = options as unknown as Parameters<typeof routers.discovery>[0];
  return kind === 'pooled' ? routers.pooled(sentinelOptions) : routers.discovery(sentinelOptions);
}

function cacheOn(kind: Kind, commandTimeoutMs = COMMAND_TIMEOUT_MS): Cache {
  const cache = createCache({
    router: makeRouter(kind, routerOptions(kind, commandTimeoutMs)),
    serializer: serializers.msgpack(),
    keyPrefix: `load-${kind}`,
    defaultTtl: '5m',
  });
  cache.on('error', () => {});
  return cache;
}

/** One of a mix of reads and writes, chosen by index. */
function operation(cache: Cache, i: number): Promise<unknown> {
  switch (i % 6) {
    case 0:
      return cache.set(`k${i % 500}`, { i, payload: 'x'.repeat(i % 200) });
    case 1:
      return cache.get(`k${i % 500}`);
    case 2:
      return cache.incr('counter', 1, { ignoreKeyCheck: true });
    case 3:
      return cache.getMany([`k${i % 500}`, `k${(i + 1) % 500}`, 'absent']);
    case 4:
      return cache.has(`k${i % 500}`);
    default:
      return cache.delete(`gone${i}`);
  }
}

/** Start `OPERATIONS` operations at once; resolve with how many resolved/rejected, or report a hang. */
async function storm(cache: Cache, during?: () => Promise<void>) {
  const promises = Array.from({ length: OPERATIONS }, (_, i) => operation(cache, i));
  const faults = during?.();
  const outcome = await settleWithin(Promise.allSettled(promises), LOAD_BUDGET_MS);
  await faults;
  if (outcome.status !== 'resolved') {
    // Count the stragglers for the failure message.
    let pending = 0;
    await Promise.all(
      promises.map((p) => settleWithin(p, 1).then((o) => (o.status === 'pending' ? pending++ : 0))),
    );
    throw new Error(`${pending} of ${OPERATIONS} operations still pending after ${LOAD_BUDGET_MS} ms`);
  }
  const results = outcome.value;
  const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
  return { resolved: results.length - rejected.length, rejected };
}

describe.each(KINDS)('%s router', (kind) => {
  it(`${OPERATIONS} concurrent operations all settle, and all succeed on a healthy server`, async () => {
    const cache = cacheOn(kind, HEALTHY_COMMAND_TIMEOUT_MS);
    try {
      const { resolved, rejected } = await storm(cache);
      expect(rejected.map((r) => String(r.reason)).slice(0, 3)).toEqual([]);
      expect(resolved).toBe(OPERATIONS);
      // incr was issued OPERATIONS / 6 times, each applied exactly once.
      expect(await cache.get('counter')).toBe(Math.ceil(OPERATIONS / 6));
    } finally {
      await cache.close();
    }
  });

  it(`${OPERATIONS} concurrent operations settle while the master is paused under them`, async () => {
    const cache = cacheOn(kind);
    try {
      await cache.set('warm', 1);
      // Paused first, so every router meets it (the storm may finish faster than a pause);
      // resumed while the storm is still running. The pause lasts five command timeouts: on a
      // loaded machine the storm's first commands may reach the socket only after a few
      // hundred ms, and they must still wait past commandTimeoutMs.
      if (kind === 'standalone') await server.pause();
      else await topology.pauseMaster();
      const { rejected } = await storm(cache, async () => {
        await new Promise((r) => setTimeout(r, 5 * COMMAND_TIMEOUT_MS));
        if (kind === 'standalone') await server.resume();
        else await topology.resumeMaster();
      });
      // Some operations fail (the pause is longer than commandTimeoutMs), each with a named error.
      expect(rejected.length).toBeGreaterThan(0);
      const named = [CommandTimeoutError, ConnectionInterruptedError, CircuitOpenError, MasterNotFoundError];
      const unnamed = rejected.filter((r) => !named.some((c) => r.reason instanceof c));
      expect(unnamed.map((r) => `${errorName(r.reason)}: ${String(r.reason)}`).slice(0, 3)).toEqual([]);
    } finally {
      await cache.close();
    }
  });

  it('close() in the middle of 2,000 operations: close resolves and every operation settles', async () => {
    const cache = cacheOn(kind);
    await cache.set('warm', 1);
    const settled = Promise.allSettled(Array.from({ length: 2000 }, (_, i) => operation(cache, i)));
    const closed = await settleWithin(cache.close(), 10_000);
    expect(closed.status).toBe('resolved');
    const outcome = await settleWithin(settled, LOAD_BUDGET_MS);
    expect(outcome.status).toBe('resolved');
    const results = outcome.status === 'resolved' ? outcome.value : [];
    const unexpected = results.filter(
      (r) =>
        r.status === 'rejected' &&
        !(r.reason instanceof CacheClosedError) &&
        !(r.reason instanceof ConnectionInterruptedError),
    );
    expect(unexpected.map((r) => String((r as PromiseRejectedResult).reason)).slice(0, 3)).toEqual([]);
  });

  it('close() while the server is paused resolves within the budget', async () => {
    const cache = cacheOn(kind);
    await cache.set('warm', 1);
    if (kind === 'standalone') await server.pause();
    else await topology.pauseMaster();
    try {
      const pending = cache.get('warm').catch(() => undefined);
      const closed = await settleWithin(cache.close(), COMMAND_TIMEOUT_MS + CONNECT_TIMEOUT_MS + 2000);
      expect(closed.status).toBe('resolved');
      expect((await settleWithin(pending, COMMAND_TIMEOUT_MS + 2000)).status).toBe('resolved');
    } finally {
      if (kind === 'standalone') await server.resume();
      else await topology.resumeMaster();
    }
  });

  it('every method family throws CacheClosedError after close()', async () => {
    const cache = cacheOn(kind);
    await cache.set('k', 1);
    await cache.close();
    await cache.close(); // idempotent
    expect(cache.closed).toBe(true);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['get', () => cache.get('k')],
      ['set', () => cache.set('k', 1)],
      ['add', () => cache.add('k', 1)],
      ['getMany', () => cache.getMany(['k'])],
      ['setMany', () => cache.setMany({ k: 1 })],
      ['delete', () => cache.delete('k')],
      ['deleteMany', () => cache.deleteMany(['k'])],
      ['deletePattern', () => cache.deletePattern('*')],
      ['has', () => cache.has('k')],
      ['incr', () => cache.incr('n')],
      ['decr', () => cache.decr('n')],
      ['incrVersion', () => cache.incrVersion('k')],
      ['ttl', () => cache.ttl('k')],
      ['expire', () => cache.expire('k', 1000)],
      ['expireAt', () => cache.expireAt('k', Date.now() + 1000)],
      ['persist', () => cache.persist('k')],
      ['touch', () => cache.touch('k')],
      ['keys', () => cache.keys('*')],
      ['iterKeys', () => cache.iterKeys('*').next()],
      ['getOrSet', () => cache.getOrSet('k', () => 1)],
      ['lock', () => cache.lock('l', { ttl: 1000 }).acquire()],
      ['clear', () => cache.clear()],
      ['flushDb', () => cache.flushDb()],
      ['withClient', () => cache.withClient('read', (c) => c.ping())],
      ['sadd', () => cache.sadd('s', 1)],
      ['smembers', () => cache.smembers('s')],
      ['sinter', () => cache.sinter('s', 't')],
      ['sunionstore', () => cache.sunionstore('d', 's')],
      ['sscan', () => cache.sscan('s')],
      ['hset', () => cache.hset('h', 'f', 1)],
      ['hgetall', () => cache.hgetall('h')],
      ['zadd', () => cache.zadd('z', { a: 1 })],
      ['zrange', () => cache.zrange('z', 0, -1)],
      ['zpopmin', () => cache.zpopmin('z')],
      ['router.execute', () => cache.router.execute('read', (c) => c.ping())],
    ];
    for (const [name, call] of calls) {
      const outcome = await settleWithin(call(), 2000);
      expect(outcome.status, name).toBe('rejected');
      expect(outcome.status === 'rejected' && outcome.error, name).toBeInstanceOf(CacheClosedError);
    }
  });
});

const FIXTURE = fileURLToPath(new URL('../fixtures/close-exits.ts', import.meta.url));

/** Run the fixture; resolve with its exit code and output, or kill it and report a hang. */
function runChild(kind: Kind, options: Record<string, unknown>) {
  return runTsx(FIXTURE, [kind], {
    env: { ...process.env, CLOSE_EXITS_OPTIONS: JSON.stringify(options) },
    budgetMs: EXIT_BUDGET_MS,
  });
}

describe('after close() the process exits on its own (child process)', () => {
  it.each(KINDS)('%s, healthy server', async (kind) => {
    const result = await runChild(kind, routerOptions(kind));
    expect(result.hung, `still running ${EXIT_BUDGET_MS} ms later; stderr: ${result.stderr}`).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout.trim().split('\n').pop() as string);
    expect(report.closed).toBe(true);
    expect(Object.values(report.outcomes)).toEqual(Array(7).fill('ok'));
    // Busy connections, then closed ones: never "kept alive only by an open cache".
    expect(result.stderr).not.toContain('SENTINEL_CACHE_OPEN');
  });

  it.each(KINDS)('%s, nothing listening (operations failed before close)', async (kind) => {
    const port = await closedPort();
    const options =
      kind === 'standalone'
        ? { host: '127.0.0.1', port, ...timeouts }
        : { sentinels: [{ host: '127.0.0.1', port }], service: 'mymaster', ...timeouts };
    const result = await runChild(kind, options);
    expect(result.hung, `still running ${EXIT_BUDGET_MS} ms later; stderr: ${result.stderr}`).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout.trim().split('\n').pop() as string);
    expect(Object.values(report.outcomes)).not.toContain('ok');
    expect(result.stderr).not.toContain('SENTINEL_CACHE_OPEN');
  });
});
