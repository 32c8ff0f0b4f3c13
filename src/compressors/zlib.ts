import { deflateSync, inflateSync } from 'node:zlib';
import type { Compressor } from '../core/formats.js';
import { nodeZlibCompressor } from './node-zlib.js';

export const ZLIB_ID = 2;

/** Options of `compressors.zlib()`. */
export interface ZlibOptions {
  /** Payloads shorter than this are stored uncompressed. Default 256. */
  minLength?: number;
  /** 0 (none) to 9 (smallest). Default 6, zlib's own default. */
  level?: number;
}

/** zlib (RFC 1950: deflate with an Adler-32 checksum) via node:zlib. */
export function zlib(options: ZlibOptions = {}): Compressor {
  return nodeZlibCompressor({
    name: 'zlib',
    id: ZLIB_ID,
    options,
    defaultLevel: 6,
    maxLevel: 9,
    compress: (bytes, level) => deflateSync(bytes, { level }),
    decompress: inflateSync,
  });
}
