import { ConfigError } from '../errors.js';
import { NULL, ZERO } from '../executor.js';
import type { NearLayer } from '../near.js';
import type { Ttl } from '../ttl.js';
import { type CommandContext, decode, type KeyOptions, redisKeyOf, ttlOf } from './context.js';

/** Single values: GET, SET (with NX/XX/PX), and getOrSet on top of them. */

export interface SetOptions extends KeyOptions {
  /** ms, '30s', '5m', ... or null for no expiry; default: `defaultTtl`. 0 or less deletes the key. */
  ttl?: Ttl;
  /** Only write if the key does not exist. */
  nx?: boolean;
  /** Only write if the key exists. */
  xx?: boolean;
}

export async function get<T>(ctx: CommandContext, key: string, options?: KeyOptions): Promise<T | undefined> {
  const redisKey = redisKeyOf(ctx, key, options);
  const near = ctx.executor.near;
  if (near !== undefined) return nearGet<T>(ctx, near, key, redisKey);
  const raw = await ctx.executor.run('read', 'get', key, NULL, (client) => client.getBuffer(redisKey));
  if (raw === null) {
    ctx.executor.miss(key);
    return undefined;
  }
  ctx.executor.hit(key);
  return decode<T>(ctx, raw, key);
}

/** get through the near cache: a held entry answers from memory, else GET + PTTL through it. */
async function nearGet<T>(
  ctx: CommandContext,
  near: NearLayer,
  key: string,
  redisKey: string,
): Promise<T | undefined> {
  const held = near.lookup(redisKey);
  if (held !== undefined) {
    if (held.value === null) {
      ctx.executor.miss(key);
      return undefined;
    }
    ctx.executor.hit(key);
    if (held.decoded !== undefined) return held.decoded as T;
    const value = decode<T>(ctx, held.value, key);
    // Immutable values are decoded once; objects are decoded per hit so no caller can
    // change what another one gets.
    if (value !== null && typeof value !== 'object' && typeof value !== 'function') held.decoded = value;
    return value;
  }
  const raw = await ctx.executor.run('read', 'get', key, NULL, (client) => near.read(client, redisKey));
  if (raw === null) {
    ctx.executor.miss(key);
    return undefined;
  }
  ctx.executor.hit(key);
  return decode<T>(ctx, raw, key);
}

export async function set(
  ctx: CommandContext,
  key: string,
  value: unknown,
  options?: SetOptions,
): Promise<boolean> {
  const redisKey = redisKeyOf(ctx, key, options);
  const ttl = ttlOf(ctx, options?.ttl);
  const nx = options?.nx === true;
  const xx = options?.xx === true;
  if (nx && xx) throw new ConfigError('set: nx and xx cannot both be true');
  // Encode before any I/O: a value the serializer refuses means nothing is written.
  const encoded = ctx.codec.encode(value);
  if (ttl !== null && ttl <= 0) {
    // Expire now. With nx an existing key must survive (django-redis semantics); a missing
    // one would be expired at once: nothing to do either way.
    if (!nx) await ctx.executor.write('set', key, ZERO, redisKey, (client) => client.del(redisKey));
    return false;
  }
  const reply = await ctx.executor.write('set', key, NULL, redisKey, (client) => {
    if (ttl === null) {
      if (nx) return client.set(redisKey, encoded, 'NX');
      if (xx) return client.set(redisKey, encoded, 'XX');
      return client.set(redisKey, encoded);
    }
    if (nx) return client.set(redisKey, encoded, 'PX', ttl, 'NX');
    if (xx) return client.set(redisKey, encoded, 'PX', ttl, 'XX');
    return client.set(redisKey, encoded, 'PX', ttl);
  });
  return reply === 'OK';
}

/**
 * The cached value, or the factory's result stored under `key`. Concurrent calls for the same
 * key in this process share one lookup and one factory call.
 */
export async function getOrSet<T>(
  ctx: CommandContext,
  key: string,
  factory: () => T | Promise<T>,
  options?: SetOptions,
): Promise<T> {
  const redisKey = redisKeyOf(ctx, key, options);
  if (typeof factory !== 'function') throw new ConfigError('getOrSet: factory must be a function');
  return ctx.flights.run(redisKey, async () => {
    const cached = await get<T>(ctx, key, options);
    if (cached !== undefined) return cached;
    const value = await factory();
    if (value !== undefined) await set(ctx, key, value, options);
    return value;
  });
}
