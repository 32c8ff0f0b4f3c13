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
