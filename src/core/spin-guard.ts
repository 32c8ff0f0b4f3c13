/**
 * Answers that settle without I/O — a near-cache hit, a fast failure while a node is down or a
 * breaker is open — resolve in the microtask queue. A caller that loops on them
 * (`while ((await cache.get('flag')) !== 'done') {}`, a retry loop without a timer) then never
 * lets the event loop turn, so what would end the loop never runs: the invalidation of another
 * client's write, the reconnect timer after a dropped connection. A SpinGuard watches runs of
 * such answers; once a run has gone on for over `maxSpinMs` without the event loop turning, it
 * settles answers after a turn (a macrotask) until the loop has turned.
 */

/** Longest a run of answers may go on without the event loop turning. */
export const MAX_SPIN_MS = 1;

/**
 * `value` once the event loop has turned. A function of its own: a closure over `value` at the
 * call site would cost every answer a context allocation, not only the deferred ones.
 */
function afterTurn<T>(value: T | PromiseLike<T>): Promise<T> {
  return new Promise<T>((resolve) => setImmediate(resolve, value));
}

/** `err` as a rejection once the event loop has turned (never an unhandled one meanwhile). */
function rejectAfterTurn(err: unknown): Promise<never> {
  return new Promise<never>((_, reject) => setImmediate(reject, err));
}

export class SpinGuard {
  readonly #maxSpinMs: number;
  /** A run of answers began at #runStart and has not seen the event loop turn yet. */
  #inRun = false;
  #runStart = 0;
  /** The current run is older than maxSpinMs: settle through a macrotask. */
  #starving = false;
  readonly #turned = () => {
    this.#inRun = false;
    this.#starving = false;
  };

  constructor(maxSpinMs = MAX_SPIN_MS) {
    this.#maxSpinMs = maxSpinMs;
  }

  /**
   * An answer settled without waiting for I/O, at `now` (performance.now()). The first of a run
   * asks to hear when the event loop turns; a later one that has not heard it after maxSpinMs
   * finds the run starving the loop. Callers on a hot path call it every N answers.
   */
  check(now: number): void {
    if (!this.#inRun) {
      this.#inRun = true;
      this.#runStart = now;
      setImmediate(this.#turned);
    } else if (now - this.#runStart > this.#maxSpinMs) {
      this.#starving = true;
    }
  }

  /** The current run of answers keeps the event loop from turning. */
  get starving(): boolean {
    return this.#starving;
  }

  /** `value` at once, or after the event loop turned when starving. */
  resolve<T>(value: T | PromiseLike<T>): Promise<T> {
    return this.#starving ? afterTurn(value) : Promise.resolve(value);
  }

  /** A rejection with `err` at once, or after the event loop turned when starving. */
  reject(err: unknown): Promise<never> {
    return this.#starving ? rejectAfterTurn(err) : Promise.reject(err);
  }
}
