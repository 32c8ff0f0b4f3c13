import { ConfigError } from '../core/errors.js';
import { LAST_ID, WireRegistry } from '../core/wire-registry.js';
import type { Compressor } from './types.js';

export { FIRST_USER_ID, LAST_ID } from '../core/wire-registry.js';

/** Compressors by wire id and by name (see WireRegistry); user entries are shape-checked first. */
export class CompressorRegistry extends WireRegistry<Compressor> {
  constructor() {
    super('Compressor', (entry) => assertCompressor(entry));
  }
}

/** Checks the shape of a compressor handed in by a user (registry or codec options). */
export function assertCompressor(value: unknown, option = 'compressor'): asserts value is Compressor {
  const c = value as Partial<Compressor> | null | undefined;
  const problem =
    typeof c !== 'object' || c === null
      ? 'it is not an object'
      : typeof c.name !== 'string' || c.name === ''
        ? "'name' must be a non-empty string"
        : typeof c.id !== 'number' || !Number.isInteger(c.id) || c.id < 0 || c.id > LAST_ID
          ? `'id' must be an integer from 0 to ${LAST_ID}`
          : typeof c.minLength !== 'number' || Number.isNaN(c.minLength) || c.minLength < 0
            ? "'minLength' must be a non-negative number"
            : typeof c.compress !== 'function' || typeof c.decompress !== 'function'
              ? "'compress' and 'decompress' must be functions"
              : undefined;
  if (problem !== undefined) {
    throw new ConfigError(
      `Option '${option}' must be a Compressor (compressors.none(), lz4(), zlib(), gzip(), brotli(), zstd() or your own): ${problem}`,
    );
  }
}
