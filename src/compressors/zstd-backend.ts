/** Which library does the zstd work: Node's own (node:zlib) or the zstd-napi addon. */
export type ZstdImplementation = 'node:zlib' | 'zstd-napi';

/**
 * One zstd implementation, configured with a level. Both write content size and (unless turned
 * off) an XXH64 checksum in every frame, and read each other's frames.
 */
export interface ZstdBackend {
  readonly implementation: ZstdImplementation;
  compress(bytes: Buffer): Buffer;
  /** Throws ValueTooLargeError past `maxBytes`, DecodeError for anything not a valid frame. */
  decompress(bytes: Buffer, maxBytes: number): Buffer;
}
