import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import type { Compressor } from '../core/formats.js';
import { nodeZlibCompressor } from './node-zlib.js';

export const BROTLI_ID = 4;

/** Options of `compressors.brotli()`. */
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
  return nodeZlibCompressor({
    name: 'brotli',
    id: BROTLI_ID,
    options,
    defaultLevel: 4,
    maxLevel: 11,
    compress: (bytes, quality) =>
      brotliCompressSync(bytes, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: quality,
          [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        },
      }),
    decompress: brotliDecompressSync,
  });
}
