import { BATCH_SIZE, failedPart, progress, sumOverChunks } from '../batch.js';
import { decodeEntry } from '../entries.js';
import { ConfigError } from '../errors.js';
import { EMPTY_ARRAY, UNDEFINED } from '../executor.js';
import { iterableKeys, versionOf } from '../keys.js';
import type { NearLayer } from '../near.js';
import type { Ttl } from '../ttl.js';
import { type CommandContext, type KeyOptions, ttlOf } from './context.js';
import { currentEntries } from './tagged.js';

/** Many keys at once: MGET, pipelines of SET PX, DEL — in chunks of BATCH_SIZE (batch.ts). */

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
    const raws =
      near === undefined
        ? await ctx.executor.run('read', 'getMany', undefined, EMPTY_ARRAY, (client) =>
            client.mgetBuffer(chunk),
          )
        : await nearMany(ctx, near, chunk);
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
        ctx.executor.miss(key);
      } else {
        ctx.executor.hit(key);
        result.set(key, entry.value as T);
      }
    }
  }
  return result;
}

/** One chunk of getMany through the near cache: held keys from memory, the others in one MGET. */
async function nearMany(
  ctx: CommandContext,
  near: NearLayer,
  redisKeys: string[],
): Promise<Array<Buffer | null>> {
  const raws: Array<Buffer | null> = new Array(redisKeys.length).fill(null);
  const missing: number[] = [];
  for (let i = 0; i < redisKeys.length; i++) {
    const held = near.lookup(redisKeys[i] as string);
    if (held === undefined) missing.push(i);
    else raws[i] = held.value;
  }
  if (missing.length === 0) return raws;
  const fetched = await ctx.executor.run('read', 'getMany', undefined, EMPTY_ARRAY, (client) =>
    near.readMany(
      client,
      missing.map((i) => redisKeys[i] as string),
    ),
  );
  // ignoreErrors turned a failure into []: every key of the chunk reads as a miss.
  if (fetched.length === 0) return [];
  for (let j = 0; j < missing.length; j++) raws[missing[j] as number] = fetched[j] ?? null;
  return raws;
}

/**
 * Pipelines of at most BATCH_SIZE `SET PX`, one after the other; every value is encoded
 * before anything is sent. A failure after a chunk was written is an IncompleteError (with
 * how many keys were written), also under ignoreErrors.
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
      await ctx.executor.write('setMany', undefined, null, redisKeys.slice(from, to), async (client) => {
        const pipeline = client.pipeline();
        for (let i = from; i < to; i++) {
          if (ttl === null) pipeline.set(redisKeys[i] as string, values[i] as Buffer | string);
          else pipeline.set(redisKeys[i] as string, values[i] as Buffer | string, 'PX', ttl);
        }
        const results = await pipeline.exec();
        for (const [err] of results ?? []) if (err) throw err;
      });
      done.steps++;
      done.completed = to;
    }
  } catch (err) {
    failedPart(ctx.executor, err, 'setMany', undefined, done, UNDEFINED);
  }
}

/** DEL in chunks of BATCH_SIZE keys; the number deleted (IncompleteError if it stops half-way). */
function deleteChunks(ctx: CommandContext, operation: string, redisKeys: string[]): Promise<number> {
  return sumOverChunks(
    ctx.executor,
    operation,
    undefined,
    redisKeys,
    (chunk) => chunk,
    (client, chunk) => client.del(chunk),
  );
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
