/**
 * `--scenario near`: the near cache against the network path and a peer, on the bench topology.
 *
 * 1. Hot-key GET (one key, 100 B and 10 KB values), concurrency 1 and 64: pooled without and
 *    with `nearCache`, and node-redis `createSentinel` with RESP3 `clientSideCache`.
 * 2. Invalidation delay: a third client (raw ioredis on the master) SETs a new value; time from
 *    its reply to the first read returning it, per client (p50/p99/max), and whether a client
 *    still returned the old value a second after the write (stale).
 * 3. Failover with the near cache on: a reader loops through SENTINEL FAILOVER; a raw client
 *    then writes on the new master; reads that started after that write was acknowledged and
 *    returned the old value are stale reads (goal 0).
 * bentocache is listed as skipped when the package is not installed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Cache } from '../../src/core/cache.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { serializers } from '../../src/serializers/index.js';
import type { Topology } from '../../src/topology/types.js';
import { importNodeRedis } from './clients.js';

export interface NearHotRow {
  client: string;
  valueBytes: number;
  concurrency: number;
  opsPerSec: number;
  /** Reads served from memory / reads (when the client reports it). */
  hitRate: number | null;
}

export interface NearDelayRow {
  client: string;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Writes after which the client still returned the old value 1 s later. */
  staleAfterOneSecond: number;
}

export interface NearFailoverRow {
  readsAfterWrite: number;
  staleReadsAfterWrite: number;
  flushReasons: string[];
}

export interface NearResult {
  hot: NearHotRow[];
  delay: NearDelayRow[];
  failover: NearFailoverRow | null;
  skipped: Array<{ client: string; reason: string }>;
}

export interface NearScenarioOptions {
  /** Measured time per hot-key cell and client. */
  cellMs: number;
  /** Raw writes in the invalidation-delay measurement. */
  writes: number;
  /** Run the SENTINEL FAILOVER part. */
  failover: boolean;
}

/** The minimal surface both clients expose here. */
interface Reader {
  name: string;
  get(redisKey: string): Promise<string | null | undefined>;
  hitRate(): number | null;
  close(): Promise<void>;
}

const PREFIX = 'nearbench';
const yieldToIo = () => new Promise<void>((r) => setImmediate(r));

function ours(topology: Topology, near: boolean): { reader: Reader; cache: Cache } {
  const cache = createCache({
    router: routers.pooled(topology.routerOptions()),
    serializer: serializers.string(),
    keyPrefix: PREFIX,
    ...(near ? { nearCache: true } : {}),
  });
  const strip = `${PREFIX}:1:`;
  return {
    cache,
    reader: {
      name: near ? 'pooled + nearCache' : 'pooled',
      // Integers written by the raw client read back as numbers: compare as text.
      get: async (redisKey) => {
        const value = await cache.get<unknown>(redisKey.slice(strip.length));
        return value === undefined ? undefined : String(value);
      },
      hitRate: () => {
        const s = cache.stats().nearCache;
        return s === undefined || s.hits + s.misses === 0 ? null : s.hits / (s.hits + s.misses);
      },
      close: () => cache.close(),
    },
  };
}

interface NodeRedisSentinel {
  connect(): Promise<unknown>;
  get(key: string): Promise<string | null>;
  close(): Promise<void>;
  destroy(): void;
  on(event: string, fn: (...args: unknown[]) => void): void;
  clientSideCache?: { stats(): { hitCount: number; missCount: number } };
}

async function nodeRedis(topology: Topology): Promise<Reader> {
  const mod = await importNodeRedis<{ createSentinel(o: unknown): NodeRedisSentinel }>();
  const o = topology.routerOptions();
  const sentinel = mod.createSentinel({
    name: o.service,
    sentinelRootNodes: o.sentinels.map((s) => ({ host: s.host, port: s.port })),
    RESP: 3,
    clientSideCache: { ttl: 60_000, maxEntries: 10_000 },
    ...(o.password !== undefined
      ? { nodeClientOptions: { password: o.password, username: o.username } }
      : {}),
  });
  sentinel.on('error', () => {});
  await sentinel.connect();
  return {
    name: 'node-redis-sentinel + clientSideCache (RESP3)',
    get: (redisKey) => sentinel.get(redisKey),
    hitRate: () => {
      const s = sentinel.clientSideCache?.stats();
      return s === undefined || s.hitCount + s.missCount === 0
        ? null
        : s.hitCount / (s.hitCount + s.missCount);
    },
    close: async () => {
      await sentinel.close().catch(() => sentinel.destroy());
    },
  };
}

async function hotGets(reader: Reader, redisKey: string, concurrency: number, ms: number): Promise<number> {
  let ops = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      let n = 0;
      while (performance.now() < end) {
        await reader.get(redisKey);
        ops++;
        // Hits resolve without I/O: yield now and then so sockets and timers keep running.
        if (++n % 256 === 0) await yieldToIo();
      }
    }),
  );
  return ops / ((performance.now() - start) / 1000);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function invalidationDelay(reader: Reader, raw: Redis, writes: number): Promise<NearDelayRow> {
  const redisKey = `${PREFIX}:1:inv:${reader.name.replace(/\W+/g, '-')}`;
  const delays: number[] = [];
  let stale = 0;
  await raw.set(redisKey, '0');
  for (let i = 1; i <= writes; i++) {
    const before = String(i - 1);
    const until = performance.now() + 5000;
    while ((await reader.get(redisKey)) !== before && performance.now() < until) await yieldToIo();
    await reader.get(redisKey); // held now, if the client holds anything
    await raw.set(redisKey, String(i));
    const t0 = performance.now();
    let seen = false;
    while (performance.now() - t0 < 1000) {
      if ((await reader.get(redisKey)) === String(i)) {
        seen = true;
        break;
      }
      await yieldToIo();
    }
    if (seen) delays.push(performance.now() - t0);
    else stale++;
  }
  delays.sort((a, b) => a - b);
  return {
    client: reader.name,
    samples: delays.length,
    p50Ms: percentile(delays, 50),
    p99Ms: percentile(delays, 99),
    maxMs: delays[delays.length - 1] ?? Number.NaN,
    staleAfterOneSecond: stale,
  };
}

async function masterClient(topology: Topology): Promise<Redis> {
  const master = await topology.currentMaster();
  const o = topology.routerOptions();
  const raw = new Redis({ host: master.host, port: master.port, username: o.username, password: o.password });
  raw.on('error', () => {});
  return raw;
}

async function failoverStaleReads(topology: Topology): Promise<NearFailoverRow> {
  const { cache } = ours(topology, true);
  const flushReasons: string[] = [];
  cache.on('near-flush', ({ reason }) => flushReasons.push(reason));
  try {
    await cache.set('fo', '1', { ttl: null });
    for (let i = 0; i < 5; i++) await cache.get('fo');
    const old = await topology.currentMaster();
    let stop = false;
    const reads: Array<{ at: number; value: string | undefined }> = [];
    const reader = (async () => {
      while (!stop) {
        const at = performance.now();
        const value = await cache.get<string>('fo').catch(() => undefined);
        reads.push({ at, value });
        await sleep(1);
      }
    })();
    let writtenAt = Number.POSITIVE_INFINITY;
    try {
      await topology.failover();
      await topology.waitForNewMaster(30_000, old);
      const raw = await masterClient(topology);
      try {
        await raw.set(`${PREFIX}:1:fo`, '2');
        writtenAt = performance.now();
      } finally {
        raw.disconnect();
      }
      await sleep(1000);
    } finally {
      stop = true;
      await reader;
    }
    const after = reads.filter((r) => r.at > writtenAt);
    return {
      readsAfterWrite: after.length,
      staleReadsAfterWrite: after.filter((r) => r.value === '1').length,
      flushReasons: [...new Set(flushReasons)],
    };
  } finally {
    await cache.close();
    await topology.waitForHealthy(30_000).catch(() => undefined);
  }
}

export async function runNear(
  topology: Topology,
  options: NearScenarioOptions,
  log: (line: string) => void,
): Promise<NearResult> {
  const result: NearResult = { hot: [], delay: [], failover: null, skipped: [] };
  const readers: Reader[] = [ours(topology, false).reader, ours(topology, true).reader];
  try {
    readers.push(await nodeRedis(topology));
  } catch (error) {
    result.skipped.push({
      client: 'node-redis-sentinel + clientSideCache',
      reason: error instanceof Error ? error.message : String(error),
    });
  }
  try {
    await import(['bentocache'].join(''));
  } catch {
    result.skipped.push({ client: 'bentocache', reason: 'package `bentocache` is not installed' });
  }
  const raw = await masterClient(topology);
  const writer = ours(topology, false).cache;
  try {
    for (const valueBytes of [100, 10_240]) {
      const redisKey = `${PREFIX}:1:hot:${valueBytes}`;
      // Through the cache, so our readers can decode it; the peer reads the same bytes raw.
      await writer.set(`hot:${valueBytes}`, 'v'.repeat(valueBytes), { ttl: null });
      for (const concurrency of [1, 64]) {
        for (const reader of readers) {
          log(`near: hot get ${valueBytes} B c=${concurrency} · ${reader.name}`);
          for (let i = 0; i < 3; i++) await reader.get(redisKey);
          const opsPerSec = await hotGets(reader, redisKey, concurrency, options.cellMs);
          result.hot.push({
            client: reader.name,
            valueBytes,
            concurrency,
            opsPerSec,
            hitRate: reader.hitRate(),
          });
        }
      }
    }
    for (const reader of readers) {
      log(`near: invalidation delay · ${reader.name}`);
      result.delay.push(await invalidationDelay(reader, raw, options.writes));
    }
  } finally {
    raw.disconnect();
    await writer.close();
    await Promise.allSettled(readers.map((r) => r.close()));
  }
  if (options.failover) {
    log('near: SENTINEL FAILOVER with the near cache on');
    result.failover = await failoverStaleReads(topology);
  }
  return result;
}
