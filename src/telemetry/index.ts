/**
 * `sentinel-cache/telemetry`: OpenTelemetry metrics for a Cache, through `@opentelemetry/api`
 * (an optional peer dependency: install it, and an SDK to export, to use this entry point).
 *
 * Operations and their latency come from the `sentinel-cache:command` TracingChannel; hits,
 * misses and near-cache size from `cache.stats()` when the SDK collects; failovers and breaker
 * state from the cache's events. Attributes stay low-cardinality: the method, the outcome, the
 * error code, the tier, the role, and the `cache.name` you give.
 */
import {
  type Attributes,
  type BatchObservableResult,
  type Counter,
  type Histogram,
  type MeterProvider,
  metrics,
  type Observable,
} from '@opentelemetry/api';
import type { Cache } from '../core/cache.js';
import { CACHE_ID, type CommandMessage, commandChannel } from '../core/diagnostics.js';
import { CacheError } from '../core/errors.js';

export { COMMAND_CHANNEL, type CommandMessage } from '../core/diagnostics.js';

export interface InstrumentOptions {
  /** Where the instruments are created. Default: the global one (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Added to every data point as `cache.name`, to tell several caches apart. */
  name?: string;
}

/** What `instrument()` returns: `stop()` detaches everything it attached. */
export interface Instrumentation {
  stop(): void;
}

/** Instrument names, also the README's table. */
export const METRICS = {
  operations: 'sentinel_cache.operations',
  duration: 'sentinel_cache.operation.duration',
  hits: 'sentinel_cache.hits',
  misses: 'sentinel_cache.misses',
  failovers: 'sentinel_cache.failovers',
  breakerState: 'sentinel_cache.breaker.state',
  nearEntries: 'sentinel_cache.near_cache.entries',
  nearBytes: 'sentinel_cache.near_cache.bytes',
} as const;

const BREAKER_STATES = { closed: 0, 'half-open': 1, open: 2 } as const;

// Latency buckets (seconds) for a cache: 50 µs .. 2.5 s, where the default HTTP buckets would
// put nearly every operation in the first one.
const DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

const START = Symbol('sentinel-cache.telemetry.start');
type Timed = CommandMessage & { [START]?: number };

/** Near-cache counters, once the cache has a near cache (`cache.stats().nearCache`). */
interface NearCacheStats {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

/**
 * Starts recording `cache`'s metrics. Idempotent per call site: each call attaches its own
 * instruments and listeners, so call it once per cache (or `stop()` first).
 */
export function instrument(cache: Cache, options: InstrumentOptions = {}): Instrumentation {
  const provider = options.meterProvider ?? metrics.getMeterProvider();
  const meter = provider.getMeter('sentinel-cache');
  const base: Attributes = options.name === undefined ? {} : { 'cache.name': options.name };
  const cacheId = (cache as unknown as { [CACHE_ID]: number })[CACHE_ID];

  const operations: Counter = meter.createCounter(METRICS.operations, {
    description: 'Cache operations, by method and outcome',
    unit: '{operation}',
  });
  const duration: Histogram = meter.createHistogram(METRICS.duration, {
    description: 'Duration of cache operations, including retries and failover waits',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const failovers: Counter = meter.createCounter(METRICS.failovers, {
    description: 'Master changes the router reported',
    unit: '{failover}',
  });
  const hits = meter.createObservableCounter(METRICS.hits, {
    description: 'Reads that found a value, by tier (remote = Redis, near = in-process)',
    unit: '{hit}',
  });
  const misses = meter.createObservableCounter(METRICS.misses, {
    description: 'Reads that found nothing, by tier',
    unit: '{miss}',
  });
  const breakerState = meter.createObservableGauge(METRICS.breakerState, {
    description: 'Circuit breaker state by role: 0 closed, 1 half-open, 2 open',
  });
  const nearEntries = meter.createObservableGauge(METRICS.nearEntries, {
    description: 'Entries held by the near cache',
    unit: '{entry}',
  });
  const nearBytes = meter.createObservableGauge(METRICS.nearBytes, {
    description: 'Bytes held by the near cache (encoded size)',
    unit: 'By',
  });

  const onStart = (message: unknown) => {
    const m = message as Timed;
    if (m.cacheId === cacheId) m[START] = performance.now();
  };
  // One attributes object per method × outcome, made once: no allocation per operation.
  const attributeSets = new Map<string, Attributes>();
  const attributesOf = (operation: string, errorType: string | undefined): Attributes => {
    const id = errorType === undefined ? operation : `${operation}\0${errorType}`;
    let attributes = attributeSets.get(id);
    if (attributes === undefined) {
      attributes = {
        ...base,
        'cache.method': operation,
        'cache.outcome': errorType === undefined ? 'ok' : 'error',
      };
      if (errorType !== undefined) attributes['error.type'] = errorType;
      attributeSets.set(id, attributes);
    }
    return attributes;
  };
  const onAsyncEnd = (message: unknown) => {
    const m = message as Timed;
    const started = m[START];
    if (m.cacheId !== cacheId || started === undefined) return;
    const errorType = 'error' in m ? (m.error instanceof CacheError ? m.error.code : 'other') : undefined;
    const attributes = attributesOf(m.operation, errorType);
    operations.add(1, attributes);
    duration.record((performance.now() - started) / 1000, attributes);
  };
  commandChannel.start.subscribe(onStart);
  commandChannel.asyncEnd.subscribe(onAsyncEnd);

  const onFailover = () => failovers.add(1, base);
  cache.on('failover', onFailover);

  const observables: Observable[] = [hits, misses, breakerState, nearEntries, nearBytes];
  const observe = (result: BatchObservableResult) => {
    if (cache.closed) return;
    const stats = cache.stats();
    const remote = { ...base, 'cache.tier': 'remote' };
    result.observe(hits, stats.hits, remote);
    result.observe(misses, stats.misses, remote);
    const near = (stats as { nearCache?: NearCacheStats }).nearCache;
    if (near !== undefined) {
      const tier = { ...base, 'cache.tier': 'near' };
      result.observe(hits, near.hits, tier);
      result.observe(misses, near.misses, tier);
      result.observe(nearEntries, near.entries, base);
      result.observe(nearBytes, near.bytes, base);
    }
    // Read from the router's stats at collection time: routers without breakers report none.
    if (stats.breaker !== undefined) {
      for (const role of ['master', 'replica'] as const) {
        result.observe(breakerState, BREAKER_STATES[stats.breaker[role]], { ...base, 'cache.role': role });
      }
    }
  };
  meter.addBatchObservableCallback(observe, observables);

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      commandChannel.start.unsubscribe(onStart);
      commandChannel.asyncEnd.unsubscribe(onAsyncEnd);
      cache.off('failover', onFailover);
      meter.removeBatchObservableCallback(observe, observables);
    },
  };
}
