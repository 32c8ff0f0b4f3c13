import { gunzipSync, gzipSync } from 'node:zlib';
import type { Compressor } from '../core/formats.js';
import { nodeZlibCompressor } from './node-zlib.js';

export const GZIP_ID = 3;

/** Options of `compressors.gzip()`. */
export interface GzipOptions {
  /** Payloads shorter than this are stored uncompressed. Default 256. */
  minLength?: number;
  /** 0 (none) to 9 (smallest). Default 6, zlib's own default. */
  level?: number;
}

/** gzip (RFC 1952: deflate with a CRC-32 and a 10-byte header) via node:zlib. */
export function gzip(options: GzipOptions = {}): Compressor {
  return nodeZlibCompressor({
    name: 'gzip',
    id: GZIP_ID,
    options,
    defaultLevel: 6,
    maxLevel: 9,
    compress: (bytes, level) => gzipSync(bytes, { level }),
    decompress: gunzipSync,
  });
}
