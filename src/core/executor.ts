import type { Redis } from 'ioredis';
import { CacheClosedError, isTransient } from './errors.js';
import type { CacheEventMap, TypedEmitter } from './events.js';
import type { Intent, Router } from './router.js';
import type { Counters } from './stats.js';

/**
 * The execution policy of every cache operation: route it by intent, refuse it once the cache
 * is closed, count its errors, and — with ignoreErrors — turn a transient failure into
 * the operation's harmless answer (its fallback), reported as an 'error' event.
 */

/**
 * What an operation returns when ignoreErrors swallows a failure; `null` means "this
 * operation has no harmless answer: always rethrow". Shared functions, so the hot path
 * allocates nothing for them.
 */
export type Fallback<T> = (() => T) | null;
export const UNDEFINED = () => undefined;
export const NULL = () => null;
export const ZERO = () => 0;
export const EMPTY_ARRAY = () => [];
export const EMPTY_OBJECT = (): Record<string, never> => ({});

/**
 * What ignoreErrors may turn into a miss / no-op: the transient failures (`CacheError.transient`:
 * a node down, hung, failing over, full, loading, busy). Routers translate every failure into a
 * named error, so the classification is read from the error, never from its message.
 */
export function isIgnorable(err: unknown): boolean {
  return isTransient(err);
}

export interface ExecutorOptions {
  router: Router;
  counters: Counters;
  events: TypedEmitter<CacheEventMap>;
  ignoreErrors: boolean;
}

/** Shared by a cache and its `withVersion()` views, so closing one closes all. */
export class Executor {
  readonly router: Router;
  readonly counters: Counters;
  readonly events: TypedEmitter<CacheEventMap>;
  readonly #ignoreErrors: boolean;
  #closing: Promise<void> | undefined;

  constructor(options: ExecutorOptions) {
    this.router = options.router;
    this.counters = options.counters;
    this.events = options.events;
    this.#ignoreErrors = options.ignoreErrors;
  }

  /** Run `fn` through the router; apply ignoreErrors; count errors. */
  async run<T, F = T>(
    intent: Intent,
    operation: string,
    key: string | undefined,
    fallback: Fallback<F>,
    fn: (client: Redis) => Promise<T>,
  ): Promise<T | F> {
    if (this.#closing !== undefined) throw new CacheClosedError();
    try {
      return await this.router.execute(intent, fn);
    } catch (err) {
      this.counters.errors++;
      if (fallback !== null && this.#ignoreErrors && isIgnorable(err)) {
        this.counters.ignoredErrors++;
        const error = err instanceof Error ? err : new Error(String(err));
        this.events.emit('error', { error, operation, key });
        return fallback();
      }
      throw err;
    }
  }

  hit(key: string): void {
    this.counters.hits++;
    if (this.events.has('hit')) this.events.emit('hit', { key });
  }

  miss(key: string): void {
    this.counters.misses++;
    if (this.events.has('miss')) this.events.emit('miss', { key });
  }

  /** Close the router once; every later operation throws CacheClosedError. */
  close(): Promise<void> {
    if (this.#closing === undefined) this.#closing = this.router.close();
    return this.#closing;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }
}
