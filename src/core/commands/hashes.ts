import { sumOverChunks } from '../batch.js';
import { ConfigError } from '../errors.js';
import { EMPTY_ARRAY, EMPTY_OBJECT, NULL, ZERO } from '../executor.js';
import { type CommandContext, decode, type KeyOptions, redisKeyOf } from './context.js';

/** Hashes: fields are plain strings, values go through the codec. */

function field(name: unknown): string {
  if (typeof name !== 'string') throw new ConfigError('hash field must be a string');
  return name;
}

/** Fields and values for a multi-field hset: a plain object or a Map with string keys. */
export type HashFields = Record<string, unknown> | Map<string, unknown>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Set fields in one HSET; returns how many were new. Every value is encoded before anything is
 * sent, so a value the serializer refuses writes no field at all.
 */
export async function hset(
  ctx: CommandContext,
  key: string,
  fields: HashFields,
  options?: KeyOptions,
): Promise<number> {
  let entries: Iterable<[unknown, unknown]>;
  if (fields instanceof Map) entries = fields;
  else if (isPlainObject(fields)) entries = Object.entries(fields);
  else {
    throw new ConfigError(
      `hset(key, fields): fields must be a plain object or a Map of field -> value (or call hset(key, field, value)); got ${describe(fields)}`,
    );
  }
  const args: Array<string | Buffer> = [];
  for (const [name, value] of entries) args.push(field(name), ctx.codec.encode(value));
  if (args.length === 0) throw new ConfigError('hset(key, fields): give at least one field');
  const redisKey = redisKeyOf(ctx, key, options);
  return ctx.executor.write('hset', key, ZERO, redisKey, (client) => client.hset(redisKey, ...args));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'object'}`;
  return typeof value;
}

export async function hget<T>(
  ctx: CommandContext,
  key: string,
  name: string,
  options?: KeyOptions,
): Promise<T | undefined> {
  const redisKey = redisKeyOf(ctx, key, options);
  const f = field(name);
  const raw = await ctx.executor.run('read', 'hget', key, NULL, (client) => client.hgetBuffer(redisKey, f));
  return raw === null ? undefined : decode<T>(ctx, raw, key);
}

export async function hgetall<T>(
  ctx: CommandContext,
  key: string,
  options?: KeyOptions,
): Promise<Map<string, T>> {
  const redisKey = redisKeyOf(ctx, key, options);
  const raw = await ctx.executor.run('read', 'hgetall', key, EMPTY_OBJECT, (client) =>
    client.hgetallBuffer(redisKey),
  );
  const out = new Map<string, T>();
  for (const [f, value] of Object.entries(raw)) out.set(f, decode<T>(ctx, value, key));
  return out;
}

export async function hdel(
  ctx: CommandContext,
  key: string,
  fields: string | string[],
  options?: KeyOptions,
): Promise<number> {
  const redisKey = redisKeyOf(ctx, key, options);
  const list = typeof fields === 'string' ? [fields] : fields.map(field);
  if (list.length === 0) return 0;
  return sumOverChunks(
    ctx.executor,
    'hdel',
    key,
    list,
    () => redisKey,
    (client, chunk) => client.hdel(redisKey, ...chunk),
  );
}

export async function hlen(ctx: CommandContext, key: string, options?: KeyOptions): Promise<number> {
  const redisKey = redisKeyOf(ctx, key, options);
  return ctx.executor.run('read', 'hlen', key, ZERO, (client) => client.hlen(redisKey));
}

export async function hkeys(ctx: CommandContext, key: string, options?: KeyOptions): Promise<string[]> {
  const redisKey = redisKeyOf(ctx, key, options);
  return ctx.executor.run('read', 'hkeys', key, EMPTY_ARRAY, (client) => client.hkeys(redisKey));
}

export async function hexists(
  ctx: CommandContext,
  key: string,
  name: string,
  options?: KeyOptions,
): Promise<boolean> {
  const redisKey = redisKeyOf(ctx, key, options);
  const f = field(name);
  return (
    (await ctx.executor.run('read', 'hexists', key, ZERO, (client) => client.hexists(redisKey, f))) === 1
  );
}
