/**
 * `sentinel-cache/telemetry`: OpenTelemetry metrics for a Cache, through `@opentelemetry/api`
 * (an optional peer dependency: install it, and an SDK to export, to use this entry point).
 *
 * Operations are recorded as `db.client.operation.duration`, with the attributes of the
 * OpenTelemetry database conventions that node-redis, redis-py and go-redis share, from the
 * `sentinel-cache:command` TracingChannel. The cache's own instruments (`sentinel_cache.*`):
 * hits and misses by tier and near-cache size from `cache.stats()` when the SDK collects;
 * failovers and near-cache flushes from the cache's events; breaker state from the router's
 * stats. Attributes stay low-cardinality: no key or value ever becomes one. docs/telemetry.md
 * lists every instrument and attribute.
 *
 * @module sentinel-cache/telemetry
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
import { CACHE_ID, type CommandMessage, commandChannel, type ServerAddress } from '../core/diagnostics.js';
import { CacheError } from '../core/errors.js';
import type { NearFlushEvent } from '../core/events.js';
import { isReplyError } from '../core/redis-errors.js';

export { COMMAND_CHANNEL, type CommandMessage, type ServerAddress } from '../core/diagnostics.js';

/** Options of `instrument()`. */
export interface InstrumentOptions {
  /** Where the instruments are created. Default: the global one (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Added to every data point as `cache.name`, to tell several caches apart. */
  name?: string;
}

/** What `instrument()` returns: `stop()` detaches everything it attached. */
export interface Instrumentation {
  /** Detach the instruments and listeners this `instrument()` call attached. */
  stop(): void;
}

/** Instrument names (docs/telemetry.md describes each). */
export const METRICS = {
  /** The OpenTelemetry database convention's operation histogram (seconds). */
  operationDuration: 'db.client.operation.duration',
  /** Reads that found a value, by tier (`cache.tier`: `near`, `redis`). */
  hits: 'sentinel_cache.hits',
  /** Reads that found no usable value, by tier. */
  misses: 'sentinel_cache.misses',
  /** Failovers the cache saw. */
  failovers: 'sentinel_cache.failovers',
  /** Each role's breaker state: 0 closed, 1 half-open, 2 open. */
  breakerState: 'sentinel_cache.breaker.state',
  /** Entries the near cache holds. */
  nearEntries: 'sentinel_cache.near_cache.entries',
  /** Bytes the near cache holds (encoded values plus keys). */
  nearBytes: 'sentinel_cache.near_cache.bytes',
  /** Times the near cache dropped everything, by reason. */
  nearFlushes: 'sentinel_cache.near_cache.flushes',
} as const;

const BREAKER_STATES = { closed: 0, 'half-open': 1, open: 2 } as const;

// Latency buckets (seconds) for a cache: 50 µs .. 2.5 s. The convention's default buckets
// start at 1 ms, where nearly every cache operation (and every near-cache hit) would land.
const DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/** `error.type` of a failure that is not one of ours (the convention's fallback value). */
const OTHER_ERROR = '_OTHER';

const START = Symbol('sentinel-cache.telemetry.start');
type Timed = CommandMessage & { [START]?: number };

/**
 * Starts recording `cache`'s metrics. Each call attaches its own instruments and listeners,
 * so call it once per cache (or `stop()` first).
 */
export function instrument(cache: Cache, options: InstrumentOptions = {}): Instrumentation {
  const provider = options.meterProvider ?? metrics.getMeterProvider();
  const meter = provider.getMeter('sentinel-cache');
  const base: Attributes = options.name === undefined ? {} : { 'cache.name': options.name };
  const cacheId = (cache as unknown as { [CACHE_ID]: number })[CACHE_ID];

  const duration: Histogram = meter.createHistogram(METRICS.operationDuration, {
    description:
      'Duration of cache operations (one cache method call, all its Redis commands, retries and failover waits included)',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const failovers: Counter = meter.createCounter(METRICS.failovers, {
    description: 'Master changes the router reported',
    unit: '{failover}',
  });
  const nearFlushes: Counter = meter.createCounter(METRICS.nearFlushes, {
    description: 'Times the near cache dropped everything it held, by reason',
    unit: '{flush}',
  });
  const hits = meter.createObservableCounter(METRICS.hits, {
    description: 'Reads that found a value, by tier (near = the near cache, redis = a Redis reply)',
    unit: '{hit}',
  });
  const misses = meter.createObservableCounter(METRICS.misses, {
    description: 'Reads that found no value (or a stale one), by tier',
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
  const attributes = attributeSets(base);
  const onAsyncEnd = (message: unknown) => {
    const m = message as Timed;
    const started = m[START];
    if (m.cacheId !== cacheId || started === undefined) return;
    duration.record((performance.now() - started) / 1000, attributes(m));
  };
  commandChannel.start.subscribe(onStart);
  commandChannel.asyncEnd.subscribe(onAsyncEnd);

  const onFailover = () => failovers.add(1, base);
  const flushAttributes = new Map<string, Attributes>();
  const onNearFlush = ({ reason }: NearFlushEvent) => {
    let set = flushAttributes.get(reason);
    if (set === undefined) {
      set = { ...base, 'cache.flush.reason': reason };
      flushAttributes.set(reason, set);
    }
    nearFlushes.add(1, set);
  };
  cache.on('failover', onFailover);
  cache.on('near-flush', onNearFlush);

  const tiers = { near: { ...base, 'cache.tier': 'near' }, redis: { ...base, 'cache.tier': 'redis' } };
  const observables: Observable[] = [hits, misses, breakerState, nearEntries, nearBytes];
  const observe = (result: BatchObservableResult) => {
    if (cache.closed) return;
    const stats = cache.stats();
    result.observe(hits, stats.tiers.redis.hits, tiers.redis);
    result.observe(misses, stats.tiers.redis.misses, tiers.redis);
    if (stats.nearCache !== undefined) {
      result.observe(hits, stats.tiers.near.hits, tiers.near);
      result.observe(misses, stats.tiers.near.misses, tiers.near);
      result.observe(nearEntries, stats.nearCache.entries, base);
      result.observe(nearBytes, stats.nearCache.bytes, base);
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
      cache.off('near-flush', onNearFlush);
      meter.removeBatchObservableCallback(observe, observables);
    },
  };
}

/**
 * The attributes of one operation's duration, each set made once (per node, method and
 * outcome) and reused: recording allocates nothing per operation.
 */
function attributeSets(base: Attributes): (m: CommandMessage) => Attributes {
  const withoutServer = new Map<string, Attributes>();
  const byServer = new WeakMap<ServerAddress, Map<string, Attributes>>();
  return (m) => {
    const server = m.server;
    let sets = server === undefined ? withoutServer : byServer.get(server);
    if (sets === undefined) {
      sets = new Map();
      byServer.set(server as ServerAddress, sets);
    }
    // A rejection is the operation's failure; a resolved one may still have failed in Redis
    // (ignoreErrors answered for it).
    const failed = 'error' in m;
    const failure = failed ? m.error : m.ignoredError;
    if (!failed && failure === undefined) {
      let set = sets.get(m.operation);
      if (set === undefined) {
        set = operationAttributes(base, m.operation, server);
        sets.set(m.operation, set);
      }
      return set;
    }
    const errorType = failure instanceof CacheError ? failure.code : OTHER_ERROR;
    const status = replyPrefixOf(failure);
    const id = `${m.operation}\0${errorType}\0${status ?? ''}\0${failed ? '' : 'ignored'}`;
    let set = sets.get(id);
    if (set === undefined) {
      set = operationAttributes(base, m.operation, server);
      set['error.type'] = errorType;
      if (status !== undefined) set['db.response.status_code'] = status;
      if (!failed) set['cache.error.ignored'] = true;
      sets.set(id, set);
    }
    return set;
  };
}

function operationAttributes(
  base: Attributes,
  operation: string,
  server: ServerAddress | undefined,
): Attributes {
  const set: Attributes = { ...base, 'db.system.name': 'redis', 'db.operation.name': operation };
  if (server !== undefined) {
    set['server.address'] = server.address;
    set['server.port'] = server.port;
    set['db.namespace'] = String(server.database);
  }
  return set;
}

/** The Redis error prefix (`ERR`, `WRONGTYPE`, `OOM`, ...) of a reply error, also behind our named one. */
function replyPrefixOf(failure: unknown): string | undefined {
  const reply = isReplyError(failure) ? failure : (failure as { cause?: unknown } | null | undefined)?.cause;
  if (!isReplyError(reply)) return undefined;
  return /^[A-Z]+/.exec(reply.message)?.[0];
}
