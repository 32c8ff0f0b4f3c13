/**
 * What `npm run bench` shows a user: progress phases that end at their totals with the time
 * left overall, and a summary whose recommendation follows the run's numbers.
 */
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/lib/options.js';
import { plannedMs, planRun } from '../../bench/lib/plan.js';
import { formatDuration, Progress } from '../../bench/lib/progress.js';
import type { BenchResults } from '../../bench/lib/report.js';
import { benchSummary } from '../../bench/lib/summary.js';
import { TextSink } from '../fixtures/text-sink.js';

describe('bench progress (lines, as on a CI log)', () => {
  it('ends every phase at its total, also one that did more or fewer steps than planned', () => {
    const out = new TextSink();
    const progress = Progress.for(false, out, [
      { name: 'steady', estimatedMs: 60_000 },
      { name: 'soak', estimatedMs: 60_000 },
      { name: 'failover pause', estimatedMs: 60_000 },
    ]);
    progress.phase('steady', 10, 'runs');
    progress.update(7, 'c=16');
    progress.phase('soak', 4, 's');
    progress.update(6, 'pooled');
    progress.phase('failover pause', 25, 's');
    progress.update(20, 'draining', 25);
    progress.finish();
    const lines = out.text.split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^steady: 0\/10 runs \(about 1m 00s\) · overall 0%/));
    expect(lines).toContainEqual(expect.stringMatching(/^steady: 10\/10 runs done in \d+s · overall 33%/));
    expect(lines).toContainEqual(expect.stringMatching(/^soak: 6\/6 s done in \d+s · overall 67%/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^failover pause: 25\/25 s done in \d+s · overall 100%/),
    );
  });

  it('silent with --quiet', () => {
    const out = new TextSink();
    const progress = Progress.for(true, out, [{ name: 'steady', estimatedMs: 1000 }]);
    progress.phase('steady', 2, 'runs');
    progress.finish();
    expect(out.text).toBe('');
  });

  it('formats durations the way the README states them', () => {
    expect(formatDuration(45_000)).toBe('45s');
    expect(formatDuration(245_000)).toBe('4m 05s');
    expect(formatDuration(3_720_000)).toBe('1h 02m');
  });

  it('plans the default run longer than --quick, with a phase per scenario and fault', () => {
    const full = planRun(parseBenchArgs([]), 6, 2);
    const quick = planRun(parseBenchArgs(['--quick']), 6, 2);
    expect(full.map((p) => p.name)).toEqual(['steady', 'soak', 'failover pause']);
    expect(planRun(parseBenchArgs(['--fault', 'all']), 6, 2).map((p) => p.name)).toEqual([
      'steady',
      'soak',
      'failover pause',
      'failover kill',
      'failover failover',
    ]);
    expect(plannedMs(full)).toBeGreaterThan(5 * plannedMs(quick));
  });
});

type Failover = BenchResults['failover'][number];
type FailoverClient = Failover['clients'][number];

/** One steady cell per client, ops/s relative to ioredis-sentinel as given. */
function results(ops: Record<string, number>, failover: Array<Partial<FailoverClient>> | null): BenchResults {
  const steady = Object.entries(ops).map(([client, opsPerSec]) => ({
    client,
    readRatio: 0.9,
    concurrency: 16,
    valueSize: 100,
    mix: '90/10',
    durationMs: 1000,
    ops: opsPerSec,
    opsPerSec,
    errors: 0,
    errorsByName: {},
    latency: { p50Ms: 0.1, p99Ms: 1, p999Ms: 2, maxMs: 3, count: opsPerSec },
  }));
  return {
    meta: {
      baseline: 'ioredis-sentinel',
      clients: Object.keys(ops).map((name) => ({
        name,
        family: ['pooled', 'discovery'].includes(name) ? 'ours' : 'peer',
        description: '',
      })),
      options: parseBenchArgs([]),
    },
    steady,
    failover:
      failover === null
        ? []
        : [
            {
              fault: 'pause',
              clients: failover.map((c) => ({
                lostWrites: 0,
                hungOver1s: 0,
                clientPartMs: 5,
                ...c,
              })),
            },
          ],
    soak: [],
    skipped: [],
    charts: [],
  } as unknown as BenchResults;
}

const files = { report: '/out/report.md', log: '/out/bench.log' };

describe('bench summary', () => {
  const ops = { pooled: 900, discovery: 700, 'ioredis-sentinel': 1000 };

  it('points to the fastest router that lost nothing, names every loss, and offers the other scenarios', () => {
    const text = benchSummary(
      results(ops, [
        { client: 'pooled' },
        { client: 'discovery' },
        { client: 'ioredis-sentinel', lostWrites: 1698, hungOver1s: 1196, clientPartMs: null },
      ]),
      files,
    );
    expect(text).toContain('steady state, vs ioredis-sentinel over 1 cells: pooled 0.90× ops/s');
    expect(text).toContain('pooled 0 lost, 0 hung, back 5 ms; discovery 0 lost, 0 hung, back 5 ms');
    expect(text).toContain('others: ioredis-sentinel 1,698 lost, 1,196 hung, never back');
    expect(text).toMatch(/→ pooled \(.*\): the most ops\/s of the routers that lost no acknowledged write/);
    expect(text).toMatch(/→ discovery \(.*\): as safe through the failover, at 0\.78× pooled's ops\/s/);
    expect(text).toContain('Report: /out/report.md');
    expect(text).toContain('npm run bench -- --scenario near');
    expect(text).toContain('npm run bench -- --scenario cluster');
    expect(text).toContain('npm run bench -- --fault all');
    expect(text).not.toContain('the default run');
  });

  it('follows the numbers: a faster router that lost writes is not the one recommended', () => {
    const text = benchSummary(
      results(ops, [{ client: 'pooled', lostWrites: 3 }, { client: 'discovery' }]),
      files,
    );
    expect(text).toMatch(/→ discovery \(.*\): it lost no acknowledged write/);
    expect(text).not.toMatch(/→ pooled/);
    const none = benchSummary(
      results(ops, [
        { client: 'pooled', hungOver1s: 2 },
        { client: 'discovery', clientPartMs: null },
      ]),
      files,
    );
    expect(none).toContain('→ none of pooled, discovery came through every fault');
  });

  it('without a failover run, says the choice rests on ops/s alone', () => {
    expect(benchSummary(results(ops, null), files)).toMatch(
      /→ pooled \(.*\) by ops\/s alone; run the failover scenario/,
    );
  });

  it('with --only our routers, compares them with each other', () => {
    const text = benchSummary(results({ pooled: 900, discovery: 700 }, [{ client: 'pooled' }]), files);
    expect(text).toContain('steady state, vs pooled over 1 cells: discovery 0.78× ops/s');
    expect(text).toContain('npm run bench -- --fault all');
  });
});
