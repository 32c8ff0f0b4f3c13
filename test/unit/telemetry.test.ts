/**
 * instrument() against a scripted router (no Redis): operation durations with the
 * OpenTelemetry database attributes, outcomes (also those the cache decides after Redis
 * answered, and those ignoreErrors answered for), hits and misses, failovers, near-cache
 * flushes and breaker state, read through the OpenTelemetry SDK's in-memory exporter.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandTimeoutError, KeyNotFoundError, ServerError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import type { Router, RouterEvent, RouterEventMap, RouterStats } from '../../src/routers/types.js';
import { instrument, METRICS } from '../../src/telemetry/index.js';
import { point, type TestMetrics, testMeterProvider } from '../fixtures/metrics.js';

/** A router whose client answers from a Map, and that fails while `failing` is set. */
class ScriptedRouter implements Router {
  readonly kind = 'scripted';
  failing = false;
  breaker: RouterStats['breaker'] = { master: 'closed', replica: 'closed' };
  readonly data = new Map<string, Buffer | string>();
  readonly #listeners = new Map<RouterEvent, Set<(payload: never) => void>>();
  /** What the next getBuffer throws, if anything. */
  replyError: Error | undefined;
  readonly #client = {
    options: { host: '10.0.0.7', port: 6390, db: 3 },
    // INCR_SAFE and MOVE_KEEP_TTL: the key does not exist.
    evalsha: async () => null,
    getBuffer: async (key: string) => {
      if (this.replyError !== undefined) throw this.replyError;
      const v = this.data.get(key);
      return v === undefined ? null : Buffer.from(v);
    },
    set: async (key: string, value: Buffer | string) => {
      this.data.set(key, value);
      return 'OK';
    },
  } as unknown as Redis;

  async execute<T>(_intent: unknown, fn: (client: Redis) => Promise<T>): Promise<T> {
    if (this.failing) throw new CommandTimeoutError('scripted timeout', 500);
    return fn(this.#client);
  }
  async close() {}
  on<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void) {
    const set = this.#listeners.get(event) ?? new Set();
    this.#listeners.set(event, set);
    set.add(fn as (payload: never) => void);
  }
  off<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void) {
    this.#listeners.get(event)?.delete(fn as (payload: never) => void);
  }
  emit<E extends RouterEvent>(event: E, payload: RouterEventMap[E]) {
    for (const fn of this.#listeners.get(event) ?? []) (fn as (p: RouterEventMap[E]) => void)(payload);
  }
  stats(): RouterStats {
    return { kind: this.kind, nodes: {}, failovers: 0, breaker: this.breaker };
  }
}

let metrics: TestMetrics | undefined;
afterEach(async () => {
  await metrics?.shutdown();
  metrics = undefined;
});

/** The node every scripted operation runs on, as attributes. */
const NODE = { 'server.address': '10.0.0.7', 'server.port': 6390, 'db.namespace': '3' };
const REDIS = { 'db.system.name': 'redis' };

describe('instrument()', () => {
  it('records each operation in db.client.operation.duration, with the node that served it', async () => {
    metrics = testMeterProvider();
    const router = new ScriptedRouter();
    const cache = createCache({ router });
    const instrumentation = instrument(cache, { meterProvider: metrics.provider, name: 'sessions' });
    await cache.set('a', 1);
    await cache.set('b', { x: 1 });
    await cache.get('a');
    await cache.get('missing');
    router.failing = true;
    await expect(cache.get('a')).rejects.toBeInstanceOf(CommandTimeoutError);

    const m = await metrics.collect();
    const durations = m.get(METRICS.operationDuration);
    expect(durations?.descriptor.unit).toBe('s');
    const count = (attributes: Record<string, unknown>) =>
      point<{ count: number }>(durations, attributes)?.value.count;
    const base = { 'cache.name': 'sessions', ...REDIS, ...NODE };
    expect(count({ ...base, 'db.operation.name': 'set', 'error.type': undefined })).toBe(2);
    expect(count({ ...base, 'db.operation.name': 'get', 'error.type': undefined })).toBe(2);
    // The router failed before lending a connection: no node to name.
    const failed = point<{ count: number }>(durations, {
      'db.operation.name': 'get',
      'error.type': 'COMMAND_TIMEOUT',
    });
    expect(failed?.value.count).toBe(1);
    expect(failed?.attributes).toEqual({
      'cache.name': 'sessions',
      ...REDIS,
      'db.operation.name': 'get',
      'error.type': 'COMMAND_TIMEOUT',
    });
    expect(point(m.get(METRICS.hits), { 'cache.tier': 'redis' })?.value).toBe(1);
    expect(point(m.get(METRICS.misses), { 'cache.tier': 'redis' })?.value).toBe(1);
    expect(point(m.get(METRICS.hits), { 'cache.tier': 'near' })).toBeUndefined();
    // Every attribute is low-cardinality: no key anywhere.
    for (const metric of m.values()) {
      for (const p of metric.dataPoints) expect(Object.values(p.attributes)).not.toContain('a');
    }

    instrumentation.stop();
    router.failing = false;
    await cache.get('a');
    const after = await metrics.collect();
    expect(
      point<{ count: number }>(after.get(METRICS.operationDuration), {
        'db.operation.name': 'get',
        'error.type': undefined,
      })?.value.count,
    ).toBe(2);
    await cache.close();
  });

  it('records a refusal decided after Redis answered (incr, incrVersion of a missing key) as the failure it is', async () => {
    metrics = testMeterProvider();
    const cache = createCache({ router: new ScriptedRouter() });
    instrument(cache, { meterProvider: metrics.provider });
    await expect(cache.incr('missing')).rejects.toBeInstanceOf(KeyNotFoundError);
    await expect(cache.incrVersion('missing')).rejects.toBeInstanceOf(KeyNotFoundError);
    const durations = (await metrics.collect()).get(METRICS.operationDuration);
    for (const operation of ['incr', 'incrVersion']) {
      expect(point(durations, { 'db.operation.name': operation, 'error.type': undefined })).toBeUndefined();
      expect(
        point(durations, { ...NODE, 'db.operation.name': operation, 'error.type': 'KEY_NOT_FOUND' }),
      ).toBeDefined();
    }
    await cache.close();
  });

  it("names a Redis error reply's prefix, and marks a failure ignoreErrors answered for", async () => {
    metrics = testMeterProvider();
    const router = new ScriptedRouter();
    const cache = createCache({ router, ignoreErrors: true });
    cache.on('error', () => {});
    instrument(cache, { meterProvider: metrics.provider });
    const reply = Object.assign(
      new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
      {
        name: 'ReplyError',
      },
    );
    router.replyError = new ServerError(reply.message, { cause: reply });
    await expect(cache.get('a')).rejects.toBeInstanceOf(ServerError);
    router.replyError = undefined;
    router.failing = true;
    await expect(cache.get('a')).resolves.toBeUndefined();

    const durations = (await metrics.collect()).get(METRICS.operationDuration);
    expect(
      point(durations, { 'error.type': 'SERVER_ERROR', 'db.response.status_code': 'WRONGTYPE', ...NODE }),
    ).toBeDefined();
    expect(point(durations, { 'error.type': 'COMMAND_TIMEOUT', 'cache.error.ignored': true })).toBeDefined();
    await cache.close();
  });

  it('counts failovers and near-cache flushes, and reports breaker state per role', async () => {
    metrics = testMeterProvider();
    const router = new ScriptedRouter();
    const cache = createCache({ router });
    instrument(cache, { meterProvider: metrics.provider });
    router.emit('failover', { service: 'mymaster', to: { host: '127.0.0.1', port: 1 } });
    router.emit('failover', { service: 'mymaster', to: { host: '127.0.0.1', port: 2 } });
    router.breaker = { master: 'open', replica: 'half-open' };
    router.emit('breaker-open', { role: 'master' });

    const m = await metrics.collect();
    expect(point(m.get(METRICS.failovers), {})?.value).toBe(2);
    expect(point(m.get(METRICS.breakerState), { 'cache.role': 'master' })?.value).toBe(2);
    expect(point(m.get(METRICS.breakerState), { 'cache.role': 'replica' })?.value).toBe(1);
    await cache.close();
  });

  it('counts rollbacks, and the cache forwards them and their count', async () => {
    metrics = testMeterProvider();
    const router = new ScriptedRouter();
    const cache = createCache({ router });
    instrument(cache, { meterProvider: metrics.provider });
    const seen: unknown[] = [];
    cache.on('rollback', (e) => seen.push(e));
    const payload = {
      service: 'mymaster',
      from: { host: '127.0.0.1', port: 1 },
      to: { host: '127.0.0.1', port: 2 },
      ackedOffset: 2000,
      promotedOffset: 1500,
      estimatedLostMs: 800,
    };
    router.emit('rollback', payload);
    const m = await metrics.collect();
    expect(point(m.get(METRICS.rollbacks), {})?.value).toBe(1);
    expect(METRICS.rollbacks).toBe('sentinel_cache.rollbacks');
    expect(seen).toEqual([payload]);
    // Routers without detection report no count: 0.
    expect(cache.stats().rollbacks).toBe(0);
    await cache.close();
  });

  it('only counts the cache it instruments', async () => {
    metrics = testMeterProvider();
    const mine = createCache({ router: new ScriptedRouter() });
    const other = createCache({ router: new ScriptedRouter() });
    instrument(mine, { meterProvider: metrics.provider });
    await other.set('x', 1);
    await mine.set('x', 1);
    const m = await metrics.collect();
    expect(
      point<{ count: number }>(m.get(METRICS.operationDuration), { 'db.operation.name': 'set' })?.value.count,
    ).toBe(1);
    await mine.close();
    await other.close();
  });
});
