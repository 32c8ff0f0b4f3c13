import type zlib from 'node:zlib';
import type { Compressor } from '../core/formats.js';
import { corrupt, DEFAULT_MIN_LENGTH, intOption, tooLarge } from './limits.js';

/**
 * Runs a node:zlib sync decompressor with `maxOutputLength`, which makes zlib stop (and
 * throw ERR_BUFFER_TOO_LARGE) as soon as the output passes the limit, so a bomb never
 * allocates more than about `maxBytes`. Any other zlib error means the bytes are corrupt.
 */
export function boundedDecompress(
  name: string,
  run: (bytes: Buffer, options: zlib.ZlibOptions & zlib.BrotliOptions) => Buffer,
  bytes: Buffer,
  maxBytes: number,
): Buffer {
  try {
    return run(bytes, { maxOutputLength: Math.max(1, maxBytes) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException | undefined)?.code === 'ERR_BUFFER_TOO_LARGE') {
      throw tooLarge(name, maxBytes);
    }
    throw corrupt(name, 'invalid compressed data', error);
  }
}

/** What differs between the node:zlib compressors (zlib, gzip, brotli). */
export interface NodeZlibSpec {
  name: string;
  id: number;
  /** The user's options: both are validated here, `level` from 0 to `maxLevel`. */
  options: { minLength?: number; level?: number };
  defaultLevel: number;
  maxLevel: number;
  compress: (bytes: Buffer, level: number) => Buffer;
  decompress: (bytes: Buffer, options: zlib.ZlibOptions & zlib.BrotliOptions) => Buffer;
}

/**
 * A Compressor over a pair of node:zlib sync functions: validates `minLength` and `level`
 * when created (a typo fails at configuration time) and decompresses with the output bound.
 */
export function nodeZlibCompressor(spec: NodeZlibSpec): Compressor {
  const { name, options } = spec;
  const minLength = intOption(name, 'minLength', options.minLength, DEFAULT_MIN_LENGTH, 0, 2 ** 32 - 1);
  const level = intOption(name, 'level', options.level, spec.defaultLevel, 0, spec.maxLevel);
  return {
    name,
    id: spec.id,
    minLength,
    compress: (bytes) => spec.compress(bytes, level),
    decompress: (bytes, maxBytes) => boundedDecompress(name, spec.decompress, bytes, maxBytes),
  };
}
