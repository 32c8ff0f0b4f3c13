import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { BATCH_SIZE, chunks, eachKey, failedPart, type Progress, progress } from '../batch.js';
import { decodeEntry } from '../entries.js';
import { ConfigError } from '../errors.js';
import { EMPTY_ARRAY, UNDEFINED, ZERO } from '../executor.js';
import { iterableKeys, versionOf } from '../keys.js';
import type { NearLayer } from '../near.js';
import type { Ttl } from '../ttl.js';
import { type CommandContext, type KeyOptions, ttlOf } from './context.js';
import { currentEntries } from './tagged.js';

/**
 * Many keys at once: MGET, pipelines of SET PX, DEL — in chunks of BATCH_SIZE (batch.ts). On a
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

/**
 * MGET in chunks of BATCH_SIZE keys. With ignoreErrors, the keys of a chunk that failed are
 * misses (a miss is always an honest answer for a read); without, the failure is thrown.
 */
export async function getMany<T>(
  ctx: CommandContext,
  keys: Iterable<string>,
  options?: KeyOptions,
): Promise<Map<string, T>> {
  const version = versionOf(options, ctx.version);
  const userKeys = Array.isArray(keys) ? (keys as string[]) : [...iterableKeys(keys)];
  const result = new Map<string, T>();
  if (userKeys.length === 0) return result;
  const redisKeys = ctx.keys.buildAll(userKeys, version);
  const near = ctx.executor.near;
  for (let from = 0; from < redisKeys.length; from += BATCH_SIZE) {
    // One chunk (the usual case) is the key list itself: no copy.
    const chunk = redisKeys.length <= BATCH_SIZE ? redisKeys : redisKeys.slice(from, from + BATCH_SIZE);
    const groups = ctx.executor.groupKeys(chunk);
    let raws: Array<Buffer | null>;
    // With the near cache: which keys of the chunk were answered from memory (stats().tiers).
    const held: boolean[] | undefined = near === undefined ? undefined : new Array(chunk.length).fill(false);
    if (near !== undefined) raws = await nearMany(ctx, near, chunk, held as boolean[]);
    else if (groups !== undefined) raws = await getGrouped(ctx, chunk, groups);
    else {
      raws = await ctx.executor.run('read', 'getMany', undefined, EMPTY_ARRAY, (client) =>
        client.mgetBuffer(chunk),
      );
    }
    const entries = chunk.map((_, i) => {
      const raw = raws[i];
      return raw === null || raw === undefined
        ? undefined
        : decodeEntry(ctx.codec, raw, userKeys[from + i] as string);
    });
    // Entries with an envelope count only while fresh and untouched by invalidateTags (one
    // MGET of their tags' stamps per chunk).
    const current = entries.some((entry) => entry?.meta !== undefined)
      ? await currentEntries(
          ctx,
          entries.map((entry) => entry?.meta),
          'getMany',
        )
      : undefined;
    for (let i = 0; i < chunk.length; i++) {
      const key = userKeys[from + i] as string;
      const entry = entries[i];
      if (entry === undefined || (current !== undefined && !current[i])) {
        ctx.executor.miss(key, held?.[i] === true);
      } else {
        ctx.executor.hit(key, held?.[i] === true);
        result.set(key, entry.value as T);
      }
    }
  }
  return result;
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

/** The replies of a pipeline; its first error is thrown. */
function repliesOf<T>(results: [error: Error | null, reply: unknown][] | null): T[] {
  const replies: T[] = [];
  for (const [err, reply] of results ?? []) {
    if (err) throw err;
    replies.push(reply as T);
  }
  return replies;
}

/**
 * One chunk of getMany through the near cache: held keys from memory, the others in one MGET (on
 * a router with several masters, one read per key in the same tick: keys of several slots cannot
 * share an MGET). Marks in `fromMemory` the keys answered from memory.
 */
async function nearMany(
  ctx: CommandContext,
  near: NearLayer,
  redisKeys: string[],
  fromMemory: boolean[],
): Promise<Array<Buffer | null>> {
  const raws: Array<Buffer | null> = new Array(redisKeys.length).fill(null);
  const missing: number[] = [];
  for (let i = 0; i < redisKeys.length; i++) {
    const held = near.lookup(redisKeys[i] as string);
    if (held === undefined) missing.push(i);
    else {
      raws[i] = held.value;
      fromMemory[i] = true;
    }
  }
  if (missing.length === 0) return near.answer(raws);
  const keys = missing.map((i) => redisKeys[i] as string);
  const perKey = ctx.executor.groupKeys(keys) !== undefined;
  const fetched = await ctx.executor.run('read', 'getMany', undefined, EMPTY_ARRAY, (client) =>
    perKey ? Promise.all(keys.map((key) => near.read(client, key))) : near.readMany(client, keys),
  );
  // ignoreErrors turned a failure into []: every key of the chunk reads as a miss.
  if (fetched.length === 0) return [];
  for (let j = 0; j < missing.length; j++) raws[missing[j] as number] = fetched[j] ?? null;
  return raws;
}

/**
 * `SET PX` of every entry in chunks of at most BATCH_SIZE, one chunk after the other: one
 * pipeline per chunk on a single-node router, else one command per key per node group (eachKey);
 * every value is encoded before anything is sent. A failure after a chunk was written is an
 * IncompleteError (with how many keys were written), also under ignoreErrors.
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
    values.push(ctx.codec.encode(value));
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
      const to = Math.min(redisKeys.length, from + BATCH_SIZE);
      await inGroups(ctx, redisKeys.slice(from, to), done, (keys, indexes, grouped) =>
        ctx.executor.write('setMany', undefined, null, keys, async (client) => {
          if (grouped) {
            await eachKey(indexes, (j) => {
              const i = from + j;
              const value = values[i] as Buffer | string;
              return ttl === null
                ? client.set(redisKeys[i] as string, value)
                : client.set(redisKeys[i] as string, value, 'PX', ttl);
            });
            return keys.length;
          }
          const pipeline = client.pipeline();
          for (const j of indexes) {
            const i = from + j;
            if (ttl === null) pipeline.set(redisKeys[i] as string, values[i] as Buffer | string);
            else pipeline.set(redisKeys[i] as string, values[i] as Buffer | string, 'PX', ttl);
          }
          repliesOf(await pipeline.exec());
          return keys.length;
        }),
      );
    }
  } catch (err) {
    failedPart(ctx.executor, err, 'setMany', undefined, done, UNDEFINED);
  }
}

/**
 * `send` for the keys of one chunk: once with all of them on a single-node router, else once per
 * node group (`grouped`: send one command per key, see eachKey), in parallel. Adds to `done` what
 * succeeded (replies summed, one step per group), and throws the first failure after every group
 * settled, so a failed group next to written ones is reported as partial (IncompleteError),
 * never as nothing done.
 */
async function inGroups(
  ctx: CommandContext,
  chunk: string[],
  done: Progress,
  send: (keys: string[], indexes: number[], grouped: boolean) => Promise<number>,
): Promise<void> {
  const groups = ctx.executor.groupKeys(chunk);
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
      await inGroups(ctx, chunk, done, (keys, _, grouped) =>
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
