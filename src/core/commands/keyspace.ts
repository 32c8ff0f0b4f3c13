import type { Redis } from 'ioredis';
import { chunks, eachKey, failedPart, type Progress, progress } from '../batch.js';
import { ConfigError } from '../errors.js';
import { EMPTY_ARRAY, UNDEFINED, ZERO } from '../executor.js';
import { versionOf } from '../keys.js';
import { DEFAULT_SCAN_COUNT, mergedBatches, scanBatches, scanCount } from '../scan.js';
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
  const near = ctx.executor.near;
  const held = near?.lookup(redisKey);
  if (near !== undefined && held !== undefined) return near.answer(held.value !== null);
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
  // PEXPIREAT takes a 64-bit integer; stay where a JS number is exact (1e21 would be sent as
  // '1e+21' and refused by Redis with a bare reply error).
  if (typeof at !== 'number' || !Number.isFinite(at) || Math.abs(at) > Number.MAX_SAFE_INTEGER) {
    throw new ConfigError(
      `expireAt: when must be a valid Date or epoch milliseconds within ±${Number.MAX_SAFE_INTEGER}; got ${String(when)}`,
    );
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

/**
 * UNLINK of keys one node's SCAN found: one command on a single-node router. On a router with
 * several nodes (a cluster), one UNLINK per key through the router's own client, each routed to
 * the owner of its slot (eachKey): while a slot migrates, the keys a SCAN finds on the importing
 * node are refused there (MOVED) until the migration ends, and a key may leave the migrating
 * node between its SCAN and its UNLINK (ASK); routed on its own, each reaches the node holding it.
 */
async function unlinkFound(ctx: CommandContext, client: Redis, keys: Buffer[]): Promise<number> {
  const router = ctx.executor.router;
  if (router.groupKeys === undefined) return client.unlink(keys);
  const counts = await router.execute('write', (routed) => eachKey(keys, (key) => routed.unlink(key)));
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * SCAN MATCH `pattern` and UNLINK what it finds (and `keep` accepts), batch by batch, on one
 * client; UNLINK in chunks of BATCH_SIZE (a huge scanCount returns huge batches). `done`
 * records each round trip and each key deleted, for the caller's report if it fails (shared by
 * the runs on every master of a cluster).
 */
async function unlinkMatching(
  ctx: CommandContext,
  client: Redis,
  pattern: string,
  count: number,
  done: Progress,
  keep?: (redisKey: Buffer) => boolean,
): Promise<number> {
  for await (const found of scanBatches(scanStep(client, pattern, count))) {
    done.steps++;
    const batch = keep === undefined ? found : found.filter(keep);
    for (const chunk of chunks(batch)) {
      // Read `done.completed` only after the await: the runs on other masters add to it meanwhile.
      const deleted = await unlinkFound(ctx, client, chunk);
      done.completed += deleted;
      done.steps++;
    }
  }
  return done.completed;
}

/**
 * User keys matching `glob` (prefix and version stripped). One SCAN loop on each master. A loop
 * that fails after its first round trip is an IncompleteError (also under ignoreErrors).
 */
export async function keys(ctx: CommandContext, glob: string, options?: ScanOptions): Promise<string[]> {
  const version = versionOf(options, ctx.version);
  const pattern = ctx.keys.pattern(glob, version);
  const count = scanCount(options?.scanCount, 'scanCount');
  // SCAN may return a key twice (rehashing, a master scanned again after a failover); report each once.
  const unique = new Set<string>();
  const done = progress();
  try {
    await ctx.executor.runOnEveryMaster('keys', glob, null, async (client) => {
      for await (const batch of scanBatches(scanStep(client, pattern, count))) {
        done.steps++;
        for (const k of batch) unique.add(k.toString());
        done.completed = unique.size;
      }
    });
  } catch (err) {
    return failedPart(ctx.executor, err, 'keys', glob, done, EMPTY_ARRAY);
  }
  return [...unique].map((k) => ctx.keys.userKey(k, version));
}

/**
 * User keys matching `glob`, fetched one SCAN batch at a time. Each batch runs on the master
 * ('write' intent): a SCAN cursor is only meaningful on the node that issued it, and a read
 * could be routed to a different replica for each batch. A failure before the first batch
 * ends the iteration under ignoreErrors; a failure after it throws IncompleteError (with the
 * number of keys yielded), so a caller never takes a partial listing for a complete one.
 */
export async function* iterKeys(
  ctx: CommandContext,
  glob: string,
  options?: ScanOptions,
): AsyncIterableIterator<string> {
  const version = versionOf(options, ctx.version);
  const pattern = ctx.keys.pattern(glob, version);
  const count = scanCount(options?.scanCount, 'scanCount');
  const done = progress();
  // Several masters (a cluster): every master scanned at once, batches yielded as they come.
  const batches =
    ctx.executor.router.eachMaster !== undefined
      ? mergedBatches<Buffer>((push) =>
          ctx.executor.runOnEveryMaster('iterKeys', glob, null, async (client) => {
            for await (const batch of scanBatches(scanStep(client, pattern, count))) {
              if (!(await push(batch))) return; // the caller stopped iterating
            }
          }),
        )
      : scanBatches((cursor) =>
          ctx.executor.run('write', 'iterKeys', glob, null, (client) =>
            scanStep(client, pattern, count)(cursor),
          ),
        );
  for (;;) {
    let next: IteratorResult<Buffer[]>;
    try {
      next = await batches.next();
    } catch (err) {
      failedPart(ctx.executor, err, 'iterKeys', glob, done, UNDEFINED);
      return;
    }
    if (next.done === true) return;
    done.steps++;
    for (const k of next.value) {
      yield ctx.keys.userKey(k.toString(), version);
      done.completed++;
    }
  }
}

/** SCAN + UNLINK of this cache's keys matching `glob`; returns how many were deleted. */
export async function deletePattern(
  ctx: CommandContext,
  glob: string,
  options?: ScanOptions,
): Promise<number> {
  const pattern = ctx.keys.pattern(glob, versionOf(options, ctx.version));
  const count = scanCount(options?.scanCount, 'scanCount');
  const done = progress();
  try {
    await ctx.executor.runOnEveryMaster('deletePattern', glob, null, (client) =>
      unlinkMatching(ctx, client, pattern, count, done),
    );
    return done.completed;
  } catch (err) {
    return failedPart(ctx.executor, err, 'deletePattern', glob, done, ZERO);
  } finally {
    ctx.executor.near?.flush('manual');
  }
}

/** Delete every key of this cache's prefix (all versions); returns how many. */
export async function clear(ctx: CommandContext): Promise<number> {
  const pattern = ctx.keys.everyVersionPattern();
  const own = ctx.keys.ownKeyTest();
  const done = progress();
  try {
    await ctx.executor.runOnEveryMaster('clear', undefined, null, (client) =>
      unlinkMatching(ctx, client, pattern, DEFAULT_SCAN_COUNT, done, own),
    );
    return done.completed;
  } catch (err) {
    return failedPart(ctx.executor, err, 'clear', undefined, done, ZERO);
  } finally {
    ctx.executor.near?.flush('manual');
  }
}

/** FLUSHDB on every master. */
export async function flushDb(ctx: CommandContext): Promise<void> {
  try {
    await ctx.executor.runOnEveryMaster('flushDb', undefined, null, (client) => client.flushdb());
  } finally {
    ctx.executor.near?.flush('flushdb');
  }
}
