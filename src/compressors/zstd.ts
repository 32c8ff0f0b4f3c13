import { ConfigError } from '../core/errors.js';
import type { Compressor } from '../core/formats.js';
import { DEFAULT_MIN_LENGTH, intOption } from './limits.js';
import type { ZstdBackend, ZstdImplementation } from './zstd-backend.js';
import { loadZstdNapi, zstdNapiBackend } from './zstd-napi.js';
import { loadNodeZstd, nodeZstdBackend } from './zstd-node.js';

export type { ZstdImplementation } from './zstd-backend.js';

export const ZSTD_ID = 5;

// zstd's "fast" levels go far below -7 but buy nothing for cache values; 22 is libzstd's maximum.
const MIN_LEVEL = -7;
const MAX_LEVEL = 22;

/** Options of `compressors.zstd()`. */
export interface ZstdOptions {
  /** Payloads shorter than this are stored uncompressed. Default 256. */
  minLength?: number;
  /** Compression level, zstd's "fast" levels from -7 up to 22. Default 3, zstd's own default. */
  level?: number;
  /**
   * Which zstd does the work. 'auto' (default): node:zlib's where the running Node has it
   * (>= 22.15 / 23.8; no Node 20 has it), else zstd-napi, an optional peer dependency the
   * application installs (`npm install zstd-napi`). Each reads the other's frames.
   */
  implementation?: 'auto' | ZstdImplementation;
  /**
   * Write an XXH64 content checksum in each frame, so corruption is detected on read. Default
   * true. (django-redis's zstd writes none: its compat codec turns it off to match.)
   */
  checksum?: boolean;
}

/** A zstd compressor, telling which implementation it runs on. */
export interface ZstdCompressor extends Compressor {
  /** Which zstd this compressor runs on (`'node:zlib'` or `'zstd-napi'`). */
  readonly implementation: ZstdImplementation;
}

/** The zstd implementations this process can use, preferred first. */
export function zstdImplementations(): ZstdImplementation[] {
  const found: ZstdImplementation[] = [];
  if (loadNodeZstd() !== undefined) found.push('node:zlib');
  if (loadZstdNapi() !== undefined) found.push('zstd-napi');
  return found;
}

function backend(implementation: 'auto' | ZstdImplementation, level: number, checksum: boolean): ZstdBackend {
  if (implementation !== 'zstd-napi') {
    const node = loadNodeZstd();
    if (node !== undefined) return nodeZstdBackend(node, level, checksum);
  }
  if (implementation !== 'node:zlib') {
    const napi = loadZstdNapi();
    if (napi !== undefined) return zstdNapiBackend(napi, level, checksum);
  }
  const nodeHint = `node:zlib has zstd from Node 22.15 / 23.8 (this is Node ${process.versions.node})`;
  const napiHint = 'zstd-napi, an optional peer dependency, is not installed (npm install zstd-napi)';
  const why =
    implementation === 'node:zlib'
      ? nodeHint
      : implementation === 'zstd-napi'
        ? napiHint
        : `${nodeHint}, and ${napiHint}`;
  throw new ConfigError(`zstd: no zstd implementation available: ${why}`);
}

/**
 * Zstandard. Throws ConfigError when neither node:zlib's zstd nor zstd-napi is available (or
 * not the one asked for with `implementation`), saying to `npm install zstd-napi`.
 */
export function zstd(options: ZstdOptions = {}): ZstdCompressor {
  const minLength = intOption('zstd', 'minLength', options.minLength, DEFAULT_MIN_LENGTH, 0, 2 ** 32 - 1);
  const level = intOption('zstd', 'level', options.level, 3, MIN_LEVEL, MAX_LEVEL);
  const implementation = options.implementation ?? 'auto';
  if (!['auto', 'node:zlib', 'zstd-napi'].includes(implementation)) {
    throw new ConfigError(
      `zstd: option 'implementation' must be 'auto', 'node:zlib' or 'zstd-napi'; got ${String(implementation)}`,
    );
  }
  const checksum = options.checksum ?? true;
  if (typeof checksum !== 'boolean') {
    throw new ConfigError(`zstd: option 'checksum' must be true or false; got ${String(checksum)}`);
  }
  const chosen = backend(implementation, level, checksum);
  return {
    name: 'zstd',
    id: ZSTD_ID,
    minLength,
    implementation: chosen.implementation,
    compress: (bytes) => chosen.compress(bytes),
    decompress: (bytes, maxBytes) => chosen.decompress(bytes, maxBytes),
  };
}

/**
 * The registry's built-in zstd entry, which decodes zstd values for every cache. It picks its
 * implementation on first use, so importing the package never fails on a machine without one:
 * only reading or writing zstd data does, with the ConfigError above.
 */
export function lazyZstd(): Compressor {
  let resolved: ZstdCompressor | undefined;
  const get = (): ZstdCompressor => {
    resolved ??= zstd();
    return resolved;
  };
  return {
    name: 'zstd',
    id: ZSTD_ID,
    minLength: DEFAULT_MIN_LENGTH,
    compress: (bytes) => get().compress(bytes),
    decompress: (bytes, maxBytes) => get().decompress(bytes, maxBytes),
  };
}
