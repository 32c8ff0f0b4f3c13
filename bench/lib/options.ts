import { Command } from 'commander';
import { parseTtl } from '../../src/core/ttl.js';
import type { NearScenarioOptions } from './near.js';

/** The scenarios `sentinel-cache bench` can run; `--scenario` narrows to one (or a comma list). */
export const SCENARIOS = ['steady', 'batches', 'failover', 'soak', 'near', 'cluster'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/**
 * What runs without `--scenario` ('near' and 'cluster', which starts a Redis Cluster of its own,
 * only when asked for; 'batches' is part of 'steady', and alone only its explicit-pipelines table).
 */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['steady', 'failover', 'soak'];

export const FAULTS = ['pause', 'kill', 'failover'] as const;
export type Fault = (typeof FAULTS)[number];

export interface SteadyOptions {
  /** Fraction of operations that are GETs: 0.9 = the 90/10 mix. */
  readRatios: number[];
  concurrency: number[];
  valueSizes: number[];
  /** Measured time per (cell, client), split evenly over `rounds`. */
  cellMs: number;
  /**
   * Each cell runs every client once per round (order rotated), so a burst of outside load
   * (other processes on a shared machine) is spread over all clients instead of hitting one.
   */
  rounds: number;
  /** Unmeasured time before each measured cell (connections warm, JIT settled). */
  warmupMs: number;
  /** Distinct keys per client; GETs hit a preloaded key. */
  keySpace: number;
}

/** The explicit-pipelines table (batches.ts), run after the steady-state cells on the same clients. */
export interface BatchOptions {
  /** Keys per batch. */
  size: number;
  valueSize: number;
  /** Batches in flight. */
  concurrency: number[];
  /** Measured time per (op, concurrency, client method); `--cell` sets it to half the steady cell. */
  cellMs: number;
  /** Each method runs once per round for cellMs / rounds, the order rotated (as SteadyOptions.rounds). */
  rounds: number;
  warmupMs: number;
  /** Distinct keys per client that the batches pick from. */
  keySpace: number;
}

export interface FailoverOptions {
  faults: Fault[];
  /** `sentinel down-after-milliseconds` of the failover topology. */
  downAfterMs: number;
  /** Offered load per client (operations per second), half writes, half reads. */
  ratePerClient: number;
  /** When the fault is injected, after the load started. */
  faultAtMs: number;
  /** After `+switch-master`: wait this long, then resume (pause) or restart (kill) the old master. */
  resumeAfterSwitchMs: number;
  /** Keep the load running this long after the old master came back. */
  tailMs: number;
  /** Minimum length of the timeline. */
  minDurationMs: number;
  /** Give up waiting for `+switch-master` after this long (the fault then counts as not recovered). */
  switchTimeoutMs: number;
  /** After the load stops, wait this long for operations still in flight. */
  drainMs: number;
  valueSize: number;
  bucketMs: number;
}

export interface SoakOptions {
  /** Per client (the soaked clients run one after another). */
  durationMs: number;
  sampleEveryMs: number;
  /** Offered load (operations per second, open loop). */
  ratePerSec: number;
  /** Operations beyond this many in flight are shed (counted), so a stall cannot grow memory without bound. */
  maxInFlight: number;
  readRatio: number;
  valueSize: number;
}

export interface BenchOptions {
  quick: boolean;
  /** Client names to run (undefined = all registered clients). */
  only: string[] | undefined;
  scenarios: ScenarioName[];
  steady: SteadyOptions;
  batch: BatchOptions;
  failover: FailoverOptions;
  soak: SoakOptions;
  near: NearScenarioOptions;
  /** Output directory; default bench/results/<timestamp>. */
  outDir: string | undefined;
  /** No progress and no summary on screen (the files are still written). */
  quiet: boolean;
  help: boolean;
}

export const USAGE = `Usage: sentinel-cache bench [options]

Starts a Redis Sentinel topology (src/topology, provider 'auto': SENTINEL_CACHE_SENTINELS,
else redis-server on PATH, else Docker), runs the scenarios for every client and writes
bench/results/<timestamp>/{report.md,results.json,bench.log,*.svg}. Shows progress with the
time left on stderr, and ends with a short summary and the report's path on stdout.

Options:
  --quick                 everything tiny (CI smoke): 1 s cells, concurrency 1 and 16, 100 B values,
                          0.5 s pipeline cells, one short pause failover with down-after 1000 ms, 2 s soak
  --only <a,b,...>        clients: pooled, discovery, standalone, ioredis-sentinel,
                          ioredis5-sentinel, ioredis-sentinel-fd, node-redis-sentinel
  --scenario <s[,s]>      steady | batches | failover | soak | near | cluster (default:
                          steady,failover,soak); steady: every client per GET/SET mix x concurrency
                          x value size, with redis-benchmark (next to redis-server) as the limit
                          rows, then the explicit-pipelines table (batches of 100 keys);
                          batches: that table alone;
                          near: hot-key gets with/without the near cache, node-redis
                          clientSideCache and bentocache, invalidation delay, stale reads through a SENTINEL
                          FAILOVER; cluster: a local Redis Cluster, routers.cluster vs ioredis
                          Cluster vs node-redis createCluster (steady, a shard failover, getMany
                          of 100 keys)
  --fault <f[,f]|all>     pause | kill | failover (default: pause)
  --duration <dur>        soak duration per client (default 60s; pooled and discovery run one
                          after another, so 10m takes 20 minutes), e.g. 10m, 90s; plain number = seconds
  --cell <dur>            measured time per steady-state cell and client (default 4s, in 4 rounds);
                          also sets the explicit-pipelines cells to half of it (default 2s)
  --out <dir>             output directory
  --quiet                 no progress on stderr, no summary on stdout
  -h, --help              this text`;

/**
 * '500ms' '30s' '10m' '1h', through the library's own duration parser (core/ttl.ts); a plain
 * number is seconds here (CLI convenience), where a TTL's plain number is milliseconds.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const ms = parseTtl(/^\d+(\.\d+)?$/.test(trimmed) ? `${trimmed}s` : trimmed, `duration '${text}'`);
  if (ms === null || ms <= 0) throw new Error(`invalid duration '${text}' (use e.g. 500ms, 30s, 10m, 1h)`);
  return ms;
}

function list(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function fullDefaults(): Omit<BenchOptions, 'only' | 'outDir' | 'quiet' | 'help'> {
  return {
    quick: false,
    scenarios: [...DEFAULT_SCENARIOS],
    steady: {
      readRatios: [0.9, 0.5],
      concurrency: [1, 16, 64, 256],
      valueSizes: [100, 10 * 1024],
      cellMs: 4000,
      rounds: 4,
      warmupMs: 300,
      keySpace: 1000,
    },
    batch: {
      size: 100,
      valueSize: 100,
      concurrency: [1, 16],
      cellMs: 2000,
      rounds: 4,
      warmupMs: 300,
      keySpace: 1000,
    },
    failover: {
      faults: ['pause'],
      downAfterMs: 3000,
      ratePerClient: 200,
      faultAtMs: 5000,
      resumeAfterSwitchMs: 3000,
      tailMs: 8000,
      minDurationMs: 25_000,
      switchTimeoutMs: 30_000,
      drainMs: 5000,
      valueSize: 100,
      bucketMs: 100,
    },
    soak: {
      durationMs: 60_000,
      sampleEveryMs: 2000,
      ratePerSec: 5000,
      maxInFlight: 1000,
      readRatio: 0.9,
      valueSize: 100,
    },
    near: { cellMs: 2000, writes: 500, failover: true },
  };
}

function quickDefaults(): Omit<BenchOptions, 'only' | 'outDir' | 'quiet' | 'help'> {
  return {
    quick: true,
    scenarios: [...DEFAULT_SCENARIOS],
    steady: {
      readRatios: [0.9],
      concurrency: [1, 16],
      valueSizes: [100],
      cellMs: 1000,
      rounds: 1,
      warmupMs: 200,
      keySpace: 200,
    },
    batch: {
      size: 100,
      valueSize: 100,
      concurrency: [4],
      cellMs: 500,
      rounds: 1,
      warmupMs: 100,
      keySpace: 200,
    },
    failover: {
      faults: ['pause'],
      downAfterMs: 1000,
      ratePerClient: 100,
      faultAtMs: 1500,
      resumeAfterSwitchMs: 1000,
      tailMs: 2000,
      minDurationMs: 6000,
      switchTimeoutMs: 20_000,
      drainMs: 3000,
      valueSize: 100,
      bucketMs: 100,
    },
    soak: {
      durationMs: 2000,
      sampleEveryMs: 500,
      ratePerSec: 1000,
      maxInFlight: 1000,
      readRatio: 0.9,
      valueSize: 100,
    },
    near: { cellMs: 300, writes: 20, failover: false },
  };
}

/** Parse `bench` arguments. Accepts argv with or without a leading 'bench' word. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const args = argv[0] === 'bench' ? argv.slice(1) : [...argv];
  // commander, like the CLI: unknown options and stray arguments are errors; USAGE is the help.
  const program = new Command('bench')
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} })
    .helpOption(false)
    .allowExcessArguments(false)
    .option('--quick', 'quick run', false)
    .option('--only <list>')
    .option('--scenario <list>')
    .option('--fault <list>')
    .option('--duration <dur>')
    .option('--cell <dur>')
    .option('--out <dir>')
    .option('--quiet', 'no progress', false)
    .option('-h, --help', 'usage', false);
  program.parse(args, { from: 'user' });
  const values = program.opts<{
    quick: boolean;
    only?: string;
    scenario?: string;
    fault?: string;
    duration?: string;
    cell?: string;
    out?: string;
    quiet: boolean;
    help: boolean;
  }>();

  const base = values.quick ? quickDefaults() : fullDefaults();
  const scenarios = list(values.scenario);
  if (scenarios) {
    for (const s of scenarios) {
      if (!(SCENARIOS as readonly string[]).includes(s)) {
        throw new Error(`unknown scenario '${s}' (expected one of ${SCENARIOS.join(', ')})`);
      }
    }
    base.scenarios = scenarios as ScenarioName[];
  }
  const faults = list(values.fault);
  if (faults) {
    const expanded = faults.includes('all') ? [...FAULTS] : faults;
    for (const f of expanded) {
      if (!(FAULTS as readonly string[]).includes(f)) {
        throw new Error(`unknown fault '${f}' (expected one of ${FAULTS.join(', ')}, or all)`);
      }
    }
    base.failover.faults = expanded as Fault[];
  }
  if (values.duration !== undefined) {
    base.soak.durationMs = parseDuration(values.duration);
    // About 60 samples whatever the length, but not more often than every 500 ms.
    base.soak.sampleEveryMs = Math.max(500, Math.round(base.soak.durationMs / 60));
  }
  if (values.cell !== undefined) {
    base.steady.cellMs = parseDuration(values.cell);
    base.batch.cellMs = Math.max(100, Math.round(base.steady.cellMs / 2));
  }

  return {
    ...base,
    only: list(values.only),
    outDir: values.out,
    quiet: values.quiet ?? false,
    help: values.help ?? false,
  };
}
