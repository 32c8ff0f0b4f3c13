import type zlib from 'node:zlib';
import { corrupt, tooLarge } from './limits.js';

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
