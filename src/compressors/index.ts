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
  none: (): Compressor => none(),
  lz4: (options?: Lz4Options): Compressor => lz4(options),
  zlib: (options?: ZlibOptions): Compressor => zlib(options),
  gzip: (options?: GzipOptions): Compressor => gzip(options),
  brotli: (options?: BrotliOptions): Compressor => brotli(options),
  zstd: (options?: ZstdOptions): ZstdCompressor => zstd(options),
  /** The zstd implementations available in this process, preferred first (see ZstdOptions). */
  zstdImplementations,
  /** Makes a compressor of your own (id 128..255) decodable by every cache in the process. */
  register: (compressor: Compressor): void => registry.register(compressor),
  byId: (id: number): Compressor | undefined => registry.byId(id),
  byName: (name: string): Compressor | undefined => registry.byName(name),
};
