import { ConfigError } from './errors.js';

/** The units a duration string may end with: milliseconds, seconds, minutes, hours, days. */
export type TtlUnit = 'ms' | 's' | 'm' | 'h' | 'd';

/**
 * A duration string the parser accepts: a number then a unit, with or without one blank
 * (`'500ms'`, `'30s'`, `'5m'`, `'1.5h'`, `'1 d'`). `'60 seconds'` or `'1h30m'` do not type-check.
 */
export type TtlString = `${number}${TtlUnit}` | `${number} ${TtlUnit}`;

/**
 * A time-to-live as users write it: a number of **milliseconds** (not seconds: `60` is 60 ms),
 * a duration string (`'500ms'`, `'30s'`, `'5m'`, `'1h'`, `'1d'`), or null for "no expiry".
 */
export type Ttl = number | TtlString | null;

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

// A sign, digits with an optional fraction, optional blanks, a unit. Anything else is refused
// rather than guessed at ('5 minutes', '1h30m', '1e3s' are errors, not surprises).
const DURATION = /^(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

// PX/PEXPIRE take a signed 64-bit count of ms; stay within what a JS number holds exactly.
const MAX_TTL_MS = Number.MAX_SAFE_INTEGER;

/**
 * Parse a TTL into whole milliseconds, or null for "no expiry".
 *
 * A positive TTL below 1 ms rounds up to 1 ms, so a tiny TTL never turns a write into a delete;
 * a TTL of 0 or less is returned as is (callers treat it as "expire now").
 * Throws ConfigError naming `optionName` for anything that is not a valid TTL.
 */
export function parseTtl(value: unknown, optionName = 'ttl'): number | null {
  if (value === null) return null;
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new ConfigError(`${optionName} must be a finite number of milliseconds, got ${value}`);
    }
    ms = value;
  } else if (typeof value === 'string') {
    const match = DURATION.exec(value.trim());
    if (match === null) {
      throw new ConfigError(
        `${optionName} must be milliseconds or a duration like '500ms', '30s', '5m', '1h', '1d'; got ${JSON.stringify(value)}`,
      );
    }
    ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  } else {
    throw new ConfigError(
      `${optionName} must be a number of milliseconds, a duration string ('30s', '5m', ...) or null; got ${typeof value}`,
    );
  }
  if (ms <= 0) return ms;
  if (ms > MAX_TTL_MS) {
    throw new ConfigError(`${optionName} is too large (${ms} ms); the maximum is ${MAX_TTL_MS} ms`);
  }
  return Math.ceil(ms);
}
