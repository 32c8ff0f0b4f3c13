import { ConfigError } from '../errors.js';
import { EMPTY_ARRAY, UNDEFINED, ZERO } from '../executor.js';
import { iterableKeys, versionOf } from '../keys.js';
import type { NearLayer } from '../near.js';
import type { Ttl } from '../ttl.js';
import { type CommandContext, decode, type KeyOptions, ttlOf } from './context.js';

/** Many keys in one round trip: MGET, a pipeline of SET PX, DEL. */

export interface SetManyOptions extends KeyOptions {
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
  const raws =
    near === undefined
      ? await ctx.executor.run('read', 'getMany', undefined, EMPTY_ARRAY, (client) =>
          client.mgetBuffer(...redisKeys),
        )
      : await nearMany(ctx, near, redisKeys);
  if (raws.length === 0) {
    for (const key of userKeys) ctx.executor.miss(key);
    return result;
  }
  for (let i = 0; i < userKeys.length; i++) {
    const key = userKeys[i] as string;
    const raw = raws[i];
    if (raw === null || raw === undefined) {
      ctx.executor.miss(key);
    } else {
      ctx.executor.hit(key);
      result.set(key, decode<T>(ctx, raw, key));
    }
  }
  return result;
}

/** getMany through the near cache: held keys from memory, the others in one MGET. */
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
  // ignoreErrors turned a failure into []: every key reads as a miss.
  if (fetched.length === 0) return [];
  for (let j = 0; j < missing.length; j++) raws[missing[j] as number] = fetched[j] ?? null;
  return raws;
}

/** One pipeline of SET PX; every value is encoded before anything is sent. */
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
    await ctx.executor.write('setMany', undefined, ZERO, redisKeys, (client) => client.del(...redisKeys));
    return;
  }
  await ctx.executor.write('setMany', undefined, UNDEFINED, redisKeys, async (client) => {
    const pipeline = client.pipeline();
    for (let i = 0; i < redisKeys.length; i++) {
      if (ttl === null) pipeline.set(redisKeys[i] as string, values[i] as Buffer | string);
      else pipeline.set(redisKeys[i] as string, values[i] as Buffer | string, 'PX', ttl);
    }
    const results = await pipeline.exec();
    for (const [err] of results ?? []) if (err) throw err;
  });
}

export async function deleteMany(
  ctx: CommandContext,
  keys: Iterable<string>,
  options?: KeyOptions,
): Promise<number> {
  const redisKeys = ctx.keys.buildAll(keys, versionOf(options, ctx.version));
  if (redisKeys.length === 0) return 0;
  return ctx.executor.write('deleteMany', undefined, ZERO, redisKeys, (client) => client.del(...redisKeys));
}
