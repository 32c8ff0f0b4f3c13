/**
 * The cross-process single-flight of getOrSet: a token lock per key in Redis (on the master).
 *
 *   acquire  one script: SET lock token NX PX lockTimeout, PTTL of the lock, optionally the
 *            current value (someone may have filled it since we read), and the stamps of the
 *            tags the value will carry (read before the factory runs, see tags.ts).
 *   fill     one script: store the value only if no other fill holds the lock and the key still
 *            holds what it held when this fill began (compared by SHA1); release the lock if it
 *            is ours; publish the stored bytes on the key's fill channel for the waiters.
 *   give up  the holder failed: release and publish an empty message, so a waiter takes over
 *            at once instead of at the lock's expiry.
 *
 * A holder that dies simply stops: its lock expires after its PX (= lockTimeout) and the next
 * waiter's SET NX wins. A holder that was only paused (SIGSTOP, a long GC) and comes back after
 * that finds another token in the lock, or the value changed by the fill that took over: its
 * store is refused, so an older computation never replaces a newer one. What a failover can do:
 * the lock lives on the master and replication is asynchronous, so a lock taken just before the
 * master died may be missing on the promoted replica: a second process then becomes holder as
 * well (one extra factory call); whichever stores first wins, the other's store is refused.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LOCK_RELEASE, LuaScript } from '../scripts.js';
import { parseStamps } from '../tags.js';

/**
 * KEYS[1] value, KEYS[2] lock, KEYS[3..] tag stamps; ARGV[1] token, ARGV[2] lock PX,
 * ARGV[3] '1' to return the value. Reply: { value or nil, 1 if acquired else 0, lock PTTL, stamps... }.
 */
const FILL_ACQUIRE = new LuaScript(`
local acquired = 0
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then acquired = 1 end
local out = { false, acquired, redis.call('PTTL', KEYS[2]) }
if ARGV[3] == '1' then out[1] = redis.call('GET', KEYS[1]) end
for i = 3, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) or '0' end
return out
`);

export interface Acquired {
  /** The value stored under the key right now (only when asked for), else null. */
  value: Buffer | null;
  acquired: boolean;
  /** The lock's remaining ms (-2 when it vanished in between, -1 never). */
  pttl: number;
  /** Stamps of the tag keys passed in, in order. */
  stamps: number[];
}

export async function acquireFill(
  client: Redis,
  keys: { value: string; lock: string; stamps: readonly string[] },
  token: string,
  lockMs: number,
  wantValue: boolean,
): Promise<Acquired> {
  const reply = (await FILL_ACQUIRE.runBuffer(
    client,
    [keys.value, keys.lock, ...keys.stamps],
    [token, lockMs, wantValue ? '1' : '0'],
  )) as Array<Buffer | number | null>;
  return {
    value: (reply[0] as Buffer | null) ?? null,
    acquired: reply[1] === 1,
    pttl: Number(reply[2]),
    stamps: parseStamps(reply.slice(3) as Buffer[]),
  };
}

/** A fill lock: its key, this caller's token (the lock's value while it holds it), the channel. */
export interface FillLock {
  key: string;
  token: string;
  channel: string;
}

/** What a fill stores under: the value key, the lock (distributed mode), what the key held. */
export interface FillTarget {
  value: string;
  /** Absent with lock 'local': then only `seen` is checked. */
  lock?: FillLock;
  /** `fingerprint()` of the value the key held when this fill began. */
  seen: string;
}

/** What FILL_STORE compares: '' for "no value", else the SHA1 (hex) of the stored bytes. */
export function fingerprint(raw: Buffer | null): string {
  return raw === null ? '' : createHash('sha1').update(raw).digest('hex');
}

/**
 * KEYS[1] value, KEYS[2] lock (absent: lock 'local'); ARGV[1] fingerprint of what the key held
 * when the fill began, ARGV[2] the bytes, ARGV[3] PX ms or '' (no expiry), ARGV[4] token,
 * ARGV[5] channel. Returns 1 when stored, 0 when refused. A refused holder still releases its
 * lock and wakes the waiters (empty message) to read the value that won.
 */
const FILL_STORE = new LuaScript(`
local lock = KEYS[2]
local holder = false
if lock then
  holder = redis.call('GET', lock)
  if holder and holder ~= ARGV[4] then return 0 end
  if holder then redis.call('DEL', lock) end
end
local current = redis.call('GET', KEYS[1])
if (current and redis.sha1hex(current) or '') ~= ARGV[1] then
  if holder then redis.call('PUBLISH', ARGV[5], '') end
  return 0
end
if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
if lock then redis.call('PUBLISH', ARGV[5], ARGV[2]) end
return 1
`);

/**
 * Store `encoded` (PX `px`, or no expiry when null) unless another fill holds the lock or the
 * key no longer holds what it held when this fill began; release the lock if ours and publish
 * the bytes to the waiters. One round trip. Resolves whether the value was stored.
 */
export async function storeFill(
  client: Redis,
  target: FillTarget,
  encoded: Buffer | string,
  px: number | null,
): Promise<boolean> {
  const { lock } = target;
  const keys = lock === undefined ? [target.value] : [target.value, lock.key];
  const stored = await FILL_STORE.run(client, keys, [
    target.seen,
    encoded,
    px === null ? '' : px,
    lock?.token ?? '',
    lock?.channel ?? '',
  ]);
  return stored === 1;
}

/** The holder gives up without a value: release (if still ours) and wake the waiters to take over. */
export async function abandonFill(client: Redis, lock: FillLock) {
  await Promise.all([LOCK_RELEASE.run(client, [lock.key], [lock.token]), client.publish(lock.channel, '')]);
}

/** Release without waking anyone (we took the lock but found the value already filled). */
export async function releaseFill(client: Redis, lock: FillLock) {
  await LOCK_RELEASE.run(client, [lock.key], [lock.token]);
}
