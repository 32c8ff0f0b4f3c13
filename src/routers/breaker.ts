import CircuitBreaker from 'opossum';
import {
  AuthenticationError,
  CircuitOpenError,
  CommandTimeoutError,
  ConnectionInterruptedError,
  MasterNotFoundError,
  ReplicaNotFoundError,
  SentinelUnavailableError,
} from '../core/errors.js';
import { isConnectionError, isTimeoutError } from './errors.js';
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
 * Only failures of the infrastructure count: the node or sentinel is unreachable, slow,
 * not what we need, or refuses our credentials. A cache miss is not an error at all, and
 * codec errors (DecodeError, SerializationError, ...) and plain Redis reply errors
 * (WRONGTYPE, a Lua error) say nothing about the node's health.
 */
export function tripsBreaker(err: unknown): boolean {
  return (
    err instanceof ConnectionInterruptedError ||
    err instanceof CommandTimeoutError ||
    err instanceof MasterNotFoundError ||
    err instanceof ReplicaNotFoundError ||
    err instanceof SentinelUnavailableError ||
    err instanceof AuthenticationError ||
    isConnectionError(err) ||
    isTimeoutError(err)
  );
}

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
 */
export class RoleBreaker {
  readonly role: BreakerRole;
  private readonly cb: CircuitBreaker<[() => Promise<unknown>], unknown>;

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
      // errorFilter returning true means "not a failure".
      errorFilter: (err: unknown) => !tripsBreaker(err),
    });
    this.cb.on('open', hooks.open);
    this.cb.on('halfOpen', hooks.halfOpen);
    this.cb.on('close', hooks.close);
  }

  get state(): BreakerState {
    if (this.cb.opened) return 'open';
    if (this.cb.halfOpen) return 'half-open';
    return 'closed';
  }

  run<T>(task: () => Promise<T>): Promise<T> {
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
    this.cb.shutdown();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
