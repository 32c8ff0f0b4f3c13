import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { ConfigError, LockError } from './errors.js';
import { isIgnorable } from './executor.js';
import { LOCK_ACQUIRE, LOCK_EXTEND, LOCK_RELEASE } from './scripts.js';
import { parseTtl, type Ttl } from './ttl.js';
import { CallOptions, DURATION_RULE, TTL_RULE } from './validate.js';

/** The TTL of a lock when none is given: a holder that dies (or loses its token) blocks others this long at most. */
export const DEFAULT_LOCK_TTL_MS = 30_000;

/** Longest single WAIT, so that one never outlasts a router's command timeout (WAIT is repeated up to waitTimeoutMs). */
const WAIT_SLICE_MS = 100;

/** Options of `cache.lock(name, options)`. */
export interface LockOptions {
  /**
   * How long the lock lives if never released (ms, '30s', ...). Default 30 s
   * (DEFAULT_LOCK_TTL_MS); `null` = until released (a holder that dies then blocks everyone).
   */
  ttl?: Ttl;
  /** Wait for the lock when it is held. Default true. */
  blocking?: boolean;
  /** Give up waiting after this long (ms or duration string) with LockError. Default: wait forever. */
  blockingTimeout?: number | string;
  /** Pause between attempts while waiting (and after a transient failure). Default 100 ms. */
  sleepMs?: number;
  /**
   * After taking the lock, WAIT until this many replicas have it; fewer within `waitTimeoutMs`
   * → the lock is given back and the attempt fails (LockError, or retried while blocking).
   * Default 0 (no WAIT). Narrows, does not close, the failover window: see docs/guarantees.md.
   */
  waitReplicas?: number;
  /** How long to WAIT for `waitReplicas` (ms). Default 1000. */
  waitTimeoutMs?: number;
  /** Key version of the lock's key; default: the cache's `version`. */
  version?: number;
}

/** `acquire()`'s options: each overrides the lock's own for this call. */
export interface AcquireOptions {
  /** Wait for the lock when it is held (this call only). */
  blocking?: boolean;
  /** Give up waiting after this long (ms or a duration string) with LockError (this call only). */
  blockingTimeout?: number | string;
}

const LOCK_OPTIONS = new CallOptions(
  {
    ttl: TTL_RULE,
    blocking: 'boolean',
    blockingTimeout: DURATION_RULE,
    sleepMs: 'number',
    waitReplicas: 'non-negative integer',
    waitTimeoutMs: 'positive number',
    version: 'integer',
  },
  "{ ttl: '30s', blockingTimeout: '5s' }",
);

const ACQUIRE_OPTIONS = new CallOptions(
  { blocking: 'boolean', blockingTimeout: DURATION_RULE },
  "{ blocking: true, blockingTimeout: '5s' }",
);

/** Runs one command batch on the master (locks are always written there). */
export type LockRunner = <T>(fn: (client: Redis) => Promise<T>) => Promise<T>;

/**
 * A distributed lock on one Redis key. The token is random per acquisition; acquire, release
 * and extend are Lua scripts that compare it, so a holder whose lock expired and was taken by
 * someone else can never release or extend it.
 *
 * The token outlives a failure whose outcome is unknown (a timeout, a failover under the
 * command): a release that failed keeps it (call release() again), and an acquire that failed
 * keeps it too, so that the next acquire() recognises a lock its lost command did take, and
 * release() can give such a lock back.
 *
 *   await using lock = cache.lock('report', { ttl: '30s' });
 *   await lock.acquire();      // released when the scope ends
 */
export class Lock implements AsyncDisposable {
  /** The token of the lock we hold. */
  #token: string | undefined;
  /** The token of an acquisition whose outcome is unknown (its command failed in transit). */
  #unconfirmed: string | undefined;
  /** A release of #token failed in transit: it may have run. */
  #releaseUncertain = false;
  readonly #ttlMs: number | null;
  readonly #blocking: boolean;
  readonly #blockingTimeoutMs: number | null;
  readonly #sleepMs: number;
  readonly #waitReplicas: number;
  readonly #waitTimeoutMs: number;

  constructor(
    /** The lock's name, as given to `cache.lock(name)`. */
    readonly name: string,
    /** The Redis key holding the lock (built by the cache's key function). */
    readonly key: string,
    private readonly run: LockRunner,
    options: LockOptions = {},
  ) {
    LOCK_OPTIONS.check(options, 'cache.lock()');
    this.#ttlMs = options.ttl === undefined ? DEFAULT_LOCK_TTL_MS : parseTtl(options.ttl, 'lock ttl');
    if (this.#ttlMs !== null && this.#ttlMs <= 0) {
      throw new ConfigError(`lock ttl must be positive or null (no expiry); got ${String(options.ttl)}`);
    }
    this.#blocking = options.blocking ?? true;
    if (typeof this.#blocking !== 'boolean') throw new ConfigError('lock blocking must be true or false');
    this.#blockingTimeoutMs = Lock.#timeout(options.blockingTimeout);
    this.#sleepMs = options.sleepMs ?? 100;
    if (!Number.isFinite(this.#sleepMs) || this.#sleepMs < 0) {
      throw new ConfigError(`lock sleepMs must be a non-negative number; got ${String(options.sleepMs)}`);
    }
    this.#waitReplicas = options.waitReplicas ?? 0;
    if (!Number.isSafeInteger(this.#waitReplicas) || this.#waitReplicas < 0) {
      throw new ConfigError(
        `lock waitReplicas must be a non-negative integer; got ${String(options.waitReplicas)}`,
      );
    }
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 1000;
    if (!Number.isFinite(this.#waitTimeoutMs) || this.#waitTimeoutMs <= 0) {
      throw new ConfigError(
        `lock waitTimeoutMs must be a positive number of ms; got ${String(options.waitTimeoutMs)}`,
      );
    }
  }

  static #timeout(value: number | string | undefined): number | null {
    if (value === undefined) return null;
    const ms = parseTtl(value, 'lock blockingTimeout');
    if (ms === null || ms < 0) throw new ConfigError('lock blockingTimeout must be >= 0 (ms or a duration)');
    return ms;
  }

  /** True while this object believes it holds the lock (it may have expired; see owned()). */
  get held(): boolean {
    return this.#token !== undefined;
  }

  /**
   * Take the lock. Non-blocking: resolves false when someone else holds it; a transient failure
   * (timeout, failover) is thrown. Blocking: retries every `sleepMs` and throws LockError once
   * `blockingTimeout` has passed — it never resolves false. With a `blockingTimeout`, transient
   * failures (MasterNotFoundError, CommandTimeoutError, CircuitOpenError, ...) are retried too,
   * until the deadline; without one they are thrown (never a hang on a dead Redis).
   */
  async acquire(options: AcquireOptions = {}): Promise<boolean> {
    ACQUIRE_OPTIONS.check(options, 'lock.acquire()');
    if (this.#token !== undefined) {
      throw new LockError(`Lock ${JSON.stringify(this.name)} is already held by this Lock object`);
    }
    const blocking = options.blocking ?? this.#blocking;
    const timeoutMs =
      options.blockingTimeout === undefined
        ? this.#blockingTimeoutMs
        : Lock.#timeout(options.blockingTimeout);
    const deadline = timeoutMs === null ? null : Date.now() + timeoutMs;
    // Reuse the token of an acquisition whose outcome is unknown: if its command did run, the
    // lock is already ours and LOCK_ACQUIRE says so.
    const token = this.#unconfirmed ?? randomBytes(16).toString('hex');
    let uncertain = this.#unconfirmed !== undefined;
    let lastError: unknown;
    try {
      for (;;) {
        let acquired = false;
        try {
          acquired = await this.#attempt(token, blocking);
        } catch (err) {
          // Ride out transient failures only towards a deadline: with none, a dead Redis would
          // hang the caller forever instead of failing fast.
          if (!blocking || deadline === null || !isIgnorable(err)) {
            if (!(err instanceof LockError)) uncertain = true;
            throw err;
          }
          uncertain = true;
          lastError = err;
        }
        if (acquired) {
          this.#token = token;
          uncertain = false;
          return true;
        }
        if (!blocking) return false;
        const now = Date.now();
        if (deadline !== null && now >= deadline) {
          throw new LockError(
            `Could not acquire lock ${JSON.stringify(this.name)} within ${timeoutMs} ms`,
            lastError === undefined ? undefined : { cause: lastError },
          );
        }
        await sleep(deadline === null ? this.#sleepMs : Math.min(this.#sleepMs, deadline - now));
      }
    } finally {
      this.#unconfirmed = uncertain ? token : undefined;
    }
  }

  /**
   * One attempt: LOCK_ACQUIRE, then (waitReplicas) WAIT on the same connection. A lock that
   * too few replicas acknowledged is given back: LockError when not blocking, else false
   * (try again).
   */
  async #attempt(token: string, blocking: boolean): Promise<boolean> {
    const ttl = this.#ttlMs === null ? '' : String(this.#ttlMs);
    const outcome = await this.run(async (client) => {
      if ((await LOCK_ACQUIRE.run(client, [this.key], [token, ttl])) !== 1) return 'held-by-other';
      if (this.#waitReplicas === 0) return 'acquired';
      const waitUntil = Date.now() + this.#waitTimeoutMs;
      for (;;) {
        const slice = Math.max(1, Math.min(WAIT_SLICE_MS, waitUntil - Date.now()));
        if ((await client.wait(this.#waitReplicas, slice)) >= this.#waitReplicas) return 'acquired';
        if (Date.now() >= waitUntil) break;
      }
      await LOCK_RELEASE.run(client, [this.key], [token]);
      return 'not-replicated';
    });
    if (outcome === 'acquired') return true;
    if (outcome === 'not-replicated' && !blocking) {
      throw new LockError(
        `Lock ${JSON.stringify(this.name)} was not acknowledged by ${this.#waitReplicas} replica(s) within ${this.#waitTimeoutMs} ms; it was given back`,
      );
    }
    return false;
  }

  /**
   * Release the lock; LockError if this object does not hold it (never acquired, expired,
   * taken over). A transient failure (timeout, failover) is thrown and the lock stays held by
   * this object: call release() again. Also settles an acquire() that failed in transit: gives
   * the lock back if that acquisition took it, LockError ("not acquired") if it did not.
   */
  async release(): Promise<void> {
    const token = this.#token ?? this.#unconfirmed;
    if (token === undefined) {
      throw new LockError(`Cannot release lock ${JSON.stringify(this.name)}: not acquired`);
    }
    let deleted: unknown;
    try {
      deleted = await this.run((client) => LOCK_RELEASE.run(client, [this.key], [token]));
    } catch (err) {
      if (this.#token !== undefined) this.#releaseUncertain = true;
      throw err;
    }
    const wasHeld = this.#token !== undefined;
    const earlierAttemptMayHaveRun = this.#releaseUncertain;
    this.#token = undefined;
    this.#unconfirmed = undefined;
    this.#releaseUncertain = false;
    if (deleted === 1) return;
    if (!wasHeld) throw new LockError(`Cannot release lock ${JSON.stringify(this.name)}: not acquired`);
    // Our earlier release may have run before its reply was lost: the lock is not ours either way.
    if (earlierAttemptMayHaveRun) return;
    throw new LockError(
      `Cannot release lock ${JSON.stringify(this.name)}: it expired or is owned by someone else`,
    );
  }

  /** Reset the lock's TTL to `ttl` (default: the lock's ttl; null = no expiry) if we still own it. */
  async extend(ttl?: Ttl): Promise<void> {
    const token = this.#token;
    if (token === undefined) {
      throw new LockError(`Cannot extend lock ${JSON.stringify(this.name)}: not acquired`);
    }
    const ms = ttl === undefined ? this.#ttlMs : parseTtl(ttl, 'lock.extend(ttl)');
    if (ms !== null && ms <= 0) throw new ConfigError('lock extend ttl must be positive or null');
    const ok = await this.run((client) =>
      LOCK_EXTEND.run(client, [this.key], [token, ms === null ? '' : String(ms)]),
    );
    if (ok !== 1) {
      this.#token = undefined;
      throw new LockError(
        `Cannot extend lock ${JSON.stringify(this.name)}: it expired or is owned by someone else`,
      );
    }
  }

  /** Is the lock held by anyone? */
  async locked(): Promise<boolean> {
    return (await this.run((client) => client.exists(this.key))) === 1;
  }

  /** Is the lock held by this object (token still matches in Redis)? */
  async owned(): Promise<boolean> {
    const token = this.#token;
    if (token === undefined) return false;
    return (await this.run((client) => client.get(this.key))) === token;
  }

  /**
   * `await using`: release if held (or if an acquire failed in transit); an already expired
   * lock is not an error at scope exit.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#token === undefined && this.#unconfirmed === undefined) return;
    try {
      await this.release();
    } catch (err) {
      if (!(err instanceof LockError)) throw err;
    }
  }
}
