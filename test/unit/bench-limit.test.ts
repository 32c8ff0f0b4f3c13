import { describe, expect, it } from 'vitest';
import {
  type BenchmarkRun,
  combineRuns,
  mixRate,
  mixturePercentile,
  multiKeyCommandLine,
  parseBenchmarkOutput,
} from '../../bench/lib/limit.js';

// redis-benchmark 7.0.15 `-t get -c 1 -n 5000 -d 100 -r 1000 --precision 3`, as printed (the
// progress line ends in \r, not \n).
const OUTPUT_7_0 = [
  ' GET: rps=0.0 (overall: -nan) avg_msec=-nan (overall: -nan)\r GET: rps=12154.8 (overall: 12154.8) avg_msec=0.074 (overall: 0.074)\r====== GET ======',
  '  5000 requests completed in 0.40 seconds',
  '  1 parallel clients',
  '  100 bytes payload',
  '  keep alive: 1',
  '',
  'Latency by percentile distribution:',
  '0.000% <= 0.023 milliseconds (cumulative count 1917)',
  '50.000% <= 0.031 milliseconds (cumulative count 4619)',
  '93.750% <= 0.055 milliseconds (cumulative count 4737)',
  '99.219% <= 2.543 milliseconds (cumulative count 4961)',
  '99.902% <= 4.895 milliseconds (cumulative count 4996)',
  '100.000% <= 36.127 milliseconds (cumulative count 5000)',
  '',
  'Cumulative distribution of latencies:',
  '98.000% <= 0.103 milliseconds (cumulative count 4900)',
  '99.480% <= 3.103 milliseconds (cumulative count 4974)',
  '100.000% <= 36.127 milliseconds (cumulative count 5000)',
  '',
  'Summary:',
  '  throughput summary: 12437.81 requests per second',
  '  latency summary (msec):',
  '          avg       min       p50       p95       p99       max',
  '        0.072     0.016     0.031     0.063     1.951    36.127',
].join('\n');

const run = (command: 'GET' | 'SET', opsPerSec: number, cdf: Array<[number, number]>): BenchmarkRun => ({
  command,
  args: [],
  requests: cdf[cdf.length - 1]?.[1] ?? 0,
  opsPerSec,
  meanMs: 1,
  maxMs: cdf[cdf.length - 1]?.[0] ?? 0,
  cdf,
});

describe('bench limit rows (redis-benchmark output, mix combination)', () => {
  it('reads the throughput, the summary line and the CDF from the cumulative counts', () => {
    const parsed = parseBenchmarkOutput(OUTPUT_7_0);
    expect(parsed.opsPerSec).toBe(12437.81);
    expect(parsed.meanMs).toBe(0.072);
    expect(parsed.maxMs).toBe(36.127);
    // Both listings merged, ascending by latency; the percent column (an iteration level) is not the CDF.
    expect(parsed.cdf[0]).toEqual([0.023, 1917]);
    expect(parsed.cdf.map(([ms]) => ms)).toEqual([0.023, 0.031, 0.055, 0.103, 2.543, 3.103, 4.895, 36.127]);
    expect(mixturePercentile([{ weight: 1, cdf: parsed.cdf }], 50)).toBe(0.031);
    expect(mixturePercentile([{ weight: 1, cdf: parsed.cdf }], 99)).toBe(2.543);
    expect(mixturePercentile([{ weight: 1, cdf: parsed.cdf }], 99.9)).toBe(4.895);
  });

  it('returns no throughput and no CDF for output it does not recognise', () => {
    expect(parseBenchmarkOutput('ERR unknown command')).toEqual({
      opsPerSec: null,
      meanMs: null,
      maxMs: null,
      cdf: [],
    });
  });

  it('combines GET and SET rates as the time per operation of the mix', () => {
    // 90/10 of 10,000 GET/s and 5,000 SET/s: 0.9/10000 + 0.1/5000 = 0.00011 s per op.
    expect(mixRate(0.9, 10_000, 5_000)).toBeCloseTo(1 / 0.00011, 6);
    expect(mixRate(1, 10_000, 5_000)).toBe(10_000);
    expect(mixRate(0.5, 10_000, 0)).toBe(0);
  });

  it('reads the mix percentiles from the weighted mixture of the two distributions', () => {
    // GET: all 1 ms; SET: all 10 ms. 90/10: p50 and p89 are GET's, p99 is SET's.
    const get = run('GET', 10_000, [[1, 1000]]);
    const set = run('SET', 5_000, [[10, 1000]]);
    const mixed = combineRuns(0.9, get, set);
    expect(mixed.latencyParsed).toBe(true);
    expect(mixed.latency.p50Ms).toBe(1);
    expect(mixed.latency.p99Ms).toBe(10);
    expect(
      mixturePercentile(
        [
          { weight: 0.9, cdf: get.cdf },
          { weight: 0.1, cdf: set.cdf },
        ],
        89,
      ),
    ).toBe(1);
    expect(mixed.latency.maxMs).toBe(10);
    expect(mixed.latency.meanMs).toBe(1);
    expect(mixed.opsPerSec).toBe(Math.round(mixRate(0.9, 10_000, 5_000)));
  });

  it('marks the latency n/a when a distribution is missing, and keeps the throughput', () => {
    const mixed = combineRuns(0.9, run('GET', 10_000, [[1, 10]]), run('SET', 5_000, []));
    expect(mixed.latencyParsed).toBe(false);
    expect(mixed.opsPerSec).toBeGreaterThan(0);
  });

  it('builds MGET / MSET command lines over redis-benchmark keys', () => {
    expect(multiKeyCommandLine('GET', 3, 'v')).toEqual([
      'MGET',
      'key:__rand_int__',
      'key:__rand_int__',
      'key:__rand_int__',
    ]);
    expect(multiKeyCommandLine('SET', 2, 'v')).toEqual([
      'MSET',
      'key:__rand_int__',
      'v',
      'key:__rand_int__',
      'v',
    ]);
  });
});
