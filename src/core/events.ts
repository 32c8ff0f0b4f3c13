import type { FlushReason } from './near.js';
import type { RouterEventMap } from './router.js';

export { type Listener, TypedEmitter } from './emitter.js';

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
  /** The near cache dropped everything it held, and why. */
  'near-flush': { reason: FlushReason };
}

export type CacheEvent = keyof CacheEventMap;
