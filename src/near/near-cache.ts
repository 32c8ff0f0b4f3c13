import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { debug, debugEnabled } from '../core/debug.js';
import { ConfigError } from '../core/errors.js';
import type {
  FlushReason,
  NearCacheSink,
  NearCacheStats,
  NearEntry,
  NearLayer,
  NearLayerFactory,
} from '../core/near.js';
import { PTTLS } from '../core/scripts.js';
import { SpinGuard } from '../core/spin-guard.js';
import { type ResolvedNearCacheOptions, resolveNearCacheOptions } from './options.js';
import { ReadGuard } from './read-guard.js';
import { NearStore } from './store.js';
import { type TrackableRouter, Tracking, type TrackingListener } from './tracking.js';

/** The router as the near cache sees it. */
export interface NearRouter extends TrackableRouter {
  on(event: 'failover' | 'topology-change' | 'rollback', fn: () => void): void;
  off(event: 'failover' | 'topology-change' | 'rollback', fn: () => void): void;
  /** Present on a router over several masters (Router.groupKeys). */
  groupKeys?(keys: readonly string[]): number[][];
}

const NO_KEYS: readonly string[] = [];

/** PTTL replies: -2 no such key, -1 no expiry. */
const NO_KEY = -2;
const NO_EXPIRY = -1;
/** Hits between two looks at the clock for a spinning caller (a power of two): keeps the look off most hits. */
const SPIN_CHECK = 1024;

/**
 * The near cache: recently read values held in memory (NearStore), trusted only while Redis
 * promises to tell us when they change (Tracking), and never stored from a read that raced
 * with a change (ReadGuard).
 *
 * The cache calls `lookup` before a read and, on a miss, runs `read`/`readMany` on the client
 * the router chose; its own writes run through `ownWrite`, which drops the local entries before
 * the command is sent and again when it is answered. Values are held encoded; only immutable
 * decoded values (strings, numbers) are kept next to them (NearEntry.decoded), so a caller can
 * never change what another caller gets.
 */
export class NearCache implements NearLayer {
  readonly #options: ResolvedNearCacheOptions;
  readonly #store: NearStore;
  readonly #guard = new ReadGuard();
  readonly #broadcastPrefix: string;
  readonly #sink: NearCacheSink;
  /** What the router's tracking (shared with the other near caches on it) tells this cache. */
  readonly #listener: TrackingListener;
  #tracking: Tracking | undefined;
  #detach: (() => void) | undefined;
  #enabled = true;
  /** False on a router over several masters: see `attach`. */
  #holdsAbsent = true;
  #hits = 0;
  #misses = 0;
  #invalidations = 0;
  #flushes = 0;
  /** A caller spinning on held keys must let the event loop turn (see `answer`). */
  readonly #spin = new SpinGuard();

  constructor(options: ResolvedNearCacheOptions, broadcastPrefix: string, sink: NearCacheSink) {
    this.#options = options;
    this.#broadcastPrefix = broadcastPrefix;
    this.#sink = sink;
    this.#store = new NearStore(options);
    this.#listener = {
      keys: (keys) => {
        for (const key of keys) this.#invalidate(key);
      },
      spoil: (key) => this.#guard.invalidate(key),
      flush: (reason) => this.flush(reason),
      error: (error) => sink.error(error),
      unsupported: (error) => this.#disable(error),
    };
  }

  /**
   * Hook into `router`'s data connections (through its tracking, shared with the router's other
   * near caches) and failover signals. Throws ConfigError when this cache's mode cannot share
   * the router's tracking.
   */
  attach(router: NearRouter): void {
    const tracking = Tracking.join(
      router,
      { mode: this.#options.mode, prefix: this.#broadcastPrefix },
      this.#listener,
    );
    this.#tracking = tracking;
    if (tracking.unusable !== undefined) {
      this.#disable(tracking.unusable);
      return;
    }
    // A "no such key" is vouched for by its owner's tracking only while that node owns the key:
    // a cluster slot can move to another master without this process hearing of it (nothing is
    // sent for a held key), and the new owner never saw the read. Keys that exist are safe (the
    // move deletes them from the old owner, which invalidates them).
    this.#holdsAbsent = typeof router.groupKeys !== 'function';
    const onFailover = () => this.flush('failover');
    const onTopology = () => this.flush('topology-change');
    // Held values may be writes the rollback took back, and no invalidation will come for them
    // (the promoted node never saw those writes): drop them, also when no failover was announced
    // (a master restarted empty under the same address).
    const onRollback = () => this.flush('rollback');
    router.on('failover', onFailover);
    router.on('topology-change', onTopology);
    router.on('rollback', onRollback);
    this.#detach = () => {
      router.off('failover', onFailover);
      router.off('topology-change', onTopology);
      router.off('rollback', onRollback);
    };
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** The held entry for `key` (counted as a hit), or undefined (counted as a miss). */
  lookup(key: string, now = performance.now()): NearEntry | undefined {
    if (!this.#enabled) return undefined;
    const entry = this.#store.get(key, now);
    if (entry === undefined) {
      this.#misses++;
      return entry;
    }
    // Every SPIN_CHECK hits: is a caller spinning on held keys, starving the event loop?
    if ((++this.#hits & (SPIN_CHECK - 1)) === 0) this.#spin.check(now);
    return entry;
  }

  /**
   * The promise a read answered from memory resolves through: at once, or, when hits have kept
   * the event loop from turning for over MAX_SPIN_MS (core/spin-guard.ts), after it turned, so
   * the invalidations that arrived meanwhile are applied before the caller's next read.
   */
  answer<T>(value: T | PromiseLike<T>): Promise<T> {
    return this.#spin.resolve(value);
  }

  /** GET (with PTTL in the same round trip) on `client`; keeps the reply when it is safe to. */
  async read(client: Redis, key: string): Promise<Buffer | null> {
    const tracking = this.#tracking;
    const ticket = this.#enabled && tracking !== undefined ? tracking.ticket(client) : -1;
    if (ticket < 0) return client.getBuffer(key);
    const pending = this.#guard.begin(key);
    const sentAt = performance.now();
    let value: Buffer | null;
    let pttl: number;
    try {
      [value, pttl] = await Promise.all([client.getBuffer(key), client.pttl(key)]);
    } finally {
      // Always end the pending read, even on failure; whether to keep is decided below.
      pending.spoiled ||= !this.#guard.end(pending);
    }
    if (!pending.spoiled && tracking?.stillValid(client, ticket) === true)
      this.#keep(key, value, pttl, sentAt);
    return value;
  }

  /** MGET with the PTTLs of its keys (one script) in the same round trip on `client`; keeps what is safe to. */
  async readMany(client: Redis, keys: string[]): Promise<Array<Buffer | null>> {
    const tracking = this.#tracking;
    const ticket = this.#enabled && tracking !== undefined ? tracking.ticket(client) : -1;
    if (ticket < 0) return client.mgetBuffer(...keys);
    const pendings = keys.map((key) => this.#guard.begin(key));
    const sentAt = performance.now();
    let values: Array<Buffer | null>;
    let pttls: number[];
    try {
      // MGET and one script of PTTLs (PTTLS), not a PTTL per key: ioredis writes each command on
      // its own, which cost a partly held batch of 100 keys about twice the client CPU.
      const [v, t] = await Promise.all([client.mgetBuffer(...keys), PTTLS.run(client, NO_KEYS, keys)]);
      values = v;
      pttls = t as number[];
    } finally {
      for (const p of pendings) p.spoiled ||= !this.#guard.end(p);
    }
    if (tracking?.stillValid(client, ticket) === true) {
      for (let i = 0; i < keys.length; i++) {
        if (!(pendings[i] as { spoiled: boolean }).spoiled) {
          this.#keep(keys[i] as string, values[i] ?? null, pttls[i] as number, sentAt);
        }
      }
    }
    return values;
  }

  /** `fn` (a write of ours to `keys`) wrapped so it drops their entries before it is sent and once answered. */
  ownWrite<T>(
    keys: string | readonly string[],
    fn: (client: Redis) => Promise<T>,
  ): (client: Redis) => Promise<T> {
    return async (client) => {
      if (typeof keys === 'string') this.beginWrite(keys);
      else for (const key of keys) this.beginWrite(key);
      try {
        return await fn(client);
      } finally {
        if (typeof keys === 'string') this.endWrite(keys);
        else for (const key of keys) this.endWrite(key);
      }
    };
  }

  /** One of our writes to `key` is about to be sent. */
  beginWrite(key: string): void {
    if (!this.#enabled) return;
    this.#guard.beginWrite(key);
    if (this.#store.delete(key)) this.#invalidations++;
  }

  /** One of our writes to `key` was answered (or failed): the next read goes to Redis. */
  endWrite(key: string): void {
    if (!this.#enabled) return;
    this.#guard.endWrite(key);
    if (this.#store.delete(key)) this.#invalidations++;
  }

  /** Drop everything held; reads in flight keep nothing. */
  flush(reason: FlushReason): void {
    const dropped = this.#store.entries;
    this.#guard.flush();
    this.#store.clear();
    if (!this.#enabled) return;
    if (debugEnabled) debug('near cache: flushed (%s), %d entries dropped', reason, dropped);
    this.#flushes++;
    this.#sink.flushed(reason);
  }

  stats(): NearCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      entries: this.#store.entries,
      bytes: this.#store.bytes,
      invalidations: this.#invalidations,
      flushes: this.#flushes,
      enabled: this.#enabled,
    };
  }

  close(): void {
    this.#detach?.();
    this.#detach = undefined;
    this.#tracking?.leave(this.#listener);
    this.#guard.flush();
    this.#store.clear();
  }

  #invalidate(key: string): void {
    this.#guard.invalidate(key);
    if (this.#store.delete(key)) this.#invalidations++;
  }

  #keep(key: string, value: Buffer | null, pttl: number, sentAt: number): void {
    // A reply that contradicts itself (the key vanished or appeared between GET and PTTL,
    // or expires now) is not worth keeping: an invalidation is on its way anyway.
    if (pttl === NO_KEY ? value !== null : value === null || (pttl !== NO_EXPIRY && pttl <= 0)) return;
    if (value === null && !this.#holdsAbsent) return;
    // Counted from when the read was sent, not when it came back: the key's expiry on the
    // server is at least that far away, so the entry never outlives it.
    const ttl = pttl >= 0 ? Math.min(pttl, this.#options.ttlMs) : this.#options.ttlMs;
    this.#store.set(key, { value, expiresAt: sentAt + ttl });
  }

  #disable(error: Error): void {
    if (!this.#enabled) return;
    if (debugEnabled) debug('near cache: turned off (%s)', error.message);
    this.#enabled = false;
    this.#guard.flush();
    this.#store.clear();
    this.#tracking?.leave(this.#listener);
    this.#sink.error(error);
  }
}

/** The NearLayerFactory the package entry gives to core's createCache. */
export const createNearLayer: NearLayerFactory = (options, { router, broadcastPrefix, sink }) => {
  const resolved = resolveNearCacheOptions(options);
  if (resolved === undefined) throw new ConfigError("Option 'nearCache' is off: nothing to build");
  const near = new NearCache(resolved, broadcastPrefix, sink);
  near.attach(router);
  return near;
};
