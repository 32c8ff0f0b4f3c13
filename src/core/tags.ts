/**
 * Tag invalidation, checked lazily on read.
 *
 * Each tag has a stamp in Redis: an INCR counter under `<keyPrefix>:__tag__:<tag>` (absent = 0),
 * bumped by `invalidateTags()`. A tagged entry records, in its envelope, the stamp of each of
 * its tags as seen *before* its value was computed; on read the entry counts only while every
 * recorded stamp still equals the one in Redis. Counters rather than timestamps: no clock is
 * compared, so clock skew between processes cannot revive an invalidated entry, and an
 * invalidation that lands while a factory runs makes that factory's value a miss at once.
 *
 * Cost: an entry without tags costs nothing extra. Reading a tagged entry costs one more round
 * trip (one MGET of its tags' stamps; getMany batches every entry's tags into one MGET).
 * Stamps never expire (one small key per tag ever invalidated).
 *
 * On a cluster the stamp keys of several tags usually hash to different slots, and one MGET (or
 * one pipeline) cannot span slots: stamps are then read with one MGET per slot and bumped with
 * one pipeline per slot, the slots in parallel (`canCombine`, the router's answer to "can one
 * command take these keys?"). On a single master everything is one group, as before.
 */
import type { Redis } from 'ioredis';
import { eachKey } from './batch.js';
import type { EntryMeta, TagVersion } from './envelope.js';
import { isSlotRefusal } from './redis-errors.js';

/** The Redis key of `tag`'s invalidation stamp for a cache with this key prefix. */
export function tagStampKey(prefix: string, tag: string): string {
  return `${prefix}:__tag__:${tag}`;
}

/** Stamps as MGET returns them → numbers (a missing stamp is 0). */
export function parseStamps(raw: ReadonlyArray<string | Buffer | null>): number[] {
  return raw.map((stamp) => (stamp === null ? 0 : Number(stamp.toString())));
}

/** Whether one command can take all of `keys` (Router.canCombine: one hash slot on a cluster). */
export type CanCombine = (keys: readonly string[]) => boolean;

/** A single master: any keys go together. */
export const ANY_KEYS: CanCombine = () => true;

/**
 * Indexes into `keys`, in groups one command can take (order kept inside each group): one
 * group when `canCombine` takes them all (a single master, or keys of one slot), else one group
 * per hash slot.
 */
export function combinableGroups(keys: readonly string[], canCombine: CanCombine): number[][] {
  if (canCombine(keys)) return [keys.map((_, i) => i)];
  const groups: number[][] = [];
  keys.forEach((key, i) => {
    const group = groups.find((g) => canCombine([keys[g[0] as number] as string, key]));
    if (group === undefined) groups.push([i]);
    else group.push(i);
  });
  return groups;
}

/**
 * Current stamps of `tags`, as a map tag → stamp: one MGET (a consistent snapshot) when one
 * command can take their stamp keys, else one MGET per hash slot, in parallel.
 */
export async function readStamps(
  client: Redis,
  prefix: string,
  tags: Iterable<string>,
  canCombine: CanCombine = ANY_KEYS,
): Promise<Map<string, number>> {
  const list = [...new Set(tags)];
  const stamps = new Map<string, number>();
  if (list.length === 0) return stamps;
  const keys = list.map((tag) => tagStampKey(prefix, tag));
  await Promise.all(
    combinableGroups(keys, canCombine).map(async (group) => {
      const stampKeys = group.map((i) => keys[i] as string);
      const values = parseStamps(await mgetOrEach(client, stampKeys));
      group.forEach((i, j) => {
        stamps.set(list[i] as string, values[j] as number);
      });
    }),
  );
  return stamps;
}

/**
 * MGET of `keys` (one slot on a cluster). While a cluster slot migrates, the node refuses a
 * multi-key command whose keys are split between the two nodes, or missing on the importing one
 * (TRYAGAIN), for as long as the migration lasts: the keys are then read one GET each, every GET
 * redirected on its own (eachKey).
 */
function mgetOrEach(client: Redis, keys: string[]): Promise<(string | null)[]> {
  return client.mget(keys).catch((err: unknown) => {
    if (keys.length < 2 || !isSlotRefusal(err)) throw err;
    return eachKey(keys, (key) => client.get(key));
  });
}

/**
 * Bump the stamps of `tags`: every entry carrying one becomes a miss. One pipeline of INCR,
 * or on a cluster one per hash slot, in parallel (if one fails, the others may have bumped:
 * the error is thrown, and calling again is safe).
 */
export async function bumpStamps(
  client: Redis,
  prefix: string,
  tags: readonly string[],
  canCombine: CanCombine = ANY_KEYS,
): Promise<void> {
  if (tags.length === 0) return;
  const keys = tags.map((tag) => tagStampKey(prefix, tag));
  await Promise.all(
    combinableGroups(keys, canCombine).map(async (group) => {
      const pipeline = client.pipeline();
      for (const i of group) pipeline.incr(keys[i] as string);
      const results = (await pipeline.exec()) ?? [];
      // A cluster pipeline follows a redirection only when every refused command got the same
      // one; while the slot migrates some INCRs may come back ASK: the node did not run them,
      // each is sent again on its own (and redirected on its own).
      const refused: number[] = [];
      results.forEach(([error], j) => {
        if (error === null) return;
        if (!isSlotRefusal(error)) throw error;
        refused.push(group[j] as number);
      });
      await eachKey(refused, (i) => client.incr(keys[i] as string));
    }),
  );
}

/** The tags an entry's recorded stamps are checked against. */
export function tagsOf(meta: EntryMeta | undefined): readonly TagVersion[] {
  return meta?.tags ?? [];
}

/** Does every recorded stamp still match? (A stamp missing from `stamps` counts as 0.) */
export function tagsCurrent(meta: EntryMeta | undefined, stamps: ReadonlyMap<string, number>): boolean {
  for (const { tag, version } of tagsOf(meta)) if ((stamps.get(tag) ?? 0) !== version) return false;
  return true;
}

/** Fresh: before its logical expiry (0 = never stale). Entries without an envelope are always fresh. */
export function isFresh(meta: EntryMeta | undefined, now: number): boolean {
  return meta === undefined || meta.staleAt === 0 || now < meta.staleAt;
}

/** Record `tags` with their current `stamps` for an envelope. */
export function tagVersions(tags: readonly string[], stamps: ReadonlyMap<string, number>): TagVersion[] {
  return tags.map((tag) => ({ tag, version: stamps.get(tag) ?? 0 }));
}

/** What a read entry is worth to getOrSet. */
export type EntryState = 'fresh' | 'stale' | 'gone';

/**
 * 'gone' when a tag was invalidated since it was written, or when it is past its logical
 * expiry and `graceMs` (the caller's grace) is over; 'stale' when past its logical expiry but
 * within grace; else 'fresh'.
 */
export function entryState(
  meta: EntryMeta | undefined,
  stamps: ReadonlyMap<string, number>,
  now: number,
  graceMs: number,
): EntryState {
  if (!tagsCurrent(meta, stamps)) return 'gone';
  if (isFresh(meta, now)) return 'fresh';
  return graceMs > 0 && now < (meta as EntryMeta).staleAt + graceMs ? 'stale' : 'gone';
}
