import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script run with EVALSHA, falling back to EVAL once when the node does not have it
 * cached (NOSCRIPT: a fresh node, a replica promoted after failover, SCRIPT FLUSH). Works on
 * whatever client the router hands us, so nothing has to be registered per connection.
 */
export class LuaScript {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: readonly (string | Buffer)[], args: readonly (string | number | Buffer)[]) {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return await client.eval(this.source, keys.length, ...keys, ...args);
      }
      throw err;
    }
  }

  /** As run(), with bulk replies as Buffers (for scripts that return stored values). */
  async runBuffer(
    client: Redis,
    keys: readonly (string | Buffer)[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    // ioredis defines the Buffer variants of every command at run time but does not type these two.
    const buffered = client as unknown as Record<
      'evalshaBuffer' | 'evalBuffer',
      (...a: unknown[]) => Promise<unknown>
    >;
    try {
      return await buffered.evalshaBuffer(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return await buffered.evalBuffer(this.source, keys.length, ...keys, ...args);
      }
      throw err;
    }
  }
}

/**
 * INCRBY that keeps the result an exact JavaScript integer: if the key must exist (ARGV[2] =
 * '1') and does not, nil; if the result leaves ±(2^53 − 1), the increment is undone and the
 * script fails with UNSAFE_INTEGER (the value is left as it was). INCRBY keeps the TTL.
 * A Lua number is a double: any result past 2^53 − 1 compares greater than it.
 */
export const INCR_SAFE = new LuaScript(`
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return false end
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n > 9007199254740991 or n < -9007199254740991 then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return redis.error_reply('UNSAFE_INTEGER the result would not be an exact JavaScript integer')
end
return n
`);

/**
 * Move a key of any type to a new name keeping its remaining TTL (incrVersion). Returns 0
 * when the source does not exist. DUMP/RESTORE copies sets, hashes and sorted sets too.
 */
export const MOVE_KEEP_TTL = new LuaScript(`
local dump = redis.call('DUMP', KEYS[1])
if not dump then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
redis.call('RESTORE', KEYS[2], ttl, dump, 'REPLACE')
redis.call('DEL', KEYS[1])
return 1
`);

/** PERSIST that answers "did the key exist" (PERSIST alone says 0 for a key without a TTL). */
export const PERSIST_EXISTING = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('PERSIST', KEYS[1])
return 1
`);

/**
 * Lock acquire: SET NX PX, except that a key already holding our own token counts as acquired
 * (its TTL reset): an earlier attempt whose reply was lost (timeout, failover) may have set it.
 * ARGV[1] = token, ARGV[2] = ms or '' for no expiry. Returns 1 when the lock is ours, else 0.
 */
export const LOCK_ACQUIRE = new LuaScript(`
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  if ARGV[2] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
  return 1
end
if held then return 0 end
if ARGV[2] == '' then redis.call('SET', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
`);

/** Lock release: delete only if we still own it (value == our token). */
export const LOCK_RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** Lock extend: set a new TTL only if we still own it. ARGV[2] = ms, or '' for no expiry. */
export const LOCK_EXTEND = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`);

/**
 * setMany's chunk with a TTL: SET key value PX ms for every key, one command (MSET carries no
 * TTL). KEYS = the keys, ARGV = their values in the same order, then the TTL in ms. Atomic like
 * MSET: no client sees part of the chunk written. Returns how many keys were written.
 */
export const SET_MANY_PX = new LuaScript(`
local px = ARGV[#ARGV]
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i], 'PX', px)
end
return #KEYS
`);

/**
 * The PTTL of each key named in ARGV, in order: the near cache's TTLs for a batch it reads with
 * MGET (sent with it, one round trip, two commands instead of one PTTL per key).
 *
 * The keys are ARGV, not KEYS, on purpose, so only use it on a single node (never in a cluster):
 * Redis 7.0 remembers, for CLIENT TRACKING, the calling command's keys on every command a script
 * runs, so a script over KEYS costs O(keys²) there (one of 1,000 keys took ~120 ms against ~3 ms
 * this way). The MGET is what makes Redis track the keys; the PTTLs need not.
 */
export const PTTLS = new LuaScript(`
local reply = {}
for i = 1, #ARGV do reply[i] = redis.call('PTTL', ARGV[i]) end
return reply
`);
