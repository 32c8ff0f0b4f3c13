/**
 * instrument() against a scripted router (no Redis): operations by method and outcome, the
 * latency histogram, hits and misses, failovers and breaker state, read through the
 * OpenTelemetry SDK's in-memory exporter.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandTimeoutError } from '../../src/core/errors.js';
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
  readonly #client = {
    getBuffer: async (key: string) => {
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

describe('instrument()', () => {
  it('counts operations by method and outcome, with their latency, hits and misses', async () => {
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
    const ops = m.get(METRICS.operations);
    const base = { 'cache.name': 'sessions' };
    expect(point(ops, { ...base, 'cache.method': 'set', 'cache.outcome': 'ok' })?.value).toBe(2);
    expect(point(ops, { ...base, 'cache.method': 'get', 'cache.outcome': 'ok' })?.value).toBe(2);
    expect(
      point(ops, { 'cache.method': 'get', 'cache.outcome': 'error', 'error.type': 'COMMAND_TIMEOUT' })?.value,
    ).toBe(1);
    const latency = point<{ count: number; sum: number }>(m.get(METRICS.duration), { 'cache.method': 'get' });
    expect(latency?.value.count).toBe(2);
    expect(m.get(METRICS.duration)?.descriptor.unit).toBe('s');
    expect(point(m.get(METRICS.hits), { 'cache.tier': 'remote' })?.value).toBe(1);
    expect(point(m.get(METRICS.misses), { 'cache.tier': 'remote' })?.value).toBe(1);
    // Every attribute is low-cardinality: no key anywhere.
    for (const metric of m.values()) {
      for (const p of metric.dataPoints) expect(Object.values(p.attributes)).not.toContain('a');
    }

    instrumentation.stop();
    router.failing = false;
    await cache.get('a');
    const after = await metrics.collect();
    expect(
      point(after.get(METRICS.operations), { 'cache.method': 'get', 'cache.outcome': 'ok' })?.value,
    ).toBe(2);
    await cache.close();
  });

  it('counts failovers and reports breaker state per role', async () => {
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

  it('only counts the cache it instruments', async () => {
    metrics = testMeterProvider();
    const mine = createCache({ router: new ScriptedRouter() });
    const other = createCache({ router: new ScriptedRouter() });
    instrument(mine, { meterProvider: metrics.provider });
    await other.set('x', 1);
    await mine.set('x', 1);
    const m = await metrics.collect();
    expect(point(m.get(METRICS.operations), { 'cache.method': 'set' })?.value).toBe(1);
    await mine.close();
    await other.close();
  });
});
