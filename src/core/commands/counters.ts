import { ConfigError, KeyNotFoundError, NotAnIntegerError } from '../errors.js';
import { versionOf } from '../keys.js';
import { unlessSlotRefused } from '../redis-errors.js';
import { INCR_SAFE, MOVE_KEEP_TTL } from '../scripts.js';
import { type CommandContext, type KeyOptions, redisKeyOf } from './context.js';

/** Integer counters (INCRBY, keeping the TTL) and key versions (moving a key to another version). */

export interface IncrOptions extends KeyOptions {
  /** Treat a missing key as 0 instead of throwing KeyNotFoundError. */
  ignoreKeyCheck?: boolean;
}

export function checkDelta(delta: unknown, method = 'incr'): number {
  if (Number.isSafeInteger(delta)) return delta as number;
  if (typeof delta === 'object' && delta !== null) {
    // The usual slip: options passed where the delta goes, e.g. incrVersion('k', { version: 2 }).
    throw new ConfigError(
      `${method}(key, delta, options): the second argument is the delta (an integer), got an object; pass options third: ${method}('k', 1, { version: 2 })`,
    );
  }
  throw new ConfigError(`${method}: delta must be a safe integer; got ${typeof delta} ${String(delta)}`);
}

/** The reason a reply error means "no integer result", or undefined for any other error. */
function notAnIntegerReason(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  if (/UNSAFE_INTEGER/.test(err.message)) {
    return 'would leave the range of exact JavaScript integers (±(2^53 − 1)); left unchanged';
  }
  if (/would overflow/.test(err.message)) return 'would overflow a 64-bit integer; left unchanged';
  if (/not an integer|out of range/.test(err.message)) return 'is not an integer';
  return undefined;
}

/**
 * Atomically add `delta`; keeps the TTL. KeyNotFoundError if missing (unless ignoreKeyCheck).
 * NotAnIntegerError, value unchanged, when the stored value is not an integer or the result
 * would not be an exact JavaScript number (beyond ±(2^53 − 1)): never a silently rounded one.
 */
export async function incr(
  ctx: CommandContext,
  key: string,
  delta: number,
  options?: IncrOptions,
): Promise<number> {
  checkDelta(delta, 'incr');
  const redisKey = redisKeyOf(ctx, key, options);
  const ignoreKeyCheck = options?.ignoreKeyCheck === true;
  // Both refusals are the operation's outcome (telemetry records them as its error): the
  // reply error is named where the script runs, the missing key in the same promise step.
  return ctx.executor.writeThen(
    'incr',
    key,
    null,
    redisKey,
    (client) =>
      INCR_SAFE.run(client, [redisKey], [delta, ignoreKeyCheck ? '0' : '1']).catch((err: unknown) => {
        const reason = notAnIntegerReason(err);
        throw reason === undefined ? err : new NotAnIntegerError(key, { cause: err, reason });
      }),
    (reply) => {
      if (reply === null) throw new KeyNotFoundError(key);
      return Number(reply);
    },
  );
}

/** Move the key to version + delta keeping value and TTL; returns the new version. */
export async function incrVersion(
  ctx: CommandContext,
  key: string,
  delta: number,
  options?: KeyOptions,
): Promise<number> {
  checkDelta(delta, 'incrVersion');
  const from = versionOf(options, ctx.version);
  const to = from + delta;
  const fromKey = ctx.keys.build(key, from);
  const toKey = ctx.keys.build(key, to);
  // One script when both keys share a slot; while that slot is being migrated Redis refuses it
  // (the new key does not exist yet) until the migration ends: then the steps one key at a time.
  if (ctx.executor.canCombine([fromKey, toKey])) {
    const moved = await ctx.executor.writeThen(
      'incrVersion',
      key,
      null,
      [fromKey, toKey],
      (client) => unlessSlotRefused(MOVE_KEEP_TTL.run(client, [fromKey, toKey], [])),
      (moved) => {
        if (moved === undefined) return undefined;
        if (moved !== 1) throw new KeyNotFoundError(key);
        return to;
      },
    );
    if (moved !== undefined) return moved;
  }
  await moveAcrossSlots(ctx, key, fromKey, toKey);
  return to;
}

/**
 * MOVE_KEEP_TTL for two keys in different cluster slots (the version is part of the key, so
 * usually the case), or in one slot being migrated: DUMP + PTTL on the old key's node, RESTORE
 * on the new key's node, DEL of the old key (KeyNotFoundError when there is none). Not atomic: a
 * write to the old key between the steps is lost with it.
 */
async function moveAcrossSlots(
  ctx: CommandContext,
  key: string,
  fromKey: string,
  toKey: string,
): Promise<void> {
  type Read = readonly [Buffer | null, number];
  const [dump, ttl] = await ctx.executor.runThen<Read, never, readonly [Buffer, number]>(
    'write',
    'incrVersion',
    key,
    null,
    async (client) => {
      const replies = (await client.pipeline().dumpBuffer(fromKey).pttl(fromKey).exec()) ?? [];
      for (const [err] of replies) if (err) throw err;
      return [replies[0]?.[1] as Buffer | null, replies[1]?.[1] as number];
    },
    ([dump, ttl]) => {
      if (dump === null) throw new KeyNotFoundError(key);
      return [dump, ttl];
    },
  );
  await ctx.executor.write('incrVersion', key, null, toKey, (client) =>
    client.restore(toKey, Math.max(ttl, 0), dump, 'REPLACE'),
  );
  await ctx.executor.write('incrVersion', key, null, fromKey, (client) => client.del(fromKey));
}

export async function decr(
  ctx: CommandContext,
  key: string,
  delta: number,
  options?: IncrOptions,
): Promise<number> {
  return incr(ctx, key, -checkDelta(delta, 'decr'), options);
}

export async function decrVersion(
  ctx: CommandContext,
  key: string,
  delta: number,
  options?: KeyOptions,
): Promise<number> {
  return incrVersion(ctx, key, -checkDelta(delta, 'decrVersion'), options);
}
