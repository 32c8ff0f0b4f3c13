/**
 * Judges a recorded history (chaos/history.ts) against docs/guarantees.md, rule by rule. Pure
 * functions: no I/O, no clock, so the self-test (test/unit/chaos-checker.test.ts) can feed it
 * deliberately broken histories and see each one caught by the right rule.
 *
 * What the generator guarantees and the checker relies on (the key layout, chaos/generator.ts):
 * - `k:<owner>:<i>` string keys have a single writer (one cache of one process) that writes
 *   sequentially, each write a unique value, `null` for a delete: every read maps to the write
 *   it observed, and writes of a key are totally ordered by their invocation.
 * - `n:<owner>:<i>` counters, incremented by their owner only.
 * - `g:<i>` getOrSet keys: every value is a factory's unique id, recorded when the factory starts.
 *
 * A write that failed may or may not have been applied, now or later (a paused master runs
 * what it had received when it resumes): its value is always an acceptable answer. What is
 * never acceptable is a value older than the last acknowledged write — except in the windows
 * Redis' asynchronous replication leaves open (docs/guarantees.md "What no client can prevent",
 * "Rollbacks (Sentinel routers)"): there losses are counted apart, per fault kind.
 */
import * as errors from '../src/core/errors.js';
import type {
  FactoryEvent,
  FaultEvent,
  FaultKind,
  HistoryEvent,
  InvokeEvent,
  Operation,
  RouterEvent,
} from './history.js';
import { operations } from './history.js';

/** The rules, each named as docs/guarantees.md (or docs/errors.md) names it. */
export const RULES = {
  'lost-write': {
    doc: 'guarantees.md "Routers: lost writes and stale reads"',
    title: 'No acknowledged write is lost outside the asynchronous-replication window',
  },
  'read-your-writes': {
    doc: 'guarantees.md "Reads, per readFrom" (master reads, readYourWrites) and near-cache.md "What it guarantees"',
    title: 'A read that starts after a write was acknowledged never returns an older value',
  },
  'stale-bound': {
    doc: 'guarantees.md "Reads, per readFrom" (replica reads), near-cache.md (invalidation)',
    title: 'Replica and near-cache reads are stale only within the bound',
  },
  'tag-invalidation': {
    doc: 'guarantees.md "getOrSet"',
    title: "A value invalidated before a call started is never that call's answer",
  },
  'lock-single-holder': {
    doc: 'guarantees.md "Locks"',
    title: 'A lock is never held by two holders outside the asynchronous-replication window',
  },
  'lock-wait': {
    doc: 'guarantees.md "Locks" (waitReplicas)',
    title:
      'A lock every replica acknowledged (waitReplicas) survives a failover; only a node restarted empty or a reported rollback can lose it',
  },
  'single-flight': {
    doc: 'guarantees.md "getOrSet" and get-or-set.md "Stampede protection"',
    title:
      'One factory call per key per fill across processes, except after lockTimeout, an invalidation, or a fault',
  },
  'named-errors': {
    doc: 'errors.md "Every error"',
    title: 'Every failure is a named CacheError',
  },
  'no-hang': {
    doc: 'guarantees.md "getOrSet" (no caller hangs) and the router command timeouts',
    title: 'No operation outlasts its bound',
  },
  'known-values': {
    doc: 'guarantees.md (implied by every read rule)',
    title: 'A read returns a value that was written to that key',
  },
} as const;

export type RuleId = keyof typeof RULES;

/** One broken promise: the rule, what happened, and the operations involved (ids and a summary). */
export interface Violation {
  rule: RuleId;
  message: string;
  ops: string[];
}

export interface CheckOptions {
  /** Where the caches read: 'master', or 'replica' (replica-preferred with readYourWrites). */
  readFrom: 'master' | 'replica';
  /** The caches have a near cache. */
  near: boolean;
  /** The readYourWrites window (ms) of the replica configurations. Default 1000 (`true`). */
  readYourWritesMs?: number;
  /** Replica / near reads staler than this are violations (a ceiling; the max seen is reported). Default 10000. */
  staleBoundMs?: number;
  /** An operation longer than this is a hang. Default 15000. */
  hangBoundMs?: number;
  /** A fault's loss window opens this long before it was injected. Default 5000. */
  windowBeforeMs?: number;
  /** ... and closes this long after it was healed. Default 5000. */
  windowAfterMs?: number;
  /** A reported rollback covers acknowledgements up to this long before it (plus its estimate). Default 15000. */
  rollbackLookbackMs?: number;
  /** Error class names that count as named (every export of src/core/errors.ts extending CacheError). */
  errorNames: ReadonlySet<string>;
  /** The locks' TTL (a hold longer than this may be taken over). Default 30000. */
  lockTtlMs?: number;
  /** getOrSet's `lockTimeout` (how long a waiter waits for another fill). Default 5000, the library's. */
  fillLockTimeoutMs?: number;
  /** getOrSet's `ttl`: a value older than this is due for a new fill. Default 600000 (the generator's 10 min). */
  fillTtlMs?: number;
}

/** What the checker saw besides violations: the windows and the losses counted apart. */
export interface CheckReport {
  operations: number;
  failedOperations: number;
  /** Failures per error class name. */
  failuresByError: Record<string, number>;
  faults: Partial<Record<FaultKind, number>>;
  rollbacksReported: number;
  violations: Violation[];
  violationsByRule: Record<RuleId, number>;
  /** Acknowledged writes lost inside a loss window, per fault kind (`rollback` when a router reported one). */
  lostAckedWrites: Record<string, number>;
  /** Reads older than an acknowledged write, inside a fault window (per fault kind): counted apart. */
  staleReadsInFaultWindows: Record<string, number>;
  /** The stalest of those (ms after the write it missed was acknowledged). */
  maxStaleInFaultWindowsMs: number;
  /** Lost acknowledged writes with no rollback reported near them (a fault kind's window explains them). */
  lostWithoutRollbackReport: number;
  /**
   * The rollback detector judged both ways, as a measurement (docs/chaos.md says why it is no
   * rule): reported rollbacks with an acknowledged write of the reporting process seen lost in
   * the window the report covers, and those without one seen.
   */
  rollbackReports: { withLossSeen: number; withoutLossSeen: number };
  /** Stale reads outside fault windows that the configuration allows (replica / near), and the largest. */
  staleReads: number;
  maxStaleMs: number;
  /** Longest operation (ms) and the op. */
  maxOpMs: number;
  /** The tag rule on replica reads: the longest a replica vouched for an invalidated value (ms). */
  maxTagStaleMs: number;
  /**
   * Factory calls beyond the first of a fill that the docs allow, per reason: a fault kind whose
   * window the fill overlapped, `rollback`, or `lock-timeout` (a waiter that waited lockTimeout,
   * or a fill started after an unfinished one's lock expired).
   */
  extraFactoryCalls: Record<string, number>;
  /** The most factory calls one fill had (1 = single flight held). */
  maxFactoryCallsPerFill: number;
  /** Lock overlaps where the first holder's lock was acknowledged by every replica (waitReplicas), per fault kind. */
  waitLockOverlaps: Record<string, number>;
  /** How much each rule had to judge (so a clean verdict is not a vacuous one). */
  checked: {
    reads: number;
    finalReads: number;
    increments: number;
    taggedAnswers: number;
    invalidations: number;
    lockHolds: number;
    /** Holds acquired with waitReplicas. */
    waitLockHolds: number;
    /** getOrSet fills (a key's factory calls between two invalidations of its tags) and factory calls. */
    fills: number;
    factoryCalls: number;
  };
}

/** Faults that can lose acknowledged writes (a master cut off, killed, or replaced). */
const LOSS_KINDS: ReadonlySet<FaultKind> = new Set<FaultKind>([
  'pause-master',
  'kill-master',
  'sentinel-failover',
  'cluster-failover',
  'cluster-failover-takeover',
  'pause-shard-master',
]);

/**
 * Faults that can remove a lock every replica acknowledged: a node restarted empty (a killed
 * master that comes back before a replica is promoted takes the replicas with it; Sentinel can
 * promote a restarted replica before it has resynced, cf. docs/guarantees.md "Rollbacks").
 */
const WAIT_LOSS_KINDS: ReadonlySet<FaultKind> = new Set<FaultKind>(['kill-master', 'kill-replica']);

/**
 * Faults that can cost a getOrSet fill an extra factory call (docs/get-or-set.md "What can go
 * wrong"): the fill lock lost with its master, or a Redis command of the fill failing (the lock
 * then stays until it expires and the next caller fills again). A paused replica, a replica
 * resync and a slot migration are none of these: get-or-set.md promises one factory call per
 * fill through a migration, and the lock and the store go to the master.
 */
const EXTRA_FACTORY_KINDS: ReadonlySet<FaultKind> = new Set<FaultKind>([
  ...LOSS_KINDS,
  'kill-replica',
  'pause-sentinel',
  'client-kill',
]);

interface Write {
  op: Operation;
  /** Index in the key's write order. */
  index: number;
  value: string | null;
}

/** An acknowledged write the history shows lost: who wrote it, when it was acknowledged. */
interface Loss {
  process: number;
  at: number;
}

interface Ctx {
  opts: Required<Omit<CheckOptions, 'errorNames'>> & { errorNames: ReadonlySet<string> };
  faults: FaultEvent[];
  rollbacks: RouterEvent[];
  report: CheckReport;
  losses: Loss[];
}

function describe(op: Operation): string {
  const i = op.invoke;
  const c = op.complete;
  const what = `${i.op}(${i.keys.join(',')}${i.values ? ` = ${i.values.map((v) => v ?? 'DEL').join(',')}` : ''})`;
  const answer = !c
    ? 'never completed'
    : c.outcome === 'ok'
      ? `ok ${JSON.stringify(c.result)}`
      : `failed ${c.error?.name}: ${c.error?.message}`;
  return `${i.id} p${i.process}c${i.cache} ${what} [${i.at.toFixed(1)}..${c ? c.at.toFixed(1) : '?'}] ${answer}`;
}

function violate(ctx: Ctx, rule: RuleId, message: string, ops: Operation[]): void {
  ctx.report.violations.push({ rule, message, ops: ops.map(describe) });
  ctx.report.violationsByRule[rule]++;
}

function bump(record: Record<string, number>, key: string, n = 1): void {
  record[key] = (record[key] ?? 0) + n;
}

/**
 * Why an acknowledgement at `at` may have been lost: a reported rollback covering it, else the
 * fault whose loss window covers it; undefined when nothing explains a loss.
 */
function lossWindow(ctx: Ctx, at: number): string | undefined {
  const { opts } = ctx;
  for (const r of ctx.rollbacks) {
    const estimate = Number(r.detail.estimatedLostMs ?? 0) || 0;
    if (at <= r.at && at >= r.at - opts.rollbackLookbackMs - estimate) return 'rollback';
  }
  for (const f of ctx.faults) {
    if (!LOSS_KINDS.has(f.kind)) continue;
    // A killed master restarts empty (no persistence): if it came back before a replica was
    // promoted, everything it held is gone, however long ago it was acknowledged.
    const before = f.kind === 'kill-master' ? Number.POSITIVE_INFINITY : opts.windowBeforeMs;
    if (at >= f.start - before && at <= f.end + opts.windowAfterMs) return f.kind;
  }
  return undefined;
}

/** The fault (any kind) whose window covers `at`. */
function faultWindow(ctx: Ctx, at: number): string | undefined {
  for (const f of ctx.faults) {
    if (at >= f.start - ctx.opts.windowBeforeMs && at <= f.end + ctx.opts.windowAfterMs) return f.kind;
  }
  return undefined;
}

/** A fault that can lose a lock every replica acknowledged, whose window covers `at` (kill-master: any time before). */
function waitLossWindow(ctx: Ctx, at: number): string | undefined {
  const { opts } = ctx;
  for (const f of ctx.faults) {
    if (!WAIT_LOSS_KINDS.has(f.kind)) continue;
    const before = f.kind === 'kill-master' ? Number.POSITIVE_INFINITY : opts.windowBeforeMs;
    if (at >= f.start - before && at <= f.end + opts.windowAfterMs) return f.kind;
  }
  return undefined;
}

/** A fault of `kinds` whose window overlaps [from, to]. */
function faultOverlapping(
  ctx: Ctx,
  kinds: ReadonlySet<FaultKind>,
  from: number,
  to: number,
): string | undefined {
  const { opts } = ctx;
  for (const f of ctx.faults) {
    if (!kinds.has(f.kind)) continue;
    if (to >= f.start - opts.windowBeforeMs && from <= f.end + opts.windowAfterMs) return f.kind;
  }
  return undefined;
}

const ok = (op: Operation): boolean => op.complete?.outcome === 'ok';

/** The value a read of `key` by `op` returned (`undefined` when the op did not read it). */
function readValue(op: Operation, key: string): string | null | undefined {
  const result = op.complete?.result;
  if (!Array.isArray(result)) return undefined;
  const i = op.invoke.keys.indexOf(key);
  return i < 0 ? undefined : (result[i] ?? null);
}

const READS = new Set(['get', 'getMany', 'finalRead']);
const WRITES = new Set(['set', 'delete', 'setMany', 'deleteMany']);

function checkErrorsAndHangs(ctx: Ctx, ops: Operation[]): void {
  const { opts, report } = ctx;
  for (const op of ops) {
    const c = op.complete;
    if (!c) {
      violate(ctx, 'no-hang', 'the operation never completed', [op]);
      continue;
    }
    const ms = c.at - op.invoke.at;
    if (ms > report.maxOpMs) report.maxOpMs = ms;
    if (ms > opts.hangBoundMs) {
      violate(ctx, 'no-hang', `took ${Math.round(ms)} ms (bound ${opts.hangBoundMs} ms)`, [op]);
    }
    if (c.outcome === 'fail') {
      report.failedOperations++;
      const name = c.error?.name ?? '(none)';
      bump(report.failuresByError, name);
      if (!opts.errorNames.has(name)) {
        violate(ctx, 'named-errors', `failed with ${name}, not a named CacheError`, [op]);
      }
    }
  }
}

/** Is a read of a write by `writer` strict (never older), or bounded staleness? */
function strictRead(ctx: Ctx, read: Operation, superseding: Operation): boolean {
  const { opts } = ctx;
  const sameProcess = read.invoke.process === superseding.invoke.process;
  const sameCache = sameProcess && read.invoke.cache === superseding.invoke.cache;
  if (read.invoke.op === 'finalRead') return true;
  if (opts.readFrom === 'master') return opts.near ? sameCache : true;
  const inWindow = read.invoke.at <= superseding.complete!.at + opts.readYourWritesMs;
  return sameProcess && inWindow && (!opts.near || sameCache);
}

function checkStringKeys(ctx: Ctx, ops: Operation[]): void {
  const { report, opts } = ctx;
  const writesByKey = new Map<string, Write[]>();
  const readsByKey = new Map<string, Operation[]>();
  for (const op of ops) {
    for (const [i, key] of op.invoke.keys.entries()) {
      if (!key.startsWith('k:')) continue;
      if (WRITES.has(op.invoke.op)) {
        const list = writesByKey.get(key) ?? [];
        list.push({ op, index: list.length, value: op.invoke.values?.[i] ?? null });
        writesByKey.set(key, list);
      } else if (READS.has(op.invoke.op) && ok(op)) {
        const list = readsByKey.get(key) ?? [];
        list.push(op);
        readsByKey.set(key, list);
      }
    }
  }
  for (const [key, reads] of readsByKey) {
    const writes = writesByKey.get(key) ?? [];
    const byValue = new Map<string, Write>();
    for (const w of writes) if (w.value !== null) byValue.set(w.value, w);
    for (const read of reads) {
      const value = readValue(read, key);
      if (value === undefined) continue;
      if (read.invoke.op === 'finalRead') report.checked.finalReads++;
      else report.checked.reads++;
      const start = read.invoke.at;
      const end = read.complete!.at;
      // The last write acknowledged before the read began: the read must see it or something newer.
      let last = -1;
      for (const w of writes) if (ok(w.op) && w.op.complete!.at < start) last = w.index;
      const allowed = (w: Write): boolean => w.op.invoke.at < end && (w.index >= last || !ok(w.op));
      let observed: Write | undefined;
      if (value === null) {
        // A miss maps to the latest delete that could explain it, or to the key's initial absence.
        const deletes = writes.filter((w) => w.value === null && w.op.invoke.at < end);
        observed = deletes.find(allowed) ?? deletes.at(-1);
        if (!observed && last < 0) continue; // never written before the read: a miss is right
      } else {
        observed = byValue.get(value);
        if (!observed) {
          violate(ctx, 'known-values', `read ${key} = ${value}, which no write of ${key} wrote`, [read]);
          continue;
        }
        if (observed.op.invoke.at >= end) {
          violate(ctx, 'known-values', `read ${key} = ${value} before that write was even sent`, [
            read,
            observed.op,
          ]);
          continue;
        }
      }
      if (observed && allowed(observed)) continue;
      // Older than the last acknowledged write: which acknowledged write did it miss first?
      const fromIndex = observed ? observed.index : -1;
      const superseding = writes.find((w) => w.index > fromIndex && ok(w.op))!;
      const lost = lossWindow(ctx, superseding.op.complete!.at);
      const during = lost ?? faultWindow(ctx, start);
      if (read.invoke.op === 'finalRead') {
        const missed = writes.filter((w) => w.index > fromIndex && ok(w.op)).length;
        if (lost) {
          bump(report.lostAckedWrites, lost, missed);
          if (lost !== 'rollback') report.lostWithoutRollbackReport += missed;
          ctx.losses.push({ process: superseding.op.invoke.process, at: superseding.op.complete!.at });
        } else {
          violate(
            ctx,
            'lost-write',
            `quiescent read of ${key} = ${value ?? 'absent'}: ${missed} acknowledged write(s) after it are gone, outside any loss window`,
            [read, superseding.op],
          );
        }
        continue;
      }
      const staleMs = start - superseding.op.complete!.at;
      if (during) {
        bump(report.staleReadsInFaultWindows, during);
        if (staleMs > report.maxStaleInFaultWindowsMs) report.maxStaleInFaultWindowsMs = staleMs;
        continue;
      }
      if (strictRead(ctx, read, superseding.op)) {
        violate(
          ctx,
          'read-your-writes',
          `read ${key} = ${value ?? 'absent'} ${Math.round(staleMs)} ms after ${superseding.value ?? 'DEL'} was acknowledged`,
          [read, superseding.op],
        );
        continue;
      }
      report.staleReads++;
      if (staleMs > report.maxStaleMs) report.maxStaleMs = staleMs;
      if (staleMs > opts.staleBoundMs) {
        violate(
          ctx,
          'stale-bound',
          `read ${key} = ${value ?? 'absent'} ${Math.round(staleMs)} ms after a newer write was acknowledged (bound ${opts.staleBoundMs} ms)`,
          [read, superseding.op],
        );
      }
    }
  }
}

function checkCounters(ctx: Ctx, ops: Operation[]): void {
  const { report } = ctx;
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) {
    const key = op.invoke.keys[0];
    if (!key?.startsWith('n:')) continue;
    if (op.invoke.op !== 'incr' && op.invoke.op !== 'finalRead') continue;
    const list = byKey.get(key) ?? [];
    list.push(op);
    byKey.set(key, list);
  }
  for (const [key, list] of byKey) {
    let lastOk: Operation | undefined;
    let lastCount = 0;
    for (const op of list) {
      if (!ok(op)) continue;
      const raw = op.invoke.op === 'finalRead' ? readValue(op, key) : op.complete!.result;
      const count = raw === null || raw === undefined ? 0 : Number(raw);
      const delta = op.invoke.op === 'incr' ? Number(op.invoke.values?.[0] ?? 1) : 0;
      if (lastOk && count < lastCount + delta) {
        // Increments acknowledged before this one are gone.
        const lost = lossWindow(ctx, lastOk.complete!.at);
        if (lost) {
          bump(report.lostAckedWrites, lost);
          if (lost !== 'rollback') report.lostWithoutRollbackReport++;
          ctx.losses.push({ process: lastOk.invoke.process, at: lastOk.complete!.at });
        } else {
          violate(
            ctx,
            'lost-write',
            `${key} went from ${lastCount} to ${count} (delta ${delta}): acknowledged increments are gone, outside any loss window`,
            [lastOk, op],
          );
        }
      }
      if (op.invoke.op === 'incr') {
        report.checked.increments++;
        lastOk = op;
        lastCount = count;
      }
    }
  }
}

function checkTags(ctx: Ctx, ops: Operation[], history: readonly HistoryEvent[]): void {
  const { opts, report } = ctx;
  const factories = new Map<string, HistoryEvent & { type: 'factory' }>();
  for (const e of history) if (e.type === 'factory') factories.set(e.value, e);
  const invalidations = ops.filter((op) => op.invoke.op === 'invalidateTags' && ok(op));
  ctx.report.checked.invalidations = invalidations.length;
  for (const op of ops) {
    if (!ok(op)) continue;
    const name = op.invoke.op;
    let answers: [string, string | null][];
    if (name === 'getOrSet') answers = [[op.invoke.keys[0]!, op.complete!.result as string]];
    else if (name === 'get' || name === 'getMany')
      answers = op.invoke.keys.filter((k) => k.startsWith('g:')).map((k) => [k, readValue(op, k) ?? null]);
    else continue;
    for (const [key, value] of answers) {
      if (!key.startsWith('g:') || value === null) continue;
      report.checked.taggedAnswers++;
      const factory = factories.get(value);
      if (!factory) {
        violate(ctx, 'known-values', `${name}(${key}) = ${value}, which no factory computed`, [op]);
        continue;
      }
      for (const inv of invalidations) {
        if (!inv.invoke.tags?.some((t) => factory.tags.includes(t))) continue;
        // Computed before the invalidation was sent, returned by a call that began after it returned.
        if (!(factory.at < inv.invoke.at && inv.complete!.at < op.invoke.at)) continue;
        const lagMs = op.invoke.at - inv.complete!.at;
        const lost = lossWindow(ctx, inv.complete!.at);
        if (lost) {
          bump(report.staleReadsInFaultWindows, `${lost} (tags)`);
          continue;
        }
        if (opts.readFrom === 'replica' && lagMs <= opts.staleBoundMs) {
          if (lagMs > report.maxTagStaleMs) report.maxTagStaleMs = lagMs;
          continue;
        }
        violate(
          ctx,
          'tag-invalidation',
          `${name}(${key}) answered ${value}, computed before invalidateTags(${inv.invoke.tags?.join(',')}) that returned ${Math.round(lagMs)} ms before the call began`,
          [op, inv],
        );
        break;
      }
    }
  }
}

function checkLocks(ctx: Ctx, ops: Operation[]): void {
  const { opts, report } = ctx;
  interface Hold {
    acquire: Operation;
    from: number;
    to: number;
  }
  const holds = new Map<string, Hold[]>();
  const releases = new Map<string, Operation>();
  for (const op of ops) {
    // The first release sent ends the hold for sure (it may have run even if it failed).
    if (op.invoke.op === 'lockRelease' && op.invoke.holder && !releases.has(op.invoke.holder)) {
      releases.set(op.invoke.holder, op);
    }
  }
  for (const op of ops) {
    if (op.invoke.op !== 'lockAcquire' || !ok(op) || op.complete!.result !== true) continue;
    const release = op.invoke.holder ? releases.get(op.invoke.holder) : undefined;
    const from = op.complete!.at;
    // Held for sure from the acknowledgement until the release was sent (or the TTL ran out).
    const to = Math.min(release ? release.invoke.at : Number.POSITIVE_INFINITY, from + opts.lockTtlMs);
    const list = holds.get(op.invoke.keys[0]!) ?? [];
    list.push({ acquire: op, from, to });
    report.checked.lockHolds++;
    if ((op.invoke.waitReplicas ?? 0) > 0) report.checked.waitLockHolds++;
    holds.set(op.invoke.keys[0]!, list);
  }
  for (const list of holds.values()) {
    for (const a of list) {
      for (const b of list) {
        if (a === b) continue;
        // b's SET NX ran between its invocation and its acknowledgement: inside a's hold for sure?
        if (!(b.acquire.invoke.at >= a.from && b.from <= a.to)) continue;
        const lost = lossWindow(ctx, a.from);
        if ((a.acquire.invoke.waitReplicas ?? 0) > 0) {
          // Every replica acknowledged a's lock: a failover promotes one of them, which has it.
          const excuse = lost === 'rollback' ? lost : waitLossWindow(ctx, a.from);
          if (excuse) {
            bump(report.waitLockOverlaps, excuse);
            continue;
          }
          violate(
            ctx,
            'lock-wait',
            `lock ${a.acquire.invoke.keys[0]} acquired by ${b.acquire.invoke.holder} while ${a.acquire.invoke.holder} held it, acknowledged by ${a.acquire.invoke.waitReplicas} replica(s) (WAIT)${lost ? `; the only fault near it: ${lost}, which promotes a replica that has it` : ''}`,
            [a.acquire, b.acquire],
          );
          continue;
        }
        if (lost) {
          bump(report.staleReadsInFaultWindows, `${lost} (locks)`);
          continue;
        }
        violate(
          ctx,
          'lock-single-holder',
          `lock ${a.acquire.invoke.keys[0]} acquired by ${b.acquire.invoke.holder} while ${a.acquire.invoke.holder} held it`,
          [a.acquire, b.acquire],
        );
      }
    }
  }
}

/**
 * Single flight (docs/get-or-set.md "Stampede protection"): with `lock: 'distributed'` (the
 * generator's), one factory call per key per fill across every process. A *fill* is a key's
 * factory calls from the first until an `invalidateTags` of one of its tags (which may have run
 * after the fill began and was sent before the next call) or its `ttl` makes the value due
 * again. A fill's second and later calls are what the docs allow only as:
 * - a fault that can lose the fill lock or fail one of the fill's commands, whose window the
 *   fill overlaps (a failover: "at most one extra factory call"; a failed store leaves the lock
 *   to expire), or a reported rollback;
 * - `lockTimeout`: the call waited lockTimeout for the holder before calling the factory itself,
 *   or an earlier call of the fill had not finished (a holder paused or dead) and lockTimeout
 *   had passed since it began (its lock expired).
 * Anything else is a second fill of a value that was there: a violation. The extras allowed
 * are counted per reason, with the most calls one fill had.
 */
function checkSingleFlight(ctx: Ctx, ops: Operation[], history: readonly HistoryEvent[]): void {
  const { opts, report } = ctx;
  const slack = 100; // timers may fire a little early
  const byId = new Map(ops.map((op) => [op.invoke.id, op]));
  const calls = ops.filter((op) => op.invoke.op === 'getOrSet');
  // A failed invalidateTags may have run (now or later): it can begin a new fill too.
  const invalidations = ops.filter((op) => op.invoke.op === 'invalidateTags');
  const factoriesByKey = new Map<string, FactoryEvent[]>();
  for (const e of history) {
    if (e.type !== 'factory') continue;
    const list = factoriesByKey.get(e.key) ?? [];
    list.push(e);
    factoriesByKey.set(e.key, list);
  }
  /** The getOrSet call that ran factory `f` (recorded, else the one of its cache in flight then). */
  const callOf = (f: FactoryEvent): Operation | undefined => {
    const recorded = f.call ? byId.get(f.call) : undefined;
    if (recorded) return recorded;
    let latest: Operation | undefined;
    for (const op of calls) {
      const i = op.invoke;
      if (i.process !== f.process || i.cache !== f.cache || i.keys[0] !== f.key || i.at > f.at) continue;
      if (!op.complete || op.complete.at >= f.at) return op;
      latest = op;
    }
    return latest;
  };
  interface Call {
    factory: FactoryEvent;
    call: Operation | undefined;
    /** When the call began (the factory's own time when unknown). */
    at: number;
  }
  for (const [key, factories] of factoriesByKey) {
    factories.sort((a, b) => a.at - b.at);
    let fill: Call[] = [];
    const close = (): void => {
      if (fill.length === 0) return;
      report.checked.fills++;
      if (fill.length > report.maxFactoryCallsPerFill) report.maxFactoryCallsPerFill = fill.length;
    };
    for (const f of factories) {
      report.checked.factoryCalls++;
      const call = callOf(f);
      const next: Call = { factory: f, call, at: call?.invoke.at ?? f.at };
      if (fill.length > 0) {
        const began = Math.min(...fill.map((c) => c.at));
        const expired = f.at - fill[0]!.factory.at >= opts.fillTtlMs;
        const invalidated = invalidations.some(
          (inv) =>
            inv.invoke.tags?.some((t) => f.tags.includes(t)) &&
            inv.invoke.at < f.at &&
            (ok(inv) ? inv.complete!.at : Number.POSITIVE_INFINITY) > began,
        );
        if (expired || invalidated) {
          close();
          fill = [];
        }
      }
      if (fill.length === 0) {
        fill.push(next);
        continue;
      }
      const began = Math.min(...fill.map((c) => c.at));
      let reason = faultOverlapping(ctx, EXTRA_FACTORY_KINDS, Math.min(began, next.at), f.at);
      if (!reason && ctx.rollbacks.some((r) => r.at >= began - opts.windowBeforeMs && r.at <= f.at)) {
        reason = 'rollback';
      }
      if (!reason) {
        const waited = f.at - next.at >= opts.fillLockTimeoutMs - slack;
        const unfinished = fill.some((c) => !c.call || !ok(c.call) || c.call.complete!.at > next.at);
        if (waited || (unfinished && f.at - began >= opts.fillLockTimeoutMs - slack)) reason = 'lock-timeout';
      }
      if (reason) bump(report.extraFactoryCalls, reason);
      else {
        const first = fill[0]!;
        violate(
          ctx,
          'single-flight',
          `getOrSet(${key}): factory call ${fill.length + 1} of one fill (${f.value} by p${f.process}c${f.cache}, ${Math.round(f.at - first.factory.at)} ms after ${first.factory.value} by p${first.factory.process}c${first.factory.cache}), with no invalidateTags of ${f.tags.join(',')} between, no fault near, and no lockTimeout (${opts.fillLockTimeoutMs} ms) passed`,
          [...fill.map((c) => c.call), call].filter((op): op is Operation => op !== undefined),
        );
      }
      fill.push(next);
    }
    close();
  }
}

/** A fault's loss window reaches this far before its injection and after its healing, by default (ms). */
export const DEFAULT_FAULT_WINDOW_MS = 5000;

/** Judges a history; every rule of RULES is checked. */
export function checkHistory(history: readonly HistoryEvent[], options: CheckOptions): CheckReport {
  const opts = {
    readYourWritesMs: 1000,
    staleBoundMs: 10_000,
    hangBoundMs: 15_000,
    windowBeforeMs: DEFAULT_FAULT_WINDOW_MS,
    windowAfterMs: DEFAULT_FAULT_WINDOW_MS,
    rollbackLookbackMs: 15_000,
    lockTtlMs: 30_000,
    fillLockTimeoutMs: 5000,
    fillTtlMs: 600_000,
    ...options,
  };
  const faults = history.filter((e): e is FaultEvent => e.type === 'fault');
  const rollbacks = history.filter((e): e is RouterEvent => e.type === 'router' && e.name === 'rollback');
  const report: CheckReport = {
    operations: 0,
    failedOperations: 0,
    failuresByError: {},
    faults: {},
    rollbacksReported: rollbacks.length,
    violations: [],
    violationsByRule: Object.fromEntries(Object.keys(RULES).map((r) => [r, 0])) as Record<RuleId, number>,
    lostAckedWrites: {},
    staleReadsInFaultWindows: {},
    maxStaleInFaultWindowsMs: 0,
    lostWithoutRollbackReport: 0,
    rollbackReports: { withLossSeen: 0, withoutLossSeen: 0 },
    staleReads: 0,
    maxStaleMs: 0,
    maxOpMs: 0,
    maxTagStaleMs: 0,
    extraFactoryCalls: {},
    maxFactoryCallsPerFill: 0,
    waitLockOverlaps: {},
    checked: {
      reads: 0,
      finalReads: 0,
      increments: 0,
      taggedAnswers: 0,
      invalidations: 0,
      lockHolds: 0,
      waitLockHolds: 0,
      fills: 0,
      factoryCalls: 0,
    },
  };
  for (const f of faults) bump(report.faults, f.kind);
  const ctx: Ctx = { opts, faults, rollbacks, report, losses: [] };
  const ops = operations(history);
  report.operations = ops.filter((op) => op.invoke.op !== 'finalRead').length;
  checkErrorsAndHangs(ctx, ops);
  checkStringKeys(ctx, ops);
  checkCounters(ctx, ops);
  checkTags(ctx, ops, history);
  checkLocks(ctx, ops);
  checkSingleFlight(ctx, ops, history);
  for (const r of rollbacks) {
    const estimate = Number(r.detail.estimatedLostMs ?? 0) || 0;
    const seen = ctx.losses.some(
      (l) => l.process === r.process && l.at <= r.at && l.at >= r.at - opts.rollbackLookbackMs - estimate,
    );
    if (seen) report.rollbackReports.withLossSeen++;
    else report.rollbackReports.withoutLossSeen++;
  }
  return report;
}

/** Checks the generator's own promise (one writer per `k:` / `n:` key): a broken one is a harness error. */
export function singleWriterProblems(history: readonly HistoryEvent[]): string[] {
  const writer = new Map<string, string>();
  const problems: string[] = [];
  for (const e of history) {
    if (e.type !== 'invoke' || !(WRITES.has(e.op) || e.op === 'incr')) continue;
    for (const key of (e as InvokeEvent).keys) {
      if (!key.startsWith('k:') && !key.startsWith('n:')) continue;
      const who = `p${e.process}c${e.cache}`;
      const first = writer.get(key);
      if (first === undefined) writer.set(key, who);
      else if (first !== who) problems.push(`${key} written by ${first} and ${who}`);
    }
  }
  return problems;
}

/** The class names of every exported error extending CacheError (what "named" means). */
export function cacheErrorNames(): Set<string> {
  const names = new Set<string>();
  for (const value of Object.values(errors)) {
    if (
      typeof value === 'function' &&
      (value === errors.CacheError || value.prototype instanceof errors.CacheError)
    ) {
      names.add(value.name);
    }
  }
  return names;
}
