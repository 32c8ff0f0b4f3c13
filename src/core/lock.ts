import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { ConfigError, LockError } from './errors.js';
import { LOCK_EXTEND, LOCK_RELEASE } from './scripts.js';
import { parseTtl, type Ttl } from './ttl.js';

export interface LockOptions {
  /** How long the lock lives if never released (ms, '30s', ...; null = until released). Default null. */
  ttl?: Ttl;
  /** Wait for the lock when it is held. Default true. */
  blocking?: boolean;
  /** Give up waiting after this long (ms or duration string) with LockError. Default: wait forever. */
  blockingTimeout?: number | string;
  /** Pause between attempts while waiting. Default 100 ms. */
  sleepMs?: number;
  version?: number;
}

/** Runs one command batch on the master (locks are always written there). */
export type LockRunner = <T>(fn: (client: Redis) => Promise<T>) => Promise<T>;

/**
 * A distributed lock on one Redis key (`SET key token NX PX ttl`). The token is random per
 * acquisition; release and extend are Lua compare-and-delete / compare-and-pexpire, so a
 * holder whose lock expired and was taken by someone else can never release or extend it.
 *
 *   await using lock = cache.lock('report', { ttl: '30s' });
 *   await lock.acquire();      // released when the scope ends
 */
export class Lock implements AsyncDisposable {
  #token: string | undefined;
  readonly #ttlMs: number | null;
  readonly #blocking: boolean;
  readonly #blockingTimeoutMs: number | null;
  readonly #sleepMs: number;

  constructor(
    readonly name: string,
    /** The Redis key holding the lock (built by the cache's key function). */
    readonly key: string,
    private readonly run: LockRunner,
    options: LockOptions = {},
  ) {
    this.#ttlMs = options.ttl === undefined ? null : parseTtl(options.ttl, 'lock ttl');
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
   * Take the lock. Non-blocking: resolves false when someone else holds it. Blocking: retries
   * every `sleepMs` and throws LockError once `blockingTimeout` has passed.
   */
  async acquire(options: { blocking?: boolean; blockingTimeout?: number | string } = {}): Promise<boolean> {
    if (this.#token !== undefined) {
      throw new LockError(`Lock ${JSON.stringify(this.name)} is already held by this Lock object`);
    }
    const blocking = options.blocking ?? this.#blocking;
    const timeoutMs =
      options.blockingTimeout === undefined
        ? this.#blockingTimeoutMs
        : Lock.#timeout(options.blockingTimeout);
    const deadline = timeoutMs === null ? null : Date.now() + timeoutMs;
    const token = randomBytes(16).toString('hex');
    const ttl = this.#ttlMs;
    for (;;) {
      const reply = await this.run((client) =>
        ttl === null ? client.set(this.key, token, 'NX') : client.set(this.key, token, 'PX', ttl, 'NX'),
      );
      if (reply === 'OK') {
        this.#token = token;
        return true;
      }
      if (!blocking) return false;
      const now = Date.now();
      if (deadline !== null && now >= deadline) {
        throw new LockError(`Could not acquire lock ${JSON.stringify(this.name)} within ${timeoutMs} ms`);
      }
      await sleep(deadline === null ? this.#sleepMs : Math.min(this.#sleepMs, deadline - now));
    }
  }

  /** Release the lock; LockError if this object does not hold it (never acquired, expired, taken over). */
  async release(): Promise<void> {
    const token = this.#token;
    if (token === undefined) {
      throw new LockError(`Cannot release lock ${JSON.stringify(this.name)}: not acquired`);
    }
    this.#token = undefined;
    const deleted = await this.run((client) => LOCK_RELEASE.run(client, [this.key], [token]));
    if (deleted !== 1) {
      throw new LockError(
        `Cannot release lock ${JSON.stringify(this.name)}: it expired or is owned by someone else`,
      );
    }
  }

  /** Reset the lock's TTL to `ttl` (default: the lock's ttl; null = no expiry) if we still own it. */
  async extend(ttl?: Ttl): Promise<void> {
    const token = this.#token;
    if (token === undefined) {
      throw new LockError(`Cannot extend lock ${JSON.stringify(this.name)}: not acquired`);
    }
    const ms = ttl === undefined ? this.#ttlMs : parseTtl(ttl, 'lock extend ttl');
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

  /** `await using`: release if held; an already expired lock is not an error at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#token === undefined) return;
    try {
      await this.release();
    } catch (err) {
      if (!(err instanceof LockError)) throw err;
    }
  }
}
