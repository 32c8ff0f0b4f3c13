import { chunks, eachKey, sumOverChunks } from '../batch.js';
import { ConfigError } from '../errors.js';
import { EMPTY_ARRAY, NULL, ZERO } from '../executor.js';
import { versionOf } from '../keys.js';
import { unlessSlotRefused } from '../redis-errors.js';
import { scanAll, scanArgs, scanCount } from '../scan.js';
import {
  type CommandContext,
  decode,
  decodeSet,
  encodeAll,
  type KeyOptions,
  loose,
  redisKeyOf,
} from './context.js';

/** Sets: members go through the codec, so any value the serializer takes can be a member. */

export interface SScanOptions extends KeyOptions {
  /** Glob applied by Redis to the stored (encoded) member bytes. */
  match?: string;
  /** SSCAN COUNT hint per round trip (not a limit on results). Default 1000. */
  scanCount?: number;
}

export async function sadd(ctx: CommandContext, key: string, members: unknown[]): Promise<number> {
  const redisKey = redisKeyOf(ctx, key, undefined);
  if (members.length === 0) return 0;
  const encoded = encodeAll(ctx, members);
  return sumOverChunks(
    ctx.executor,
    'sadd',
    key,
    encoded,
    () => redisKey,
    (client, chunk) => client.sadd(redisKey, chunk),
  );
}

export async function srem(ctx: CommandContext, key: string, members: unknown[]): Promise<number> {
  const redisKey = redisKeyOf(ctx, key, undefined);
  if (members.length === 0) return 0;
  const encoded = encodeAll(ctx, members);
  return sumOverChunks(
    ctx.executor,
    'srem',
    key,
    encoded,
    () => redisKey,
    (client, chunk) => client.srem(redisKey, chunk),
  );
}

export async function smembers<T>(ctx: CommandContext, key: string, options?: KeyOptions): Promise<Set<T>> {
  const redisKey = redisKeyOf(ctx, key, options);
  const raws = await ctx.executor.run('read', 'smembers', key, EMPTY_ARRAY, (client) =>
    client.smembersBuffer(redisKey),
  );
  return decodeSet<T>(ctx, raws, key);
}

export async function sismember(
  ctx: CommandContext,
  key: string,
  member: unknown,
  options?: KeyOptions,
): Promise<boolean> {
  const redisKey = redisKeyOf(ctx, key, options);
  const encoded = ctx.codec.encode(member);
  const reply = await ctx.executor.run('read', 'sismember', key, ZERO, (client) =>
    client.sismember(redisKey, encoded),
  );
  return reply === 1;
}

export async function smismember(ctx: CommandContext, key: string, members: unknown[]): Promise<boolean[]> {
  const redisKey = redisKeyOf(ctx, key, undefined);
  if (members.length === 0) return [];
  const encoded = encodeAll(ctx, members);
  const out: boolean[] = [];
  // A chunk that failed under ignoreErrors answers "not a member" for its members, as a miss would.
  for (const chunk of chunks(encoded)) {
    const replies = await ctx.executor.run(
      'read',
      'smismember',
      key,
      () => chunk.map(() => 0),
      (client) => client.smismember(redisKey, chunk),
    );
    for (const reply of replies) out.push(reply === 1);
  }
  return out;
}

export async function scard(ctx: CommandContext, key: string, options?: KeyOptions): Promise<number> {
  const redisKey = redisKeyOf(ctx, key, options);
  return ctx.executor.run('read', 'scard', key, ZERO, (client) => client.scard(redisKey));
}

export async function spop<T>(
  ctx: CommandContext,
  key: string,
  count: number | undefined,
  options?: KeyOptions,
): Promise<T | undefined | Set<T>> {
  const redisKey = redisKeyOf(ctx, key, options);
  if (count === undefined) {
    const raw = await ctx.executor.write('spop', key, NULL, redisKey, (client) =>
      client.spopBuffer(redisKey),
    );
    return raw === null ? undefined : decode<T>(ctx, raw, key);
  }
  const raws = await ctx.executor.write('spop', key, EMPTY_ARRAY, redisKey, (client) =>
    client.spopBuffer(redisKey, count),
  );
  return decodeSet<T>(ctx, raws, key);
}

export async function srandmember<T>(
  ctx: CommandContext,
  key: string,
  count: number | undefined,
  options?: KeyOptions,
): Promise<T | undefined | T[]> {
  const redisKey = redisKeyOf(ctx, key, options);
  if (count === undefined) {
    const raw = await ctx.executor.run('read', 'srandmember', key, NULL, (client) =>
      client.srandmemberBuffer(redisKey),
    );
    return raw === null ? undefined : decode<T>(ctx, raw, key);
  }
  const raws = await ctx.executor.run('read', 'srandmember', key, EMPTY_ARRAY, (client) =>
    client.srandmemberBuffer(redisKey, count),
  );
  return raws.map((raw) => decode<T>(ctx, raw, key));
}

export async function smove(
  ctx: CommandContext,
  source: string,
  destination: string,
  member: unknown,
  options?: KeyOptions,
): Promise<boolean> {
  const version = versionOf(options, ctx.version);
  const from = ctx.keys.build(source, version);
  const to = ctx.keys.build(destination, version);
  requireOneSlot(ctx, 'smove', [from, to]);
  const encoded = ctx.codec.encode(member);
  return (
    (await ctx.executor.write('smove', source, ZERO, [from, to], (client) =>
      client.smove(from, to, encoded),
    )) === 1
  );
}

/** Atomic multi-key set commands need all their keys in one cluster slot: say how to get there. */
function requireOneSlot(ctx: CommandContext, op: string, redisKeys: string[]): void {
  if (ctx.executor.canCombine(redisKeys)) return;
  throw new ConfigError(
    `${op}: the keys are in different cluster hash slots, and ${op} is atomic on one node; ` +
      'give them a common hash tag so they share a slot, e.g. {user42}:a and {user42}:b',
  );
}

/**
 * SDIFF / SINTER / SUNION over keys of several cluster slots, or of one slot being migrated:
 * each set read (SMEMBERS, one round trip per node: eachKey) and the result computed here, on
 * the stored bytes as Redis compares them.
 */
async function setAlgebraAcrossSlots(
  ctx: CommandContext,
  op: 'sdiff' | 'sinter' | 'sunion',
  redisKeys: string[],
): Promise<Buffer[]> {
  const sets = new Array<Buffer[]>(redisKeys.length);
  const groups = ctx.executor.groupKeys(redisKeys) ?? [redisKeys.map((_, i) => i)];
  await Promise.all(
    groups.map(async (group) => {
      const replies = await ctx.executor.run('read', op, undefined, EMPTY_ARRAY, (client) =>
        eachKey(group, (i) => client.smembersBuffer(redisKeys[i] as string)),
      );
      group.forEach((i, j) => {
        sets[i] = replies[j] ?? [];
      });
    }),
  );
  const byBytes = (members: Buffer[]) => new Map(members.map((m) => [m.toString('latin1'), m]));
  const [first, ...rest] = sets.map((members) => byBytes(members ?? []));
  const result = first ?? new Map<string, Buffer>();
  for (const other of rest) {
    if (op === 'sunion') for (const [k, m] of other) result.set(k, m);
    else for (const k of [...result.keys()]) if (other.has(k) === (op === 'sdiff')) result.delete(k);
  }
  return [...result.values()];
}

/** SDIFF / SINTER / SUNION of the keys, at the view's version. */
export async function setAlgebra<T>(
  ctx: CommandContext,
  op: 'sdiff' | 'sinter' | 'sunion',
  keys: string[],
): Promise<Set<T>> {
  if (keys.length === 0) return new Set();
  const redisKeys = ctx.keys.buildAll(keys, ctx.version);
  // One command when the keys share a slot. While that slot is being migrated Redis refuses it
  // unless every key exists on one node (a missing set is an empty one): then as across slots.
  // The key list is passed as an array (ioredis flattens it), never spread: no RangeError.
  const raws = ctx.executor.canCombine(redisKeys)
    ? await ctx.executor.run('read', op, keys[0], EMPTY_ARRAY, (client) => {
        if (op === 'sdiff') return unlessSlotRefused(client.sdiffBuffer(redisKeys));
        if (op === 'sinter') return unlessSlotRefused(client.sinterBuffer(redisKeys));
        return unlessSlotRefused(client.sunionBuffer(redisKeys));
      })
    : undefined;
  return decodeSet<T>(ctx, raws ?? (await setAlgebraAcrossSlots(ctx, op, redisKeys)), keys[0] as string);
}

/** SDIFFSTORE / SINTERSTORE / SUNIONSTORE into `destination`; returns the result's size. */
export async function setStore(
  ctx: CommandContext,
  op: 'sdiffstore' | 'sinterstore' | 'sunionstore',
  destination: string,
  keys: string[],
): Promise<number> {
  const dest = ctx.keys.build(destination, ctx.version);
  if (keys.length === 0) throw new ConfigError(`${op}: at least one source key is required`);
  const redisKeys = ctx.keys.buildAll(keys, ctx.version);
  requireOneSlot(ctx, op, [dest, ...redisKeys]);
  return ctx.executor.write(op, destination, ZERO, dest, (client) => client[op](dest, redisKeys));
}

/** All members (optionally those whose stored bytes match `match`), via SSCAN on one node. */
export async function sscan<T>(ctx: CommandContext, key: string, options?: SScanOptions): Promise<Set<T>> {
  const redisKey = redisKeyOf(ctx, key, options);
  const count = scanCount(options?.scanCount, 'scanCount');
  const tail = scanArgs(options?.match, count);
  const raws = await ctx.executor.run('read', 'sscan', key, EMPTY_ARRAY, (client) =>
    scanAll((cursor) => loose(client).sscanBuffer!(redisKey, cursor, ...tail) as Promise<[Buffer, Buffer[]]>),
  );
  return decodeSet<T>(ctx, raws, key);
}
