/**
 * The cross-process single-flight of getOrSet: a token lock per key in Redis (on the master).
 *
 *   acquire  one script: SET lock token NX PX lockTimeout, the lock's holder and PTTL, the
 *            current value (someone may have filled it since we read), and the stamps of the
 *            tags the value will carry that share its slot (read before the factory runs, see
 *            tags.ts).
 *   fill     one script: store the value only if no other fill holds the lock and the key still
 *            holds what it held when this fill began (compared by SHA1); release the lock if it
 *            is ours; publish the stored bytes on the key's fill channel for the waiters.
 *   give up  the holder failed: release and publish "no value", so a waiter takes over at once
 *            instead of at the lock's expiry.
 *
 * Every message starts with the publishing fill's token, and a waiter takes only messages of the
 * holder it saw in the lock: a message of an earlier fill of the key (late, or delivered twice by
 * a cluster's pub/sub, which crosses the cluster bus) is never taken for the current one.
 *
 * A holder that dies simply stops: its lock expires after its PX (= lockTimeout) and the next
 * waiter's SET NX wins. A holder that was only paused (SIGSTOP, a long GC) and comes back after
 * that finds another token in the lock, or the value changed by the fill that took over: its
 * store is refused, so an older computation never replaces a newer one. What a failover can do:
 * the lock lives on the master and replication is asynchronous, so a lock taken just before the
 * master died may be missing on the promoted replica: a second process then becomes holder as
 * well (one extra factory call); whichever stores first wins, the other's store is refused.
 *
 * While a cluster slot is being migrated, Redis runs a script over several keys of it only where
 * all of them exist, and the lock never exists beforehand: both scripts are refused (TRYAGAIN)
 * for the whole migration. The fill then takes the same steps one key at a time, each redirected
 * on its own (see acquireFill and storeFill for what that changes).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { eachKey } from '../batch.js';
import { isSlotRefusal } from '../redis-errors.js';
import { LOCK_RELEASE, LuaScript } from '../scripts.js';
import { parseStamps } from '../tags.js';

/** A fill's token: the lock's value while the fill holds it, the first bytes of its messages. */
export function fillToken(): string {
  return randomBytes(16).toString('hex');
}

/** Length of a token (32 hex characters), the head of every message. */
const TOKEN_LENGTH = 32;

/** A fill channel message: the publishing fill's token, then the stored bytes (none: no value). */
function fillMessage(token: string, encoded: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(token, 'latin1'), Buffer.from(encoded)]);
}

/** A message read back: whose fill published it, and the value (undefined: the fill has none). */
export function readFillMessage(message: Buffer): { token: string; value: Buffer | undefined } {
  const value = message.subarray(TOKEN_LENGTH);
  return {
    token: message.subarray(0, TOKEN_LENGTH).toString('latin1'),
    value: value.length > 0 ? value : undefined,
  };
}

/**
 * KEYS[1] value, KEYS[2] lock, KEYS[3..] tag stamps; ARGV[1] token, ARGV[2] lock PX.
 * Reply: { value or nil, 1 if acquired else 0, lock PTTL, lock holder or nil, stamps... }.
 */
const FILL_ACQUIRE = new LuaScript(`
local acquired = 0
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then acquired = 1 end
local out = { redis.call('GET', KEYS[1]), acquired, redis.call('PTTL', KEYS[2]), redis.call('GET', KEYS[2]) }
for i = 3, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) or '0' end
return out
`);

/**
 * FILL_ACQUIRE's lock alone. KEYS[1] lock; ARGV[1] token, ARGV[2] PX.
 * Reply: { 1 if acquired else 0, PTTL, holder or nil }.
 */
const FILL_LOCK = new LuaScript(`
local acquired = 0
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then acquired = 1 end
return { acquired, redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[1]) }
`);

export interface Acquired {
  /** The value stored under the key right now, else null. */
  value: Buffer | null;
  acquired: boolean;
  /** The lock's remaining ms (-2 when it vanished in between, -1 never). */
  pttl: number;
  /** The token of the fill holding the lock (ours when acquired; null when it vanished). */
  holder: string | null;
  /** Stamps of the tag keys passed in, in order. */
  stamps: number[];
}

/**
 * Take `lock` if free; read the value and `stamps` (keys in the value's slot) after that.
 * One script, or while the slot is being migrated (the script refused, see the file comment)
 * the same steps one key at a time: the lock first, then, once it answered, the value and the
 * stamps — still read after the lock was taken, one round trip more.
 */
export async function acquireFill(
  client: Redis,
  value: string,
  stamps: readonly string[],
  lock: FillLock,
): Promise<Acquired> {
  if (!lock.split) {
    try {
      const reply = (await FILL_ACQUIRE.runBuffer(
        client,
        [value, lock.key, ...stamps],
        [lock.token, lock.ms],
      )) as Array<Buffer | number | null>;
      return {
        value: (reply[0] as Buffer | null) ?? null,
        acquired: reply[1] === 1,
        pttl: Number(reply[2]),
        holder: (reply[3] as Buffer | null)?.toString('latin1') ?? null,
        stamps: parseStamps(reply.slice(4) as Buffer[]),
      };
    } catch (error) {
      if (!isSlotRefusal(error)) throw error;
      refused(lock);
    }
  }
  const [acquired, pttl, holder] = (await FILL_LOCK.run(client, [lock.key], [lock.token, lock.ms])) as [
    number,
    number,
    string | null,
  ];
  const [current = null, ...stamped] = await eachKey([value, ...stamps], (key) => client.getBuffer(key));
  return {
    value: current,
    acquired: acquired === 1,
    pttl: Number(pttl),
    holder: holder ?? null,
    stamps: parseStamps(stamped),
  };
}

/** A fill lock: its key, this caller's token (the lock's value while it holds it), the channel. */
export interface FillLock {
  key: string;
  token: string;
  channel: string;
  /** The lock's PX (lockTimeout). */
  ms: number;
  /**
   * The slot is being migrated (Redis refused a script over the value key and this lock, in this
   * fill or lately in another: `migrating`): this fill goes one key at a time.
   */
  split: boolean;
  /** The slots whose fill scripts Redis refused lately, shared by the fills of a cache. */
  migrating: MigratingSlots;
}

/** How long a refused fill script marks its slot as migrating for the fills that follow. */
const MIGRATING_FOR_MS = 5000;
/** Slots remembered at most (a reshard migrates one or a few at a time). */
const MIGRATING_SLOTS_KEPT = 16;

/**
 * Slots whose fill scripts Redis refused within the last MIGRATING_FOR_MS, each by the lock key
 * of the refused fill. A fill of a key in one of them goes one key at a time from its start,
 * instead of waiting again for ioredis' retries of a script Redis would refuse again; once that
 * time has passed since the last refusal, fills try the scripts again.
 */
export class MigratingSlots {
  /** Lock key → when its script was refused; one entry per slot. */
  readonly #refusedAt = new Map<string, number>();

  constructor(private readonly sameSlot: (a: string, b: string) => boolean) {}

  /** Was a fill script of `lockKey`'s slot refused lately? */
  has(lockKey: string): boolean {
    return this.#entryFor(lockKey) !== undefined;
  }

  refused(lockKey: string): void {
    const entry = this.#entryFor(lockKey);
    if (entry !== undefined) this.#refusedAt.delete(entry);
    this.#refusedAt.set(lockKey, Date.now());
    if (this.#refusedAt.size > MIGRATING_SLOTS_KEPT)
      this.#refusedAt.delete(this.#refusedAt.keys().next().value as string);
  }

  /** The entry of `lockKey`'s slot, if still fresh (expired ones are dropped on the way). */
  #entryFor(lockKey: string): string | undefined {
    if (this.#refusedAt.size === 0) return undefined;
    const since = Date.now() - MIGRATING_FOR_MS;
    for (const [key, at] of this.#refusedAt) {
      if (at < since) this.#refusedAt.delete(key);
      else if (this.sameSlot(key, lockKey)) return key;
    }
    return undefined;
  }
}

/** Redis refused a fill script of `lock`'s slot: this fill, and those following soon, go one key at a time. */
function refused(lock: FillLock): void {
  lock.split = true;
  lock.migrating.refused(lock.key);
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
 * lock and wakes the waiters (a message without a value) to read the value that won.
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
  if holder then redis.call('PUBLISH', ARGV[5], ARGV[4]) end
  return 0
end
if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
if lock then redis.call('PUBLISH', ARGV[5], ARGV[4] .. ARGV[2]) end
return 1
`);

/**
 * KEYS[1] lock; ARGV[1] token, ARGV[2] PX. Whether a fill may store while the slot is being
 * migrated: 0 another fill holds the lock; 1 nobody does; 2 we do (its PX renewed, so that
 * nobody takes it over before our store lands).
 */
const FILL_CLAIM = new LuaScript(`
local holder = redis.call('GET', KEYS[1])
if not holder then return 1 end
if holder ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 2
`);

/**
 * Store `encoded` (PX `px`, or no expiry when null) unless another fill holds the lock or the
 * key no longer holds what it held when this fill began; release the lock if ours and publish
 * the bytes to the waiters. One round trip. Resolves whether the value was stored.
 *
 * While the slot is being migrated (the script refused): the lock checked (and, if ours,
 * renewed) by one script, then the value compared and stored by another, then the lock released
 * and the waiters told. The comparison and the write stay one step: a fill never replaces a
 * value stored since it began. What is no longer one step with it is the lock check: a holder
 * paused between the two for longer than lockTimeout may store while the fill that took over
 * holds the lock — if that one has not stored yet.
 */
export async function storeFill(
  client: Redis,
  target: FillTarget,
  encoded: Buffer | string,
  px: number | null,
): Promise<boolean> {
  const { lock } = target;
  const store = [target.seen, encoded, px === null ? '' : px];
  if (lock === undefined) return (await FILL_STORE.run(client, [target.value], store)) === 1;
  if (!lock.split) {
    try {
      return (
        (await FILL_STORE.run(client, [target.value, lock.key], [...store, lock.token, lock.channel])) === 1
      );
    } catch (error) {
      if (!isSlotRefusal(error)) throw error;
      refused(lock);
    }
  }
  const claim = await FILL_CLAIM.run(client, [lock.key], [lock.token, lock.ms]);
  if (claim === 0) return false;
  const stored = (await FILL_STORE.run(client, [target.value], store)) === 1;
  if (claim === 2) {
    await Promise.all([
      LOCK_RELEASE.run(client, [lock.key], [lock.token]),
      client.publish(lock.channel, fillMessage(lock.token, stored ? encoded : '')),
    ]);
  } else if (stored) {
    await client.publish(lock.channel, fillMessage(lock.token, encoded));
  }
  return stored;
}

/** The holder gives up without a value: release (if still ours) and wake the waiters to take over. */
export async function abandonFill(client: Redis, lock: FillLock) {
  await Promise.all([
    LOCK_RELEASE.run(client, [lock.key], [lock.token]),
    client.publish(lock.channel, fillMessage(lock.token, '')),
  ]);
}

/** Release without waking anyone (we took the lock but found the value already filled). */
export async function releaseFill(client: Redis, lock: FillLock) {
  await LOCK_RELEASE.run(client, [lock.key], [lock.token]);
}
