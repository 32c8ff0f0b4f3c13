/**
 * Soak: one cache under a steady offered load (fixed rate) for a long time, sampling the process's RSS,
 * heap and event-loop delay (perf_hooks.monitorEventLoopDelay) at a fixed interval. Flat is
 * the goal: a leak shows as a slope, a blocking path as event-loop delay spikes. Clients run
 * one after another in this process (RSS is per process), so the second client starts from
 * the first one's heap; compare slopes, not absolute levels.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { CreatedClient } from './clients.js';
import { errorLabel, sleep } from './errors.js';
import { LatencyHistogram } from './histogram.js';
import type { SoakOptions } from './options.js';
import { preload, steadyKeys, valueOfSize } from './steady.js';

export interface SoakSample {
  /** Since the start of this client's soak. */
  tMs: number;
  opsPerSec: number;
  errors: number;
  /** p99 latency of the operations completed in this sample's interval. */
  opP99Ms: number;
  rssMb: number;
  heapUsedMb: number;
  eventLoopDelayP50Ms: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
}

export interface SoakResult {
  client: string;
  durationMs: number;
  ratePerSec: number;
  readRatio: number;
  valueSize: number;
  ops: number;
  errors: number;
  /** Not started because `maxInFlight` operations were already waiting. */
  shed: number;
  errorsByName: Record<string, number>;
  opsPerSec: number;
  rssStartMb: number;
  rssEndMb: number;
  rssMaxMb: number;
  /** Least-squares slope over the second half of the samples (the first half includes warm-up growth). */
  rssSlopeMbPerMin: number;
  heapSlopeMbPerMin: number;
  /**
   * Lowest heapUsed in the first and in the last fifth of the samples: the heap right after a
   * GC, a steadier leak signal than the slope (which follows the GC sawtooth).
   */
  heapFloorFirstMb: number;
  heapFloorLastMb: number;
  eventLoopDelayP99MedianMs: number;
  eventLoopDelayMaxMs: number;
  opP99MaxMs: number;
  samples: SoakSample[];
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
/**
 * monitorEventLoopDelay records the whole interval between its timer's runs, so an idle loop
 * reads `resolution` ms; subtract it to report the delay itself.
 */
const DELAY_RESOLUTION_MS = 10;
const delayMs = (ns: number) => Math.max(0, Math.round((ns / 1e6 - DELAY_RESOLUTION_MS) * 100) / 100);

export async function runSoak(
  client: CreatedClient,
  options: SoakOptions,
  onSample: (sample: SoakSample) => void = () => {},
): Promise<SoakResult> {
  const name = client.adapter.name;
  const keys = steadyKeys(`${name}:soak`, options.valueSize, 1000);
  const value = valueOfSize(options.valueSize);
  await preload(client.client, keys, value);

  const errorsByName: Record<string, number> = {};
  let ops = 0;
  let errors = 0;
  let shed = 0;
  let inFlight = 0;
  let latency = new LatencyHistogram();
  const { get, set } = client.client;
  const issue = () => {
    if (inFlight >= options.maxInFlight) {
      shed++;
      return;
    }
    inFlight++;
    const key = keys[(Math.random() * keys.length) | 0] as string;
    const t0 = performance.now();
    const op = Math.random() < options.readRatio ? get(key) : set(key, value);
    op.then(
      () => {
        inFlight--;
        ops++;
        latency.recordMs(performance.now() - t0);
      },
      (error: unknown) => {
        inFlight--;
        errors++;
        const label = errorLabel(error);
        errorsByName[label] = (errorsByName[label] ?? 0) + 1;
      },
    );
  };

  const delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  delay.enable();
  const samples: SoakSample[] = [];
  const start = performance.now();
  let lastAt = start;
  let lastOps = 0;
  let lastErrors = 0;
  const take = () => {
    const now = performance.now();
    const memory = process.memoryUsage();
    const sample: SoakSample = {
      tMs: Math.round(now - start),
      opsPerSec: Math.round(((ops - lastOps) / (now - lastAt)) * 1000),
      errors: errors - lastErrors,
      opP99Ms: latency.summary().p99Ms,
      rssMb: mb(memory.rss),
      heapUsedMb: mb(memory.heapUsed),
      eventLoopDelayP50Ms: delayMs(delay.percentile(50)),
      eventLoopDelayP99Ms: delayMs(delay.percentile(99)),
      eventLoopDelayMaxMs: delayMs(delay.max),
    };
    delay.reset();
    latency.destroy();
    latency = new LatencyHistogram();
    lastAt = now;
    lastOps = ops;
    lastErrors = errors;
    samples.push(sample);
    onSample(sample);
  };
  // Open loop at a fixed rate: the event loop has idle time, so its delay shows blocking
  // work (not just a saturated CPU), and the soak leaves CPU for Redis and the sentinels.
  let issued = 0;
  const loader = setInterval(() => {
    const due = Math.floor(((performance.now() - start) * options.ratePerSec) / 1000);
    while (issued < due) {
      issued++;
      issue();
    }
  }, 5);
  const sampler = setInterval(take, options.sampleEveryMs);
  await sleep(options.durationMs);
  clearInterval(loader);
  clearInterval(sampler);
  const drainUntil = performance.now() + 5000;
  while (inFlight > 0 && performance.now() < drainUntil) await sleep(10);
  // A last sample for the stretch since the previous one (unless it is only a few ms long).
  if (samples.length === 0 || performance.now() - lastAt > options.sampleEveryMs / 2) take();
  delay.disable();
  latency.destroy();

  const elapsed = performance.now() - start;
  const tail = samples.slice(Math.floor(samples.length / 2));
  const fifth = Math.max(1, Math.floor(samples.length / 5));
  const p99s = samples.map((s) => s.eventLoopDelayP99Ms).sort((a, b) => a - b);
  const first = samples[0] as SoakSample;
  const last = samples[samples.length - 1] as SoakSample;
  return {
    client: name,
    durationMs: options.durationMs,
    ratePerSec: options.ratePerSec,
    readRatio: options.readRatio,
    valueSize: options.valueSize,
    ops,
    errors,
    shed,
    errorsByName,
    opsPerSec: Math.round((ops / elapsed) * 1000),
    rssStartMb: first.rssMb,
    rssEndMb: last.rssMb,
    rssMaxMb: Math.max(...samples.map((s) => s.rssMb)),
    rssSlopeMbPerMin: slopePerMinute(tail.map((s) => [s.tMs, s.rssMb])),
    heapSlopeMbPerMin: slopePerMinute(tail.map((s) => [s.tMs, s.heapUsedMb])),
    heapFloorFirstMb: Math.min(...samples.slice(0, fifth).map((s) => s.heapUsedMb)),
    heapFloorLastMb: Math.min(...samples.slice(-fifth).map((s) => s.heapUsedMb)),
    eventLoopDelayP99MedianMs: p99s[Math.floor(p99s.length / 2)] ?? 0,
    eventLoopDelayMaxMs: Math.max(...samples.map((s) => s.eventLoopDelayMaxMs)),
    opP99MaxMs: Math.max(...samples.map((s) => s.opP99Ms)),
    samples,
  };
}

/** Least-squares slope of (ms, value) points, per minute; 0 with fewer than two points. */
export function slopePerMinute(points: Array<[number, number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const meanX = points.reduce((a, [x]) => a + x, 0) / n;
  const meanY = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  }
  return den === 0 ? 0 : Math.round((num / den) * 60_000 * 100) / 100;
}
