import { ConfigError } from './errors.js';

/**
 * Key layout. The default is django-redis's: `${prefix}:${version}:${key}`.
 * A custom `keyFunction` must be paired with a `reverseKeyFunction` that undoes it, so that
 * `keys()`/`iterKeys()` can hand user keys back.
 */

/**
 * Builds the Redis key. Called with a glob-escaped prefix and a glob as `key` when the cache
 * builds SCAN patterns, and with version `'*'` by `clear()` (every version under the prefix).
 */
export type KeyFunction = (key: string, prefix: string, version: number | string) => string;

/** Turns a Redis key built by the matching KeyFunction back into the user's key. */
export type ReverseKeyFunction = (redisKey: string) => string;

export const defaultKeyFunction: KeyFunction = (key, prefix, version) => `${prefix}:${version}:${key}`;

/**
 * Escape Redis glob metacharacters (`* ? [ ] \`) so a string matches only itself in
 * SCAN MATCH / KEYS patterns. Used for the cache prefix, so a prefix like `app[1]` or
 * `a*` never widens `deletePattern`, `keys` or `clear` to other caches' keys.
 */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** A key version from options, or `fallback` when none is given; ConfigError if not an integer. */
export function versionOf(options: { version?: number } | undefined, fallback: number): number {
  const version = options?.version;
  if (version === undefined) return fallback;
  return checkVersion(version);
}

export function checkVersion(version: unknown): number {
  if (!Number.isSafeInteger(version))
    throw new ConfigError(`version must be an integer; got ${String(version)}`);
  return version as number;
}

/** `keys` as an iterable of keys; refuses a string (it would be taken for one-character keys). */
export function iterableKeys(keys: Iterable<string>): Iterable<string> {
  if (typeof keys !== 'object' || keys === null || typeof keys[Symbol.iterator] !== 'function') {
    throw new ConfigError(
      `keys must be an array (or iterable) of strings; got ${keys === null ? 'null' : typeof keys}`,
    );
  }
  return keys;
}

/** Most keys a KeyBuilder keeps for reuse: the near cache's default `maxEntries`. */
const REUSE_MAX = 10_000;

/**
 * Builds this cache's Redis keys and SCAN patterns from user keys, and turns Redis keys found
 * by SCAN back into user keys. The only place that knows the key layout.
 */
export class KeyBuilder {
  readonly prefix: string;
  readonly #keyFunction: KeyFunction | undefined;
  readonly #reverseKeyFunction: ReverseKeyFunction | undefined;
  /** Keys built at #reuseVersion, by user key (see `reuse` in the constructor). */
  readonly #built: Map<string, string> | undefined;
  readonly #reuseVersion: number;

  /**
   * With `reuse` (the cache's own version; the cache passes it when a near cache is on), keys
   * built at that version with the default layout are kept (up to REUSE_MAX, then forgotten all
   * at once) and handed out again: a near-cache hit then looks up a string whose hash V8 has
   * already computed, instead of a freshly concatenated one it must flatten and hash (most of
   * what a held lookup costs). The default layout is a pure function of key and version, so a
   * kept key is the key `build` would make.
   */
  constructor(
    prefix: string,
    keyFunction?: KeyFunction,
    reverseKeyFunction?: ReverseKeyFunction,
    reuse?: { version: number },
  ) {
    this.prefix = prefix;
    this.#keyFunction = keyFunction;
    this.#reverseKeyFunction = reverseKeyFunction;
    this.#built = reuse !== undefined && keyFunction === undefined ? new Map() : undefined;
    this.#reuseVersion = reuse?.version ?? Number.NaN;
  }

  /** The Redis key of `key` at `version`. ConfigError for a non-string or ill-formed key. */
  build(key: unknown, version: number): string {
    const built = this.#built;
    if (built !== undefined && version === this.#reuseVersion) {
      // Only strings that passed the checks below are ever kept, so a hit needs none.
      const kept = built.get(key as string);
      if (kept !== undefined) return kept;
      const redisKey = this.#make(key, version);
      if (built.size >= REUSE_MAX) built.clear();
      built.set(key as string, redisKey);
      return redisKey;
    }
    return this.#make(key, version);
  }

  #make(key: unknown, version: number): string {
    if (typeof key !== 'string') {
      throw new ConfigError(`key must be a string; got ${key === null ? 'null' : typeof key}`);
    }
    if (!(key as string & { isWellFormed(): boolean }).isWellFormed()) {
      // UTF-8 cannot carry a lone surrogate: it would be sent as U+FFFD, so two different
      // keys would silently share one Redis key.
      throw new ConfigError('key must be a well-formed string (it contains a lone UTF-16 surrogate)');
    }
    return this.#keyFunction === undefined
      ? `${this.prefix}:${version}:${key}`
      : this.#keyFunction(key, this.prefix, version);
  }

  buildAll(keys: Iterable<string>, version: number): string[] {
    const out: string[] = [];
    for (const key of iterableKeys(keys)) out.push(this.build(key, version));
    return out;
  }

  /** SCAN pattern for a user glob: prefix glob-escaped, so it matches only this prefix. */
  pattern(glob: unknown, version: number): string {
    if (typeof glob !== 'string') throw new ConfigError('pattern must be a string');
    return (this.#keyFunction ?? defaultKeyFunction)(glob, escapeGlob(this.prefix), version);
  }

  /** SCAN pattern for every key of this prefix, all versions (clear()). */
  everyVersionPattern(): string {
    return (this.#keyFunction ?? defaultKeyFunction)('*', escapeGlob(this.prefix), '*');
  }

  /**
   * With the default layout, a test that keeps only `${prefix}:${integer}:...` keys: the
   * every-version glob also matches another cache whose prefix extends this one after a
   * colon ('app' vs 'app:v2' → 'app:v2:1:k'). Undefined with a custom key function.
   */
  ownKeyTest(): ((redisKey: Buffer) => boolean) | undefined {
    if (this.#keyFunction !== undefined) return undefined;
    const head = Buffer.from(`${this.prefix}:`, 'utf8');
    return (redisKey) => {
      if (redisKey.length <= head.length || !redisKey.subarray(0, head.length).equals(head)) return false;
      let i = head.length;
      if (redisKey[i] === 0x2d /* - */) i++;
      const digitsFrom = i;
      while (i < redisKey.length && (redisKey[i] as number) >= 0x30 && (redisKey[i] as number) <= 0x39) i++;
      return i > digitsFrom && redisKey[i] === 0x3a /* : */;
    };
  }

  /** The user key of a Redis key found by SCAN at `version`. */
  userKey(redisKey: string, version: number): string {
    if (this.#reverseKeyFunction !== undefined) return this.#reverseKeyFunction(redisKey);
    return redisKey.slice(this.prefix.length + String(version).length + 2);
  }
}
