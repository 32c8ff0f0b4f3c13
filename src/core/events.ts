import type { RouterEventMap } from '../routers/types.js';

/** Events a Cache emits. Router events (failover, breaker-*, topology-change, error) are forwarded. */
export interface CacheEventMap {
  hit: { key: string };
  miss: { key: string };
  /**
   * A failure the caller did not see as a rejection: with `ignoreErrors`, an operation's
   * connection-level failure that became a miss/no-op (`operation` and `key` set); or a
   * connection problem reported by the router (`operation` unset).
   */
  error: { error: Error; operation?: string; key?: string };
  /** getOrSet served a value past its ttl (within grace) instead of a fresh one, and why. */
  'stale-served': { key: string; reason: 'refreshing' | 'factory-error' | 'timeout' | 'redis-error' };
  failover: RouterEventMap['failover'];
  'topology-change': RouterEventMap['topology-change'];
  'breaker-open': RouterEventMap['breaker-open'];
  'breaker-half-open': RouterEventMap['breaker-half-open'];
  'breaker-close': RouterEventMap['breaker-close'];
}

export type CacheEvent = keyof CacheEventMap;
export type Listener<P> = (payload: P) => void;

/**
 * A minimal typed emitter. Unlike node:events it gives 'error' no special meaning (an 'error'
 * with no listener is simply dropped, never thrown), and `has()` lets hot paths skip building
 * payloads nobody listens to. A throwing listener does not break the operation that emitted.
 */
export class TypedEmitter<M extends object> {
  readonly #listeners = new Map<keyof M, Set<Listener<never>>>();

  on<E extends keyof M>(event: E, fn: Listener<M[E]>): void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(fn as Listener<never>);
  }

  off<E extends keyof M>(event: E, fn: Listener<M[E]>): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    set.delete(fn as Listener<never>);
    if (set.size === 0) this.#listeners.delete(event);
  }

  has(event: keyof M): boolean {
    return this.#listeners.has(event);
  }

  emit<E extends keyof M>(event: E, payload: M[E]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const fn of set) {
      try {
        (fn as Listener<M[E]>)(payload);
      } catch {
        // A listener's bug must not turn a successful cache operation into a failure.
      }
    }
  }

  removeAll(): void {
    this.#listeners.clear();
  }
}
