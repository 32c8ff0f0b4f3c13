/**
 * A compressor shrinks serialized bytes. `compress` is only called when the payload is at
 * least `minLength` bytes, and its result is only kept when smaller than the input.
 */
export interface Compressor {
  /** Registry name, e.g. 'lz4'. */
  readonly name: string;
  /** Wire id written into the value header (0 = none; 1..255 unique per registry). */
  readonly id: number;
  /** Payloads shorter than this are stored uncompressed. */
  readonly minLength: number;
  compress(bytes: Buffer): Buffer;
  /**
   * Decompress, refusing to produce more than `maxBytes` (throw ValueTooLargeError or
   * DecodeError before allocating past it — no decompression bombs).
   */
  decompress(bytes: Buffer, maxBytes: number): Buffer;
}
