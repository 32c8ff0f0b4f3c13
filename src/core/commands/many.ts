import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { BATCH_SIZE, chunks, eachKey, failedPart, type Progress, progress } from '../batch.js';
import { decodeEntry, encodeArg } from '../entries.js';
import { ConfigError } from '../errors.js';
import { EMPTY_ARRAY, UNDEFINED, ZERO } from '../executor.js';
import { iterableKeys, versionOf } from '../keys.js';
import type { NearLayer } from '../near.js';
import { SET_MANY_PX } from '../scripts.js';
import type { Ttl } from '../ttl.js';
import { type CommandContext, type KeyOptions, ttlOf } from './context.js';
import { Enveloped, heldValue } from './held.js';
import { currentEntries } from './tagged.js';

/**
 * Many keys at once: MGET, MSET (with a TTL: one script of SET PX), DEL — in chunks of BATCH_SIZE (batch.ts). On a
 * router with several masters (`groupKeys`), each chunk is one group of single-key commands per
 * node, issued in one tick (one round trip per node, each command redirected on its own while a
 * cluster slot moves: eachKey), the nodes in parallel.
 */

export interface SetManyOptions extends KeyOptions {
  /** Milliseconds (not seconds), or '30s', '5m', ..., or null for no expiry; default: `defaultTtl`. */
  ttl?: Ttl;
}

export type Entries = Map<string, unknown> | Iterable<readonly [string, unknown]> | Record<string, unknown>;

function entriesOf(entries: Entries): Iterable<readonly [string, unknown]> {
  if (entries instanceof Map) return entries;
  if (typeof entries !== 'object' || entries === null) {
    // A string is iterable: it would be taken for entries named after its characters.
    throw new ConfigError('setMany: entries must be a Map, an iterable of [key, value] pairs or an object');
  }
  if (typeof (entries as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return entries as Iterable<readonly [string, unknown]>;
  }
  return Object.entries(entries as Record<string, unknown>);
}

/** A key of the batch with no value to answer (a miss, or an entry no longer current). */
const MISSING: unique symbol = Symbol('missing');

/**
 * MGET in chunks of BATCH_SIZE keys. With ignoreErrors, the keys of a chunk that failed are
 * misses (a miss is always an honest answer for a read); without, the failure is thrown.
 * With the near cache on, held keys are answered from memory and only the others are read;
 * when every key is held the answer is assembled synchronously (nearGetMany).
 */
export function getMany<T>(
  ctx: CommandContext,
  keys: Iterable<string>,
  options?: KeyOptions,
): Promise<Map<string, T>> {
  let userKeys: string[];
  let redisKeys: string[];
  try {
    userKeys = Array.isArray(keys) ? (keys as string[]) : [...iterableKeys(keys)];
    if (userKeys.length === 0) return Promise.resolve(new Map<string, T>());
    redisKeys = ctx.keys.buildAll(userKeys, versionOf(options, ctx.version));
  } catch (error) {
    return Promise.reject(error);
  }
  const near = ctx.executor.near;
  if (near?.enabled === true) return nearGetMany<T>(ctx, near, userKeys, redisKeys);
  return networkGetMany<T>(ctx, userKeys, redisKeys);
}

async function networkGetMany<T>(
  ctx: CommandContext,
  userKeys: string[],
  redisKeys: string[],
): Promise<Map<string, T>> {
  const result = new Map<string, T>();
  for (let from = 0; from < redisKeys.length; from += BATCH_SIZE) {
    // One chunk (the usual case) is the key list itself: no copy.
    const chunk = redisKeys.length <= BATCH_SIZE ? redisKeys : redisKeys.slice(from, from + BATCH_SIZE);
    const groups = ctx.executor.groupKeys(chunk);
    const raws =
      groups !== undefined
        ? await getGrouped(ctx, chunk, groups)
        : await ctx.executor.run('read', 'getMany', undefined, EMPTY_ARRAY, (client) =>
            client.mgetBuffer(chunk),
          );
    const values = new Array<unknown>(chunk.length);
    let enveloped = false;
    for (let i = 0; i < chunk.length; i++) {
      const raw = raws[i];
      values[i] =
        raw === null || raw === undefined ? MISSING : storedValue(ctx, raw, userKeys[from + i] as string);
      if (values[i] instanceof Enveloped) enveloped = true;
    }
    if (enveloped) await checkEnveloped(ctx, values);
    answer(ctx, userKeys, from, values, undefined, result);
  }
  return result;
}

/** A stored value as decoded, or `Enveloped` for an entry whose envelope must be checked. */
function storedValue(ctx: CommandContext, raw: Buffer, key: string): unknown {
  const entry = decodeEntry(ctx.codec, raw, key);
  return entry.meta === undefined ? entry.value : new Enveloped(entry);
}

/**
 * Entries with an envelope count only while fresh and untouched by invalidateTags (one MGET of
 * their tags' stamps for all of them): each `Enveloped` in `values` becomes its value or MISSING.
 */
async function checkEnveloped(ctx: CommandContext, values: unknown[]): Promise<void> {
  const metas = values.map((value) => (value instanceof Enveloped ? value.entry.meta : undefined));
  const current = await currentEntries(ctx, metas, 'getMany');
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value instanceof Enveloped) values[i] = current[i] ? value.entry.value : MISSING;
  }
}

/** Count and add to `result` the answers for `userKeys[from + i]`, `values[i]`, in key order. */
function answer<T>(
  ctx: CommandContext,
  userKeys: readonly string[],
  from: number,
  values: readonly unknown[],
  fromMemory: Uint8Array | undefined,
  result: Map<string, T>,
): void {
  const executor = ctx.executor;
  if (fromMemory === undefined && !executor.reportsReads) {
    // Nobody listens to hit/miss: count the batch once.
    let misses = 0;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value === MISSING) misses++;
      else result.set(userKeys[from + i] as string, value as T);
    }
    executor.networkReads(values.length - misses, misses);
    return;
  }
  for (let i = 0; i < values.length; i++) {
    const key = userKeys[from + i] as string;
    const value = values[i];
    const held = fromMemory !== undefined && fromMemory[i] === 1;
    if (value === MISSING) executor.miss(key, held);
    else {
      executor.hit(key, held);
      result.set(key, value as T);
    }
  }
}

/**
 * GET of every key, one read per group (node), the groups in parallel; the replies in key order.
 * Each GET is a command of its own, the group's all issued in one tick (eachKey: one round trip
 * per node, every key redirected on its own while its slot moves). A group that fails under
 * ignoreErrors leaves its keys missing (misses), the others count.
 */
async function getGrouped(
  ctx: CommandContext,
  redisKeys: readonly string[],
  groups: number[][],
): Promise<(Buffer | null)[]> {
  const raws = new Array<Buffer | null>(redisKeys.length).fill(null);
  await Promise.all(
    groups.map(async (group) => {
      const values = await ctx.executor.run('read', 'getMany', undefined, EMPTY_ARRAY, (client) =>
        eachKey(group, (i) => client.getBuffer(redisKeys[i] as string)),
      );
      values.forEach((raw, j) => {
        raws[group[j] as number] = raw;
      });
    }),
  );
  return raws;
}

/**
 * getMany through the near cache. While every key is held, the answer is built synchronously
 * from the held entries, reusing their kept decoded values (heldValue): no promise of its own
 * but the one `near.answer` resolves through (which yields to the event loop when hits have
 * kept it from turning too long, so invalidations get in). The first key that is not held, or
 * held with an envelope to check, hands the rest of the batch to `nearGetRest`.
 */
function nearGetMany<T>(
  ctx: CommandContext,
  near: NearLayer,
  userKeys: string[],
  redisKeys: string[],
): Promise<Map<string, T>> {
  const result = new Map<string, T>();
  // One clock read for the batch (a clock read costs as much as a lookup): the answer is what
  // was held when the call started.
  const now = performance.now();
  const executor = ctx.executor;
  // Without 'hit'/'miss' listeners the held reads are counted once for the batch, not per key.
  const perKey = executor.reportsReads;
  let hits = 0;
  let misses = 0;
  try {
    for (let i = 0; i < redisKeys.length; i++) {
      const held = near.lookup(redisKeys[i] as string, now);
      let value: unknown;
      if (held !== undefined) {
        value = held.value === null ? MISSING : heldValue(ctx, userKeys[i] as string, held, held.value);
      }
      if (held === undefined || value instanceof Enveloped) {
        executor.heldReads(hits, misses);
        const first = value as Enveloped | undefined;
        return nearGetRest(ctx, near, userKeys, redisKeys, i, first, result, now);
      }
      const key = userKeys[i] as string;
      if (value === MISSING) {
        if (perKey) executor.miss(key, true);
        else misses++;
      } else {
        if (perKey) executor.hit(key, true);
        else hits++;
        result.set(key, value as T);
      }
    }
  } catch (error) {
    executor.heldReads(hits, misses);
    return Promise.reject(error);
  }
  executor.heldReads(hits, misses);
  return near.answer(result);
}

/**
 * The keys of a near-cache getMany from `from` on (`first`: the value of key `from` when it was
 * held, with an envelope): the held ones from memory, the others read in one MGET per chunk of
 * BATCH_SIZE (with their PTTLs, through the near cache, which keeps what is safe to; on a router
 * with several masters one read per key in the same tick: keys of several slots cannot share an
 * MGET). Answers are added to `result` in key order.
 */
async function nearGetRest<T>(
  ctx: CommandContext,
  near: NearLayer,
  userKeys: string[],
  redisKeys: string[],
  from: number,
  first: Enveloped | undefined,
  result: Map<string, T>,
  now: number,
): Promise<Map<string, T>> {
  const count = redisKeys.length - from;
  const values = new Array<unknown>(count).fill(MISSING);
  const fromMemory = new Uint8Array(count);
  const missing: number[] = [];
  let enveloped = first !== undefined;
  for (let j = 0; j < count; j++) {
    const held = j === 0 && first !== undefined ? first : near.lookup(redisKeys[from + j] as string, now);
    if (held === undefined) {
      missing.push(j);
      continue;
    }
    fromMemory[j] = 1;
    if (held instanceof Enveloped) values[j] = held;
    else if (held.value !== null) {
      values[j] = heldValue(ctx, userKeys[from + j] as string, held, held.value);
      if (values[j] instanceof Enveloped) enveloped = true;
    }
  }
  for (let m = 0; m < missing.length; m += BATCH_SIZE) {
    const indexes = missing.length <= BATCH_SIZE ? missing : missing.slice(m, m + BATCH_SIZE);
    const keys = indexes.map((j) => redisKeys[from + j] as string);
    const perKey = ctx.executor.groupKeys(keys) !== undefined;
    const fetched = await ctx.executor.run('read', 'getMany', undefined, EMPTY_ARRAY, (client) =>
      perKey ? Promise.all(keys.map((key) => near.read(client, key))) : near.readMany(client, keys),
    );
    // ignoreErrors turned a failure into []: every key of the chunk reads as a miss.
    for (let k = 0; k < fetched.length; k++) {
      const raw = fetched[k];
      if (raw === null || raw === undefined) continue;
      const j = indexes[k] as number;
      values[j] = storedValue(ctx, raw, userKeys[from + j] as string);
      if (values[j] instanceof Enveloped) enveloped = true;
    }
  }
  if (enveloped) await checkEnveloped(ctx, values);
  answer(ctx, userKeys, from, values, fromMemory, result);
  return result;
}

/**
 * Every entry written, in chunks of at most BATCH_SIZE, one chunk after the other; every value
 * is encoded before anything is sent. On a single-node router a chunk is one command: MSET, or
 * with a TTL the SET_MANY_PX script (SET PX of each key in one EVALSHA: MSET carries no TTL),
 * so each chunk is written whole or not at all. On a router with several masters, one SET [PX]
 * per key per node group (eachKey). A failure after a chunk was written is an IncompleteError
 * (with how many keys were written), also under ignoreErrors.
 */
export async function setMany(
  ctx: CommandContext,
  entries: Entries,
  options?: SetManyOptions,
): Promise<void> {
  const version = versionOf(options, ctx.version);
  const ttl = ttlOf(ctx, options?.ttl);
  const redisKeys: string[] = [];
  const values: Array<Buffer | string> = [];
  for (const [key, value] of entriesOf(entries)) {
    redisKeys.push(ctx.keys.build(key, version));
    values.push(encodeArg(ctx.codec, value));
    // Every value is encoded before anything is written (a value the serializer refuses means
    // nothing is written), but a huge batch must not stall the event loop while it encodes:
    // replies to other operations in flight would wait, and their command timeouts fire.
    if (values.length % BATCH_SIZE === 0) await yieldToEventLoop();
  }
  if (redisKeys.length === 0) return;
  if (ttl !== null && ttl <= 0) {
    await deleteChunks(ctx, 'setMany', redisKeys);
    return;
  }
  const done = progress();
  try {
    for (let from = 0; from < redisKeys.length; from += BATCH_SIZE) {
      const whole = redisKeys.length <= BATCH_SIZE;
      const chunk = whole ? redisKeys : redisKeys.slice(from, from + BATCH_SIZE);
      const groups = ctx.executor.groupKeys(chunk);
      if (groups === undefined) {
        const chunkValues = whole ? values : values.slice(from, from + BATCH_SIZE);
        await ctx.executor.write('setMany', undefined, null, chunk, (client) =>
          writeChunk(client, chunk, chunkValues, ttl),
        );
        done.completed += chunk.length;
        done.steps++;
        continue;
      }
      await inGroups(chunk, groups, done, (keys, indexes) =>
        ctx.executor.write('setMany', undefined, null, keys, async (client) => {
          await eachKey(indexes, (j) => {
            const i = from + j;
            const value = values[i] as Buffer | string;
            return ttl === null
              ? client.set(redisKeys[i] as string, value)
              : client.set(redisKeys[i] as string, value, 'PX', ttl);
          });
          return keys.length;
        }),
      );
    }
  } catch (err) {
    failedPart(ctx.executor, err, 'setMany', undefined, done, UNDEFINED);
  }
}

/** One chunk of setMany on a single node, as one command (see setMany). */
function writeChunk(
  client: Redis,
  keys: readonly string[],
  values: ReadonlyArray<Buffer | string>,
  ttl: number | null,
): Promise<unknown> {
  if (ttl === null) {
    const args = new Array<Buffer | string>(keys.length * 2);
    for (let i = 0; i < keys.length; i++) {
      args[2 * i] = keys[i] as string;
      args[2 * i + 1] = values[i] as Buffer | string;
    }
    return client.mset(args);
  }
  const args = new Array<Buffer | string | number>(values.length + 1);
  for (let i = 0; i < values.length; i++) args[i] = values[i] as Buffer | string;
  args[values.length] = ttl;
  return SET_MANY_PX.run(client, keys, args);
}

/**
 * `send` for the keys of one chunk: once with all of them on a single-node router, else once per
 * node group (`grouped`: send one command per key, see eachKey), in parallel. Adds to `done` what
 * succeeded (replies summed, one step per group), and throws the first failure after every group
 * settled, so a failed group next to written ones is reported as partial (IncompleteError),
 * never as nothing done.
 */
async function inGroups(
  chunk: string[],
  groups: number[][] | undefined,
  done: Progress,
  send: (keys: string[], indexes: number[], grouped: boolean) => Promise<number>,
): Promise<void> {
  const grouped = groups !== undefined;
  const outcomes = await Promise.allSettled(
    (groups ?? [chunk.map((_, i) => i)]).map((group) =>
      send(
        group.map((i) => chunk[i] as string),
        group,
        grouped,
      ),
    ),
  );
  let failure: { reason: unknown } | undefined;
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') failure ??= outcome;
    else {
      done.completed += outcome.value;
      done.steps++;
    }
  }
  if (failure !== undefined) throw failure.reason;
}

/** DEL of `keys`: one command on a single-node router, else one per key (eachKey). */
async function del(client: Redis, keys: string[], grouped: boolean): Promise<number> {
  if (!grouped) return client.del(keys);
  const counts = await eachKey(keys, (key) => client.del(key));
  return counts.reduce((a, b) => a + b, 0);
}

/** DEL in chunks of BATCH_SIZE keys; the number deleted (IncompleteError if it stops half-way). */
async function deleteChunks(ctx: CommandContext, operation: string, redisKeys: string[]): Promise<number> {
  const done = progress();
  try {
    for (const chunk of chunks(redisKeys)) {
      await inGroups(chunk, ctx.executor.groupKeys(chunk), done, (keys, _, grouped) =>
        ctx.executor.write(operation, undefined, null, keys, (client) => del(client, keys, grouped)),
      );
    }
    return done.completed;
  } catch (err) {
    return failedPart(ctx.executor, err, operation, undefined, done, ZERO);
  }
}

export async function deleteMany(
  ctx: CommandContext,
  keys: Iterable<string>,
  options?: KeyOptions,
): Promise<number> {
  const redisKeys = ctx.keys.buildAll(keys, versionOf(options, ctx.version));
  if (redisKeys.length === 0) return 0;
  return deleteChunks(ctx, 'deleteMany', redisKeys);
}
