import { compressSync, uncompressSync } from 'lz4-napi';
import type { Compressor } from '../core/formats.js';
import { corrupt, DEFAULT_MIN_LENGTH, intOption, tooLarge } from './limits.js';

export const LZ4_ID = 1;

/** Options of `compressors.lz4()`. */
export interface Lz4Options {
  /** Payloads shorter than this are stored uncompressed. Default 256. */
  minLength?: number;
}

/**
 * LZ4 **block** format with the uncompressed length as a 4-byte little-endian prefix
 * (lz4-napi's `compressSync` / `uncompressSync`, i.e. lz4_flex `compress_prepend_size`).
 *
 * Why block and not frame: the read side must refuse a decompression bomb before allocating
 * it. The prefix states the output size up front, so `decompress` rejects anything above
 * `maxBytes` without touching the data, and lz4_flex's safe decoder fails ("output too
 * small") when the data would expand past the declared size, so a lying prefix cannot
 * overrun it either. lz4-napi's frame API has no output cap and its frames carry no content
 * size, so bounding it would mean decompressing first. A frame's checksums and streaming
 * do not help a cache value that is always read whole; the block form is also 11 bytes
 * smaller per value.
 */
export function lz4(options: Lz4Options = {}): Compressor {
  const minLength = intOption('lz4', 'minLength', options.minLength, DEFAULT_MIN_LENGTH, 0, 2 ** 32 - 1);
  return {
    name: 'lz4',
    id: LZ4_ID,
    minLength,
    compress: (bytes) => compressSync(bytes),
    decompress(bytes, maxBytes) {
      if (bytes.length < 5)
        throw corrupt('lz4', `${bytes.length} bytes is too short for a size-prefixed block`);
      const declared = bytes.readUInt32LE(0);
      if (declared > maxBytes) throw tooLarge('lz4', maxBytes, declared);
      let out: Buffer;
      try {
        out = uncompressSync(bytes);
      } catch (error) {
        throw corrupt('lz4', 'invalid block', error);
      }
      if (out.length !== declared) {
        throw corrupt('lz4', `block decoded to ${out.length} bytes but its prefix says ${declared}`);
      }
      return out;
    },
  };
}
