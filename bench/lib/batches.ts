/**
 * Explicit pipelines: many keys per call instead of one operation per key. Every client that
 * has batch methods (clients.ts: ours `getMany`/`setMany`, which send one MGET / one MSET per
 * node, `setMany` with a TTL, one script per node, and on pooled `getMany` through the near
 * cache; ioredis `pipeline()` of GETs/SETs, of SET PX, and MGET/MSET) reads or writes batches of
 * `size` random keys in a closed loop, and `redis-benchmark -P <size>` is the limit row: the same
 * number of requests written before the replies are read, from a C client. A method's `versus`
 * row is the goal it is measured against in the same run (`versusRatio`).
 */
import { performance } from 'node:perf_hooks';
import type { BatchMethod, BatchShape, CreatedClient } from './clients.js';
import { errorLabel, sleep } from './errors.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import {
  type BenchmarkTarget,
  LIMIT_ROW,
  multiKeyCommandLine,
  preloadBenchmarkKeys,
  runBenchmarkFor,
} from './limit.js';
import type { BatchOptions } from './options.js';
import { valueOfSize } from './steady.js';

export type BatchOp = 'get' | 'set';

export interface BatchRow {
  client: string;
  /** The batch method, e.g. 'getMany / setMany'; for the limit row the redis-benchmark flags. */
  method: string;
  kind?: 'limit';
  op: BatchOp;
  /** What reaches Redis per batch: one multi-key command or a pipeline of single-key commands. */
  shape: BatchShape;
  /** Keys per batch. */
  size: number;
  valueSize: number;
  /** Batches in flight. */
  concurrency: number;
  durationMs: number;
  batches: number;
  batchesPerSec: number;
  keysPerSec: number;
  /** Per batch (for the limit row: per request, from the moment its batch was written). */
  latency: LatencySummary | null;
  errors: number;
  errorsByName: Record<string, number>;
  /** keys/s relative to the redis-benchmark row with the same op, shape and concurrency. */
  limitRatio?: number | null;
  /** The method's goal reference (BatchMethod.versus) for this op: `client` `method`. */
  versus?: { client: string; method: string };
  /** keys/s ÷ the `versus` row's keys/s (same op and concurrency, same run); null when it did not run. */
  versusRatio?: number | null;
}

export const batchKeys = (client: string, keySpace: number): string[] =>
  Array.from({ length: keySpace }, (_, i) => `${client}:b:${i}`);

function randomBatch(keys: string[], size: number): string[] {
  const out = new Array<string>(size);
  for (let i = 0; i < size; i++) out[i] = keys[(Math.random() * keys.length) | 0] as string;
  return out;
}

/** What the rounds of one (client method, op, concurrency) add up to. */
export class BatchMeasurement {
  readonly histogram = new LatencyHistogram();
  readonly errorsByName: Record<string, number> = {};
  errors = 0;
  measuredMs = 0;

  /** The table row, once every round ran (frees the histogram). */
  toRow(client: string, method: BatchMethod, op: BatchOp, concurrency: number, o: BatchOptions): BatchRow {
    const latency = this.histogram.summary();
    this.histogram.destroy();
    const batchesPerSec = this.measuredMs > 0 ? (latency.count / this.measuredMs) * 1000 : 0;
    const versus = method.versus?.[op];
    return {
      client,
      method: method.label,
      op,
      shape: method.shape[op] as BatchShape,
      ...(versus !== undefined ? { versus: { client: versus.client, method: versus.label } } : {}),
      size: o.size,
      valueSize: o.valueSize,
      concurrency,
      durationMs: Math.round(this.measuredMs),
      batches: latency.count,
      batchesPerSec: Math.round(batchesPerSec),
      keysPerSec: Math.round(batchesPerSec * o.size),
      latency,
      errors: this.errors,
      errorsByName: this.errorsByName,
    };
  }
}

/**
 * One round of one client's batch method on one (op, concurrency): `warmupMs` unmeasured, then
 * `measureMs` added to `into`.
 */
export async function measureBatches(
  method: BatchMethod,
  op: BatchOp,
  concurrency: number,
  keys: string[],
  o: BatchOptions,
  measureMs: number,
  into: BatchMeasurement,
): Promise<void> {
  const value = valueOfSize(o.valueSize);
  const measureFrom = performance.now() + o.warmupMs;
  const end = measureFrom + measureMs;
  const worker = async () => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      const batch = randomBatch(keys, o.size);
      try {
        if (op === 'get') await (method.getMany as NonNullable<BatchMethod['getMany']>)(batch);
        else await (method.setMany as NonNullable<BatchMethod['setMany']>)(batch, value);
        if (t0 >= measureFrom) into.histogram.recordMs(performance.now() - t0);
      } catch (error) {
        if (t0 >= measureFrom) {
          into.errors++;
          const label = errorLabel(error);
          into.errorsByName[label] = (into.errorsByName[label] ?? 0) + 1;
        }
        await sleep(1);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  into.measuredMs += measureMs;
}

/** Write every batch key once through the client's first batch method that writes, so GETs hit. */
export async function preloadBatchKeys(c: CreatedClient, keys: string[], o: BatchOptions): Promise<void> {
  const method = c.client.batches?.find((m) => m.setMany !== undefined);
  if (method?.setMany === undefined) return;
  const value = valueOfSize(o.valueSize);
  for (let from = 0; from < keys.length; from += o.size) {
    await method.setMany(keys.slice(from, from + o.size), value);
  }
}

/**
 * A limit row: redis-benchmark at `concurrency` connections, either `-P <size>` GET / SET
 * (shape 'pipeline': `size` single-key requests written before the replies are read) or one
 * MGET / MSET of `size` keys per request (shape 'multi-key').
 */
export async function benchmarkBatchRow(
  target: BenchmarkTarget,
  op: BatchOp,
  shape: BatchShape,
  concurrency: number,
  keySpace: number,
  o: BatchOptions,
): Promise<BatchRow> {
  const command = op === 'get' ? 'GET' : 'SET';
  const multi = shape === 'multi-key';
  const run = await runBenchmarkFor(
    target,
    {
      command,
      concurrency,
      pipeline: multi ? 1 : o.size,
      valueSize: o.valueSize,
      keySpace,
      ...(multi ? { commandLine: multiKeyCommandLine(command, o.size, valueOfSize(o.valueSize)) } : {}),
    },
    o.cellMs,
  );
  const pct = (p: number) => {
    const total = run.cdf[run.cdf.length - 1]?.[1] ?? 0;
    return run.cdf.find(([, count]) => count >= (p / 100) * total - 1e-9)?.[0];
  };
  const p50 = pct(50);
  const p99 = pct(99);
  const p999 = pct(99.9);
  // A request is a key with -P, a whole batch with MGET / MSET.
  const batchesPerSec = multi ? run.opsPerSec : run.opsPerSec / o.size;
  return {
    client: LIMIT_ROW,
    method: multi ? `${op === 'get' ? 'MGET' : 'MSET'} × ${o.size} keys` : `-P ${o.size} ${command}`,
    kind: 'limit',
    op,
    shape,
    size: o.size,
    valueSize: o.valueSize,
    concurrency,
    durationMs: Math.round((run.requests / run.opsPerSec) * 1000),
    batches: Math.round(multi ? run.requests : run.requests / o.size),
    batchesPerSec: Math.round(batchesPerSec),
    keysPerSec: Math.round(batchesPerSec * o.size),
    latency:
      p50 !== undefined && p99 !== undefined && p999 !== undefined
        ? {
            count: run.requests,
            meanMs: run.meanMs ?? 0,
            p50Ms: p50,
            p99Ms: p99,
            p999Ms: p999,
            maxMs: run.maxMs ?? 0,
          }
        : null,
    errors: 0,
    errorsByName: {},
  };
}

/** The shapes redis-benchmark has a limit row for. */
const SHAPES: BatchShape[] = ['pipeline', 'multi-key'];

/**
 * Every (op, concurrency): each client's batch methods one after another (order rotated per
 * step so no client always runs first), then the redis-benchmark limit row when it can run.
 */
export async function runBatches(
  clients: CreatedClient[],
  target: BenchmarkTarget | undefined,
  o: BatchOptions,
  onStep: (label: string) => void,
  onSkip: (client: string, reason: string) => void,
): Promise<BatchRow[]> {
  const reasonOf = (error: unknown) =>
    error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const keySpace = Math.max(o.keySpace, o.size);
  const withBatches: CreatedClient[] = [];
  for (const c of clients.filter((c) => (c.client.batches?.length ?? 0) > 0)) {
    onStep(`preloading batch keys · ${c.adapter.name}`);
    try {
      await preloadBatchKeys(c, batchKeys(c.adapter.name, keySpace), o);
      withBatches.push(c);
    } catch (error) {
      // A client that cannot write its keys (e.g. one pinned to a demoted master) is left out, with the reason.
      onSkip(c.adapter.name, reasonOf(error));
    }
  }
  let limit = target;
  if (limit) {
    try {
      await preloadBenchmarkKeys(limit, o.valueSize, keySpace);
    } catch (error) {
      onSkip(LIMIT_ROW, reasonOf(error));
      limit = undefined;
    }
  }
  const rows: BatchRow[] = [];
  const variants = withBatches.flatMap((c) =>
    (c.client.batches ?? []).map((method) => ({ client: c.adapter.name, method })),
  );
  let step = 0;
  for (const op of ['get', 'set'] as const) {
    const forOp = variants.filter((v) => (op === 'get' ? v.method.getMany : v.method.setMany) !== undefined);
    for (const concurrency of o.concurrency) {
      // Every method once per round, the order rotated per round: a burst of outside load (a
      // shared machine) is spread over all of them instead of hitting one.
      const measured = forOp.map(() => new BatchMeasurement());
      for (let round = 0; round < o.rounds; round++) {
        const shift = forOp.length > 0 ? step++ % forOp.length : 0;
        for (let k = 0; k < forOp.length; k++) {
          const index = (k + shift) % forOp.length;
          const v = forOp[index] as (typeof forOp)[number];
          onStep(
            `${op} × ${o.size} c=${concurrency} · round ${round + 1}/${o.rounds} · ${v.client} ${v.method.label}`,
          );
          await measureBatches(
            v.method,
            op,
            concurrency,
            batchKeys(v.client, keySpace),
            o,
            o.cellMs / o.rounds,
            measured[index] as BatchMeasurement,
          );
        }
      }
      forOp.forEach((v, index) => {
        rows.push((measured[index] as BatchMeasurement).toRow(v.client, v.method, op, concurrency, o));
      });
      for (const shape of limit ? SHAPES : []) {
        onStep(`${op} × ${o.size} c=${concurrency} · redis-benchmark ${shape}`);
        try {
          rows.push(await benchmarkBatchRow(limit as BenchmarkTarget, op, shape, concurrency, keySpace, o));
        } catch (error) {
          onSkip(LIMIT_ROW, `${op} ${shape} c=${concurrency}: ${reasonOf(error)}`);
        }
      }
    }
  }
  addBatchRatios(rows);
  return rows;
}

/** Steps runBatches reports through onStep (for a progress total). */
export function batchSteps(clients: CreatedClient[], o: BatchOptions, withLimit: boolean): number {
  const methods = clients.flatMap((c) => c.client.batches ?? []);
  const ops = methods.reduce(
    (n, m) => n + (m.getMany !== undefined ? 1 : 0) + (m.setMany !== undefined ? 1 : 0),
    0,
  );
  const preloads = clients.filter((c) => (c.client.batches?.length ?? 0) > 0).length;
  return preloads + o.concurrency.length * (ops * o.rounds + (withLimit ? 2 * SHAPES.length : 0));
}

export function addBatchRatios(rows: BatchRow[]): void {
  for (const row of rows) {
    const limit = rows.find(
      (r) =>
        r.kind === 'limit' &&
        r.op === row.op &&
        r.shape === row.shape &&
        r.concurrency === row.concurrency &&
        r.size === row.size,
    );
    row.limitRatio =
      limit && limit.keysPerSec > 0 ? Math.round((row.keysPerSec / limit.keysPerSec) * 100) / 100 : null;
    const versus = row.versus;
    if (versus !== undefined) {
      const ref = rows.find(
        (r) =>
          r.client === versus.client &&
          r.method === versus.method &&
          r.op === row.op &&
          r.concurrency === row.concurrency &&
          r.size === row.size,
      );
      row.versusRatio =
        ref && ref.keysPerSec > 0 ? Math.round((row.keysPerSec / ref.keysPerSec) * 100) / 100 : null;
    }
  }
}
