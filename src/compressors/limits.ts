import { ConfigError, DecodeError, ValueTooLargeError } from '../core/errors.js';

/**
 * Helpers shared by the compressors. On read, a compressor throws `ValueTooLargeError` when
 * the output would pass `maxBytes` and `DecodeError` for bytes that are not valid compressed
 * data; the codec wraps both in a `DecodeError` that names the key.
 */

/**
 * The output would exceed the limit. `declared` is the size the compressed data claims
 * (lz4 prefix, zstd frame header) when there is one; streaming formats stop at the limit
 * without knowing the full size, and report NaN.
 */
export function tooLarge(compressor: string, limit: number, declared = Number.NaN): ValueTooLargeError {
  const size = Number.isNaN(declared) ? `more than ${limit} bytes` : `${declared} bytes`;
  return new ValueTooLargeError(
    `${compressor}: decompressed value would be ${size}; maxValueBytes is ${limit}`,
    declared,
    limit,
  );
}

export function corrupt(compressor: string, reason: string, cause?: unknown): DecodeError {
  return new DecodeError(`${compressor}: ${reason}`, undefined, cause === undefined ? undefined : { cause });
}

/** Validates an integer option up front, so a typo fails when the compressor is created. */
export function intOption(
  compressor: string,
  option: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `${compressor}: option '${option}' must be an integer from ${min} to ${max}; got ${String(value)}`,
    );
  }
  return value;
}

/** Default `minLength` for every real compressor: below ~256 bytes compression rarely pays. */
export const DEFAULT_MIN_LENGTH = 256;
