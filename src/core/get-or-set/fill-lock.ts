/**
 * The cross-process single-flight of getOrSet: a token lock per key in Redis (on the master).
 *
 *   acquire  one script: SET lock token NX PX lockTimeout, PTTL of the lock, optionally the
 *            current value (someone may have filled it since we read), and the stamps of the
 *            tags the value will carry (read before the factory runs, see tags.ts).
 *   fill     the holder stores the value, releases the lock if it still owns it (token check,
 *            as Lock does) and publishes the stored bytes on the key's fill channel — three
 *            commands written back to back on one connection, so one round trip.
 *   give up  the holder failed: release and publish an empty message, so a waiter takes over
 *            at once instead of at the lock's expiry.
 *
 * A holder that dies simply stops renewing nothing: its lock expires after its PX
 * (= lockTimeout) and the next waiter's SET NX wins. What a failover can do: the lock lives on
 * the master and replication is asynchronous, so a lock taken just before the master died may
 * be missing on the promoted replica: a second process then becomes holder as well (one extra
 * factory call), and the first holder's release finds another token and deletes nothing.
 */
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

export interface FillKeys {
  value: string;
  /** Lock and channel: set when this caller holds (or held) the fill lock. */
  lock?: { key: string; token: string; channel: string };
}

/**
 * Store `encoded` (PX `px`, or no expiry when null), then release the lock and publish the
 * bytes to the waiters when a lock is held. One round trip.
 */
export async function storeFill(client: Redis, keys: FillKeys, encoded: Buffer | string, px: number | null) {
  const set = px === null ? client.set(keys.value, encoded) : client.set(keys.value, encoded, 'PX', px);
  const lock = keys.lock;
  if (lock === undefined) {
    await set;
    return;
  }
  await Promise.all([
    set,
    LOCK_RELEASE.run(client, [lock.key], [lock.token]),
    client.publish(lock.channel, typeof encoded === 'string' ? Buffer.from(encoded) : encoded),
  ]);
}

/** The holder gives up without a value: release (if still ours) and wake the waiters to take over. */
export async function abandonFill(client: Redis, lock: { key: string; token: string; channel: string }) {
  await Promise.all([LOCK_RELEASE.run(client, [lock.key], [lock.token]), client.publish(lock.channel, '')]);
}

/** Release without waking anyone (we took the lock but found the value already filled). */
export async function releaseFill(client: Redis, lock: { key: string; token: string }) {
  await LOCK_RELEASE.run(client, [lock.key], [lock.token]);
}
