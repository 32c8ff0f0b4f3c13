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
 * one pipeline) cannot span slots; and while a slot is being migrated Redis refuses an MGET of
 * its keys unless all of them exist on one node (TRYAGAIN), which a stamp never bumped does not.
 * There (`sharded`), stamps are read with one GET and bumped with one INCR per key, all issued at
 * once: each routed, and redirected, on its own; those of one master still share one round trip.
 * On a single master: one MGET, one pipeline of INCRs, as ever.
 */
import type { Redis } from 'ioredis';
import { eachKey } from './batch.js';
import type { EntryMeta, TagVersion } from './envelope.js';

/** The Redis key of `tag`'s invalidation stamp for a cache with this key prefix. */
export function tagStampKey(prefix: string, tag: string): string {
  return `${prefix}:__tag__:${tag}`;
}

/** Stamps as MGET returns them → numbers (a missing stamp is 0). */
export function parseStamps(raw: ReadonlyArray<string | Buffer | null>): number[] {
  return raw.map((stamp) => (stamp === null ? 0 : Number(stamp.toString())));
}

/**
 * Current stamps of `tags`, as a map tag → stamp: one MGET (a consistent snapshot) on a single
 * master; one GET per stamp when `sharded` (a router over several masters, see the file comment).
 */
export async function readStamps(
  client: Redis,
  prefix: string,
  tags: Iterable<string>,
  sharded: boolean,
): Promise<Map<string, number>> {
  const list = [...new Set(tags)];
  const stamps = new Map<string, number>();
  if (list.length === 0) return stamps;
  const keys = list.map((tag) => tagStampKey(prefix, tag));
  const values = parseStamps(
    sharded ? await eachKey(keys, (key) => client.get(key)) : await client.mget(keys),
  );
  list.forEach((tag, i) => {
    stamps.set(tag, values[i] as number);
  });
  return stamps;
}

/**
 * Bump the stamps of `tags`: every entry carrying one becomes a miss. One pipeline of INCR on a
 * single master; one INCR per stamp when `sharded` (if one fails, the others may have bumped:
 * the error is thrown, and calling again is safe).
 */
export async function bumpStamps(
  client: Redis,
  prefix: string,
  tags: readonly string[],
  sharded: boolean,
): Promise<void> {
  if (tags.length === 0) return;
  const keys = tags.map((tag) => tagStampKey(prefix, tag));
  if (sharded) {
    await eachKey(keys, (key) => client.incr(key));
    return;
  }
  const pipeline = client.pipeline();
  for (const key of keys) pipeline.incr(key);
  for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
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
