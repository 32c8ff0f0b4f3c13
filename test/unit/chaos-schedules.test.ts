/**
 * `npm run chaos -- --schedules n`: what makes a schedule replayable alone and judged alone —
 * its seed (from the run's seed, the configuration and its index), at least one fault, the
 * reads judged strictly, and the sum of its reports into its configuration's.
 */
import { describe, expect, it } from 'vitest';
import {
  mergeReport,
  planScheduleFaults,
  readsOutsideFaultWindows,
  SCHEDULE_GAP_MS,
  scheduleSeed,
} from '../../chaos/campaign.js';
import { checkHistory } from '../../chaos/checker.js';
import { faultKinds } from '../../chaos/generator.js';
import type { HistoryEvent } from '../../chaos/history.js';

describe('chaos schedules', () => {
  it('derive a seed per run seed, configuration and index: stable, distinct, a non-negative int', () => {
    const seeds = new Set<number>();
    for (const config of ['pooled', 'pooled-near', 'cluster']) {
      for (let i = 0; i < 50; i++) {
        const s = scheduleSeed(42, config, i);
        expect(s).toBe(scheduleSeed(42, config, i));
        expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
        seeds.add(s);
      }
    }
    expect(seeds.size).toBe(150);
    expect(scheduleSeed(43, 'pooled', 0)).not.toBe(scheduleSeed(42, 'pooled', 0));
  });

  it('plan at least one fault of the topology’s kinds, however short the load', () => {
    for (let seed = 0; seed < 200; seed++) {
      for (const loadMs of [500, 3000, 8000]) {
        const plan = planScheduleFaults(seed, 'pooled', loadMs);
        expect(plan.length).toBeGreaterThan(0);
        for (const f of plan) expect(faultKinds('pooled')).toContain(f.kind);
        expect(plan[0]!.atMs).toBeGreaterThanOrEqual(SCHEDULE_GAP_MS.min);
        expect(plan[0]!.atMs).toBeLessThanOrEqual(SCHEDULE_GAP_MS.max);
      }
    }
    expect(
      planScheduleFaults(7, 'cluster', 8000, ['client-kill']).every((f) => f.kind === 'client-kill'),
    ).toBe(true);
    expect(planScheduleFaults(7, 'cluster', 8000)).toEqual(planScheduleFaults(7, 'cluster', 8000));
  });

  it('count the successful reads that began outside every fault window', () => {
    const read = (id: string, at: number, ok = true, key = 'k:p0c0:0'): HistoryEvent[] => [
      { type: 'invoke', id, process: 0, cache: 0, op: 'get', keys: [key], at },
      {
        type: 'complete',
        id,
        process: 0,
        at: at + 1,
        outcome: ok ? 'ok' : 'fail',
        ...(ok ? { result: [null] } : { error: { name: 'CommandTimeoutError', message: 'x' } }),
      },
    ];
    const history: HistoryEvent[] = [
      ...read('a', 1000), // before the fault's window (10,000 - 5,000)
      ...read('b', 6000), // inside
      ...read('c', 14_000), // inside (healed at 12,000, window until 17,000)
      ...read('d', 17_500), // outside
      ...read('e', 18_000, false), // failed: not judged
      ...read('f', 18_500, true, 'g:0'), // not a string key
      { type: 'fault', kind: 'pause-master', target: 'x', start: 10_000, end: 12_000 },
    ];
    expect(readsOutsideFaultWindows(history)).toBe(2);
  });

  it('sum schedules’ reports: counts add up, maxima are the largest, lists concatenate', () => {
    const opts = { readFrom: 'master' as const, near: false, errorNames: new Set<string>() };
    const a = checkHistory([], opts);
    const b = checkHistory([], opts);
    a.operations = 10;
    a.maxOpMs = 300;
    a.faults = { 'pause-master': 1 };
    a.violations = [{ rule: 'lost-write', message: 'a', ops: [] }];
    a.violationsByRule['lost-write'] = 1;
    a.checked.reads = 5;
    b.operations = 7;
    b.maxOpMs = 200;
    b.faults = { 'pause-master': 2, 'client-kill': 1 };
    b.violations = [{ rule: 'no-hang', message: 'b', ops: [] }];
    b.violationsByRule['no-hang'] = 1;
    b.checked.reads = 6;
    const sum = mergeReport(mergeReport(checkHistory([], opts), a), b);
    expect(sum.operations).toBe(17);
    expect(sum.maxOpMs).toBe(300);
    expect(sum.faults).toEqual({ 'pause-master': 3, 'client-kill': 1 });
    expect(sum.violations.map((v) => v.message)).toEqual(['a', 'b']);
    expect(sum.violationsByRule['lost-write'] + sum.violationsByRule['no-hang']).toBe(2);
    expect(sum.checked.reads).toBe(11);
  });
});
