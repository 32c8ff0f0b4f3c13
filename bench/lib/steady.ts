/**
 * Steady state: closed-loop workers (each waits for its operation before starting the next)
 * run a GET/SET mix against one client for a fixed time. Cells (mix x concurrency x size) are
 * run client after client, with the client order rotated per cell, so every client sees the
 * same machine state and no client is always first or last.
 */
import { performance } from 'node:perf_hooks';
import type { BenchClient, CreatedClient } from './clients.js';
import { errorLabel, sleep } from './errors.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import { type BenchmarkRun, combineRuns, type LimitDetail, type LimitVariant } from './limit.js';
import type { SteadyOptions } from './options.js';

export interface SteadyCell {
  readRatio: number;
  concurrency: number;
  valueSize: number;
}

export interface SteadyRow extends SteadyCell {
  client: string;
  /** 'limit': a redis-benchmark reference row (limit.ts), not a client; absent for clients. */
  kind?: 'limit';
  /** For a limit row: the redis-benchmark runs it was combined from. */
  limit?: LimitDetail;
  /** Label of the mix, e.g. '90/10' (GET/SET). */
  mix: string;
  durationMs: number;
  ops: number;
  opsPerSec: number;
  errors: number;
  errorsByName: Record<string, number>;
  latency: LatencySummary;
  /** Filled in by the report: this client relative to the baseline (ioredis Sentinel) in the same cell. */
  opsRatio?: number | null;
  p50Ratio?: number | null;
  p99Ratio?: number | null;
  p999Ratio?: number | null;
  /** Filled in by the report: ops/s relative to the non-pipelined redis-benchmark row in the same cell. */
  limitRatio?: number | null;
}

export const mixLabel = (readRatio: number): string =>
  `${Math.round(readRatio * 100)}/${Math.round((1 - readRatio) * 100)}`;

export function steadyCells(options: SteadyOptions): SteadyCell[] {
  const cells: SteadyCell[] = [];
  for (const valueSize of options.valueSizes) {
    for (const readRatio of options.readRatios) {
      for (const concurrency of options.concurrency) cells.push({ readRatio, concurrency, valueSize });
    }
  }
  return cells;
}

export function valueOfSize(size: number): string {
  // Printable, not all one byte, so nothing on the path can shortcut it.
  const unit = 'sentinel-cache bench value 0123456789 ';
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

export function steadyKeys(client: string, valueSize: number, keySpace: number): string[] {
  return Array.from({ length: keySpace }, (_, i) => `${client}:s${valueSize}:${i}`);
}

/** Write every key once so GETs hit; 32 writers at a time. */
export async function preload(client: BenchClient, keys: string[], value: string): Promise<void> {
  let next = 0;
  const writer = async () => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      await client.set(key, value);
    }
  };
  await Promise.all(Array.from({ length: 32 }, writer));
}

/** One client's measurements for one cell, accumulated over the rounds. */
export class CellMeasurement {
  readonly histogram = new LatencyHistogram();
  readonly errorsByName: Record<string, number> = {};
  errors = 0;
  measuredMs = 0;

  toRow(client: string, cell: SteadyCell): SteadyRow {
    const latency = this.histogram.summary();
    this.histogram.destroy();
    return {
      client,
      ...cell,
      mix: mixLabel(cell.readRatio),
      durationMs: this.measuredMs,
      ops: latency.count,
      opsPerSec: this.measuredMs > 0 ? Math.round((latency.count / this.measuredMs) * 1000) : 0,
      errors: this.errors,
      errorsByName: this.errorsByName,
      latency,
    };
  }
}

/** A limit row: the cell's mix combined from redis-benchmark's GET and SET runs (limit.ts). */
export function limitRow(
  variant: LimitVariant,
  cell: SteadyCell,
  get: BenchmarkRun,
  set: BenchmarkRun,
  measuredMs: number,
): SteadyRow {
  const { opsPerSec, latency, latencyParsed } = combineRuns(cell.readRatio, get, set);
  return {
    client: variant.name,
    kind: 'limit',
    ...cell,
    mix: mixLabel(cell.readRatio),
    durationMs: measuredMs,
    ops: get.requests + set.requests,
    opsPerSec,
    errors: 0,
    errorsByName: {},
    latency,
    limit: { pipeline: variant.pipeline, get, set, latencyParsed },
  };
}

/**
 * Run `cell` on one client for `warmupMs` (not recorded) plus `measureMs` (recorded into
 * `into`). Operations are counted when they started inside the measured window.
 */
export async function measureSteady(
  client: CreatedClient,
  cell: SteadyCell,
  keys: string[],
  value: string,
  into: CellMeasurement,
  window: { warmupMs: number; measureMs: number },
): Promise<void> {
  const start = performance.now();
  const measureFrom = start + window.warmupMs;
  const end = measureFrom + window.measureMs;
  const { get, set } = client.client;
  const keyCount = keys.length;

  const worker = async () => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      const key = keys[(Math.random() * keyCount) | 0] as string;
      try {
        if (Math.random() < cell.readRatio) await get(key);
        else await set(key, value);
        if (t0 >= measureFrom) into.histogram.recordMs(performance.now() - t0);
      } catch (error) {
        if (t0 >= measureFrom) {
          into.errors++;
          const label = errorLabel(error);
          into.errorsByName[label] = (into.errorsByName[label] ?? 0) + 1;
        }
        // A failing client must not turn the loop into a busy spin.
        await sleep(1);
      }
    }
  };
  await Promise.all(Array.from({ length: cell.concurrency }, worker));
  into.measuredMs += window.measureMs;
}
