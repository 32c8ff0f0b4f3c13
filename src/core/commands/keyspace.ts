import type { Redis } from 'ioredis';
import { ConfigError } from '../errors.js';
import { EMPTY_ARRAY, UNDEFINED, ZERO } from '../executor.js';
import { versionOf } from '../keys.js';
import { DEFAULT_SCAN_COUNT, scanAll, scanBatches, scanCount } from '../scan.js';
import { PERSIST_EXISTING } from '../scripts.js';
import type { Ttl } from '../ttl.js';
import { type CommandContext, type KeyOptions, redisKeyOf, ttlOf } from './context.js';

/** Whole keys: existence, deletion, expiry, and the key scans (keys, iterKeys, deletePattern, clear). */

export interface ScanOptions extends KeyOptions {
  /** SCAN COUNT hint per round trip (not a limit on results). Default 1000. */
  scanCount?: number;
}

export async function del(ctx: CommandContext, key: string, options?: KeyOptions): Promise<boolean> {
  const redisKey = redisKeyOf(ctx, key, options);
  return (await ctx.executor.write('delete', key, ZERO, redisKey, (client) => client.del(redisKey))) === 1;
}

export async function has(ctx: CommandContext, key: string, options?: KeyOptions): Promise<boolean> {
  const redisKey = redisKeyOf(ctx, key, options);
  // A near-cache entry answers; otherwise EXISTS (not kept: it does not say what GET would).
  const held = ctx.executor.near?.lookup(redisKey);
  if (held !== undefined) return held.value !== null;
  return (await ctx.executor.run('read', 'has', key, ZERO, (client) => client.exists(redisKey))) === 1;
}

// ---------------------------------------------------------------- expiry

/** Remaining ms; null = no expiry; undefined = no such key. */
export async function ttl(
  ctx: CommandContext,
  key: string,
  options?: KeyOptions,
): Promise<number | null | undefined> {
  const redisKey = redisKeyOf(ctx, key, options);
  const ms = await ctx.executor.run('read', 'ttl', key, UNDEFINED, (client) => client.pttl(redisKey));
  if (ms === undefined || ms === -2) return undefined;
  if (ms === -1) return null;
  return ms;
}

export async function expire(
  ctx: CommandContext,
  key: string,
  ttl?: Ttl,
  options?: KeyOptions,
): Promise<boolean> {
  const redisKey = redisKeyOf(ctx, key, options);
  const ms = ttlOf(ctx, ttl);
  const reply = await ctx.executor.write('expire', key, ZERO, redisKey, (client) =>
    ms === null ? PERSIST_EXISTING.run(client, [redisKey], []) : client.pexpire(redisKey, ms),
  );
  return reply === 1;
}

export async function expireAt(
  ctx: CommandContext,
  key: string,
  when: Date | number,
  options?: KeyOptions,
): Promise<boolean> {
  const redisKey = redisKeyOf(ctx, key, options);
  const at = when instanceof Date ? when.getTime() : when;
  if (typeof at !== 'number' || !Number.isFinite(at)) {
    throw new ConfigError('expireAt: when must be a Date or epoch milliseconds');
  }
  const ms = Math.ceil(at);
  return (
    (await ctx.executor.write('expireAt', key, ZERO, redisKey, (client) =>
      client.pexpireat(redisKey, ms),
    )) === 1
  );
}

export async function persist(ctx: CommandContext, key: string, options?: KeyOptions): Promise<boolean> {
  const redisKey = redisKeyOf(ctx, key, options);
  return (
    (await ctx.executor.write('persist', key, ZERO, redisKey, (c) =>
      PERSIST_EXISTING.run(c, [redisKey], []),
    )) === 1
  );
}

// ---------------------------------------------------------------- key scans

function scanStep(client: Redis, pattern: string, count: number) {
  return (cursor: string) => client.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', count);
}

/** SCAN MATCH `pattern` and UNLINK what it finds (and `keep` accepts), batch by batch, on one client. */
async function unlinkMatching(
  client: Redis,
  pattern: string,
  count: number,
  keep?: (redisKey: Buffer) => boolean,
): Promise<number> {
  let deleted = 0;
  for await (const found of scanBatches(scanStep(client, pattern, count))) {
    const batch = keep === undefined ? found : found.filter(keep);
    if (batch.length > 0) deleted += await client.unlink(...batch);
  }
  return deleted;
}

/** User keys matching `glob` (prefix and version stripped). One SCAN loop on one node. */
export async function keys(ctx: CommandContext, glob: string, options?: ScanOptions): Promise<string[]> {
  const version = versionOf(options, ctx.version);
  const pattern = ctx.keys.pattern(glob, version);
  const count = scanCount(options?.scanCount, 'scanCount');
  const redisKeys = await ctx.executor.run('read', 'keys', glob, EMPTY_ARRAY, (client) =>
    scanAll(scanStep(client, pattern, count)),
  );
  // SCAN may return a key twice (rehashing); report each once.
  const unique = new Set(redisKeys.map((k) => k.toString()));
  return [...unique].map((k) => ctx.keys.userKey(k, version));
}

/**
 * User keys matching `glob`, fetched one SCAN batch at a time. Each batch runs on the master
 * ('write' intent): a SCAN cursor is only meaningful on the node that issued it, and a read
 * could be routed to a different replica for each batch.
 */
export async function* iterKeys(
  ctx: CommandContext,
  glob: string,
  options?: ScanOptions,
): AsyncIterableIterator<string> {
  const version = versionOf(options, ctx.version);
  const pattern = ctx.keys.pattern(glob, version);
  const count = scanCount(options?.scanCount, 'scanCount');
  const batches = scanBatches((cursor) =>
    ctx.executor.run(
      'write',
      'iterKeys',
      glob,
      (): [string, Buffer[]] => ['0', []],
      (client) => scanStep(client, pattern, count)(cursor),
    ),
  );
  for await (const batch of batches) for (const k of batch) yield ctx.keys.userKey(k.toString(), version);
}

/** SCAN + UNLINK of this cache's keys matching `glob`; returns how many were deleted. */
export async function deletePattern(
  ctx: CommandContext,
  glob: string,
  options?: ScanOptions,
): Promise<number> {
  const pattern = ctx.keys.pattern(glob, versionOf(options, ctx.version));
  const count = scanCount(options?.scanCount, 'scanCount');
  try {
    return await ctx.executor.run('write', 'deletePattern', glob, ZERO, (client) =>
      unlinkMatching(client, pattern, count),
    );
  } finally {
    ctx.executor.near?.flush('manual');
  }
}

/** Delete every key of this cache's prefix (all versions); returns how many. */
export async function clear(ctx: CommandContext): Promise<number> {
  const pattern = ctx.keys.everyVersionPattern();
  const own = ctx.keys.ownKeyTest();
  try {
    return await ctx.executor.run('write', 'clear', undefined, ZERO, (client) =>
      unlinkMatching(client, pattern, DEFAULT_SCAN_COUNT, own),
    );
  } finally {
    ctx.executor.near?.flush('manual');
  }
}

export async function flushDb(ctx: CommandContext): Promise<void> {
  try {
    await ctx.executor.run('write', 'flushDb', undefined, null, (client) => client.flushdb());
  } finally {
    ctx.executor.near?.flush('flushdb');
  }
}
