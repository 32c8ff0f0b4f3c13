import { ConfigError, KeyNotFoundError, NotAnIntegerError } from '../errors.js';
import { versionOf } from '../keys.js';
import { INCR_EXISTING, MOVE_KEEP_TTL } from '../scripts.js';
import { type CommandContext, type KeyOptions, redisKeyOf } from './context.js';

/** Integer counters (INCRBY, keeping the TTL) and key versions (moving a key to another version). */

export interface IncrOptions extends KeyOptions {
  /** Treat a missing key as 0 instead of throwing KeyNotFoundError. */
  ignoreKeyCheck?: boolean;
}

export function checkDelta(delta: unknown): number {
  if (!Number.isSafeInteger(delta)) throw new ConfigError(`delta must be an integer; got ${String(delta)}`);
  return delta as number;
}

function isNotAnInteger(err: unknown): boolean {
  return err instanceof Error && /not an integer|out of range/.test(err.message);
}

/** Atomically add `delta`; keeps the TTL. KeyNotFoundError if missing (unless ignoreKeyCheck). */
export async function incr(
  ctx: CommandContext,
  key: string,
  delta: number,
  options?: IncrOptions,
): Promise<number> {
  checkDelta(delta);
  const redisKey = redisKeyOf(ctx, key, options);
  const ignoreKeyCheck = options?.ignoreKeyCheck === true;
  let reply: unknown;
  try {
    reply = await ctx.executor.write('incr', key, null, redisKey, (client) =>
      ignoreKeyCheck ? client.incrby(redisKey, delta) : INCR_EXISTING.run(client, [redisKey], [delta]),
    );
  } catch (err) {
    if (isNotAnInteger(err)) throw new NotAnIntegerError(key, { cause: err });
    throw err;
  }
  if (reply === null) throw new KeyNotFoundError(key);
  return Number(reply);
}

/** Move the key to version + delta keeping value and TTL; returns the new version. */
export async function incrVersion(
  ctx: CommandContext,
  key: string,
  delta: number,
  options?: KeyOptions,
): Promise<number> {
  checkDelta(delta);
  const from = versionOf(options, ctx.version);
  const to = from + delta;
  const fromKey = ctx.keys.build(key, from);
  const toKey = ctx.keys.build(key, to);
  const moved = await ctx.executor.write('incrVersion', key, null, [fromKey, toKey], (client) =>
    MOVE_KEEP_TTL.run(client, [fromKey, toKey], []),
  );
  if (moved !== 1) throw new KeyNotFoundError(key);
  return to;
}

export function decr(
  ctx: CommandContext,
  key: string,
  delta: number,
  options?: IncrOptions,
): Promise<number> {
  return incr(ctx, key, -checkDelta(delta), options);
}

export function decrVersion(
  ctx: CommandContext,
  key: string,
  delta: number,
  options?: KeyOptions,
): Promise<number> {
  return incrVersion(ctx, key, -checkDelta(delta), options);
}
