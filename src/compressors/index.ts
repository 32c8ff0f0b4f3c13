import { type Compressor, CompressorRegistry } from '../core/formats.js';
import { type BrotliOptions, brotli } from './brotli.js';
import { type GzipOptions, gzip } from './gzip.js';
import { type Lz4Options, lz4 } from './lz4.js';
import { none } from './none.js';
import { type ZlibOptions, zlib } from './zlib.js';
import { lazyZstd, type ZstdCompressor, type ZstdOptions, zstd, zstdImplementations } from './zstd.js';

export type { Compressor } from '../core/formats.js';
export type { BrotliOptions } from './brotli.js';
export type { GzipOptions } from './gzip.js';
export type { Lz4Options } from './lz4.js';
export type { ZlibOptions } from './zlib.js';
export type { ZstdCompressor, ZstdImplementation, ZstdOptions } from './zstd.js';

const registry = new CompressorRegistry();
for (const builtIn of [none(), lz4(), zlib(), gzip(), brotli(), lazyZstd()]) registry.addBuiltIn(builtIn);

/**
 * Compressor factories plus the process-wide registry the codec decodes with.
 * Wire ids: none 0, lz4 1, zlib 2, gzip 3, brotli 4, zstd 5; 128..255 for your own.
 */
export const compressors = {
  /** No compression (the default): values are stored as serialized. */
  none: (): Compressor => none(),
  /** lz4 block format with a size prefix (lz4-napi): fast, for values above a few hundred bytes. */
  lz4: (options?: Lz4Options): Compressor => lz4(options),
  /** zlib (deflate with an Adler-32 checksum) via node:zlib. */
  zlib: (options?: ZlibOptions): Compressor => zlib(options),
  /** gzip (deflate with a CRC-32) via node:zlib. */
  gzip: (options?: GzipOptions): Compressor => gzip(options),
  /** brotli via node:zlib; level 4 by default (brotli's 11 is too slow for cache writes). */
  brotli: (options?: BrotliOptions): Compressor => brotli(options),
  /** zstd via node:zlib where the running Node has it, else the optional peer dependency zstd-napi. */
  zstd: (options?: ZstdOptions): ZstdCompressor => zstd(options),
  /** The zstd implementations available in this process, preferred first (see ZstdOptions). */
  zstdImplementations,
  /** Makes a compressor of your own (id 128..255) decodable by every cache in the process. */
  register: (compressor: Compressor): void => registry.register(compressor),
  /** The registered compressor with this wire id, if any. */
  byId: (id: number): Compressor | undefined => registry.byId(id),
  /** The registered compressor with this name, if any. */
  byName: (name: string): Compressor | undefined => registry.byName(name),
};
