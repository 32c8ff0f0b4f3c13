import { createRequire } from 'node:module';
import type * as Binding from 'zstd-napi/binding.js';
import { DecodeError, ValueTooLargeError } from '../core/errors.js';
import { corrupt, tooLarge } from './limits.js';
import type { ZstdBackend } from './zstd-backend.js';

type ZstdNapi = typeof Binding;

/**
 * Loads zstd-napi's native binding if the application installed it (an optional peer
 * dependency, needed only where node:zlib has no zstd). Synchronous `require` keeps module init
 * free of top-level await, so the package stays loadable from CommonJS.
 */
export function loadZstdNapi(): ZstdNapi | undefined {
  try {
    return createRequire(import.meta.url)('zstd-napi/binding.js') as ZstdNapi;
  } catch {
    return undefined;
  }
}

/**
 * Zstandard via zstd-napi (native libzstd, Node-API 8): the backend on Node versions whose
 * node:zlib has no zstd (before 22.15 / 23.8).
 *
 * Written frames always carry the content size (single-shot compression records it) and, unless
 * turned off, an XXH64 content checksum, so corruption is detected rather than decoded into
 * wrong bytes.
 *
 * Reading never allocates past `maxBytes`:
 * - a frame that states its content size is refused if that size is above the limit, else
 *   decoded in one call into a buffer of exactly that size (libzstd fails if the data would
 *   produce more);
 * - a frame without a content size (another writer's streaming output, or a crafted one) is
 *   decoded in chunks, stopping as soon as the total passes the limit; its window is capped
 *   at the limit too (`windowLogMax`), so libzstd's own window buffer stays bounded (a frame
 *   whose window alone exceeds the limit is refused as too large).
 * Trailing bytes after the frame, a truncated frame and a decoder that stops making progress
 * are all corrupt data, so the loop cannot spin.
 */
export function zstdNapiBackend(binding: ZstdNapi, level: number, checksum = true): ZstdBackend {
  const cctx = new binding.CCtx();
  cctx.setParameter(binding.CParameter.compressionLevel, level);
  cctx.setParameter(binding.CParameter.checksumFlag, checksum ? 1 : 0);
  cctx.setParameter(binding.CParameter.contentSizeFlag, 1);
  const dctx = new binding.DCtx();
  const windowLogBounds = binding.dParamGetBounds(binding.DParameter.windowLogMax);
  const streamChunk = binding.dStreamOutSize();

  function decompressStreaming(bytes: Buffer, maxBytes: number): Buffer {
    const windowLog = Math.min(
      windowLogBounds.upperBound,
      Math.max(windowLogBounds.lowerBound, Math.ceil(Math.log2(Math.max(2, maxBytes)))),
    );
    const chunks: Buffer[] = [];
    let total = 0;
    let input = bytes;
    try {
      dctx.reset(binding.ResetDirective.sessionAndParameters);
      dctx.setParameter(binding.DParameter.windowLogMax, windowLog);
      for (;;) {
        // One byte more than the remaining budget, so overshooting the limit is observable.
        const chunk = Buffer.allocUnsafe(Math.min(streamChunk, maxBytes - total + 1));
        const [remaining, produced, consumed] = dctx.decompressStream(chunk, input);
        total += produced;
        if (total > maxBytes) throw tooLarge('zstd', maxBytes);
        if (produced > 0) chunks.push(chunk.subarray(0, produced));
        input = input.subarray(consumed);
        if (remaining === 0) {
          if (input.length > 0) throw corrupt('zstd', `${input.length} trailing bytes after the frame`);
          return Buffer.concat(chunks, total);
        }
        if (produced === 0 && consumed === 0) throw corrupt('zstd', 'truncated frame');
      }
    } catch (error) {
      dctx.reset(binding.ResetDirective.sessionOnly);
      if (error instanceof DecodeError || error instanceof ValueTooLargeError) throw error;
      if (error instanceof Error && /too much memory/i.test(error.message)) {
        // The frame's window alone is larger than the limit: decoding it would allocate past it.
        throw tooLarge('zstd', maxBytes);
      }
      throw corrupt('zstd', 'invalid frame', error);
    }
  }

  return {
    implementation: 'zstd-napi',
    compress(bytes) {
      const out = Buffer.allocUnsafe(binding.compressBound(bytes.length));
      const written = cctx.compress2(out, bytes);
      return out.subarray(0, written);
    },
    decompress(bytes, maxBytes) {
      let declared: number | null;
      try {
        declared = binding.getFrameContentSize(bytes);
      } catch (error) {
        throw corrupt('zstd', 'not a zstd frame', error);
      }
      if (declared === null) return decompressStreaming(bytes, maxBytes);
      if (declared > maxBytes) throw tooLarge('zstd', maxBytes, declared);
      const out = Buffer.allocUnsafe(declared);
      let written: number;
      try {
        written = dctx.decompress(out, bytes);
      } catch (error) {
        throw corrupt('zstd', 'invalid frame', error);
      }
      if (written !== declared) {
        throw corrupt('zstd', `frame decoded to ${written} bytes but its header says ${declared}`);
      }
      return out;
    },
  };
}
