import type { DecodedEntry } from '../codec.js';
import { decodeEntry, encodeEntry } from '../entries.js';
import type { EntryMeta } from '../envelope.js';
import { ConfigError } from '../errors.js';
import { NULL, ZERO } from '../executor.js';
import type { NearEntry, NearLayer } from '../near.js';
import type { Ttl } from '../ttl.js';
import { type CommandContext, type KeyOptions, redisKeyOf, ttlOf } from './context.js';
import { Enveloped, heldValue } from './held.js';
import { currentEntries, type EnvelopeOptions, envelopeFor, graceOf } from './tagged.js';

/** Single values: GET and SET (with NX/XX/PX; grace and tags through the entry envelope). */

export interface SetOptions extends KeyOptions, EnvelopeOptions {
  /**
   * Milliseconds (`60` is 60 ms, not a minute), or '30s', '5m', ..., or null for no expiry;
   * default: `defaultTtl`. 0 or less deletes the key.
   */
  ttl?: Ttl;
  /** Only write if the key does not exist. */
  nx?: boolean;
  /** Only write if the key exists. */
  xx?: boolean;
}

/**
 * `get` and `set` are the per-operation hot path: written with promise handlers instead of as
 * async functions, whose suspended frames were the largest garbage per operation (GC pauses
 * make a single caller's p99.9; docs/design.md, performance notes). With the near cache on, a
 * held entry is answered synchronously (one resolved promise, no async frames), which is most
 * of what a hit costs. Same contract: every failure, also a synchronous one (a bad key), is a
 * rejection.
 */
export function get<T>(ctx: CommandContext, key: string, options?: KeyOptions): Promise<T | undefined> {
  let redisKey: string;
  try {
    redisKey = redisKeyOf(ctx, key, options);
  } catch (error) {
    return Promise.reject(error);
  }
  const near = ctx.executor.near;
  if (near === undefined) {
    return ctx.executor.runThen(
      'read',
      'get',
      key,
      NULL,
      (client) => client.getBuffer(redisKey),
      (raw) => answerOf<T>(ctx, key, raw),
    );
  }
  const held = near.lookup(redisKey);
  if (held === undefined) return nearMissGet<T>(ctx, near, key, redisKey);
  try {
    return near.answer(fromHeld<T>(ctx, key, held));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What `get` answers for GET's reply: a miss, or the decoded (and, with an envelope, checked) value. */
function answerOf<T>(
  ctx: CommandContext,
  key: string,
  raw: Buffer | null,
): T | undefined | Promise<T | undefined> {
  return raw === null
    ? missed(ctx, key, false)
    : checked<T>(ctx, key, decodeEntry(ctx.codec, raw, key), false);
}

/** `fromMemory`: the near cache answered (stats().tiers). */
function missed(ctx: CommandContext, key: string, fromMemory: boolean): undefined {
  ctx.executor.miss(key, fromMemory);
  return undefined;
}

/**
 * A stored value as `get` answers it: an entry with an envelope only while fresh and its tags
 * current. Synchronous for a plain entry (the common hit adds no promise of its own).
 */
function checked<T>(
  ctx: CommandContext,
  key: string,
  entry: DecodedEntry,
  fromMemory: boolean,
): T | undefined | Promise<T | undefined> {
  if (entry.meta !== undefined) return checkedEnvelope<T>(ctx, key, entry.value, entry.meta, fromMemory);
  ctx.executor.hit(key, fromMemory);
  return entry.value as T;
}

async function checkedEnvelope<T>(
  ctx: CommandContext,
  key: string,
  value: unknown,
  meta: EntryMeta,
  fromMemory: boolean,
): Promise<T | undefined> {
  if (!(await currentEntries(ctx, [meta], 'get', key))[0]) return missed(ctx, key, fromMemory);
  ctx.executor.hit(key, fromMemory);
  return value as T;
}

/** A held near-cache entry as `get` answers it (a promise only for an entry with an envelope). */
function fromHeld<T>(
  ctx: CommandContext,
  key: string,
  held: NearEntry,
): T | undefined | Promise<T | undefined> {
  if (held.value === null) return missed(ctx, key, true);
  const value = heldValue(ctx, key, held, held.value);
  if (value instanceof Enveloped) return checked<T>(ctx, key, value.entry, true);
  ctx.executor.hit(key, true);
  return value as T;
}

/** Not held: GET + PTTL through the near cache, which keeps the reply when it is safe to. */
function nearMissGet<T>(
  ctx: CommandContext,
  near: NearLayer,
  key: string,
  redisKey: string,
): Promise<T | undefined> {
  return ctx.executor.runThen(
    'read',
    'get',
    key,
    NULL,
    (client) => near.read(client, redisKey),
    (raw) => answerOf<T>(ctx, key, raw),
  );
}

export function set(
  ctx: CommandContext,
  key: string,
  value: unknown,
  options?: SetOptions,
): Promise<boolean> {
  try {
    const redisKey = redisKeyOf(ctx, key, options);
    const ttl = ttlOf(ctx, options?.ttl);
    const nx = options?.nx === true;
    const xx = options?.xx === true;
    if (nx && xx) throw new ConfigError('set: nx and xx cannot both be true');
    // Encode before any write: a value the serializer refuses means nothing is written.
    const envelope = envelopeFor(ctx, ttl, options, key);
    if (envelope !== undefined) {
      return envelope.then((meta) => setEntry(ctx, key, redisKey, value, ttl, nx, xx, options, meta));
    }
    return setEntry(ctx, key, redisKey, value, ttl, nx, xx, options, undefined);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** set, once the envelope (if any) is known. Throws synchronously for a value it cannot encode. */
function setEntry(
  ctx: CommandContext,
  key: string,
  redisKey: string,
  value: unknown,
  ttl: number | null,
  nx: boolean,
  xx: boolean,
  options: SetOptions | undefined,
  meta: EntryMeta | undefined,
): Promise<boolean> {
  const encoded = encodeEntry(ctx.codec, value, meta);
  // Redis keeps an entry with an envelope for ttl + grace (getOrSet may serve it stale).
  const px = ttl === null || meta === undefined ? ttl : ttl + graceOf(options);
  if (ttl !== null && ttl <= 0) {
    // Expire now. With nx an existing key must survive (django-redis semantics); a missing
    // one would be expired at once: nothing to do either way.
    if (nx) return Promise.resolve(false);
    return ctx.executor.writeThen('set', key, ZERO, redisKey, (client) => client.del(redisKey), FALSE);
  }
  return ctx.executor.writeThen(
    'set',
    key,
    NULL,
    redisKey,
    (client) => {
      if (px === null) {
        if (nx) return client.set(redisKey, encoded, 'NX');
        if (xx) return client.set(redisKey, encoded, 'XX');
        return client.set(redisKey, encoded);
      }
      if (nx) return client.set(redisKey, encoded, 'PX', px, 'NX');
      if (xx) return client.set(redisKey, encoded, 'PX', px, 'XX');
      return client.set(redisKey, encoded, 'PX', px);
    },
    IS_OK,
  );
}

const FALSE = (): boolean => false;
const IS_OK = (reply: unknown): boolean => reply === 'OK';
