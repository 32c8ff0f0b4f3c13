import { ConfigError } from '../core/errors.js';
import { parseTtl } from '../core/ttl.js';

export interface ResolvedNearCacheOptions {
  maxEntries: number;
  maxBytes: number;
  ttlMs: number;
  mode: 'default' | 'broadcast';
}

export const NEAR_CACHE_DEFAULTS: Readonly<ResolvedNearCacheOptions> = {
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
  ttlMs: 60_000,
  mode: 'default',
};

const ALLOWED = ['maxEntries', 'maxBytes', 'ttl', 'mode'];

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`Option 'nearCache.${name}' must be a positive integer; got ${String(value)}`);
  }
  return value;
}

/** `nearCache: true | false | undefined | { ... }` → resolved options, or undefined when off. */
export function resolveNearCacheOptions(value: unknown): ResolvedNearCacheOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { ...NEAR_CACHE_DEFAULTS };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(
      "Option 'nearCache' must be true, false or an object { maxEntries, maxBytes, ttl, mode }",
    );
  }
  const o = value as Record<string, unknown>;
  for (const name of Object.keys(o)) {
    if (!ALLOWED.includes(name)) {
      throw new ConfigError(`Unknown option 'nearCache.${name}'; allowed: ${ALLOWED.join(', ')}`);
    }
  }
  const mode = o.mode ?? NEAR_CACHE_DEFAULTS.mode;
  if (mode !== 'default' && mode !== 'broadcast') {
    throw new ConfigError(`Option 'nearCache.mode' must be 'default' or 'broadcast'; got ${String(mode)}`);
  }
  let ttlMs = NEAR_CACHE_DEFAULTS.ttlMs;
  if (o.ttl !== undefined) {
    const parsed = parseTtl(o.ttl, "Option 'nearCache.ttl'");
    if (parsed === null || parsed <= 0) {
      throw new ConfigError(
        "Option 'nearCache.ttl' must be a positive duration (ms or '30s', '5m', ...): entries are never served forever",
      );
    }
    ttlMs = parsed;
  }
  return {
    maxEntries: positiveInteger('maxEntries', o.maxEntries, NEAR_CACHE_DEFAULTS.maxEntries),
    maxBytes: positiveInteger('maxBytes', o.maxBytes, NEAR_CACHE_DEFAULTS.maxBytes),
    ttlMs,
    mode,
  };
}
