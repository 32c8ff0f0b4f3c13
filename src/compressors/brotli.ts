import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { DEFAULT_MIN_LENGTH, intOption } from './limits.js';
import { boundedDecompress } from './node-zlib.js';
import type { Compressor } from './types.js';

export const BROTLI_ID = 4;

export interface BrotliOptions {
  /** Payloads shorter than this are stored uncompressed. Default 256. */
  minLength?: number;
  /**
   * Quality 0 to 11. Default 4: brotli's own default (11) is tuned for static assets and is
   * one to two orders of magnitude slower, which a cache write cannot afford.
   */
  level?: number;
}

/** Brotli via node:zlib. */
export function brotli(options: BrotliOptions = {}): Compressor {
  const minLength = intOption('brotli', 'minLength', options.minLength, DEFAULT_MIN_LENGTH, 0, 2 ** 32 - 1);
  const quality = intOption('brotli', 'level', options.level, 4, 0, 11);
  return {
    name: 'brotli',
    id: BROTLI_ID,
    minLength,
    compress: (bytes) =>
      brotliCompressSync(bytes, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: quality,
          [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        },
      }),
    decompress: (bytes, maxBytes) => boundedDecompress('brotli', brotliDecompressSync, bytes, maxBytes),
  };
}
