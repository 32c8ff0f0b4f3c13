import type { Redis } from 'ioredis';
import { ConfigError } from '../errors.js';
import { EMPTY_ARRAY, UNDEFINED, ZERO } from '../executor.js';
import { iterableKeys, versionOf } from '../keys.js';
import type { NearLayer } from '../near.js';
import type { Ttl } from '../ttl.js';
import { type CommandContext, decode, type KeyOptions, ttlOf } from './context.js';

/**
 * Many keys in one round trip: MGET, a pipeline of SET PX, DEL. On a router with several
 * masters (`groupKeys`), one pipeline of single-key commands per node, all nodes in parallel.
 */

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
  const groups = ctx.executor.groupKeys(redisKeys);
  let raws: Array<Buffer | null>;
  if (near !== undefined) raws = await nearMany(ctx, near, redisKeys);
  else if (groups !== undefined) raws = await getGrouped(ctx, redisKeys, groups);
  else {
    raws = await ctx.executor.run('read', 'getMany', undefined, EMPTY_ARRAY, (client) =>
      client.mgetBuffer(...redisKeys),
    );
  }
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

/**
 * GET of every key, one pipeline per group, the groups in parallel; the replies in key order.
 * A group that fails under ignoreErrors leaves its keys missing (misses), the others count.
 */
async function getGrouped(
  ctx: CommandContext,
  redisKeys: readonly string[],
  groups: number[][],
): Promise<(Buffer | null)[]> {
  const raws = new Array<Buffer | null>(redisKeys.length).fill(null);
  await Promise.all(
    groups.map(async (group) => {
      const values = await ctx.executor.run('read', 'getMany', undefined, EMPTY_ARRAY, async (client) => {
        const pipeline = client.pipeline();
        for (const i of group) pipeline.getBuffer(redisKeys[i] as string);
        return repliesOf<Buffer | null>(await pipeline.exec());
      });
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

/** Keys of `redisKeys` at `indexes` (all when omitted). */
function pick(redisKeys: readonly string[], indexes: readonly number[] | undefined): string[] {
  return indexes === undefined ? [...redisKeys] : indexes.map((i) => redisKeys[i] as string);
}

/**
 * Run `fn` on each group of keys (the router's groups, in parallel; one group of all keys on a
 * single-node router) and return the results.
 */
function perGroup<T>(
  ctx: CommandContext,
  redisKeys: readonly string[],
  run: (keys: string[], indexes: readonly number[] | undefined) => Promise<T>,
): Promise<T[]> {
  const groups = ctx.executor.groupKeys(redisKeys);
  if (groups === undefined) return Promise.all([run(pick(redisKeys, undefined), undefined)]);
  return Promise.all(groups.map((group) => run(pick(redisKeys, group), group)));
}

/** DEL of `keys` on one node: one command when they can be combined, else one pipeline of DELs. */
async function delOnNode(ctx: CommandContext, client: Redis, keys: string[]): Promise<number> {
  if (ctx.executor.canCombine(keys)) return client.del(...keys);
  const pipeline = client.pipeline();
  for (const key of keys) pipeline.del(key);
  return repliesOf<number>(await pipeline.exec()).reduce((a, b) => a + b, 0);
}

/**
 * getMany through the near cache: held keys from memory, the others in one MGET (on a router with
 * several masters, one read per key in the same tick: keys of several slots cannot share an MGET).
 */
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
  const keys = missing.map((i) => redisKeys[i] as string);
  const perKey = ctx.executor.groupKeys(keys) !== undefined;
  const fetched = await ctx.executor.run('read', 'getMany', undefined, EMPTY_ARRAY, (client) =>
    perKey ? Promise.all(keys.map((key) => near.read(client, key))) : near.readMany(client, keys),
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
    await perGroup(ctx, redisKeys, (keys) =>
      ctx.executor.write('setMany', undefined, ZERO, keys, (client) => delOnNode(ctx, client, keys)),
    );
    return;
  }
  await perGroup(ctx, redisKeys, (keys, indexes) =>
    ctx.executor.write('setMany', undefined, UNDEFINED, keys, async (client) => {
      const pipeline = client.pipeline();
      for (const i of indexes ?? redisKeys.keys()) {
        if (ttl === null) pipeline.set(redisKeys[i] as string, values[i] as Buffer | string);
        else pipeline.set(redisKeys[i] as string, values[i] as Buffer | string, 'PX', ttl);
      }
      repliesOf(await pipeline.exec());
    }),
  );
}

export async function deleteMany(
  ctx: CommandContext,
  keys: Iterable<string>,
  options?: KeyOptions,
): Promise<number> {
  const redisKeys = ctx.keys.buildAll(keys, versionOf(options, ctx.version));
  if (redisKeys.length === 0) return 0;
  const counts = await perGroup(ctx, redisKeys, (keys) =>
    ctx.executor.write('deleteMany', undefined, ZERO, keys, (client) => delOnNode(ctx, client, keys)),
  );
  return counts.reduce((a, b) => a + b, 0);
}
