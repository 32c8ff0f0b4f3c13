import type { CacheError } from './errors.js';
import type { FlushReason } from './near.js';
import type { RouterEventMap } from './router.js';

export { type Listener, TypedEmitter } from './emitter.js';

/** `hit` / `miss`: a read found (or did not find) `key` (the user key, without prefix/version). */
export interface KeyEvent {
  /** The user key (no prefix, no version). */
  key: string;
}

/**
 * `error`: a failure the caller did not see as a rejection. Every failure of Redis or of the
 * cache is a named `CacheError` with a `code` (what ioredis said is its `cause`); the one
 * exception is a getOrSet factory's own error when a stale value was served instead
 * (`operation` 'getOrSet'), which is reported as the factory threw it.
 * - with `ignoreErrors`, an operation's connection-level failure that became a miss / no-op
 *   (`operation` is the method, e.g. 'get', and `key` the user key when it has one);
 * - a connection problem the router noticed (`operation` and `key` unset).
 */
export interface ErrorEvent {
  /** The failure: a named `CacheError`, or a getOrSet factory's own error. */
  error: CacheError | Error;
  /** The method whose failure this was (`'get'`, `'getOrSet'`, ...); unset for a router's connection problem. */
  operation?: string;
  /** The user key of that operation, when it has one. */
  key?: string;
}

/** `failover` `{ service, from?, to }`: Sentinel announced a new master (`+switch-master`) or the router noticed one. */
export type FailoverEvent = RouterEventMap['failover'];

/**
 * `topology-change`: the set of nodes the router uses changed. `reason` says why (e.g. a pool
 * evicted, the replica set or the sentinel list changed); `nodes` lists the new set when known.
 */
export type TopologyChangeEvent = RouterEventMap['topology-change'];

/** `breaker-open` / `breaker-half-open` / `breaker-close` (pooled router): the role's breaker changed state. */
export type BreakerEvent = RouterEventMap['breaker-open'];

/** `stale-served`: getOrSet served a value past its ttl (within grace) instead of a fresh one, and why. */
export interface StaleServedEvent {
  /** The user key getOrSet was called with. */
  key: string;
  /** Why the stale value was served instead of a fresh one. */
  reason: 'refreshing' | 'factory-error' | 'timeout' | 'redis-error';
}

/** `near-flush`: the near cache dropped everything it held, and why. */
export interface NearFlushEvent {
  /** Why everything was dropped. */
  reason: FlushReason;
}

/** Events a Cache emits, by name, with their payloads (`cache.on(name, (payload) => ...)`). Router events are forwarded. */
export interface CacheEventMap {
  /** A read found `key`. */
  hit: KeyEvent;
  /** A read did not find `key` (or found it stale). */
  miss: KeyEvent;
  /** A failure the caller did not see as a rejection. */
  error: ErrorEvent;
  /** getOrSet served a value within grace. */
  'stale-served': StaleServedEvent;
  /** A new master. */
  failover: FailoverEvent;
  /** The nodes the router uses changed. */
  'topology-change': TopologyChangeEvent;
  /** Pooled router: a role's breaker opened (operations fail fast). */
  'breaker-open': BreakerEvent;
  /** Pooled router: a role's breaker lets a trial operation through. */
  'breaker-half-open': BreakerEvent;
  /** Pooled router: a role's breaker closed again. */
  'breaker-close': BreakerEvent;
  /** The near cache dropped everything it held. */
  'near-flush': NearFlushEvent;
}

/** The name of a cache event (`cache.on(name, fn)`). */
export type CacheEvent = keyof CacheEventMap;
