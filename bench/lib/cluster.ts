/**
 * `--scenario cluster`: the cluster router against ioredis `Cluster` used directly and
 * node-redis `createCluster`, in one run on one local Redis Cluster (3 masters + 3 replicas):
 *
 *  1. steady state: a GET/SET mix per client (closed loop), with the operations each shard's
 *     master executed (INFO commandstats deltas), so the per-shard figures are the servers' own;
 *  2. a shard failover (the master of shard 1 SIGSTOPped) under the same write load for every
 *     client at once: failures, hung operations, acknowledged writes lost per shard, time from the
 *     promotion to the first acknowledged write on the failed shard;
 *  3. `getMany` of 100 keys spread over all shards, slot-grouped (ours) vs a per-key loop (ours,
 *     awaiting each `get`) vs ioredis `Cluster` with one `get` per key in parallel.
 */
import { performance } from 'node:perf_hooks';
import { Cluster } from 'ioredis';
import { type Cache, routers } from '../../src/index.js';
import { slotOf } from '../../src/routers/cluster/slot-map.js';
import { withConnection } from '../../src/topology/control.js';
import { type ClusterTopology, startCluster } from '../../src/topology/index.js';
import { benchCache, closeIoredis, importNodeRedis, redisKey } from './clients.js';
import { errorLabel, sleep, withTimeout } from './errors.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';

const COMMAND_TIMEOUT_MS = 500;
/** An operation slower than this counts as hung (a command timeout plus generous slack). */
const HUNG_MS = 2000;
const FAILED_SHARD = 1;

export interface ClusterBenchOptions {
  /** Measured time per client in the steady state, split over `rounds`. */
  steadyMs: number;
  rounds: number;
  concurrency: number;
  readRatio: number;
  valueSize: number;
  keySpace: number;
  /** Writers per client per shard during the failover. */
  failoverWritersPerShard: number;
  /** Load before the fault, and after the promotion. */
  failoverLeadMs: number;
  failoverTailMs: number;
  getManyMs: number;
}

export function clusterBenchOptions(quick: boolean): ClusterBenchOptions {
  return quick
    ? {
        steadyMs: 1000,
        rounds: 1,
        concurrency: 16,
        readRatio: 0.9,
        valueSize: 100,
        keySpace: 300,
        failoverWritersPerShard: 2,
        failoverLeadMs: 500,
        failoverTailMs: 1000,
        getManyMs: 1000,
      }
    : {
        steadyMs: 6000,
        rounds: 3,
        concurrency: 64,
        readRatio: 0.9,
        valueSize: 100,
        keySpace: 3000,
        failoverWritersPerShard: 4,
        failoverLeadMs: 2000,
        failoverTailMs: 3000,
        getManyMs: 4000,
      };
}

interface ClusterClient {
  name: string;
  description: string;
  get(key: string): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
  close(): Promise<void>;
}

export interface ClusterSteadyRow {
  client: string;
  opsPerSec: number;
  errors: number;
  latency: LatencySummary;
  /** Operations per second each shard's master executed during the cell (INFO commandstats). */
  perShardOpsPerSec: number[];
  /** Relative to ioredis-cluster. */
  opsRatio: number | null;
}

export interface ClusterFailoverRow {
  client: string;
  acked: number;
  failed: number;
  errorsByName: Record<string, number>;
  hung: number;
  slowestMs: number;
  /** Acknowledged writes missing afterwards, on the failed shard and on the others. */
  lostOnFailed: number;
  lostOnOthers: number;
  /** Promotion → first acknowledged write on the failed shard (null: none before the load stopped, failoverTailMs after the promotion). */
  backAfterPromotionMs: number | null;
}

export interface ClusterGetManyRow {
  variant: string;
  /** getMany(100) calls per second (one caller). */
  callsPerSec: number;
  latency: LatencySummary;
}

export interface ClusterBenchResult {
  shards: number;
  replicasPerShard: number;
  options: ClusterBenchOptions;
  clients: { name: string; description: string }[];
  steady: ClusterSteadyRow[];
  failover: { promotionAfterFaultMs: number; rows: ClusterFailoverRow[] } | null;
  getMany: ClusterGetManyRow[];
  skipped: { client: string; reason: string }[];
}

function ourCache(topo: ClusterTopology): Cache {
  return benchCache(routers.cluster({ ...topo.routerOptions(), commandTimeoutMs: COMMAND_TIMEOUT_MS }));
}

type Factory = [name: string, create: (topo: ClusterTopology) => Promise<ClusterClient>];

const FACTORIES: Factory[] = [
  [
    'cluster',
    async (topo) => {
      const cache = ourCache(topo);
      return {
        name: 'cluster',
        description: `createCache + routers.cluster (commandTimeoutMs ${COMMAND_TIMEOUT_MS}, defaults), string serializer`,
        get: (k) => cache.get(k),
        set: (k, v) => cache.set(k, v),
        close: () => cache.close(),
      };
    },
  ],
  [
    'ioredis-cluster',
    async (topo) => {
      const o = topo.routerOptions();
      const c = new Cluster(o.nodes, {
        redisOptions: { commandTimeout: COMMAND_TIMEOUT_MS, password: o.password, username: o.username },
      });
      c.on('error', () => {});
      await withTimeout(c.ping(), 10_000, 'ioredis Cluster first PING');
      return {
        name: 'ioredis-cluster',
        description: `ioredis 6 \`new Cluster(nodes, { redisOptions: { commandTimeout: ${COMMAND_TIMEOUT_MS} } })\`, other options default`,
        get: (k) => c.get(redisKey(k)),
        set: (k, v) => c.set(redisKey(k), v),
        close: () => closeIoredis(c),
      };
    },
  ],
  [
    'node-redis-cluster',
    async (topo) => {
      const mod = await importNodeRedis<{ createCluster: (options: unknown) => unknown }>();
      const o = topo.routerOptions();
      const cluster = mod.createCluster({
        rootNodes: o.nodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
        defaults: {
          ...(o.password !== undefined ? { password: o.password } : {}),
          ...(o.username !== undefined ? { username: o.username } : {}),
        },
      }) as {
        connect(): Promise<unknown>;
        on(e: 'error', fn: (e: unknown) => void): unknown;
        get(k: string): Promise<unknown>;
        set(k: string, v: string): Promise<unknown>;
        close(): Promise<void>;
        destroy(): Promise<void>;
      };
      cluster.on('error', () => {});
      await withTimeout(cluster.connect(), 10_000, 'node-redis cluster connect');
      return {
        name: 'node-redis-cluster',
        description: 'node-redis `createCluster({ rootNodes })` with defaults (devDependency `redis`)',
        get: (k) => cluster.get(redisKey(k)),
        set: (k, v) => cluster.set(redisKey(k), v),
        close: async () => {
          await withTimeout(cluster.close(), 1000, 'node-redis close').catch(() => cluster.destroy());
        },
      };
    },
  ],
];

/** Commands executed so far by each shard's current master (INFO stats total_commands_processed). */
async function commandsPerShard(topo: ClusterTopology): Promise<number[]> {
  const shards = await topo.shards();
  return Promise.all(
    shards.map(async (s) => {
      const info = await withConnection(s.master, { password: topo.auth?.password }, (c) => c.info('stats'));
      return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
    }),
  );
}

/** One client's steady-state measurements, summed over the rounds. */
class SteadyTally {
  readonly histogram = new LatencyHistogram();
  errors = 0;
  elapsedMs = 0;
  perShard: number[] = [];

  row(client: string): Omit<ClusterSteadyRow, 'opsRatio'> {
    const latency = this.histogram.summary();
    this.histogram.destroy();
    return {
      client,
      opsPerSec: Math.round((latency.count / this.elapsedMs) * 1000),
      errors: this.errors,
      latency,
      perShardOpsPerSec: this.perShard.map((n) => Math.round((n / this.elapsedMs) * 1000)),
    };
  }
}

const steadyKeys = (client: ClusterClient, o: ClusterBenchOptions) =>
  Array.from({ length: o.keySpace }, (_, i) => `${client.name}:steady:${i}`);

/** One round of the steady state for one client, added to `tally`. */
async function steadyRound(
  topo: ClusterTopology,
  client: ClusterClient,
  o: ClusterBenchOptions,
  ms: number,
  tally: SteadyTally,
): Promise<void> {
  const value = 'v'.repeat(o.valueSize);
  const keys = steadyKeys(client, o);
  const before = await commandsPerShard(topo);
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < end) {
        const key = keys[(Math.random() * keys.length) | 0] as string;
        const t0 = performance.now();
        try {
          if (Math.random() < o.readRatio) await client.get(key);
          else await client.set(key, value);
          tally.histogram.recordMs(performance.now() - t0);
        } catch {
          tally.errors++;
          await sleep(1);
        }
      }
    }),
  );
  tally.elapsedMs += performance.now() - start;
  const after = await commandsPerShard(topo);
  tally.perShard = after.map((n, i) => (tally.perShard[i] ?? 0) + n - (before[i] ?? 0));
}

/**
 * Every client `rounds` times, for steadyMs / rounds each, the order rotated per round (so no
 * client is always first, cold, or always runs next to the same background load).
 */
async function steady(
  topo: ClusterTopology,
  clients: ClusterClient[],
  o: ClusterBenchOptions,
  log: (line: string) => void,
): Promise<ClusterSteadyRow[]> {
  const value = 'v'.repeat(o.valueSize);
  for (const client of clients) {
    const keys = steadyKeys(client, o);
    for (let i = 0; i < keys.length; i += 64) {
      await Promise.all(keys.slice(i, i + 64).map((k) => client.set(k, value)));
    }
  }
  const tallies = new Map(clients.map((c) => [c.name, new SteadyTally()]));
  for (let round = 0; round < o.rounds; round++) {
    const shift = round % clients.length;
    for (const client of [...clients.slice(shift), ...clients.slice(0, shift)]) {
      log(`cluster steady state · round ${round + 1}/${o.rounds} · ${client.name}`);
      await steadyRound(topo, client, o, o.steadyMs / o.rounds, tallies.get(client.name) as SteadyTally);
    }
  }
  const rows = clients.map((c) => ({ ...(tallies.get(c.name) as SteadyTally).row(c.name), opsRatio: null }));
  const base = rows.find((r) => r.client === 'ioredis-cluster');
  return rows.map((row) => ({
    ...row,
    opsRatio: base && base.opsPerSec > 0 ? Math.round((row.opsPerSec / base.opsPerSec) * 100) / 100 : null,
  }));
}

/** `count` keys (under `prefix`) on `shard`. */
function keysOn(topo: ClusterTopology, shard: number, prefix: string, count: number): string[] {
  const keys: string[] = [];
  for (let n = 0; keys.length < count; n++) {
    const key = `${prefix}:${n}`;
    if (topo.shardOfSlot(slotOf(redisKey(key))) === shard) keys.push(key);
  }
  return keys;
}

async function failover(
  topo: ClusterTopology,
  clients: ClusterClient[],
  o: ClusterBenchOptions,
): Promise<ClusterBenchResult['failover']> {
  let stop = false;
  const tag = `fo${Date.now()}`;
  const state = clients.map(() => ({
    acks: [] as { key: string; shard: number; at: number }[],
    failed: 0,
    errorsByName: {} as Record<string, number>,
    hung: 0,
    slowestMs: 0,
  }));
  const writers = clients.flatMap((client, ci) =>
    [0, 1, 2].flatMap((shard) =>
      Array.from({ length: o.failoverWritersPerShard }, async (_, w) => {
        const s = state[ci]!;
        for (let n = 0; !stop; n++) {
          const [key] = keysOn(topo, shard, `${client.name}:${tag}:${shard}:${w}:${n}`, 1);
          const t0 = performance.now();
          try {
            await client.set(key!, 'v');
            s.acks.push({ key: key!, shard, at: performance.now() });
          } catch (error) {
            s.failed++;
            const label = errorLabel(error);
            s.errorsByName[label] = (s.errorsByName[label] ?? 0) + 1;
            await sleep(5);
          }
          const ms = performance.now() - t0;
          s.slowestMs = Math.max(s.slowestMs, ms);
          if (ms > HUNG_MS) s.hung++;
        }
      }),
    ),
  );
  await sleep(o.failoverLeadMs);
  const tFault = performance.now();
  const old = await topo.pauseMaster(FAILED_SHARD);
  let tPromoted: number;
  try {
    await topo.waitForNewMaster(FAILED_SHARD, 30_000, old);
    tPromoted = performance.now();
    await sleep(o.failoverTailMs);
  } finally {
    stop = true;
    // Operations stuck on the paused node end with their own timeouts (or never: counted as hung).
    await Promise.race([Promise.all(writers), sleep(10_000)]);
    await topo.resumeMaster(FAILED_SHARD);
  }
  await topo.waitForHealthy(60_000);
  const o2 = topo.routerOptions();
  const checker = new Cluster(o2.nodes, { redisOptions: { password: o2.password, username: o2.username } });
  try {
    const rows: ClusterFailoverRow[] = [];
    for (const [ci, client] of clients.entries()) {
      const s = state[ci]!;
      let lostOnFailed = 0;
      let lostOnOthers = 0;
      for (let i = 0; i < s.acks.length; i += 256) {
        const batch = s.acks.slice(i, i + 256);
        const exists = await Promise.all(batch.map((a) => checker.exists(redisKey(a.key))));
        batch.forEach((a, j) => {
          if (exists[j] === 0) {
            if (a.shard === FAILED_SHARD) lostOnFailed++;
            else lostOnOthers++;
          }
        });
      }
      const back = s.acks.find((a) => a.shard === FAILED_SHARD && a.at >= tPromoted);
      rows.push({
        client: client.name,
        acked: s.acks.length,
        failed: s.failed,
        errorsByName: s.errorsByName,
        hung: s.hung,
        slowestMs: Math.round(s.slowestMs),
        lostOnFailed,
        lostOnOthers,
        backAfterPromotionMs: back ? Math.round(back.at - tPromoted) : null,
      });
    }
    return { promotionAfterFaultMs: Math.round(tPromoted - tFault), rows };
  } finally {
    checker.disconnect();
  }
}

async function getManyBench(topo: ClusterTopology, o: ClusterBenchOptions): Promise<ClusterGetManyRow[]> {
  const cache = ourCache(topo);
  const opts = topo.routerOptions();
  const ioredis = new Cluster(opts.nodes, {
    redisOptions: { commandTimeout: COMMAND_TIMEOUT_MS, password: opts.password, username: opts.username },
  });
  ioredis.on('error', () => {});
  try {
    const keys = Array.from({ length: 100 }, (_, i) => `getmany:${i}`);
    await cache.setMany(Object.fromEntries(keys.map((k) => [k, 'v'.repeat(o.valueSize)])));
    const variants: [string, () => Promise<unknown>][] = [
      ['cluster getMany(100), slot-grouped', () => cache.getMany(keys)],
      [
        'cluster get × 100, one after another',
        async () => {
          for (const k of keys) await cache.get(k);
        },
      ],
      ['ioredis Cluster get × 100 in parallel', () => Promise.all(keys.map((k) => ioredis.get(redisKey(k))))],
    ];
    const rows: ClusterGetManyRow[] = [];
    for (const [variant, call] of variants) {
      const histogram = new LatencyHistogram();
      await call(); // warm
      const start = performance.now();
      while (performance.now() - start < o.getManyMs) {
        const t0 = performance.now();
        await call();
        histogram.recordMs(performance.now() - t0);
      }
      const latency = histogram.summary();
      histogram.destroy();
      rows.push({
        variant,
        callsPerSec: Math.round((latency.count / (performance.now() - start)) * 1000),
        latency,
      });
    }
    return rows;
  } finally {
    await cache.close();
    ioredis.disconnect();
  }
}

/** Progress steps of runClusterScenario (one per `log` line), for its progress total. */
export function clusterSteps(o: ClusterBenchOptions): number {
  // The start, a line per client per steady round, the failover, getMany.
  return 1 + o.rounds * FACTORIES.length + 2;
}

/** Runs the whole cluster scenario on its own cluster; `log` receives progress lines. */
export async function runClusterScenario(
  o: ClusterBenchOptions,
  log: (line: string) => void,
): Promise<ClusterBenchResult> {
  log('starting a Redis Cluster (3 masters + 3 replicas, node timeout 1000 ms)');
  const topo = await startCluster({ shards: 3, replicasPerShard: 1, nodeTimeoutMs: 1000 });
  const result: ClusterBenchResult = {
    shards: 3,
    replicasPerShard: 1,
    options: o,
    clients: [],
    steady: [],
    failover: null,
    getMany: [],
    skipped: [],
  };
  const clients: ClusterClient[] = [];
  try {
    for (const [name, create] of FACTORIES) {
      try {
        const c = await create(topo);
        clients.push(c);
        result.clients.push({ name: c.name, description: c.description });
      } catch (error) {
        const reason = `${errorLabel(error)}: ${(error as Error).message}`;
        result.skipped.push({ client: name, reason });
      }
    }
    result.steady = await steady(topo, clients, o, log);
    log('cluster shard failover (SIGSTOP of the master of shard 1), every client at once');
    result.failover = await failover(topo, clients, o);
    log('cluster getMany(100)');
    result.getMany = await getManyBench(topo, o);
  } finally {
    await Promise.all(clients.map((c) => withTimeout(c.close(), 5000, 'close').catch(() => {})));
    await topo.stop();
  }
  return result;
}

const ms = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${v.toFixed(2)}`);

/** The report's "Redis Cluster" section. */
export function clusterSection(r: ClusterBenchResult): string[] {
  const out = ['## Redis Cluster', ''];
  out.push(
    `${r.shards} masters + ${r.shards * r.replicasPerShard} replicas of local redis-server processes (cluster-node-timeout 1000 ms), on the same machine as the clients.`,
    '',
  );
  for (const c of r.clients) out.push(`- \`${c.name}\`: ${c.description}`);
  for (const s of r.skipped) out.push(`- \`${s.client}\` skipped: ${s.reason}`);
  out.push(
    '',
    `### Steady state (${Math.round(r.options.readRatio * 100)}/${Math.round((1 - r.options.readRatio) * 100)} GET/SET, ${r.options.concurrency} in flight, ${r.options.valueSize} B)`,
    '',
  );
  out.push(
    '| client | ops/s | vs ioredis-cluster | p50 ms | p99 ms | p99.9 ms | errors | commands/s on each shard master |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const s of r.steady) {
    out.push(
      `| \`${s.client}\` | ${s.opsPerSec} | ${s.opsRatio ?? '–'} | ${ms(s.latency.p50Ms)} | ${ms(s.latency.p99Ms)} | ${ms(s.latency.p999Ms)} | ${s.errors} | ${s.perShardOpsPerSec.join(' / ')} |`,
    );
  }
  if (r.failover) {
    out.push(
      '',
      `### Shard failover (master of shard 1 SIGSTOPped; promotion ${(r.failover.promotionAfterFaultMs / 1000).toFixed(1)} s after the fault)`,
      '',
      '| client | acked writes | failed | hung (> 2 s) | slowest ms | lost on failed shard | lost on other shards | back after promotion (ms) | errors |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const f of r.failover.rows) {
      const errors = Object.entries(f.errorsByName)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 2)
        .map(([n, c]) => `${n} ×${c}`)
        .join(', ');
      out.push(
        `| \`${f.client}\` | ${f.acked} | ${f.failed} | ${f.hung} | ${f.slowestMs} | ${f.lostOnFailed} | ${f.lostOnOthers} | ${f.backAfterPromotionMs ?? `not within ${(r.options.failoverTailMs / 1000).toFixed(0)} s`} | ${errors || '–'} |`,
      );
    }
  }
  if (r.getMany.length > 0) {
    out.push(
      '',
      '### 100 keys over all shards, one caller',
      '',
      '| variant | calls/s | p50 ms | p99 ms |',
      '|---|---|---|---|',
    );
    for (const g of r.getMany)
      out.push(`| ${g.variant} | ${g.callsPerSec} | ${ms(g.latency.p50Ms)} | ${ms(g.latency.p99Ms)} |`);
  }
  out.push('');
  return out;
}
