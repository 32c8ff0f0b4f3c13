/**
 * The limit rows of the steady-state table: `redis-benchmark` (the C client shipped with
 * redis-server) against the same master, at each cell's concurrency and value size, without
 * pipelining and with `-P 16`. It is what this machine and this server do with a client whose
 * per-command cost is close to nothing, so every client's distance from it is its own cost.
 *
 * redis-benchmark has no mixed workload: GET and SET run separately (`-t get` / `-t set`, `-r`
 * random keys, `-d` value bytes, `-c` connections) and the cell's mix is combined afterwards:
 *  - throughput: the time per operation of the mix is the weighted time per operation of each
 *    command, `1 / rate = r / getRate + (1 - r) / setRate` (r = GET fraction), a weighted
 *    harmonic mean of the two rates;
 *  - latency: the mix's distribution is the weighted mixture `r·F_get + (1 - r)·F_set` of the two
 *    distributions redis-benchmark prints (its cumulative counts), and its percentiles are read
 *    from that; when the output cannot be parsed the latency is n/a.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { findExecutable } from '../../src/topology/redis-binary.js';
import type { Topology } from '../../src/topology/types.js';
import { ClientUnavailableError } from './clients.js';
import type { LatencySummary } from './histogram.js';

export interface LimitVariant {
  /** Row name in the tables. */
  name: string;
  /** redis-benchmark `-P`: requests each connection sends before reading the replies. */
  pipeline: number;
  description: string;
}

/** The row every client's "vs limit" ratio is relative to (no pipelining). */
export const LIMIT_ROW = 'redis-benchmark';

export const LIMIT_VARIANTS: LimitVariant[] = [
  {
    name: LIMIT_ROW,
    pipeline: 1,
    description:
      'redis-benchmark (C, single thread, shipped with redis-server) on the same master: `-c <concurrency>` connections, one request in flight each, GET and SET run separately and combined for the mix',
  },
  {
    name: 'redis-benchmark -P16',
    pipeline: 16,
    description:
      'the same with `-P 16`: each connection sends 16 requests before reading their replies (16 × concurrency requests in flight); latency is per request from the moment its batch was written',
  },
];

export type BenchmarkCommand = 'GET' | 'SET';

/** One redis-benchmark invocation of one command, as measured. */
export interface BenchmarkRun {
  command: BenchmarkCommand;
  /** The arguments (a password shown as ***). */
  args: string[];
  requests: number;
  opsPerSec: number;
  /** From redis-benchmark's summary line (ms); null when not printed. */
  meanMs: number | null;
  maxMs: number | null;
  /** The empirical CDF redis-benchmark printed: [latency ms, requests at or below it], ascending. */
  cdf: Array<[ms: number, count: number]>;
}

/** How a limit row was made, kept in results.json next to the row. */
export interface LimitDetail {
  pipeline: number;
  get: BenchmarkRun;
  set: BenchmarkRun;
  /** False when redis-benchmark's latency output could not be read: the row's latency is n/a. */
  latencyParsed: boolean;
}

export interface ParsedOutput {
  opsPerSec: number | null;
  meanMs: number | null;
  maxMs: number | null;
  cdf: Array<[number, number]>;
}

/**
 * Parse redis-benchmark's default (non-CSV) output for one test: the throughput, the summary
 * line (avg min p50 p95 p99 max, 7.x) and every `P% <= X milliseconds (cumulative count N)`
 * line of its two distribution listings (both are points of the same empirical CDF; the
 * cumulative count is what is used, the percent column is the iteration level, not the CDF).
 */
export function parseBenchmarkOutput(text: string): ParsedOutput {
  // Progress lines end in \r, not \n: split on both.
  const lines = text.split(/[\r\n]+/);
  let opsPerSec: number | null = null;
  let meanMs: number | null = null;
  let maxMs: number | null = null;
  const points = new Map<number, number>();
  for (const [i, line] of lines.entries()) {
    const rps = /([\d.]+) requests per second/.exec(line);
    if (rps) opsPerSec = Number(rps[1]);
    const point = /^\s*[\d.]+% <= ([\d.]+) milliseconds? \(cumulative count (\d+)\)/.exec(line);
    if (point) {
      const ms = Number(point[1]);
      points.set(ms, Math.max(points.get(ms) ?? 0, Number(point[2])));
    }
    if (/^\s*avg\s+min\s+p50\s+p95\s+p99\s+max\s*$/.test(line)) {
      const values = (lines[i + 1] ?? '').trim().split(/\s+/).map(Number);
      if (values.length === 6 && values.every((v) => Number.isFinite(v))) {
        meanMs = values[0] as number;
        maxMs = values[5] as number;
      }
    }
  }
  const cdf = [...points.entries()].sort((a, b) => a[0] - b[0]);
  return { opsPerSec: opsPerSec !== null && opsPerSec > 0 ? opsPerSec : null, meanMs, maxMs, cdf };
}

/** Operations per second of a mix with `readRatio` GETs: weighted harmonic mean of the two rates. */
export function mixRate(readRatio: number, getRate: number, setRate: number): number {
  if (getRate <= 0 || setRate <= 0) return 0;
  return 1 / (readRatio / getRate + (1 - readRatio) / setRate);
}

/** Fraction of requests at or below `ms` in a CDF from parseBenchmarkOutput. */
function cdfAt(cdf: Array<[number, number]>, ms: number): number {
  const total = cdf[cdf.length - 1]?.[1] ?? 0;
  if (total === 0) return 0;
  let count = 0;
  for (const [x, c] of cdf) {
    if (x > ms) break;
    count = c;
  }
  return count / total;
}

/**
 * The `percentile` (0–100) of the weighted mixture of several CDFs: the smallest printed latency
 * at which the mixture reaches it. Null when a part has no CDF.
 */
export function mixturePercentile(
  parts: Array<{ weight: number; cdf: Array<[number, number]> }>,
  percentile: number,
): number | null {
  const used = parts.filter((p) => p.weight > 0);
  if (used.length === 0 || used.some((p) => p.cdf.length === 0)) return null;
  const xs = [...new Set(used.flatMap((p) => p.cdf.map(([x]) => x)))].sort((a, b) => a - b);
  const weights = used.reduce((a, p) => a + p.weight, 0);
  const target = percentile / 100 - 1e-9;
  for (const x of xs) {
    const f = used.reduce((a, p) => a + p.weight * cdfAt(p.cdf, x), 0) / weights;
    if (f >= target) return x;
  }
  return xs[xs.length - 1] ?? null;
}

/** The row's ops/s and latency from the GET and SET runs, for a mix with `readRatio` GETs. */
export function combineRuns(
  readRatio: number,
  get: BenchmarkRun,
  set: BenchmarkRun,
): { opsPerSec: number; latency: LatencySummary; latencyParsed: boolean } {
  const opsPerSec = Math.round(mixRate(readRatio, get.opsPerSec, set.opsPerSec));
  const parts = [
    { weight: readRatio, cdf: get.cdf },
    { weight: 1 - readRatio, cdf: set.cdf },
  ];
  const p50 = mixturePercentile(parts, 50);
  const p99 = mixturePercentile(parts, 99);
  const p999 = mixturePercentile(parts, 99.9);
  const latencyParsed = p50 !== null && p99 !== null && p999 !== null;
  const mean =
    get.meanMs !== null && set.meanMs !== null ? readRatio * get.meanMs + (1 - readRatio) * set.meanMs : 0;
  return {
    opsPerSec,
    latencyParsed,
    latency: {
      count: get.requests + set.requests,
      meanMs: round3(mean),
      p50Ms: p50 ?? 0,
      p99Ms: p99 ?? 0,
      p999Ms: p999 ?? 0,
      maxMs: Math.max(get.maxMs ?? 0, set.maxMs ?? 0),
    },
  };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** redis-benchmark next to the redis-server on PATH, else on PATH itself. */
export function findRedisBenchmark(): string | null {
  const server = findExecutable('redis-server');
  return (
    (server ? findExecutable(join(dirname(server), 'redis-benchmark')) : null) ??
    findExecutable('redis-benchmark')
  );
}

export interface BenchmarkTarget {
  binary: string;
  host: string;
  port: number;
  password?: string;
  username?: string;
}

/** Where redis-benchmark runs: the topology's current master. Throws ClientUnavailableError when it cannot. */
export async function benchmarkTarget(topology: Topology): Promise<BenchmarkTarget> {
  const binary = findRedisBenchmark();
  if (!binary) {
    throw new ClientUnavailableError(
      'redis-benchmark not found (next to redis-server or on PATH); it ships with redis-server',
    );
  }
  const o = topology.routerOptions();
  if (o.tls !== undefined) {
    throw new ClientUnavailableError('the topology uses TLS; the limit rows run redis-benchmark without TLS');
  }
  const master = await topology.currentMaster();
  return {
    binary,
    host: master.host,
    port: master.port,
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.username !== undefined ? { username: o.username } : {}),
  };
}

export class RedisBenchmarkError extends Error {
  override name = 'RedisBenchmarkError';
}

export interface BenchmarkSpec {
  command: BenchmarkCommand;
  /**
   * Instead of redis-benchmark's built-in GET/SET test (`-t`), this command line, e.g.
   * `MGET key:__rand_int__ ...` (each `__rand_int__` gets its own random number under `-r`).
   */
  commandLine?: string[];
  concurrency: number;
  pipeline: number;
  valueSize: number;
  keySpace: number;
  requests: number;
}

function argsOf(target: BenchmarkTarget, spec: BenchmarkSpec): string[] {
  return [
    '-h',
    target.host,
    '-p',
    String(target.port),
    ...(target.password !== undefined ? ['-a', target.password] : []),
    ...(target.username !== undefined ? ['--user', target.username] : []),
    ...(spec.commandLine ? [] : ['-t', spec.command.toLowerCase()]),
    '-c',
    String(spec.concurrency),
    '-P',
    String(spec.pipeline),
    '-d',
    String(spec.valueSize),
    '-r',
    String(spec.keySpace),
    '-n',
    String(spec.requests),
    '--precision',
    '3',
    ...(spec.commandLine ?? []),
  ];
}

function exec(binary: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new RedisBenchmarkError(`${error.message.split('\n')[0]} ${String(stderr).trim()}`));
      else resolve(String(stdout));
    });
  });
}

/** One redis-benchmark invocation, parsed. */
export async function runBenchmark(target: BenchmarkTarget, spec: BenchmarkSpec): Promise<BenchmarkRun> {
  const args = argsOf(target, spec);
  const shown = args.map((a, i) =>
    args[i - 1] === '-a' ? '***' : a.length > 40 ? `${a.slice(0, 12)}…(${a.length} bytes)` : a,
  );
  const out = await exec(target.binary, args, 120_000);
  const parsed = parseBenchmarkOutput(out);
  if (parsed.opsPerSec === null) {
    throw new RedisBenchmarkError(
      `no throughput in the output of redis-benchmark ${shown.join(' ')}: ${out.slice(-300)}`,
    );
  }
  return {
    command: spec.command,
    args: shown,
    requests: spec.requests,
    opsPerSec: parsed.opsPerSec,
    meanMs: parsed.meanMs,
    maxMs: parsed.maxMs,
    cdf: parsed.cdf,
  };
}

/**
 * Run one command for about `ms`: redis-benchmark takes a request count, not a duration, so a
 * short run first (also the warm-up) measures the rate, and the measured run asks for
 * rate × time requests.
 */
export async function runBenchmarkFor(
  target: BenchmarkTarget,
  spec: Omit<BenchmarkSpec, 'requests'>,
  ms: number,
): Promise<BenchmarkRun> {
  const probeRequests = Math.max(1000, spec.concurrency * spec.pipeline * 10);
  const probe = await runBenchmark(target, { ...spec, requests: probeRequests });
  const requests = Math.max(probeRequests, Math.round((probe.opsPerSec * ms) / 1000));
  return runBenchmark(target, { ...spec, requests });
}

/** Write every `key:<n>` of the key space (redis-benchmark's key names) with `valueSize`-byte values, so GETs hit. */
/** `MGET key:__rand_int__ × size` or `MSET key:__rand_int__ <value> × size`: redis-benchmark's keys, one command per batch. */
export function multiKeyCommandLine(command: BenchmarkCommand, size: number, value: string): string[] {
  const key = 'key:__rand_int__';
  return command === 'GET'
    ? ['MGET', ...Array.from({ length: size }, () => key)]
    : ['MSET', ...Array.from({ length: size }, () => [key, value]).flat()];
}

export async function preloadBenchmarkKeys(
  target: BenchmarkTarget,
  valueSize: number,
  keySpace: number,
): Promise<void> {
  // Random keys: 8 × the key space leaves about 1 in 3000 unwritten.
  await runBenchmark(target, {
    command: 'SET',
    concurrency: 16,
    pipeline: 16,
    valueSize,
    keySpace,
    requests: keySpace * 8,
  });
}
