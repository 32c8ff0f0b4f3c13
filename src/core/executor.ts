import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { debug, debugEnabled } from './debug.js';
import { type CommandMessage, commandChannel, newCacheId, serverOf } from './diagnostics.js';
import { CacheClosedError, CacheError, isTransient } from './errors.js';
import type { CacheEventMap, TypedEmitter } from './events.js';
import type { NearLayer } from './near.js';
import { whileClosing } from './process-liveness.js';
import { isConnectionError, toNamedError } from './redis-errors.js';
import type { Intent, Router, RouterEvent, RouterEventMap } from './router.js';
import { SpinGuard } from './spin-guard.js';
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
 * a node down, hung, failing over, full, loading, busy). The built-in routers translate every
 * failure into a named error; a router that does not (a custom one) still gets its raw
 * connection failures recognised by core/redis-errors, the one module that reads ioredis' wording.
 */
export function isIgnorable(err: unknown): boolean {
  return err instanceof CacheError ? isTransient(err) : isConnectionError(err);
}

export interface ExecutorOptions {
  router: Router;
  counters: Counters;
  events: TypedEmitter<CacheEventMap>;
  ignoreErrors: boolean;
  /** The near cache, when the `nearCache` option is on. */
  near?: NearLayer | undefined;
}

/**
 * How many open caches use each router. A router passed to several `createCache` calls (one
 * cache per module) is closed by the last of them: closing one must not break the others.
 */
const routerUsers = new WeakMap<Router, number>();

/** Whether an open cache uses `router` (a createCache that threw must not close it then). */
export function routerInUse(router: Router): boolean {
  return (routerUsers.get(router) ?? 0) > 0;
}

/** Shared by a cache and its `withVersion()` views, so closing one closes all. */
export class Executor {
  readonly router: Router;
  readonly counters: Counters;
  readonly events: TypedEmitter<CacheEventMap>;
  readonly near: NearLayer | undefined;
  /** Identifies this cache (and its views) on the `sentinel-cache:command` channel. */
  readonly cacheId = newCacheId();
  readonly #ignoreErrors: boolean;
  /** Failures that settle without I/O must not starve the event loop (see `#counted`). */
  readonly #spin = new SpinGuard();
  /** What this cache listens to on its router, removed on close (the router may outlive it). */
  readonly #routerListeners: Array<() => void> = [];
  #closing: Promise<void> | undefined;

  constructor(options: ExecutorOptions) {
    this.router = options.router;
    this.counters = options.counters;
    this.events = options.events;
    this.#ignoreErrors = options.ignoreErrors;
    this.near = options.near;
    routerUsers.set(this.router, (routerUsers.get(this.router) ?? 0) + 1);
  }

  /**
   * A write that changes the keys `touched` (Redis keys): with the near cache on, their local
   * entries are dropped before the command is sent and again when it is answered, and reads
   * of them in flight keep nothing (read-your-writes in the process).
   */
  write<T, F = T>(
    operation: string,
    key: string | undefined,
    fallback: Fallback<F>,
    touched: string | readonly string[],
    fn: (client: Redis) => Promise<T>,
  ): Promise<T | F> {
    return this.run('write', operation, key, fallback, this.#asOwnWrite(touched, fn));
  }

  /** `write`, then `andThen` on its answer in the same promise step (see `runThen`). */
  writeThen<T, F, R>(
    operation: string,
    key: string | undefined,
    fallback: Fallback<F>,
    touched: string | readonly string[],
    fn: (client: Redis) => Promise<T>,
    andThen: (answer: T | F) => R | PromiseLike<R>,
  ): Promise<R> {
    return this.runThen('write', operation, key, fallback, this.#asOwnWrite(touched, fn), andThen);
  }

  /** `fn` as a write of `touched` that the near cache (when on) keeps its entries out of. */
  #asOwnWrite<T>(touched: string | readonly string[], fn: (client: Redis) => Promise<T>) {
    const near = this.near;
    return near === undefined ? fn : near.ownWrite(touched, fn);
  }

  /**
   * `run`, then `andThen` on its answer (an ignoreErrors fallback included) in the same promise
   * step: get and set run once per operation, and every promise step is garbage per operation.
   * What `andThen` throws (a value that cannot be decoded, incr's missing key) is not counted
   * in `stats().errors` nor swallowed by ignoreErrors — as if it ran after `run` — but it is
   * the operation's outcome on the command channel.
   */
  runThen<T, F, R>(
    intent: Intent,
    operation: string,
    key: string | undefined,
    fallback: Fallback<F>,
    fn: (client: Redis) => Promise<T>,
    andThen: (answer: T | F) => R | PromiseLike<R>,
  ): Promise<R> {
    if (commandChannel.hasSubscribers) {
      return this.#traced(intent, operation, key, fallback, fn, andThen) as Promise<R>;
    }
    return this.#run(intent, operation, key, fallback, fn, andThen) as Promise<R>;
  }

  /**
   * Run `fn` through the router; apply ignoreErrors; count errors. Published on the
   * `sentinel-cache:command` TracingChannel when it has subscribers (else one property read).
   */
  run<T, F = T>(
    intent: Intent,
    operation: string,
    key: string | undefined,
    fallback: Fallback<F>,
    fn: (client: Redis) => Promise<T>,
  ): Promise<T | F> {
    if (!commandChannel.hasSubscribers)
      return this.#run(intent, operation, key, fallback, fn) as Promise<T | F>;
    return this.#traced(intent, operation, key, fallback, fn, undefined) as Promise<T | F>;
  }

  /**
   * `#run` published on the channel, from its start to its answer (`andThen` included), with
   * the node that served it. Only while someone listens: the message and the wrapper of `fn`
   * are the allocations tracing costs.
   */
  #traced<T, F>(
    intent: Intent,
    operation: string,
    key: string | undefined,
    fallback: Fallback<F>,
    fn: (client: Redis) => Promise<T>,
    andThen: ((answer: T | F) => unknown) | undefined,
  ): Promise<unknown> {
    const message: CommandMessage = { operation, intent, key, cacheId: this.cacheId };
    const served = (client: Redis): Promise<T> => {
      message.server = serverOf(client);
      return fn(client);
    };
    return commandChannel.tracePromise(
      () => this.#run(intent, operation, key, fallback, served, andThen, message),
      message,
    );
  }

  /**
   * Promise handlers rather than an async function: this runs once per operation, and
   * per-operation garbage is what a single caller's tail is made of
   * (docs/design.md#performance-notes). Without
   * ignoreErrors a failure is only counted, by one handler shared by every operation.
   */
  #run<T, F>(
    intent: Intent,
    operation: string,
    key: string | undefined,
    fallback: Fallback<F>,
    fn: (client: Redis) => Promise<T>,
    andThen?: (answer: T | F) => unknown,
    message?: CommandMessage,
  ): Promise<unknown> {
    if (this.#closing !== undefined) return Promise.reject(new CacheClosedError());
    let routed: Promise<T>;
    try {
      routed = this.router.execute(intent, fn);
    } catch (err) {
      routed = Promise.reject(err);
    }
    if (fallback === null || !this.#ignoreErrors) return routed.then(andThen, this.#counted);
    return routed.then(andThen, (err: unknown) => {
      this.counters.errors++;
      this.#spin.check(performance.now());
      let answer: F;
      try {
        answer = this.recover(err, operation, key, fallback);
      } catch (failure) {
        return this.#spin.reject(failure);
      }
      if (message !== undefined) message.ignoredError = err;
      return this.#spin.resolve(andThen === undefined ? answer : andThen(answer));
    });
  }

  /**
   * A failure that ignoreErrors cannot turn into an answer: count it, rethrow it — after an
   * event-loop turn when failures have kept the loop from turning (core/spin-guard.ts): a
   * router fails fast without I/O while its node is down, and a caller retrying in a loop would
   * otherwise never let the reconnect run.
   */
  readonly #counted = (err: unknown): Promise<never> => {
    this.counters.errors++;
    this.#spin.check(performance.now());
    return this.#spin.reject(err);
  };

  /**
   * Run `fn` on every master (router.eachMaster; a router without it: once, on the master) and
   * return the results. Same error policy and tracing as `run` (intent 'write').
   */
  runOnEveryMaster<T, F = T[]>(
    operation: string,
    key: string | undefined,
    fallback: Fallback<F>,
    fn: (client: Redis) => Promise<T>,
  ): Promise<T[] | F> {
    if (!commandChannel.hasSubscribers) return this.#runOnEveryMaster(operation, key, fallback, fn);
    return commandChannel.tracePromise(() => this.#runOnEveryMaster(operation, key, fallback, fn), {
      operation,
      intent: 'write',
      key,
      cacheId: this.cacheId,
    });
  }

  async #runOnEveryMaster<T, F>(
    operation: string,
    key: string | undefined,
    fallback: Fallback<F>,
    fn: (client: Redis) => Promise<T>,
  ): Promise<T[] | F> {
    if (this.#closing !== undefined) throw new CacheClosedError();
    try {
      if (this.router.eachMaster !== undefined) return await this.router.eachMaster(fn);
      return [await this.router.execute('write', fn)];
    } catch (err) {
      this.counters.errors++;
      return this.recover(err, operation, key, fallback);
    }
  }

  /**
   * The router spreads keys over several masters (it groups keys: routers.cluster). Work over
   * many keys is then sent one command per key, each routed, and redirected, on its own.
   */
  get sharded(): boolean {
    return this.router.groupKeys !== undefined;
  }

  /** Groups of indexes into `keys` that can share one round trip; undefined: the router has one node for all. */
  groupKeys(keys: readonly string[]): number[][] | undefined {
    return this.router.groupKeys?.(keys);
  }

  /** Whether one multi-key command or script can take all of `keys` (one slot on a cluster). */
  canCombine(keys: readonly string[]): boolean {
    return this.router.canCombine?.(keys) ?? true;
  }

  /**
   * ignoreErrors for a failure `run` already counted: the operation's harmless answer
   * (reported as an 'error' event) when allowed, else rethrow. Multi-step operations call it
   * themselves when their first step fails (see batch.ts).
   */
  recover<F>(err: unknown, operation: string, key: string | undefined, fallback: Fallback<F>): F {
    if (fallback !== null && this.#ignoreErrors && isIgnorable(err)) {
      this.counters.ignoredErrors++;
      if (debugEnabled) {
        debug(
          'ignoreErrors: %s %j answered as if Redis had nothing, after %s',
          operation,
          key,
          describe(err),
        );
      }
      this.events.emit('error', { error: toNamedError(err), operation, key });
      return fallback();
    }
    throw err;
  }

  /** A read found `key`'s value; `fromMemory`: in the near cache, without asking Redis. */
  hit(key: string, fromMemory: boolean): void {
    this.counters.hits++;
    if (fromMemory) this.counters.nearHits++;
    if (this.events.has('hit')) this.events.emit('hit', { key });
  }

  /** Whether `hit` and `miss` emit events: when not, a batch may count its reads at once (`heldReads`). */
  get reportsReads(): boolean {
    return this.events.has('hit') || this.events.has('miss');
  }

  /** `hits` and `misses` answered from memory, counted at once: `hit`/`miss` without the events. */
  heldReads(hits: number, misses: number): void {
    this.counters.hits += hits;
    this.counters.nearHits += hits;
    this.counters.misses += misses;
    this.counters.nearMisses += misses;
  }

  /** `hits` and `misses` answered by Redis, counted at once: `hit`/`miss` without the events. */
  networkReads(hits: number, misses: number): void {
    this.counters.hits += hits;
    this.counters.misses += misses;
  }

  /** A read found no value for `key` (or a stale one); `fromMemory`: the near cache said so. */
  miss(key: string, fromMemory: boolean): void {
    this.counters.misses++;
    if (fromMemory) this.counters.nearMisses++;
    if (this.events.has('miss')) this.events.emit('miss', { key });
  }

  /** Listen to the router's `event` until this cache closes. */
  onRouter<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void {
    this.router.on(event, fn);
    this.#routerListeners.push(() => this.router.off(event, fn));
  }

  /**
   * Close once: every later operation throws CacheClosedError. The router closes with the last
   * open cache that uses it.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.near?.close();
      for (const remove of this.#routerListeners.splice(0)) remove();
      const users = (routerUsers.get(this.router) ?? 1) - 1;
      routerUsers.set(this.router, users);
      this.#closing = users > 0 ? Promise.resolve() : whileClosing(this.router.close());
    }
    return this.#closing;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }
}

/** An error for a debug line: its code and message. */
function describe(err: unknown): string {
  if (err instanceof CacheError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
