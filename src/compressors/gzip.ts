import { gunzipSync, gzipSync } from 'node:zlib';
import { DEFAULT_MIN_LENGTH, intOption } from './limits.js';
import { boundedDecompress } from './node-zlib.js';
import type { Compressor } from './types.js';

export const GZIP_ID = 3;

export interface GzipOptions {
  /** Payloads shorter than this are stored uncompressed. Default 256. */
  minLength?: number;
  /** 0 (none) to 9 (smallest). Default 6, zlib's own default. */
  level?: number;
}

/** gzip (RFC 1952: deflate with a CRC-32 and a 10-byte header) via node:zlib. */
export function gzip(options: GzipOptions = {}): Compressor {
  const minLength = intOption('gzip', 'minLength', options.minLength, DEFAULT_MIN_LENGTH, 0, 2 ** 32 - 1);
  const level = intOption('gzip', 'level', options.level, 6, 0, 9);
  return {
    name: 'gzip',
    id: GZIP_ID,
    minLength,
    compress: (bytes) => gzipSync(bytes, { level }),
    decompress: (bytes, maxBytes) => boundedDecompress('gzip', gunzipSync, bytes, maxBytes),
  };
}
