import * as hdr from 'hdr-histogram-js';

/** Latency summary in milliseconds (the histogram records microseconds, 3 significant digits). */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** An HDR histogram of operation latencies. Record milliseconds (performance.now() deltas). */
export class LatencyHistogram {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    // One hour in microseconds; autoResize covers anything longer (a hung op that finally returns).
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });

  recordMs(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  percentileMs(p: number): number {
    return this.histogram.totalCount === 0 ? 0 : this.histogram.getValueAtPercentile(p) / 1000;
  }

  summary(): LatencySummary {
    const h = this.histogram;
    if (h.totalCount === 0) return { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
    return {
      count: h.totalCount,
      meanMs: round3(h.mean / 1000),
      p50Ms: round3(h.getValueAtPercentile(50) / 1000),
      p99Ms: round3(h.getValueAtPercentile(99) / 1000),
      p999Ms: round3(h.getValueAtPercentile(99.9) / 1000),
      maxMs: round3(h.maxValue / 1000),
    };
  }

  /** Free the histogram's buffers (a no-op for the pure-JS implementation, required for WASM). */
  destroy(): void {
    this.histogram.destroy();
  }
}

export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
