import { ConfigError } from '../core/errors.js';
import type { Compressor } from './types.js';

/** Ids 1..127 belong to the built-in compressors (0 is "none"); 128..255 are for users. */
export const FIRST_USER_ID = 128;
export const LAST_ID = 255;

/**
 * Compressors by wire id and by name. The codec looks up the compressor named in a value's
 * header here, so an entry written with one compressor still decodes after the cache is
 * configured with another.
 */
export class CompressorRegistry {
  readonly #byId = new Map<number, Compressor>();
  readonly #byName = new Map<string, Compressor>();

  /** Registers a user compressor (ids 128..255). A clashing id or name is a ConfigError. */
  register(compressor: Compressor): void {
    assertCompressor(compressor);
    if (compressor.id < FIRST_USER_ID) {
      throw new ConfigError(
        `Compressor '${compressor.name}': id ${compressor.id} is reserved for built-in compressors; use ${FIRST_USER_ID}..${LAST_ID}`,
      );
    }
    this.add(compressor);
  }

  /** Internal: the built-ins (ids 0..127). */
  addBuiltIn(compressor: Compressor): void {
    this.add(compressor);
  }

  byId(id: number): Compressor | undefined {
    return this.#byId.get(id);
  }

  byName(name: string): Compressor | undefined {
    return this.#byName.get(name);
  }

  private add(compressor: Compressor): void {
    const sameId = this.#byId.get(compressor.id);
    const sameName = this.#byName.get(compressor.name);
    if (sameId === compressor && sameName === compressor) return; // registering twice is harmless
    if (sameId !== undefined) {
      throw new ConfigError(
        `Compressor '${compressor.name}': id ${compressor.id} is already used by '${sameId.name}'`,
      );
    }
    if (sameName !== undefined) {
      throw new ConfigError(`Compressor name '${compressor.name}' is already registered (id ${sameName.id})`);
    }
    this.#byId.set(compressor.id, compressor);
    this.#byName.set(compressor.name, compressor);
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
