import { assertEnvelopeSupport } from '../entries.js';
import type { EntryMeta } from '../envelope.js';
import { ConfigError } from '../errors.js';
import { validateTags } from '../get-or-set/options.js';
import { bumpStamps, isFresh, readStamps, tagsCurrent, tagVersions } from '../tags.js';
import { parseTtl } from '../ttl.js';
import type { CommandContext } from './context.js';

/**
 * Entries with an envelope (grace and/or tags, see envelope.ts and tags.ts): building the
 * envelope on write, checking it on read (fresh? tags not invalidated?), invalidating tags.
 * On a cluster, stamps are read and bumped one key per command (tags.ts).
 */

export interface EnvelopeOptions {
  /** Tags stored with the value: `invalidateTags()` of any of them makes it a miss. */
  tags?: readonly string[];
  /** Keep the value this long past `ttl` as a stale value getOrSet may serve (ms or '1h'). Default 0. */
  grace?: number | string;
}

/** `grace` in ms (0 when not given); ConfigError naming it when negative or not a duration. */
export function graceOf(options: EnvelopeOptions | undefined): number {
  if (options?.grace === undefined) return 0;
  const grace = parseTtl(options.grace, "Option 'grace'");
  if (grace === null || grace < 0) {
    throw new ConfigError(`Option 'grace' must be a non-negative duration; got ${String(options.grace)}`);
  }
  return grace;
}

/**
 * The envelope of a write with grace and/or tags (undefined: plain bytes, as ever). Reads the
 * tags' current stamps first (one MGET on the master).
 */
export function envelopeFor(
  ctx: CommandContext,
  ttl: number | null,
  options: EnvelopeOptions | undefined,
  key: string,
): Promise<EntryMeta> | undefined {
  const tags = validateTags(options?.tags, 'tags');
  const grace = graceOf(options);
  // No envelope: answered without a promise, so a plain set awaits nothing extra.
  if (grace === 0 && tags.length === 0) return undefined;
  assertEnvelopeSupport(ctx.codec, "Options 'grace' and 'tags'");
  return stampedEnvelope(ctx, ttl, tags, key);
}

async function stampedEnvelope(
  ctx: CommandContext,
  ttl: number | null,
  tags: readonly string[],
  key: string,
): Promise<EntryMeta> {
  const prefix = ctx.keys.prefix;
  const stamps =
    tags.length === 0
      ? new Map<string, number>()
      : await ctx.executor.run('write', 'set', key, null, (client) =>
          readStamps(client, prefix, tags, ctx.executor.sharded),
        );
  return { staleAt: ttl === null ? 0 : Date.now() + ttl, tags: tagVersions(tags, stamps) };
}

/**
 * For each entry: still fresh (before its logical expiry) and no tag invalidated since it was
 * written? Entries without an envelope are always current. One MGET for all their tags' stamps
 * (none when no entry has tags).
 */
export async function currentEntries(
  ctx: CommandContext,
  metas: ReadonlyArray<EntryMeta | undefined>,
  operation: string,
  key?: string,
): Promise<boolean[]> {
  const now = Date.now();
  const tags = new Set<string>();
  for (const meta of metas) for (const { tag } of meta?.tags ?? []) tags.add(tag);
  const prefix = ctx.keys.prefix;
  const stamps =
    tags.size === 0
      ? new Map<string, number>()
      : await ctx.executor.run('read', operation, key, null, (client) =>
          readStamps(client, prefix, tags, ctx.executor.sharded),
        );
  return metas.map((meta) => isFresh(meta, now) && tagsCurrent(meta, stamps));
}

/** Every entry carrying one of `tags` reads as a miss from now on, in every process. */
export async function invalidateTags(ctx: CommandContext, tags: readonly string[]): Promise<void> {
  const list = validateTags(tags, 'invalidateTags');
  const prefix = ctx.keys.prefix;
  await ctx.executor.run('write', 'invalidateTags', undefined, null, (client) =>
    bumpStamps(client, prefix, list, ctx.executor.sharded),
  );
}
