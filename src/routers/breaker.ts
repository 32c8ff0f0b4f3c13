import CircuitBreaker from 'opossum';
import { debug, debugEnabled } from '../core/debug.js';
import { CircuitOpenError, isNodeFailure } from '../core/errors.js';
import { type RollingWindow, rollingWindowOf } from '../core/ioredis-internals.js';
import type { OutcomeCounter } from './route-runner.js';
import type { PooledRouterOptions } from './types.js';

export type BreakerRole = 'master' | 'replica';
export type BreakerState = 'open' | 'half-open' | 'closed';

export const BREAKER_DEFAULTS = {
  errorThresholdPercentage: 50,
  resetTimeoutMs: 1000,
  // A short window: a steady load of successes before an outage must not hide the
  // outage from the breaker for long.
  rollingCountTimeoutMs: 1000,
  volumeThreshold: 10,
};

/**
 * Only failures of the infrastructure count (`CacheError.nodeFailure`: the node or sentinel
 * is unreachable, slow, not what we need, busy, or refuses our credentials). A cache miss
 * is not an error at all, and codec errors and plain Redis reply errors (WRONGTYPE, a Lua
 * error) say nothing about the node's health. Routers translate every failure before it
 * reaches the breaker.
 */
export const tripsBreaker = isNodeFailure;

/** NODE_DEBUG lines, per state entered. */
const BREAKER_LINES: Record<BreakerState, string> = {
  open: 'opened: its operations fail fast with CircuitOpenError',
  'half-open': 'half-open: its connections are dropped, the next operation resolves the node afresh',
  closed: 'closed: operations run again',
};

export interface BreakerHooks {
  open(): void;
  halfOpen(): void;
  close(): void;
}

/**
 * An opossum circuit breaker guarding one role. While open, operations fail at once with
 * CircuitOpenError instead of piling up on a dead master; after resetTimeoutMs it
 * half-opens and lets one operation through (the router re-resolves the node first); a
 * success closes it.
 *
 * Only operations admitted in the current state count: every state change starts a new
 * OutcomeCounter, and an operation keeps the one that admitted it. An operation admitted while
 * closed that fails after the breaker opened (pooled's half-open hook drops the connections
 * such operations still wait on) would otherwise take the single half-open trial and re-open it.
 */
export class RoleBreaker {
  readonly role: BreakerRole;
  private readonly cb: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private shut = false;
  /** opossum's rolling window (core/ioredis-internals.ts: rollingWindowOf). */
  private readonly window: RollingWindow | undefined;
  private admitting: OutcomeCounter;

  constructor(role: BreakerRole, opts: PooledRouterOptions['breaker'], hooks: BreakerHooks) {
    this.role = role;
    const o = { ...BREAKER_DEFAULTS, ...stripUndefined(opts ?? {}) };
    this.cb = new CircuitBreaker((task: () => Promise<unknown>) => task(), {
      timeout: false, // commands have their own timeouts (commandTimeoutMs)
      errorThresholdPercentage: o.errorThresholdPercentage,
      resetTimeout: o.resetTimeoutMs,
      rollingCountTimeout: o.rollingCountTimeoutMs,
      rollingCountBuckets: 10,
      volumeThreshold: o.volumeThreshold,
      enableSnapshots: false,
      // Latency percentiles are never read; recording them pushed to an array per operation
      // and made every failure concatenate and sort the whole window.
      rollingPercentilesEnabled: false,
      // errorFilter returning true means "not a failure".
      errorFilter: (err: unknown) => !tripsBreaker(err),
    });
    this.window = rollingWindowOf(this.cb.status);
    this.admitting = this.newCounter();
    // A new counter before the hook runs: an operation the hook starts is admitted in the new state.
    const entering = (state: BreakerState, hook: () => void) => () => {
      this.admitting = this.newCounter();
      if (debugEnabled) debug('breaker: %s %s', role, BREAKER_LINES[state]);
      hook();
    };
    this.cb.on('open', entering('open', hooks.open));
    this.cb.on('halfOpen', entering('half-open', hooks.halfOpen));
    this.cb.on('close', entering('closed', hooks.close));
  }

  get state(): BreakerState {
    if (this.cb.opened) return 'open';
    if (this.cb.halfOpen) return 'half-open';
    return 'closed';
  }

  /**
   * Run `task` under the breaker. While the breaker is closed the task runs directly and its
   * outcome is counted in opossum's rolling window (see `counter`): `fire()` per operation is
   * garbage on the hot path (docs/design.md#breaker-fast-path). Open and half-open states go
   * through `fire()` unchanged (fail fast, one trial).
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (!this.passing) return this.fire(task);
    let result: Promise<T>;
    try {
      result = task();
    } catch (err) {
      result = Promise.reject(err);
    }
    return this.admitting.track(result);
  }

  /**
   * Closed, and counting without `fire()`: a caller may start its operation itself and report
   * its outcome to `counter`, taken when it starts (the RouteRunner does, in its own promise step).
   */
  get passing(): boolean {
    return this.cb.closed && !this.shut && this.window !== undefined;
  }

  /**
   * What counts the outcome of an operation admitted now (while `passing`): take it when the
   * operation starts. It counts only while the breaker is in the state that admitted the
   * operation. Every outcome is a fire; an infrastructure failure goes through `fire()` so
   * opossum counts the failure and runs its own threshold check (failures / fires). Successes
   * are deliberately not counted: opossum's open decision does not read them, and its
   * `successes` counter also keeps a latency sample per call for a second, which every GC
   * copies (docs/design.md#performance-notes).
   */
  get counter(): OutcomeCounter {
    return this.admitting;
  }

  /** One counter per state: made on each state change, never per operation. */
  private newCounter(): OutcomeCounter {
    const counter: OutcomeCounter = {
      succeeded: () => {
        if (this.admitting === counter) (this.window as RollingWindow).increment('fires');
      },
      track: <T>(settled: Promise<T>): Promise<T> => settled.then(onSuccess, onFailure) as Promise<T>,
    };
    const onSuccess = <T>(value: T): T => {
      counter.succeeded();
      return value;
    };
    const onFailure = (err: unknown): never => {
      if (!tripsBreaker(err)) {
        // Not the node's fault (a codec error, WRONGTYPE...): opossum's errorFilter counts it as a success.
        counter.succeeded();
      } else if (this.admitting === counter) {
        // Let opossum count the failure and decide whether to open; the caller sees the
        // operation's own error, as it would had the operation gone through fire().
        this.cb.fire(() => Promise.reject(err)).catch(() => {});
      }
      throw err;
    };
    return counter;
  }

  private fire<T>(task: () => Promise<T>): Promise<T> {
    return (this.cb.fire(task) as Promise<T>).catch((err: unknown) => {
      if ((err as { code?: string })?.code === 'EOPENBREAKER') {
        throw new CircuitOpenError(`Circuit breaker for the ${this.role} is open: failing fast`, {
          cause: err,
        });
      }
      throw err;
    });
  }

  /** The topology changed for the better (a new master was announced): let traffic through. */
  reset(): void {
    this.cb.close();
  }

  shutdown(): void {
    this.shut = true;
    this.cb.shutdown();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
