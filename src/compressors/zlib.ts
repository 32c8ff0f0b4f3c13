import { deflateSync, inflateSync } from 'node:zlib';
import { DEFAULT_MIN_LENGTH, intOption } from './limits.js';
import { boundedDecompress } from './node-zlib.js';
import type { Compressor } from './types.js';

export const ZLIB_ID = 2;

export interface ZlibOptions {
  /** Payloads shorter than this are stored uncompressed. Default 256. */
  minLength?: number;
  /** 0 (none) to 9 (smallest). Default 6, zlib's own default. */
  level?: number;
}

/** zlib (RFC 1950: deflate with an Adler-32 checksum) via node:zlib. */
export function zlib(options: ZlibOptions = {}): Compressor {
  const minLength = intOption('zlib', 'minLength', options.minLength, DEFAULT_MIN_LENGTH, 0, 2 ** 32 - 1);
  const level = intOption('zlib', 'level', options.level, 6, 0, 9);
  return {
    name: 'zlib',
    id: ZLIB_ID,
    minLength,
    compress: (bytes) => deflateSync(bytes, { level }),
    decompress: (bytes, maxBytes) => boundedDecompress('zlib', inflateSync, bytes, maxBytes),
  };
}
