import { corrupt } from './limits.js';

const ZSTD_MAGIC = 0xfd2fb528;

/** What a zstd frame header says, and where the frame ends. */
export interface ZstdFrameInfo {
  /** The decompressed size the header declares, or null when the writer did not record it. */
  contentSize: number | null;
  /** Offset just past the frame (its last block and checksum). */
  end: number;
}

/**
 * Walks one zstd frame (RFC 8878 §3.1.1) without decoding it: header, block headers, checksum.
 * node:zlib decodes a frame followed by garbage without complaint, and reports truncation only
 * as a generic zlib error; walking the frame first lets both zstd backends refuse trailing and
 * truncated data the same way, and refuse an oversized declared size before decoding.
 */
export function readZstdFrame(bytes: Buffer): ZstdFrameInfo {
  const truncated = () => corrupt('zstd', 'truncated frame');
  if (bytes.length < 5) throw bytes.length < 4 ? corrupt('zstd', 'not a zstd frame') : truncated();
  if (bytes.readUInt32LE(0) !== ZSTD_MAGIC) throw corrupt('zstd', 'not a zstd frame');
  const descriptor = bytes[4]!;
  const sizeFlag = descriptor >> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  const hasChecksum = (descriptor & 0x04) !== 0;
  if ((descriptor & 0x08) !== 0) throw corrupt('zstd', 'reserved bit set in the frame header');
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 0x03]!;
  const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][sizeFlag]!;
  let offset = 5 + (singleSegment ? 0 : 1) + dictionaryIdBytes;
  if (bytes.length < offset + contentSizeBytes) throw truncated();
  let contentSize: number | null = null;
  switch (contentSizeBytes) {
    case 1:
      contentSize = bytes[offset]!;
      break;
    case 2:
      contentSize = bytes.readUInt16LE(offset) + 256;
      break;
    case 4:
      contentSize = bytes.readUInt32LE(offset);
      break;
    case 8:
      contentSize = Number(bytes.readBigUInt64LE(offset));
      break;
  }
  offset += contentSizeBytes;
  for (;;) {
    if (bytes.length < offset + 3) throw truncated();
    const header = bytes.readUIntLE(offset, 3);
    const last = (header & 1) === 1;
    const type = (header >> 1) & 0x03;
    const size = header >> 3;
    if (type === 3) throw corrupt('zstd', 'reserved block type');
    offset += 3 + (type === 1 ? 1 : size);
    if (bytes.length < offset) throw truncated();
    if (last) break;
  }
  if (hasChecksum) offset += 4;
  if (bytes.length < offset) throw truncated();
  return { contentSize, end: offset };
}
