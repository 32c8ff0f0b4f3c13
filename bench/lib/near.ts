/**
 * `--scenario near`: the near cache against the network path and a peer, on the bench topology.
 *
 * 1. Hot-key GET (one key, 100 B and 10 KB values), concurrency 1 and 64: pooled without and
 *    with `nearCache`, node-redis `createSentinel` with RESP3 `clientSideCache`, and bentocache
 *    (memory L1 + Redis L2 through ioredis' Sentinel support + its Redis bus). Each cell runs
 *    in rounds with the client order rotated, so outside load is spread over all clients.
 * 2. Invalidation delay: a third client (raw ioredis on the master) SETs a new value; time from
 *    its reply to the first read returning it, per client (p50/p99/max), and whether a client
 *    still returned the old value a second after the write (stale).
 * 3. Failover with the near cache on: a reader loops through SENTINEL FAILOVER; a raw client
 *    then writes on the new master; reads that started after that write was acknowledged and
 *    returned the old value are stale reads (goal 0).
 * bentocache is listed as skipped when the package is not installed. Its bus carries only
 * bentocache's own writes, so a raw client's write leaves its memory tier stale: the delay
 * measurement stops for a client after STALE_WRITES_LIMIT writes it never saw (each costs 1 s).
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
  /**
   * When the cache heard of the failover (its first 'failover' flush, on +switch-master),
   * in ms after the raw write was acknowledged (negative: before it); null if never.
   */
  failoverFlushAfterWriteMs?: number | null;
  /** Last stale read's start, in ms after the raw write was acknowledged; null if none. */
  lastStaleAfterWriteMs?: number | null;
}

export interface NearResult {
  hot: NearHotRow[];
  delay: NearDelayRow[];
  failover: NearFailoverRow | null;
  skipped: Array<{ client: string; reason: string }>;
  /** Remarks printed under the near-cache tables (e.g. a delay measurement cut short). */
  notes?: string[];
}

export interface NearScenarioOptions {
  /** Measured time per hot-key cell and client. */
  cellMs: number;
  /** Raw writes in the invalidation-delay measurement. */
  writes: number;
  /** Run the SENTINEL FAILOVER part. */
  failover: boolean;
}

/** The minimal surface every client exposes here. */
interface Reader {
  name: string;
  /** What `get` takes for the logical key `name` (whose Redis key is `${PREFIX}:1:${name}`). */
  keyOf(name: string): string;
  /** The hot path, called as directly as the client allows. */
  get(key: string): Promise<unknown>;
  /** Store `value` under `name` in the client's own format (default: through our cache, read raw by peers). */
  prepare?(name: string, value: string): Promise<void>;
  /** What a raw client writes so that this client reads `text` (default: `text` itself). */
  rawValue?(text: string): string;
  /** The Redis key of `name`, when the client does not use `${PREFIX}:1:${name}`. */
  redisKeyOf?(name: string): string;
  hitRate(): number | null;
  close(): Promise<void>;
}

const PREFIX = 'nearbench';
const yieldToIo = () => new Promise<void>((r) => setImmediate(r));
/** Gets between two clock reads in the hot loop (the clock costs ~50 ns here; a hit a few hundred). */
const OPS_PER_CLOCK_READ = 16;
/** Rounds per hot-key cell, the client order rotated per round. */
const HOT_ROUNDS = 4;
/** Our two caches, node-redis' and bentocache (fewer when a package is missing). */
const READERS = 4;

/** Progress steps of runNear (one per `log` line), for its progress total. */
export function nearSteps(options: NearScenarioOptions): number {
  // Hot gets: 2 value sizes × 2 concurrencies × the rounds × the readers; then a delay per reader.
  return 4 * HOT_ROUNDS * READERS + READERS + (options.failover ? 1 : 0);
}
/** The delay measurement gives up on a client after this many writes it still missed 1 s later. */
const STALE_WRITES_LIMIT = 3;

/** Reads compare as text: integers written by the raw client read back as numbers through ours. */
const asText = (value: unknown): string | undefined =>
  value === undefined || value === null ? undefined : String(value);

function ours(topology: Topology, near: boolean): { reader: Reader; cache: Cache } {
  const cache = createCache({
    router: routers.pooled(topology.routerOptions()),
    serializer: serializers.string(),
    keyPrefix: PREFIX,
    ...(near ? { nearCache: true } : {}),
  });
  return {
    cache,
    reader: {
      name: near ? 'pooled + nearCache' : 'pooled',
      keyOf: (name) => name,
      get: (key) => cache.get<unknown>(key),
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
    keyOf: (name) => `${PREFIX}:1:${name}`,
    get: (key) => sentinel.get(key),
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

/** The parts of bentocache's API used here (an optional peer, so typed here). */
interface Bento {
  get(options: { key: string }): Promise<unknown>;
  set(options: { key: string; value: unknown; ttl?: number }): Promise<unknown>;
  on(event: 'cache:hit', fn: (e: { layer: string }) => void): unknown;
  on(event: 'cache:miss', fn: () => void): unknown;
  disconnectAll(): Promise<void>;
}
interface BentoModule {
  BentoCache: new (options: object) => Bento;
  bentostore: () => {
    useL1Layer(driver: unknown): ReturnType<BentoModule['bentostore']>;
    useL2Layer(driver: unknown): ReturnType<BentoModule['bentostore']>;
    useBus(driver: unknown): ReturnType<BentoModule['bentostore']>;
  };
}
interface BentoDrivers {
  memoryDriver(options: object): unknown;
  redisDriver(options: object): unknown;
  redisBusDriver(options: object): unknown;
}

const BENTO_PREFIX = `${PREFIX}-bento`;

/**
 * bentocache as its docs set up a two-tier cache: memory L1 (10,000 entries, like the others),
 * Redis L2 and the Redis bus (which tells other bentocache instances about bentocache writes),
 * both through ioredis' own Sentinel support. A hit is a get answered by L1.
 */
async function bentocache(topology: Topology): Promise<Reader> {
  // Spelled as an expression so a build without the optional peer still type-checks and runs.
  const { BentoCache, bentostore } = (await import(['bentocache'].join(''))) as BentoModule;
  const { memoryDriver } = (await import(['bentocache/drivers/memory'].join(''))) as BentoDrivers;
  const { redisDriver, redisBusDriver } = (await import(
    ['bentocache/drivers/redis'].join('')
  )) as BentoDrivers;
  const o = topology.routerOptions();
  const connection = {
    sentinels: o.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: o.service,
    ...(o.password !== undefined ? { password: o.password, username: o.username } : {}),
  };
  const bento = new BentoCache({
    default: 'tiered',
    prefix: BENTO_PREFIX,
    ttl: 60_000,
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 10_000 }))
        .useL2Layer(redisDriver({ connection }))
        .useBus(redisBusDriver({ connection })),
    },
  });
  let l1 = 0;
  let reads = 0;
  bento.on('cache:hit', ({ layer }) => {
    reads++;
    if (layer === 'l1') l1++;
  });
  bento.on('cache:miss', () => {
    reads++;
  });
  return {
    name: 'bentocache (memory L1 + Redis L2 + bus)',
    keyOf: (name) => name,
    get: (key) => bento.get({ key }),
    prepare: async (name, value) => {
      await bento.set({ key: name, value });
    },
    // bentocache's L2 format: JSON of { value, logicalExpiration, createdAt }.
    rawValue: (text) =>
      JSON.stringify({ value: text, logicalExpiration: Date.now() + 3_600_000, createdAt: Date.now() }),
    redisKeyOf: (name) => `${BENTO_PREFIX}:${name}`,
    hitRate: () => (reads === 0 ? null : l1 / reads),
    close: () => bento.disconnectAll(),
  };
}

/** One client's share of a cell: `ms` of closed-loop gets at `concurrency`. */
async function hotGets(
  reader: Reader,
  key: string,
  concurrency: number,
  ms: number,
): Promise<{ ops: number; ms: number; cpuMs: number }> {
  let ops = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      let batches = 0;
      for (;;) {
        for (let i = 0; i < OPS_PER_CLOCK_READ; i++) await reader.get(key);
        ops += OPS_PER_CLOCK_READ;
        if (performance.now() >= end) break;
        // Hits resolve without I/O: yield now and then so sockets and timers keep running.
        if (++batches % 16 === 0) await yieldToIo();
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { ops, ms: performance.now() - start, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function invalidationDelay(reader: Reader, raw: Redis, writes: number): Promise<NearDelayRow> {
  const name = `inv:${reader.name.replace(/\W+/g, '-')}`;
  const key = reader.keyOf(name);
  const redisKey = reader.redisKeyOf?.(name) ?? `${PREFIX}:1:${name}`;
  const encode = reader.rawValue ?? ((text: string) => text);
  const read = async () => asText(await reader.get(key));
  const delays: number[] = [];
  let stale = 0;
  await raw.set(redisKey, encode('0'));
  let before = '0';
  for (let i = 1; i <= writes && stale < STALE_WRITES_LIMIT; i++) {
    const until = performance.now() + 5000;
    while ((await read()) !== before && performance.now() < until) await yieldToIo();
    await read(); // held now, if the client holds anything
    await raw.set(redisKey, encode(String(i)));
    const t0 = performance.now();
    let seen = false;
    while (performance.now() - t0 < 1000) {
      if ((await read()) === String(i)) {
        seen = true;
        break;
      }
      await yieldToIo();
    }
    if (seen) delays.push(performance.now() - t0);
    else stale++;
    // A client that never saw write i may still hold write i-1's value: wait for what it shows.
    before = seen ? String(i) : ((await read()) ?? '');
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
  let failoverFlushAt: number | undefined;
  cache.on('near-flush', ({ reason }) => {
    flushReasons.push(reason);
    if (reason === 'failover') failoverFlushAt ??= performance.now();
  });
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
    const stale = after.filter((r) => r.value === '1');
    const last = stale[stale.length - 1];
    return {
      readsAfterWrite: after.length,
      staleReadsAfterWrite: stale.length,
      flushReasons: [...new Set(flushReasons)],
      failoverFlushAfterWriteMs: failoverFlushAt === undefined ? null : failoverFlushAt - writtenAt,
      lastStaleAfterWriteMs: last === undefined ? null : last.at - writtenAt,
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
  const result: NearResult = { hot: [], delay: [], failover: null, skipped: [], notes: [] };
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
    readers.push(await bentocache(topology));
  } catch (error) {
    result.skipped.push({
      client: 'bentocache',
      reason: error instanceof Error ? error.message : String(error),
    });
  }
  const raw = await masterClient(topology);
  const writer = ours(topology, false).cache;
  const cpuNotes: string[] = [];
  try {
    for (const valueBytes of [100, 10_240]) {
      const name = `hot:${valueBytes}`;
      const value = 'v'.repeat(valueBytes);
      // Through our cache, so our readers can decode it; node-redis reads the same bytes raw.
      await writer.set(name, value, { ttl: null });
      for (const reader of readers) await reader.prepare?.(name, value);
      for (const concurrency of [1, 64]) {
        const totals = readers.map(() => ({ ops: 0, ms: 0, cpuMs: 0 }));
        for (const reader of readers) for (let i = 0; i < 3; i++) await reader.get(reader.keyOf(name));
        for (let round = 0; round < HOT_ROUNDS; round++) {
          for (let j = 0; j < readers.length; j++) {
            const index = (j + round) % readers.length;
            const reader = readers[index] as Reader;
            log(`near: hot get ${valueBytes} B c=${concurrency} round ${round + 1} · ${reader.name}`);
            const part = await hotGets(reader, reader.keyOf(name), concurrency, options.cellMs / HOT_ROUNDS);
            const total = totals[index] as { ops: number; ms: number; cpuMs: number };
            total.ops += part.ops;
            total.ms += part.ms;
            total.cpuMs += part.cpuMs;
          }
        }
        // Client CPU per get: what outside load distorts least (the server's CPU is not in it).
        cpuNotes.push(
          `${valueBytes >= 1024 ? `${valueBytes / 1024} KB` : `${valueBytes} B`} c=${concurrency}: ${readers
            .map((reader, index) => {
              if (reader.name === 'pooled') return undefined;
              const total = totals[index] as { ops: number; cpuMs: number };
              return `\`${reader.name}\` ${((total.cpuMs * 1000) / total.ops).toFixed(2)} µs`;
            })
            .filter((part) => part !== undefined)
            .join(', ')}`,
        );
        readers.forEach((reader, index) => {
          const total = totals[index] as { ops: number; ms: number };
          result.hot.push({
            client: reader.name,
            valueBytes,
            concurrency,
            opsPerSec: total.ops / (total.ms / 1000),
            hitRate: reader.hitRate(),
          });
        });
      }
    }
    result.notes?.push(
      `Hot gets served from memory, CPU time of the bench process per get (outside load distorts it far less than ops/s; it includes the process's background work: pings, the other clients' connections): ${cpuNotes.join('; ')}.`,
    );
    for (const reader of readers) {
      log(`near: invalidation delay · ${reader.name}`);
      const row = await invalidationDelay(reader, raw, options.writes);
      result.delay.push(row);
      if (row.staleAfterOneSecond >= STALE_WRITES_LIMIT) {
        result.notes?.push(
          `\`${reader.name}\` still returned the old value 1 s after each of ${row.staleAfterOneSecond} writes by the raw client; its delay measurement stopped there (each such write costs 1 s).`,
        );
      }
    }
  } finally {
    raw.disconnect();
    await writer.close();
    await Promise.allSettled(readers.map((r) => r.close()));
  }
  if (options.failover) {
    log('near: SENTINEL FAILOVER with the near cache on');
    const f = await failoverStaleReads(topology);
    result.failover = f;
    if (f.failoverFlushAfterWriteMs !== null && f.failoverFlushAfterWriteMs !== undefined) {
      // The raw client writes as soon as a Sentinel names the new master (a poll); this cache
      // learns it from its +switch-master subscription, which may come later. Until then it
      // still trusts what the old master told it: the reads in that window are the stale ones.
      result.notes?.push(
        `Failover: the raw write was acknowledged ${f.failoverFlushAfterWriteMs >= 0 ? `${f.failoverFlushAfterWriteMs.toFixed(1)} ms before` : `${(-f.failoverFlushAfterWriteMs).toFixed(1)} ms after`} the cache heard +switch-master (its failover flush)${f.lastStaleAfterWriteMs === null || f.lastStaleAfterWriteMs === undefined ? '' : `; the last stale read started ${f.lastStaleAfterWriteMs.toFixed(1)} ms after the write`}.`,
      );
    }
  }
  return result;
}
