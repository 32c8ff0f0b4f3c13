import { ConfigError } from '../errors.js';
import { parseTtl, type Ttl } from '../ttl.js';
import { type Schema, validateOptions } from '../validate.js';

/** How getOrSet keeps concurrent callers from all running the factory. */
export type LockMode = 'distributed' | 'local';

/** getOrSet's options (see docs/get-or-set.md). Durations: ms or '200ms', '5s', '1h', ... */
export interface GetOrSetOptions {
  /** Key version; default: the cache's `version` option. */
  version?: number;
  /** How long the value is fresh; null = forever. Default: the cache's `defaultTtl`. */
  ttl?: Ttl;
  /** How long after `ttl` a stale value may still be served (while refreshing, on factory errors, timeouts, Redis errors). Default 0. */
  grace?: number | string;
  /** Soft timeout: with a stale value at hand, return it once the factory took this long; the factory finishes in the background. */
  timeout?: number | string;
  /** Hard timeout: stop waiting for the factory (FactoryTimeoutError, or stale within grace); it still finishes and stores in the background. */
  hardTimeout?: number | string;
  /** 'distributed' (default): one factory call per key across every process sharing the Redis; 'local': per process. */
  lock?: LockMode;
  /** How long a caller waits for another process's factory before calling the factory itself. Default '5s'. */
  lockTimeout?: number | string;
  /** Tags stored with the value; `invalidateTags()` makes every entry carrying one a miss. */
  tags?: readonly string[];
}

export interface ResolvedGetOrSetOptions {
  ttl: number | null;
  grace: number;
  timeout: number | undefined;
  hardTimeout: number | undefined;
  lock: LockMode;
  lockTimeout: number;
  tags: readonly string[];
}

export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;

/** Names (typos are refused with a suggestion); values are checked below with getOrSet's own messages. */
export const SCHEMA: Schema = {
  version: 'integer',
  ttl: 'any',
  grace: 'any',
  timeout: 'any',
  hardTimeout: 'any',
  lock: 'any',
  lockTimeout: 'any',
  tags: 'any',
};

/**
 * Validate getOrSet's options before anything is read or written: every refusal is a
 * ConfigError naming the option.
 */
export function resolveGetOrSetOptions(
  options: GetOrSetOptions | undefined,
  defaultTtl: number | null,
): ResolvedGetOrSetOptions {
  if (options !== undefined) validateOptions('getOrSet', options, SCHEMA);
  const ttl = options?.ttl === undefined ? defaultTtl : parseTtl(options.ttl, "getOrSet option 'ttl'");
  const grace = duration(options?.grace, 'grace') ?? 0;
  const timeout = duration(options?.timeout, 'timeout');
  const hardTimeout = duration(options?.hardTimeout, 'hardTimeout');
  if (timeout !== undefined && hardTimeout !== undefined && timeout > hardTimeout) {
    throw new ConfigError(
      `getOrSet option 'timeout' (${timeout} ms) must not exceed 'hardTimeout' (${hardTimeout} ms)`,
    );
  }
  const lock = options?.lock ?? 'distributed';
  if (lock !== 'distributed' && lock !== 'local') {
    throw new ConfigError(
      `getOrSet option 'lock' must be 'distributed' or 'local'; got ${JSON.stringify(lock)}`,
    );
  }
  const lockTimeout = duration(options?.lockTimeout, 'lockTimeout') ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (lockTimeout <= 0) throw new ConfigError("getOrSet option 'lockTimeout' must be positive");
  return { ttl, grace, timeout, hardTimeout, lock, lockTimeout, tags: validateTags(options?.tags, 'tags') };
}

/** A non-negative duration in ms (undefined when not given). */
function duration(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (value === null)
    throw new ConfigError(`getOrSet option '${name}' must be a duration (ms or '5s'), not null`);
  const ms = parseTtl(value, `getOrSet option '${name}'`) as number;
  if (ms < 0) throw new ConfigError(`getOrSet option '${name}' must not be negative; got ${String(value)}`);
  return ms;
}

/**
 * Tags as given to set / getOrSet / invalidateTags / ctx.setTags: an array of non-empty
 * strings, returned without duplicates. ConfigError naming `option` otherwise.
 */
export function validateTags(tags: unknown, option: string): readonly string[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) {
    throw new ConfigError(
      `Option '${option}' must be an array of strings; got ${tags === null ? 'null' : typeof tags}`,
    );
  }
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag.length === 0) {
      throw new ConfigError(
        `Option '${option}' must contain non-empty strings only; got ${typeof tag === 'string' ? 'an empty string' : typeof tag}`,
      );
    }
    if (!(tag as string & { isWellFormed(): boolean }).isWellFormed()) {
      throw new ConfigError(`Option '${option}': a tag contains a lone UTF-16 surrogate`);
    }
  }
  return [...new Set(tags as string[])];
}
