import { decodeEntry, encodeEntry } from '../entries.js';
import { ConfigError } from '../errors.js';
import { NULL, ZERO } from '../executor.js';
import type { Ttl } from '../ttl.js';
import { type CommandContext, type KeyOptions, redisKeyOf, ttlOf } from './context.js';
import { currentEntries, type EnvelopeOptions, envelopeFor, graceOf } from './tagged.js';

/** Single values: GET and SET (with NX/XX/PX; grace and tags through the entry envelope). */

export interface SetOptions extends KeyOptions, EnvelopeOptions {
  /** ms, '30s', '5m', ... or null for no expiry; default: `defaultTtl`. 0 or less deletes the key. */
  ttl?: Ttl;
  /** Only write if the key does not exist. */
  nx?: boolean;
  /** Only write if the key exists. */
  xx?: boolean;
}

export async function get<T>(ctx: CommandContext, key: string, options?: KeyOptions): Promise<T | undefined> {
  const redisKey = redisKeyOf(ctx, key, options);
  const raw = await ctx.executor.run('read', 'get', key, NULL, (client) => client.getBuffer(redisKey));
  if (raw === null) {
    ctx.executor.miss(key);
    return undefined;
  }
  const { value, meta } = decodeEntry(ctx.codec, raw, key);
  // An entry with an envelope counts only while fresh and while none of its tags was invalidated.
  if (meta !== undefined && !(await currentEntries(ctx, [meta], 'get', key))[0]) {
    ctx.executor.miss(key);
    return undefined;
  }
  ctx.executor.hit(key);
  return value as T;
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
  // Encode before any write: a value the serializer refuses means nothing is written.
  const meta = await envelopeFor(ctx, ttl, options, key);
  const encoded = encodeEntry(ctx.codec, value, meta);
  // Redis keeps an entry with an envelope for ttl + grace (getOrSet may serve it stale).
  const px = ttl === null || meta === undefined ? ttl : ttl + graceOf(options);
  if (ttl !== null && ttl <= 0) {
    // Expire now. With nx an existing key must survive (django-redis semantics); a missing
    // one would be expired at once: nothing to do either way.
    if (!nx) await ctx.executor.run('write', 'set', key, ZERO, (client) => client.del(redisKey));
    return false;
  }
  const reply = await ctx.executor.run('write', 'set', key, NULL, (client) => {
    if (px === null) {
      if (nx) return client.set(redisKey, encoded, 'NX');
      if (xx) return client.set(redisKey, encoded, 'XX');
      return client.set(redisKey, encoded);
    }
    if (nx) return client.set(redisKey, encoded, 'PX', px, 'NX');
    if (xx) return client.set(redisKey, encoded, 'PX', px, 'XX');
    return client.set(redisKey, encoded, 'PX', px);
  });
  return reply === 'OK';
}
