/**
 * The chaos checker must be able to fail: histories of deliberately broken caches (a lost
 * write, a value served after its invalidation, a second lock holder, a stale tagged value,
 * an unnamed error, a hang, two factory calls of one fill, a lock every replica acknowledged
 * lost in a failover) are each caught by the right rule, and a clean history passes.
 */
import { describe, expect, it } from 'vitest';
import { type CheckOptions, cacheErrorNames, checkHistory, type RuleId } from '../../chaos/checker.js';
import type { CompleteEvent, HistoryEvent, InvokeEvent } from '../../chaos/history.js';

/** Builds a history by hand: each op is invoked at `at` and completes `ms` later. */
class Recorder {
  readonly events: HistoryEvent[] = [];
  private n = 0;

  op(
    at: number,
    ms: number,
    invoke: Omit<InvokeEvent, 'type' | 'id' | 'at' | 'process' | 'cache'> & {
      process?: number;
      cache?: number;
    },
    complete: Omit<CompleteEvent, 'type' | 'id' | 'at' | 'process'> | null = { outcome: 'ok' },
  ): this {
    const id = `p${invoke.process ?? 0}:${this.n++}`;
    const process = invoke.process ?? 0;
    this.events.push({ type: 'invoke', id, at, process, cache: 0, ...invoke });
    if (complete) this.events.push({ type: 'complete', id, at: at + ms, process, ...complete });
    return this;
  }

  set(at: number, key: string, value: string, outcome: 'ok' | 'fail' = 'ok'): this {
    return this.op(
      at,
      5,
      { op: 'set', keys: [key], values: [value] },
      outcome === 'ok'
        ? { outcome, result: true }
        : { outcome, error: { name: 'CommandTimeoutError', code: 'COMMAND_TIMEOUT', message: 't' } },
    );
  }

  get(at: number, key: string, value: string | null, who: { process?: number; cache?: number } = {}): this {
    return this.op(at, 5, { op: 'get', keys: [key], ...who }, { outcome: 'ok', result: [value] });
  }

  final(at: number, key: string, value: string | null): this {
    return this.op(at, 5, { op: 'finalRead', keys: [key] }, { outcome: 'ok', result: [value] });
  }

  /** A getOrSet of `key` by process `process` that ran its factory `factoryAfter` ms in, answering `value`. */
  fill(at: number, ms: number, key: string, value: string, process: number, factoryAfter = 1): this {
    const call = `p${process}:${this.n}`;
    this.op(
      at,
      ms,
      { op: 'getOrSet', keys: [key], tags: ['t0', 'all'], process },
      { outcome: 'ok', result: value },
    );
    this.events.push({
      type: 'factory',
      process,
      cache: 0,
      key,
      value,
      tags: ['t0', 'all'],
      call,
      at: at + factoryAfter,
    });
    return this;
  }

  /** A getOrSet of `key` by process `process` answered without a factory call. */
  hit(at: number, key: string, value: string, process: number): this {
    return this.op(
      at,
      2,
      { op: 'getOrSet', keys: [key], tags: ['t0', 'all'], process },
      { outcome: 'ok', result: value },
    );
  }

  lock(at: number, holder: string, process: number, result: boolean, waitReplicas?: number): this {
    return this.op(
      at,
      5,
      { op: 'lockAcquire', keys: ['l0'], holder, process, ...(waitReplicas ? { waitReplicas } : {}) },
      { outcome: 'ok', result },
    );
  }
}

const MASTER: CheckOptions = { readFrom: 'master', near: false, errorNames: cacheErrorNames() };

function rulesBroken(events: HistoryEvent[], options: CheckOptions = MASTER): RuleId[] {
  const report = checkHistory(events, options);
  return [...new Set(report.violations.map((v) => v.rule))];
}

/** A history the doc allows: writes, reads, a failed write, getOrSet, a tag invalidation, locks. */
function cleanHistory(): Recorder {
  const r = new Recorder()
    .set(0, 'k:p0c0:0', 'p0-c0-1')
    .get(10, 'k:p0c0:0', 'p0-c0-1', { process: 1 })
    .set(20, 'k:p0c0:0', 'p0-c0-2', 'fail')
    // The failed write may or may not have run: both answers are right.
    .get(30, 'k:p0c0:0', 'p0-c0-2', { process: 1 })
    .get(40, 'k:p0c0:0', 'p0-c0-1', { process: 1 })
    .set(50, 'k:p0c0:0', 'p0-c0-3')
    .op(52, 10, { op: 'get', keys: ['k:p0c0:0'], process: 1 }, { outcome: 'ok', result: ['p0-c0-2'] })
    .op(60, 5, { op: 'incr', keys: ['n:p0c0:0'], values: ['1'] }, { outcome: 'ok', result: 1 })
    .op(70, 5, { op: 'incr', keys: ['n:p0c0:0'], values: ['1'] }, { outcome: 'ok', result: 2 });
  r.events.push({ type: 'factory', process: 0, cache: 0, key: 'g:0', value: 'f1', tags: ['t0'], at: 80 });
  r.op(79, 10, { op: 'getOrSet', keys: ['g:0'], tags: ['t0'] }, { outcome: 'ok', result: 'f1' })
    .op(100, 10, { op: 'invalidateTags', keys: [], tags: ['t0'] })
    // Began before the invalidation returned: may still get the earlier value.
    .op(
      105,
      10,
      { op: 'getOrSet', keys: ['g:0'], tags: ['t0'], process: 1 },
      { outcome: 'ok', result: 'f1' },
    );
  r.events.push({ type: 'factory', process: 1, cache: 0, key: 'g:0', value: 'f2', tags: ['t0'], at: 121 });
  r.op(120, 10, { op: 'getOrSet', keys: ['g:0'], tags: ['t0'], process: 1 }, { outcome: 'ok', result: 'f2' })
    .op(200, 5, { op: 'lockAcquire', keys: ['l0'], holder: 'a' }, { outcome: 'ok', result: true })
    .op(
      210,
      5,
      { op: 'lockAcquire', keys: ['l0'], holder: 'b', process: 1 },
      { outcome: 'ok', result: false },
    )
    .op(220, 5, { op: 'lockRelease', keys: ['l0'], holder: 'a' })
    .op(230, 5, { op: 'lockAcquire', keys: ['l0'], holder: 'c', process: 1 }, { outcome: 'ok', result: true })
    .op(240, 5, { op: 'lockRelease', keys: ['l0'], holder: 'c', process: 1 })
    .final(1000, 'k:p0c0:0', 'p0-c0-3')
    .op(1000, 5, { op: 'finalRead', keys: ['n:p0c0:0'] }, { outcome: 'ok', result: ['2'] });
  return r;
}

describe('chaos checker', () => {
  it('passes a history the documented guarantees allow', () => {
    const report = checkHistory(cleanHistory().events, MASTER);
    expect(report.violations).toEqual([]);
    expect(report.operations).toBeGreaterThan(10);
    expect(report.failedOperations).toBe(1);
  });

  it('knows the exported named errors', () => {
    const names = cacheErrorNames();
    expect(names.has('CommandTimeoutError')).toBe(true);
    expect(names.has('CacheError')).toBe(true);
    expect(names.has('Error')).toBe(false);
  });

  it('catches a lost acknowledged write (lost-write)', () => {
    const r = new Recorder()
      .set(0, 'k:p0c0:0', 'p0-c0-1')
      .set(10, 'k:p0c0:0', 'p0-c0-2')
      .final(1000, 'k:p0c0:0', 'p0-c0-1');
    expect(rulesBroken(r.events)).toEqual(['lost-write']);
    const gone = new Recorder().set(0, 'k:p0c0:0', 'p0-c0-1').final(1000, 'k:p0c0:0', null);
    expect(rulesBroken(gone.events)).toEqual(['lost-write']);
  });

  it('counts a loss inside a master kill or a reported rollback apart, per fault kind', () => {
    const r = new Recorder()
      .set(0, 'k:p0c0:0', 'p0-c0-1')
      .set(10, 'k:p0c0:0', 'p0-c0-2')
      .final(60_000, 'k:p0c0:0', 'p0-c0-1');
    r.events.push({ type: 'fault', kind: 'kill-master', target: 'm', start: 100, end: 2000 });
    const report = checkHistory(r.events, MASTER);
    expect(report.violations).toEqual([]);
    expect(report.lostAckedWrites).toEqual({ 'kill-master': 1 });

    const rolled = new Recorder()
      .set(0, 'k:p0c0:0', 'p0-c0-1')
      .set(30_000, 'k:p0c0:0', 'p0-c0-2')
      .final(60_000, 'k:p0c0:0', 'p0-c0-1');
    rolled.events.push({
      type: 'router',
      process: 0,
      name: 'rollback',
      detail: { estimatedLostMs: 2000 },
      at: 31_000,
    });
    expect(checkHistory(rolled.events, MASTER).lostAckedWrites).toEqual({ rollback: 1 });
    // The detector judged both ways (a measurement): this report has its loss in the history...
    expect(checkHistory(rolled.events, MASTER).rollbackReports).toEqual({
      withLossSeen: 1,
      withoutLossSeen: 0,
    });
    // ... one with every acknowledged write still there has none seen.
    const kept = new Recorder().set(0, 'k:p0c0:0', 'p0-c0-1').final(60_000, 'k:p0c0:0', 'p0-c0-1');
    kept.events.push({ type: 'router', process: 0, name: 'rollback', detail: {}, at: 31_000 });
    const keptReport = checkHistory(kept.events, MASTER);
    expect(keptReport.violations).toEqual([]);
    expect(keptReport.rollbackReports).toEqual({ withLossSeen: 0, withoutLossSeen: 1 });
  });

  it('catches a counter that went back (lost-write)', () => {
    const r = new Recorder()
      .op(0, 5, { op: 'incr', keys: ['n:p0c0:0'], values: ['1'] }, { outcome: 'ok', result: 5 })
      .op(10, 5, { op: 'incr', keys: ['n:p0c0:0'], values: ['1'] }, { outcome: 'ok', result: 3 });
    expect(rulesBroken(r.events)).toEqual(['lost-write']);
  });

  it('catches a read older than an acknowledged write (read-your-writes)', () => {
    const r = new Recorder()
      .set(0, 'k:p0c0:0', 'p0-c0-1')
      .set(10, 'k:p0c0:0', 'p0-c0-2')
      .get(20, 'k:p0c0:0', 'p0-c0-1');
    expect(rulesBroken(r.events)).toEqual(['read-your-writes']);
    // On replica reads another process may see it, within the bound (and the max is reported).
    const replica = { ...MASTER, readFrom: 'replica' as const };
    const other = new Recorder()
      .set(0, 'k:p0c0:0', 'p0-c0-1')
      .set(10, 'k:p0c0:0', 'p0-c0-2')
      .get(20, 'k:p0c0:0', 'p0-c0-1', { process: 1 });
    const report = checkHistory(other.events, replica);
    expect(report.violations).toEqual([]);
    expect(report.maxStaleMs).toBe(5);
    // ... but not beyond it.
    const late = new Recorder()
      .set(0, 'k:p0c0:0', 'p0-c0-1')
      .set(10, 'k:p0c0:0', 'p0-c0-2')
      .get(20_000, 'k:p0c0:0', 'p0-c0-1', { process: 1 });
    expect(rulesBroken(late.events, replica)).toEqual(['stale-bound']);
  });

  it('catches a value nobody wrote (known-values)', () => {
    const r = new Recorder().set(0, 'k:p0c0:0', 'p0-c0-1').get(20, 'k:p0c0:0', 'garbage');
    expect(rulesBroken(r.events)).toEqual(['known-values']);
  });

  it('catches a getOrSet value served after its invalidation (tag-invalidation)', () => {
    const r = new Recorder();
    r.events.push({ type: 'factory', process: 0, cache: 0, key: 'g:0', value: 'f1', tags: ['t0'], at: 1 });
    r.op(0, 10, { op: 'getOrSet', keys: ['g:0'], tags: ['t0'] }, { outcome: 'ok', result: 'f1' })
      .op(20, 10, { op: 'invalidateTags', keys: [], tags: ['t0'] })
      .op(
        40,
        5,
        { op: 'getOrSet', keys: ['g:0'], tags: ['t0'], process: 1 },
        { outcome: 'ok', result: 'f1' },
      );
    expect(rulesBroken(r.events)).toEqual(['tag-invalidation']);
  });

  it('catches a stale tagged value read with get (tag-invalidation)', () => {
    const r = new Recorder();
    r.events.push({ type: 'factory', process: 0, cache: 0, key: 'g:1', value: 'f9', tags: ['t1'], at: 1 });
    r.op(0, 10, { op: 'getOrSet', keys: ['g:1'], tags: ['t1'] }, { outcome: 'ok', result: 'f9' })
      .op(20, 10, { op: 'invalidateTags', keys: [], tags: ['t1', 'all'] })
      .get(40, 'g:1', 'f9', { process: 1 });
    expect(rulesBroken(r.events)).toEqual(['tag-invalidation']);
  });

  it('catches a second lock holder (lock-single-holder)', () => {
    const r = new Recorder()
      .op(0, 5, { op: 'lockAcquire', keys: ['l0'], holder: 'a' }, { outcome: 'ok', result: true })
      .op(
        10,
        5,
        { op: 'lockAcquire', keys: ['l0'], holder: 'b', process: 1 },
        { outcome: 'ok', result: true },
      )
      .op(50, 5, { op: 'lockRelease', keys: ['l0'], holder: 'a' });
    expect(rulesBroken(r.events)).toContain('lock-single-holder');
  });

  it('catches two overlapping fills of one key (single-flight)', () => {
    // Two processes miss g:0 at once and both run the factory: the fill lock did not work.
    const r = new Recorder().fill(0, 40, 'g:0', 'f1', 0).fill(5, 40, 'g:0', 'f2', 1, 2);
    expect(rulesBroken(r.events)).toEqual(['single-flight']);
    const report = checkHistory(r.events, MASTER);
    expect(report.checked).toMatchObject({ fills: 1, factoryCalls: 2 });
    expect(report.violations[0]!.ops).toHaveLength(2);
    // A fill whose value was stored, then a second fill without any invalidation: also caught.
    const again = new Recorder()
      .fill(0, 40, 'g:0', 'f1', 0)
      .hit(100, 'g:0', 'f1', 1)
      .fill(200, 40, 'g:0', 'f2', 1);
    expect(rulesBroken(again.events)).toEqual(['single-flight']);
  });

  it('allows the extra factory calls the docs allow (single-flight)', () => {
    // An invalidateTags of one of its tags between the two fills: a new fill, not an extra call.
    const invalidated = new Recorder()
      .fill(0, 40, 'g:0', 'f1', 0)
      .op(100, 10, { op: 'invalidateTags', keys: [], tags: ['all'] })
      .fill(200, 40, 'g:0', 'f2', 1);
    let report = checkHistory(invalidated.events, MASTER);
    expect(report.violations).toEqual([]);
    expect(report.checked).toMatchObject({ fills: 2, factoryCalls: 2 });
    expect(report.maxFactoryCallsPerFill).toBe(1);
    // ... but an invalidation of another tag is no reason.
    const otherTag = new Recorder()
      .fill(0, 40, 'g:0', 'f1', 0)
      .op(100, 10, { op: 'invalidateTags', keys: [], tags: ['t1'] })
      .fill(200, 40, 'g:0', 'f2', 1);
    expect(rulesBroken(otherTag.events)).toEqual(['single-flight']);
    // A waiter that waited lockTimeout (5 s) for a holder that stalled calls the factory itself.
    const waited = new Recorder().fill(0, 9000, 'g:0', 'f1', 0).fill(100, 5200, 'g:0', 'f2', 1, 5150);
    report = checkHistory(waited.events, MASTER);
    expect(report.violations).toEqual([]);
    expect(report.extraFactoryCalls).toEqual({ 'lock-timeout': 1 });
    // ... a waiter that did not wait that long does not.
    const early = new Recorder().fill(0, 9000, 'g:0', 'f1', 0).fill(100, 3000, 'g:0', 'f2', 1, 2900);
    expect(rulesBroken(early.events)).toEqual(['single-flight']);
    // A failover during the fill: the lock can be lost with the master (counted apart).
    const failover = new Recorder().fill(0, 40, 'g:0', 'f1', 0).fill(5, 40, 'g:0', 'f2', 1);
    failover.events.push({ type: 'fault', kind: 'sentinel-failover', target: 'm', start: 1000, end: 3000 });
    report = checkHistory(failover.events, MASTER);
    expect(report.violations).toEqual([]);
    expect(report.extraFactoryCalls).toEqual({ 'sentinel-failover': 1 });
    expect(report.maxFactoryCallsPerFill).toBe(2);
    // A slot migration is no excuse: one factory call per fill through it (get-or-set.md).
    const migration = new Recorder().fill(0, 40, 'g:0', 'f1', 0).fill(5, 40, 'g:0', 'f2', 1);
    migration.events.push({ type: 'fault', kind: 'slot-migration', target: 's', start: 1000, end: 3000 });
    expect(rulesBroken(migration.events)).toEqual(['single-flight']);
  });

  it('catches a lock every replica acknowledged that a failover lost (lock-wait)', () => {
    const holders = () =>
      new Recorder()
        .lock(0, 'a', 0, true, 2)
        .lock(10, 'b', 1, true)
        .op(50, 5, { op: 'lockRelease', keys: ['l0'], holder: 'a' });
    // A failover promotes a replica, and every replica acknowledged a's lock: b cannot get it.
    const failover = holders();
    failover.events.push({ type: 'fault', kind: 'sentinel-failover', target: 'm', start: 5, end: 8 });
    expect(rulesBroken(failover.events)).toEqual(['lock-wait']);
    // Without WAIT the same history is the documented asynchronous-replication window.
    const noWait = new Recorder()
      .lock(0, 'a', 0, true)
      .lock(10, 'b', 1, true)
      .op(50, 5, { op: 'lockRelease', keys: ['l0'], holder: 'a' });
    noWait.events.push({ type: 'fault', kind: 'sentinel-failover', target: 'm', start: 5, end: 8 });
    expect(checkHistory(noWait.events, MASTER).violations).toEqual([]);
    // A node restarted empty can lose it even so: counted apart, not a violation.
    const killed = holders();
    killed.events.push({ type: 'fault', kind: 'kill-replica', target: 'r', start: 5, end: 8 });
    const report = checkHistory(killed.events, MASTER);
    expect(report.violations).toEqual([]);
    expect(report.waitLockOverlaps).toEqual({ 'kill-replica': 1 });
    expect(report.checked.waitLockHolds).toBe(1);
  });

  it('catches an unnamed error (named-errors)', () => {
    const r = new Recorder().op(
      0,
      5,
      { op: 'get', keys: ['k:p0c0:0'] },
      {
        outcome: 'fail',
        error: { name: 'TypeError', message: "Cannot read properties of undefined (reading 'x')" },
      },
    );
    expect(rulesBroken(r.events)).toEqual(['named-errors']);
  });

  it('catches a hang and an operation that never completed (no-hang)', () => {
    const slow = new Recorder().op(
      0,
      20_000,
      { op: 'get', keys: ['k:p0c0:0'] },
      { outcome: 'ok', result: [null] },
    );
    expect(rulesBroken(slow.events)).toEqual(['no-hang']);
    const never = new Recorder().op(0, 0, { op: 'set', keys: ['k:p0c0:0'], values: ['p0-c0-1'] }, null);
    expect(rulesBroken(never.events)).toEqual(['no-hang']);
  });
});
