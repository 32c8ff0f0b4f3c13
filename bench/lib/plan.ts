/**
 * How long each phase of a bench run should take, from its options alone: the overall bar's
 * "time left" before the run has a pace of its own (progress.ts), and the run's length that
 * `--help` and the start line state. Fixed costs (a topology's start, preloading, redis-benchmark's
 * rate probes, a failover's detection) are the ones seen on a 2-core VM; the measured parts are
 * exact (they are the options' own durations).
 */
import { type ClusterBenchOptions, clusterBenchOptions } from './cluster.js';
import type { BenchOptions } from './options.js';

export interface PhasePlan {
  /** The progress phase's name ('steady', 'soak', 'failover pause', 'near cache', 'cluster'). */
  name: string;
  estimatedMs: number;
}

const TOPOLOGY_START_MS = 8000;
/** Preloading one value size for every client, and redis-benchmark's keys. */
const PRELOAD_MS = 2000;
/** redis-benchmark's short rate probe before each measured run (limit.ts). */
const LIMIT_PROBE_MS = 300;
const LIMIT_VARIANTS = 2;
/**
 * Batch rows per op and concurrency, on average over GET and SET (batches.ts): 16 methods' ops
 * (ours: getMany / setMany ×3, setMany with a TTL ×3, two near-cache getMany on pooled; ioredis:
 * pipeline of GET / SET, pipeline of SET PX, MGET / MSET) + 4 limit rows, over 2 ops.
 */
const BATCH_METHODS = 10;
/** After a failover's load: a healthy topology again, the lost-write check, charts. */
const FAILOVER_AFTER_MS = 5000;
const CLUSTER_START_MS = 12_000;
/** A cluster shard's promotion after SIGSTOP (cluster-node-timeout 1000 ms, loaded machine). */
const CLUSTER_PROMOTION_MS = 4000;

/** The phases `options` will run, in order, each with its estimate. */
export function planRun(options: BenchOptions, clients: number, soakClients: number): PhasePlan[] {
  const plan: PhasePlan[] = [];
  const wants = (s: BenchOptions['scenarios'][number]) => options.scenarios.includes(s);
  const sharedTopology =
    wants('steady') || wants('batches') || (wants('soak') && soakClients > 0) || wants('near');
  let startup = sharedTopology ? TOPOLOGY_START_MS : 0;
  const add = (name: string, ms: number) => {
    plan.push({ name, estimatedMs: startup + ms });
    startup = 0;
  };
  if (wants('steady')) add('steady', steadyMs(options, clients));
  else if (wants('batches')) add('batches', PRELOAD_MS + batchesMs(options));
  if (wants('soak') && soakClients > 0) add('soak', soakClients * options.soak.durationMs);
  if (wants('near')) add('near cache', nearMs(options));
  if (wants('failover')) {
    for (const fault of options.failover.faults) {
      const f = options.failover;
      const load = Math.max(
        f.minDurationMs,
        f.faultAtMs + f.downAfterMs + 2000 + f.resumeAfterSwitchMs + f.tailMs,
      );
      add(`failover ${fault}`, TOPOLOGY_START_MS + load + FAILOVER_AFTER_MS);
    }
  }
  if (wants('cluster')) add('cluster', clusterMs(clusterBenchOptions(options.quick)));
  return plan;
}

function steadyMs(options: BenchOptions, clients: number): number {
  const s = options.steady;
  const cells = s.readRatios.length * s.concurrency.length * s.valueSizes.length;
  const perCell =
    clients * s.rounds * (s.warmupMs + s.cellMs / s.rounds) +
    LIMIT_VARIANTS * (s.cellMs + 2 * LIMIT_PROBE_MS);
  return cells * perCell + s.valueSizes.length * PRELOAD_MS + batchesMs(options);
}

function batchesMs(options: BenchOptions): number {
  const b = options.batch;
  return 2 * b.concurrency.length * BATCH_METHODS * (b.rounds * b.warmupMs + b.cellMs);
}

function nearMs(options: BenchOptions): number {
  const n = options.near;
  // 2 value sizes × 2 concurrencies, every reader sharing cellMs; then the delay writes; then a failover.
  return 4 * 4 * n.cellMs + 4 * n.writes * 5 + (n.failover ? 15_000 : 0);
}

function clusterMs(o: ClusterBenchOptions): number {
  return (
    CLUSTER_START_MS +
    3 * o.steadyMs +
    o.failoverLeadMs +
    CLUSTER_PROMOTION_MS +
    o.failoverTailMs +
    3 * o.getManyMs
  );
}

/** The sum of a plan, for "about 14 min". */
export function plannedMs(plan: readonly PhasePlan[]): number {
  return plan.reduce((a, p) => a + p.estimatedMs, 0);
}
