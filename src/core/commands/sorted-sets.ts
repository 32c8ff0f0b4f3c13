import type { Redis } from 'ioredis';
import { sumOverChunks } from '../batch.js';
import { ConfigError } from '../errors.js';
import { EMPTY_ARRAY, NULL, ZERO } from '../executor.js';
import { type CommandContext, decode, encodeAll, type KeyOptions, loose, redisKeyOf } from './context.js';

/** Sorted sets: members go through the codec, scores are numbers (±Infinity allowed). */

export interface ZAddOptions extends KeyOptions {
  /** Only add new members; never update existing ones' scores. */
  nx?: boolean;
  /** Only update members that exist; never add new ones. */
  xx?: boolean;
  /** Update an existing member only when the new score is greater. */
  gt?: boolean;
  /** Update an existing member only when the new score is less. */
  lt?: boolean;
  /** Count changed elements (not only added ones). */
  ch?: boolean;
}

/** Options of `zrange` and `zrevrange`. */
export interface ZRangeOptions extends KeyOptions {
  /** Return `[member, score]` pairs instead of members. */
  withScores?: boolean;
}

/** Options of `zrangebyscore`: `offset` and `count` are Redis' LIMIT (a real limit on the result). */
export interface ZRangeByScoreOptions extends ZRangeOptions {
  /** Skip this many matching members first (Redis' LIMIT offset). */
  offset?: number;
  /** Return at most this many members (Redis' LIMIT count; a real limit, unlike `scanCount`). */
  count?: number;
}

/** A score bound: a number, '-inf' / '+inf', or an exclusive bound like '(1.5'. */
export type ScoreBound = number | string;

export function parseScore(raw: Buffer | string): number {
  const text = typeof raw === 'string' ? raw : raw.toString('latin1');
  if (text === 'inf' || text === '+inf') return Number.POSITIVE_INFINITY;
  if (text === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

function decodePairs<T>(ctx: CommandContext, flat: Buffer[], key: string): Array<[T, number]> {
  const out: Array<[T, number]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    out.push([decode<T>(ctx, flat[i] as Buffer, key), parseScore(flat[i + 1] as Buffer)]);
  }
  return out;
}

/** A range's bounds, plus WITHSCORES when asked for. */
function rangeArgs(
  from: ScoreBound,
  to: ScoreBound,
  options: ZRangeOptions | undefined,
): Array<string | number> {
  return options?.withScores === true ? [from, to, 'WITHSCORES'] : [from, to];
}

export async function zadd(
  ctx: CommandContext,
  key: string,
  mapping: Record<string, number> | Map<unknown, number>,
  options?: ZAddOptions,
): Promise<number> {
  const redisKey = redisKeyOf(ctx, key, options);
  const flags: string[] = [];
  if (options?.nx) flags.push('NX');
  if (options?.xx) flags.push('XX');
  if (options?.gt) flags.push('GT');
  if (options?.lt) flags.push('LT');
  if (options?.ch) flags.push('CH');
  const pairs: Array<[string, Buffer | string]> = [];
  for (const [member, score] of mapping instanceof Map ? mapping.entries() : Object.entries(mapping)) {
    if (typeof score !== 'number' || Number.isNaN(score))
      throw new ConfigError('zadd: scores must be numbers');
    pairs.push([String(score), ctx.codec.encode(member)]);
  }
  if (pairs.length === 0) return 0;
  // Every flag is per member, so the sum over chunks is what one ZADD would answer.
  return sumOverChunks(
    ctx.executor,
    'zadd',
    key,
    pairs,
    () => redisKey,
    async (client, chunk) => Number(await loose(client).zadd!(redisKey, ...flags, ...chunk.flat())),
  );
}

type RangeMethod = 'zrangeBuffer' | 'zrevrangeBuffer' | 'zrangebyscoreBuffer';

async function range<T>(
  ctx: CommandContext,
  method: RangeMethod,
  key: string,
  args: Array<string | number>,
  options: ZRangeOptions | undefined,
): Promise<T[] | Array<[T, number]>> {
  const redisKey = redisKeyOf(ctx, key, options);
  const raws = (await ctx.executor.run('read', method.slice(0, -6), key, EMPTY_ARRAY, (client) =>
    loose(client)[method]!(redisKey, ...args),
  )) as Buffer[];
  if (options?.withScores === true) return decodePairs<T>(ctx, raws, key);
  return raws.map((raw) => decode<T>(ctx, raw, key));
}

/** ZRANGE (`reverse`: ZREVRANGE) by rank. */
export function zrange<T>(
  ctx: CommandContext,
  key: string,
  start: number,
  stop: number,
  options: ZRangeOptions | undefined,
  reverse: boolean,
): Promise<T[] | Array<[T, number]>> {
  const method = reverse ? 'zrevrangeBuffer' : 'zrangeBuffer';
  return range<T>(ctx, method, key, rangeArgs(start, stop, options), options);
}

export function zrangebyscore<T>(
  ctx: CommandContext,
  key: string,
  min: ScoreBound,
  max: ScoreBound,
  options: ZRangeByScoreOptions | undefined,
): Promise<T[] | Array<[T, number]>> {
  // WITHSCORES must come before LIMIT.
  const args = rangeArgs(min, max, options);
  if (options?.offset !== undefined || options?.count !== undefined) {
    args.push('LIMIT', options.offset ?? 0, options.count ?? -1);
  }
  return range<T>(ctx, 'zrangebyscoreBuffer', key, args, options);
}

/** One member's ZSCORE / ZRANK: the member is encoded like every stored member; nil → undefined. */
async function memberQuery<R>(
  ctx: CommandContext,
  operation: string,
  key: string,
  member: unknown,
  options: KeyOptions | undefined,
  ask: (client: Redis, redisKey: string, encoded: Buffer | string) => Promise<R | null>,
): Promise<R | undefined> {
  const redisKey = redisKeyOf(ctx, key, options);
  const encoded = ctx.codec.encode(member);
  const raw = await ctx.executor.run('read', operation, key, NULL, (client) =>
    ask(client, redisKey, encoded),
  );
  return raw === null ? undefined : raw;
}

export async function zscore(
  ctx: CommandContext,
  key: string,
  member: unknown,
  options?: KeyOptions,
): Promise<number | undefined> {
  const raw = await memberQuery(ctx, 'zscore', key, member, options, (c, k, m) => c.zscore(k, m));
  return raw === undefined ? undefined : parseScore(raw);
}

export function zrank(
  ctx: CommandContext,
  key: string,
  member: unknown,
  options?: KeyOptions,
): Promise<number | undefined> {
  return memberQuery(ctx, 'zrank', key, member, options, (c, k, m) => c.zrank(k, m));
}

export async function zrem(ctx: CommandContext, key: string, members: unknown[]): Promise<number> {
  const redisKey = redisKeyOf(ctx, key, undefined);
  if (members.length === 0) return 0;
  const encoded = encodeAll(ctx, members);
  return sumOverChunks(
    ctx.executor,
    'zrem',
    key,
    encoded,
    () => redisKey,
    (client, chunk) => client.zrem(redisKey, chunk),
  );
}

/** ZINCRBY key increment member: Redis', ioredis' and django-redis' argument order. */
export async function zincrby(
  ctx: CommandContext,
  key: string,
  amount: number,
  member: unknown,
  options?: KeyOptions,
): Promise<number> {
  const redisKey = redisKeyOf(ctx, key, options);
  if (typeof amount !== 'number' || Number.isNaN(amount))
    throw new ConfigError('zincrby: amount must be a number');
  const encoded = ctx.codec.encode(member);
  return parseScore(
    await ctx.executor.write('zincrby', key, null, redisKey, (client) =>
      client.zincrby(redisKey, amount, encoded),
    ),
  );
}

export async function zcard(ctx: CommandContext, key: string, options?: KeyOptions): Promise<number> {
  const redisKey = redisKeyOf(ctx, key, options);
  return ctx.executor.run('read', 'zcard', key, ZERO, (client) => client.zcard(redisKey));
}

export async function zcount(
  ctx: CommandContext,
  key: string,
  min: ScoreBound,
  max: ScoreBound,
  options?: KeyOptions,
): Promise<number> {
  const redisKey = redisKeyOf(ctx, key, options);
  return ctx.executor.run('read', 'zcount', key, ZERO, (client) => client.zcount(redisKey, min, max));
}

/** ZPOPMIN / ZPOPMAX: remove and return `count` members as [member, score] pairs. */
export async function zpop<T>(
  ctx: CommandContext,
  which: 'min' | 'max',
  key: string,
  count: number,
  options?: KeyOptions,
): Promise<Array<[T, number]>> {
  const redisKey = redisKeyOf(ctx, key, options);
  const method = which === 'min' ? 'zpopminBuffer' : 'zpopmaxBuffer';
  const raws = (await ctx.executor.write(method.slice(0, -6), key, EMPTY_ARRAY, redisKey, (client) =>
    loose(client)[method]!(redisKey, count),
  )) as Buffer[];
  return decodePairs<T>(ctx, raws, key);
}
