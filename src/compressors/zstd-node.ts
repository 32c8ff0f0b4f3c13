import zlib from 'node:zlib';
import { corrupt, tooLarge } from './limits.js';
import type { ZstdBackend } from './zstd-backend.js';
import { readZstdFrame } from './zstd-frame.js';

/** node:zlib's zstd (Node >= 22.15 / 23.8); @types/node for Node 20 does not describe it yet. */
interface NodeZstd {
  zstdCompressSync(bytes: Buffer, options: { params: Record<number, number> }): Buffer;
  zstdDecompressSync(
    bytes: Buffer,
    options: { maxOutputLength: number; params: Record<number, number> },
  ): Buffer;
  constants: Record<string, number>;
}

/** node:zlib's zstd functions when the running Node has them. */
export function loadNodeZstd(): NodeZstd | undefined {
  const candidate = zlib as unknown as Partial<NodeZstd>;
  return typeof candidate.zstdCompressSync === 'function' &&
    typeof candidate.zstdDecompressSync === 'function'
    ? (candidate as NodeZstd)
    : undefined;
}

// libzstd's bounds for ZSTD_d_windowLogMax on 64-bit builds.
const WINDOW_LOG_MIN = 10;
const WINDOW_LOG_MAX = 31;

/**
 * Zstandard via node:zlib: no native addon to build. Frames carry what the zstd-napi backend's
 * carry (content size, XXH64 checksum), so each reads the other's, and reading has the same
 * bounds: the declared size is checked against `maxBytes` first, `maxOutputLength` stops a
 * frame without one at the limit, and the decoder's window is capped at the limit
 * (`windowLogMax`).
 */
export function nodeZstdBackend(node: NodeZstd, level: number, checksum = true): ZstdBackend {
  const c = node.constants;
  const compressParams = {
    [c.ZSTD_c_compressionLevel!]: level,
    [c.ZSTD_c_checksumFlag!]: checksum ? 1 : 0,
    [c.ZSTD_c_contentSizeFlag!]: 1,
  };
  return {
    implementation: 'node:zlib',
    compress: (bytes) => node.zstdCompressSync(bytes, { params: compressParams }),
    decompress(bytes, maxBytes) {
      const frame = readZstdFrame(bytes);
      if (frame.end < bytes.length) {
        throw corrupt('zstd', `${bytes.length - frame.end} trailing bytes after the frame`);
      }
      if (frame.contentSize !== null && frame.contentSize > maxBytes) {
        throw tooLarge('zstd', maxBytes, frame.contentSize);
      }
      const windowLog = Math.min(
        WINDOW_LOG_MAX,
        Math.max(WINDOW_LOG_MIN, Math.ceil(Math.log2(Math.max(2, maxBytes)))),
      );
      let out: Buffer;
      try {
        out = node.zstdDecompressSync(bytes, {
          maxOutputLength: Math.max(1, maxBytes),
          params: { [c.ZSTD_d_windowLogMax!]: windowLog },
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException | undefined)?.code;
        // Past the output limit, or the frame's window alone is larger than the limit.
        if (code === 'ERR_BUFFER_TOO_LARGE' || code === 'ZSTD_error_frameParameter_windowTooLarge') {
          throw tooLarge('zstd', maxBytes);
        }
        throw corrupt('zstd', 'invalid frame', error);
      }
      if (frame.contentSize !== null && out.length !== frame.contentSize) {
        throw corrupt(
          'zstd',
          `frame decoded to ${out.length} bytes but its header says ${frame.contentSize}`,
        );
      }
      return out;
    },
  };
}
