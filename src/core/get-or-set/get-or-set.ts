/**
 * getOrSet: the cached value, or the factory's — with grace (stale-while-revalidate), soft and
 * hard timeouts, a per-process and (by default) cross-process single flight, and tags.
 *
 * One call, in order:
 *   1. Per process, concurrent calls for a key share one flight: one read, one production.
 *   2. The leader reads the entry (GET, plus the stamps of its tags in the same round trip when
 *      they are the option's tags). Fresh → done. Stale within grace → the stale value is known
 *      to every caller of the flight; only the leader waits for the refresh.
 *   3. Production. 'local': call the factory. 'distributed': take the fill lock (fill-lock.ts);
 *      the holder calls the factory, stores the value and publishes it; the others wait for that
 *      message (fill-channel.ts), each wait bounded by the lock's remaining PX and the whole by
 *      `lockTimeout`, after which they call the factory themselves. With a stale value at hand a
 *      non-holder does not wait at all: someone else is refreshing, serve stale.
 *   4. Every caller waits for the production within its timeouts (timeouts.ts); stale is served
 *      on a soft timeout, on a hard timeout, on a factory error and on a Redis error, each with a
 *      `stale-served` event naming the reason. Without stale: the factory's error unchanged,
 *      FactoryTimeoutError, or the Redis error.
 *   5. A caller that joined a flight (or got another process's value by message) checks the
 *      value's tags again with stamps read after it started: a value invalidated before the
 *      call started is never its answer; it then takes part in a newer flight.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { ValueCodec } from '../codec.js';
import { assertEnvelopeSupport, decodeEntry, encodeEntry } from '../entries.js';
import type { EntryMeta } from '../envelope.js';
import { ConfigError, FactoryTimeoutError } from '../errors.js';
import type { CacheEventMap, TypedEmitter } from '../events.js';
import type { NearLayer } from '../near.js';
import { toNamedError } from '../redis-errors.js';
import { entryState, isFresh, readStamps, tagStampKey, tagsCurrent, tagsOf, tagVersions } from '../tags.js';
import { parseTtl, type Ttl } from '../ttl.js';
import type { FillChannel } from './fill-channel.js';
import {
  abandonFill,
  acquireFill,
  type FillLock,
  type FillTarget,
  fillToken,
  fingerprint,
  type MigratingSlots,
  readFillMessage,
  releaseFill,
  storeFill,
} from './fill-lock.js';
import {
  type GetOrSetOptions,
  type ResolvedGetOrSetOptions,
  resolveGetOrSetOptions,
  validateTags,
} from './options.js';
import { waitWithTimeouts } from './timeouts.js';

/** What the factory receives. */
export interface FactoryContext<T = unknown> {
  /** The previous value while it is within grace (also when it is being refreshed), else undefined. */
  readonly stale: T | undefined;
  /** Change this value's ttl (adaptive caching), e.g. shorter for an incomplete result. */
  setTtl(ttl: Ttl): void;
  /** Replace the tags stored with this value. */
  setTags(tags: readonly string[]): void;
}

/** What `getOrSet` calls on a miss: returns (or resolves to) the value to store; gets the context to adapt ttl and tags. */
export type Factory<T> = (ctx: FactoryContext<T>) => T | Promise<T>;

/** Why a stale value was served (the `stale-served` event). */
export type StaleReason = 'refreshing' | 'factory-error' | 'timeout' | 'redis-error';

/** What getOrSet needs from the cache; every Redis call goes through `run` (router + policy). */
/**
 * The fill lock's key. The acquire script takes the value key and the lock key together, so on a
 * cluster the lock must live in the value key's hash slot: it then carries the value key's hash
 * tag (its own `{...}`, or the whole key in braces).
 */
function fillLockKey(ctx: GetOrSetContext, redisKey: string): string {
  const plain = `${ctx.prefix}:__lock__:${redisKey}`;
  if (ctx.canCombine([redisKey, plain])) return plain;
  const open = redisKey.indexOf('{');
  const close = open < 0 ? -1 : redisKey.indexOf('}', open + 1);
  const tag = close > open + 1 ? redisKey.slice(open, close + 1) : `{${redisKey}}`;
  return `${ctx.prefix}:__lock__:${tag}:${redisKey}`;
}

export interface GetOrSetContext {
  readonly codec: ValueCodec;
  readonly events: TypedEmitter<CacheEventMap>;
  readonly prefix: string;
  readonly defaultTtl: number | null;
  readonly ignoreErrors: boolean;
  readonly flights: Map<string, Flight>;
  readonly channel: FillChannel;
  /** Runs `fn` on a routed client; throws on failure (counted as an error by the cache). */
  run<R>(
    intent: 'read' | 'write',
    operation: string,
    key: string,
    fn: (client: Redis) => Promise<R>,
  ): Promise<R>;
  /** As run('write'), for a write that changes the Redis key `touched` (the near cache drops it). */
  write<R>(operation: string, key: string, touched: string, fn: (client: Redis) => Promise<R>): Promise<R>;
  /** The near cache, when on: getOrSet's read is answered from it like `get`'s. */
  readonly near: NearLayer | undefined;
  /** Whether one script can take all of `keys` (one hash slot on a cluster). */
  canCombine(keys: readonly string[]): boolean;
  /** The router spreads keys over several masters: stamps are read one key per command (tags.ts). */
  readonly sharded: boolean;
  /** Slots whose fill scripts Redis refused lately (being migrated): shared by the cache's fills. */
  readonly migrating: MigratingSlots;
  /** Failures ignoreErrors may turn into a miss (connection-level). */
  isIgnorable(error: unknown): boolean;
  /** A failure getOrSet recovered from (ignoreErrors, or a store that failed): count it, emit 'error'. */
  ignored(error: unknown, key: string): void;
  /** `fromMemory`: the near cache answered, without Redis (stats().tiers). */
  hit(key: string, fromMemory: boolean): void;
  miss(key: string, fromMemory: boolean): void;
}

/** A value with its envelope: the tags (and their stamps) it can be checked against again. */
interface Entry {
  readonly value: unknown;
  readonly meta: EntryMeta | undefined;
}

/** A production outcome: the fresh value, or "someone else is refreshing" (serve stale). */
type Produced = Entry | typeof BUSY;
const BUSY = Symbol('refreshing elsewhere');

/** A caller's flight gave a value invalidated before the caller could vouch for it: go again. */
const INVALIDATED = Symbol('invalidated before this call');

/** One per key being read/produced in this process. */
export interface Flight {
  /** Settles once the leader has read the entry: the stale value when one is usable. */
  readonly stale: Promise<Entry | undefined>;
  /** The fresh value (read or produced). */
  readonly fresh: Promise<Produced>;
}

/** A Redis failure during production while a stale value is at hand (served instead). */
class RedisFailure extends Error {
  constructor(readonly error: unknown) {
    super('Redis failed during getOrSet');
  }
}

/** How long a waiter sleeps when the lock vanished between two looks (PTTL -2). */
const RECHECK_MS = 20;
/**
 * The longest a waiter relies on pub/sub alone before looking at Redis again: a lost message
 * (a subscriber on a node that was resyncing in a failover) costs at most this, not lockTimeout.
 */
const MAX_WAIT_SLICE_MS = 500;
/** Pause between a waiter's looks while Redis fails (a failover in progress). */
const RETRY_MS = 100;

export async function getOrSet<T>(
  ctx: GetOrSetContext,
  key: string,
  redisKey: string,
  factory: Factory<T>,
  options: GetOrSetOptions | undefined,
): Promise<T> {
  const opts = resolveGetOrSetOptions(options, ctx.defaultTtl);
  if (opts.grace > 0 || opts.tags.length > 0)
    assertEnvelopeSupport(ctx.codec, "getOrSet options 'grace' and 'tags'");
  if (typeof factory !== 'function') throw new ConfigError("getOrSet: option 'factory' must be a function");
  const started = Date.now();
  /** A flight whose value was invalidated before this call could use it: never joined again. */
  let passed: Flight | undefined;
  for (;;) {
    const existing = ctx.flights.get(redisKey);
    const joined = existing !== undefined && existing !== passed ? existing : undefined;
    const flight = joined ?? startFlight(ctx, key, redisKey, factory as Factory<unknown>, opts);
    const answer = await answerFrom(ctx, key, flight, joined !== undefined, opts, started);
    if (answer !== INVALIDATED) return answer as T;
    passed = flight;
  }
}

/**
 * One caller's answer from `flight`. The leader (it started the flight, so the flight's read
 * came after the call began) takes what the flight gives. A joiner may have started after an
 * invalidation the flight's read or production missed: a tagged value is its answer only once
 * stamps read after the join say it is current; else INVALIDATED.
 */
async function answerFrom(
  ctx: GetOrSetContext,
  key: string,
  flight: Flight,
  joined: boolean,
  opts: ResolvedGetOrSetOptions,
  started: number,
): Promise<unknown> {
  let stale = await flight.stale;
  if (stale !== undefined && joined) {
    // Someone is refreshing: serve stale at once if it is still current.
    let current: boolean;
    try {
      current = await stillCurrent(ctx, key, stale.meta, 'read');
    } catch (error) {
      // The leader's read vouched for it and grace covers Redis trouble, as for the leader.
      ctx.ignored(error, key);
      served(ctx, key, 'redis-error');
      return stale.value;
    }
    if (current) {
      served(ctx, key, 'refreshing');
      return stale.value;
    }
    stale = undefined;
  }
  const hardMs =
    opts.hardTimeout === undefined ? undefined : Math.max(0, opts.hardTimeout - (Date.now() - started));
  let waited: Awaited<ReturnType<typeof waitWithTimeouts<Produced>>>;
  try {
    waited = await waitWithTimeouts(flight.fresh, stale === undefined ? undefined : opts.timeout, hardMs);
  } catch (error) {
    if (stale === undefined) throw error instanceof RedisFailure ? error.error : error;
    // The flight reports the error itself ('error' event), once, also when nobody waits any more.
    served(ctx, key, error instanceof RedisFailure ? 'redis-error' : 'factory-error');
    return stale.value;
  }
  if (waited.kind === 'value') {
    const produced = waited.value;
    if (produced === BUSY) {
      // Only a joiner whose stale value was invalidated has none to serve: it needs a fresh fill.
      if (stale === undefined) return INVALIDATED;
      served(ctx, key, 'refreshing');
      return stale.value;
    }
    if (!joined) return produced.value;
    try {
      return (await stillCurrent(ctx, key, produced.meta, 'read')) ? produced.value : INVALIDATED;
    } catch (error) {
      // As a failed read: the Redis error, or with ignoreErrors a miss (this caller fills again).
      if (!ctx.ignoreErrors || !ctx.isIgnorable(error)) throw error;
      ctx.ignored(error, key);
      return INVALIDATED;
    }
  }
  if (stale !== undefined) {
    served(ctx, key, 'timeout');
    return stale.value;
  }
  throw new FactoryTimeoutError(
    `getOrSet: the factory for ${JSON.stringify(key)} did not finish within hardTimeout (${opts.hardTimeout} ms) and no stale value is within grace`,
    key,
    opts.hardTimeout as number,
  );
}

function startFlight(
  ctx: GetOrSetContext,
  key: string,
  redisKey: string,
  factory: Factory<unknown>,
  opts: ResolvedGetOrSetOptions,
): Flight {
  let setStale!: (stale: Entry | undefined) => void;
  const stale = new Promise<Entry | undefined>((resolve) => {
    setStale = resolve;
  });
  const fresh = (async (): Promise<Produced> => {
    let known: Entry | undefined;
    /** The bytes the read found (null: none); undefined when the read failed. */
    let found: Buffer | null | undefined;
    try {
      const read = await readForGetOrSet(ctx, key, redisKey, opts);
      if (read.state === 'fresh') {
        setStale(undefined);
        return { value: read.value, meta: read.meta };
      }
      known = read.state === 'stale' ? { value: read.value, meta: read.meta } : undefined;
      found = read.raw;
    } catch (error) {
      // No stale value to fall back on: it lives in Redis. (With the near cache on, a held entry
      // is read without Redis above; a held stale one is then served on a Redis error during
      // production, reason 'redis-error'.)
      setStale(undefined);
      if (!ctx.ignoreErrors || !ctx.isIgnorable(error)) throw error;
      ctx.ignored(error, key);
    }
    setStale(known);
    return produce(ctx, key, redisKey, factory, opts, known, found);
  })();
  const flight: Flight = { stale, fresh };
  ctx.flights.set(redisKey, flight);
  const done = () => {
    if (ctx.flights.get(redisKey) === flight) ctx.flights.delete(redisKey);
  };
  fresh.then(done, async (error: unknown) => {
    done();
    // With a stale value the error is not thrown at anyone (stale is served instead, maybe
    // long after a soft timeout): report it once as an 'error' event.
    if ((await stale) === undefined) return;
    // A Redis failure as a named error; the factory's own error as it threw it.
    const reported = error instanceof RedisFailure ? toNamedError(error.error) : asError(error);
    ctx.events.emit('error', { error: reported, operation: 'getOrSet', key });
  });
  return flight;
}

/** GET the entry, with the option tags' stamps in the same round trip; classify it. */
async function readForGetOrSet(
  ctx: GetOrSetContext,
  key: string,
  redisKey: string,
  opts: ResolvedGetOrSetOptions,
): Promise<{ state: 'fresh' | 'stale' | 'gone'; raw: Buffer | null; value?: unknown; meta?: EntryMeta }> {
  const near = ctx.near;
  const held = near?.lookup(redisKey);
  const [raw, stamps] =
    held !== undefined && opts.tags.length === 0
      ? [held.value, new Map<string, number>()]
      : await ctx.run('read', 'getOrSet', key, (client) =>
          Promise.all([
            held !== undefined
              ? held.value
              : near !== undefined
                ? near.read(client, redisKey)
                : client.getBuffer(redisKey),
            readStamps(client, ctx.prefix, opts.tags, ctx.sharded),
          ]),
        );
  if (raw === null) {
    ctx.miss(key, held !== undefined);
    return { state: 'gone', raw };
  }
  const { value, meta } = decodeEntry(ctx.codec, raw, key);
  const unknownTags = (meta?.tags ?? []).map(({ tag }) => tag).filter((tag) => !stamps.has(tag));
  if (unknownTags.length > 0) {
    const more = await ctx.run('read', 'getOrSet', key, (client) =>
      readStamps(client, ctx.prefix, unknownTags, ctx.sharded),
    );
    for (const [tag, stamp] of more) stamps.set(tag, stamp);
  }
  const state = entryState(meta, stamps, Date.now(), opts.grace);
  if (state === 'fresh') ctx.hit(key, held !== undefined);
  else ctx.miss(key, held !== undefined);
  return { state, raw, value, meta };
}

/**
 * Produce a fresh value: under the fill lock ('distributed') or directly ('local'). `found` is
 * what the leader's read found (undefined: the read failed), the baseline of a 'local' store.
 */
async function produce(
  ctx: GetOrSetContext,
  key: string,
  redisKey: string,
  factory: Factory<unknown>,
  opts: ResolvedGetOrSetOptions,
  stale: Entry | undefined,
  found: Buffer | null | undefined,
): Promise<Produced> {
  if (opts.lock === 'local') {
    const target = found === undefined ? undefined : { value: redisKey, seen: fingerprint(found) };
    return compute(ctx, key, factory, opts, stale, target);
  }

  const lockKey = fillLockKey(ctx, redisKey);
  const lock: FillLock = {
    key: lockKey,
    token: fillToken(),
    channel: `${ctx.prefix}:__fill__:${redisKey}`,
    ms: opts.lockTimeout,
    split: ctx.migrating.has(lockKey),
    migrating: ctx.migrating,
  };
  /** Where this caller stores if it produces: over `raw`, what the key held when it looked. */
  const fillTarget = (raw: Buffer | null): FillTarget => ({ value: redisKey, lock, seen: fingerprint(raw) });
  // The acquire script reads the tags' stamps too when one script can take their keys with the
  // value and lock keys (always on a single master); on a cluster with tags in other slots,
  // compute() reads them itself, still before the factory runs.
  const tagKeys = opts.tags.map((tag) => tagStampKey(ctx.prefix, tag));
  const stampKeys = ctx.canCombine([redisKey, lockKey, ...tagKeys]) ? tagKeys : [];
  const deadline = Date.now() + opts.lockTimeout;
  let listener: Awaited<ReturnType<FillChannel['listen']>> | undefined;
  /** Someone else holds the lock: Redis errors from now on are retried until the deadline. */
  let waiting = false;
  try {
    for (;;) {
      let got: Awaited<ReturnType<typeof acquireFill>>;
      try {
        // The value too: another process may have refreshed it since our read.
        got = await ctx.run('write', 'getOrSet', key, (client) =>
          acquireFill(client, redisKey, stampKeys, lock),
        );
      } catch (error) {
        if (stale !== undefined) throw new RedisFailure(error);
        if (waiting && ctx.isIgnorable(error) && Date.now() < deadline) {
          // A holder is at work and Redis is failing over under us: its value will land on the
          // new master. Look again shortly rather than failing this caller (bounded by lockTimeout).
          listener?.close();
          listener = undefined;
          await sleep(Math.min(RETRY_MS, deadline - Date.now()));
          continue;
        }
        if (!ctx.ignoreErrors || !ctx.isIgnorable(error)) throw error;
        // Redis is unreachable and errors are ignored: produce without a lock (at worst one extra
        // call); its store, should Redis answer by then, still defers to a holder (fill-lock.ts).
        ctx.ignored(error, key);
        return compute(ctx, key, factory, opts, stale, found === undefined ? undefined : fillTarget(found));
      }
      const filled = got.value === null ? undefined : await usable(ctx, key, got.value);
      if (got.acquired) {
        if (filled !== undefined) {
          await ctx.run('write', 'getOrSet', key, (client) => releaseFill(client, lock)).catch(() => {});
          return filled;
        }
        const stamps =
          stampKeys.length === tagKeys.length
            ? new Map(opts.tags.map((tag, i) => [tag, got.stamps[i] ?? 0] as const))
            : undefined;
        return compute(ctx, key, factory, opts, stale, fillTarget(got.value), true, stamps);
      }
      if (filled !== undefined) return filled;
      if (stale !== undefined) return BUSY;
      waiting = true;
      if (listener === undefined || listener.lost) {
        // Listen first, then look again: a fill published in between is then seen either way.
        // (Again after the subscriber connection dropped, e.g. in a failover.)
        listener?.close();
        listener = await ctx.channel.listen(lock.channel);
        continue;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        // The holder did not deliver within lockTimeout: call the factory ourselves. Its store
        // defers to whoever holds the lock by then (fill-lock.ts).
        return compute(ctx, key, factory, opts, stale, fillTarget(got.value));
      }
      const message = await listener.next(
        Math.min(remaining, MAX_WAIT_SLICE_MS, got.pttl > 0 ? got.pttl + 5 : RECHECK_MS),
      );
      const published = message === undefined ? undefined : readFillMessage(message);
      // Only the holder we saw in the lock: a message of an earlier fill of this key may still
      // be on its way (a cluster's pub/sub crosses the cluster bus). Anything else: look again.
      if (published?.value !== undefined && published.token === got.holder) {
        // Checked like a value read from Redis: its tags may have been invalidated since its
        // factory read their stamps. If so, look again (and fill ourselves).
        const delivered = await usable(ctx, key, published.value);
        if (delivered !== undefined) return delivered;
      }
    }
  } finally {
    listener?.close();
  }
}

/** A value found in Redis or delivered while waiting: usable if fresh and its tags are current. */
async function usable(ctx: GetOrSetContext, key: string, raw: Buffer): Promise<Entry | undefined> {
  const { value, meta } = decodeEntry(ctx.codec, raw, key);
  if (!isFresh(meta, Date.now())) return undefined;
  return (await stillCurrent(ctx, key, meta, 'write')) ? { value, meta } : undefined;
}

/** Are `meta`'s tags still current, by stamps read now? (No tags: nothing to read.) */
async function stillCurrent(
  ctx: GetOrSetContext,
  key: string,
  meta: EntryMeta | undefined,
  intent: 'read' | 'write',
): Promise<boolean> {
  const tags = tagsOf(meta).map(({ tag }) => tag);
  if (tags.length === 0) return true;
  const stamps = await ctx.run(intent, 'getOrSet', key, (client) =>
    readStamps(client, ctx.prefix, tags, ctx.sharded),
  );
  return tagsCurrent(meta, stamps);
}

/**
 * Run the factory and store its value under `target` (fill-lock.ts: never over a value stored
 * since `target.seen`, nor while another fill holds the lock); undefined `target`: what the key
 * held is unknown, nothing is stored. `holding`: this caller holds `target.lock` (on failure it
 * gives the lock up at once).
 */
async function compute(
  ctx: GetOrSetContext,
  key: string,
  factory: Factory<unknown>,
  opts: ResolvedGetOrSetOptions,
  stale: Entry | undefined,
  target: FillTarget | undefined,
  holding = false,
  knownStamps?: Map<string, number>,
): Promise<Entry> {
  const lock = holding ? target?.lock : undefined;
  let ttl = opts.ttl;
  let tags = opts.tags;
  let stamps = knownStamps;
  if (stamps === undefined && tags.length > 0) {
    // Stamps are read before the factory runs: an invalidation during the factory wins.
    stamps = await ctx
      .run('write', 'getOrSet', key, (client) => readStamps(client, ctx.prefix, tags, ctx.sharded))
      .catch(() => new Map<string, number>());
  }
  const factoryCtx: FactoryContext = {
    stale: stale?.value,
    setTtl(value) {
      ttl = parseTtl(value, 'setTtl');
    },
    setTags(value) {
      tags = validateTags(value, 'setTags');
    },
  };
  let value: unknown;
  let encoded: Buffer | string;
  let meta: EntryMeta | undefined;
  try {
    value = await factory(factoryCtx);
    if (value === undefined) {
      throw new ConfigError(
        `getOrSet: the factory for ${JSON.stringify(key)} returned undefined (option 'factory'); return null to cache "nothing"`,
      );
    }
    const missing = tags.filter((tag) => !stamps?.has(tag));
    if (missing.length > 0) {
      const more = await ctx.run('write', 'getOrSet', key, (client) =>
        readStamps(client, ctx.prefix, missing, ctx.sharded),
      );
      stamps = new Map([...(stamps ?? []), ...more]);
    }
    const now = Date.now();
    meta =
      opts.grace > 0 || tags.length > 0
        ? { staleAt: ttl === null ? 0 : now + ttl, tags: tagVersions(tags, stamps ?? new Map()) }
        : undefined;
    encoded = encodeEntry(ctx.codec, value, meta);
  } catch (error) {
    if (lock !== undefined) {
      await ctx.run('write', 'getOrSet', key, (client) => abandonFill(client, lock)).catch(() => {});
    }
    throw error;
  }
  if (target === undefined || (ttl !== null && ttl <= 0)) {
    // "Expire now" (or nowhere safe to store): wake the waiters to read (and produce) for themselves.
    if (lock !== undefined) {
      await ctx.run('write', 'getOrSet', key, (client) => abandonFill(client, lock)).catch(() => {});
    }
    return { value, meta };
  }
  const px = ttl === null ? null : ttl + opts.grace;
  try {
    // Refused when a newer fill (or a set) got there first: its value stays; ours goes to our callers.
    await ctx.write('getOrSet', key, target.value, (client) => storeFill(client, target, encoded, px));
  } catch (error) {
    // The value is good even if Redis could not keep it: hand it out, report the failure.
    ctx.ignored(error, key);
  }
  return { value, meta };
}

function served(ctx: GetOrSetContext, key: string, reason: StaleReason): void {
  if (ctx.events.has('stale-served')) ctx.events.emit('stale-served', { key, reason });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
