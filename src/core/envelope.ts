/**
 * The entry envelope: what getOrSet's grace period and tags need to know about a value,
 * carried inside the value itself so that every process (and every router) sees the same.
 *
 * It sits between the codec header and the payload when header flag bit 0x1 is set:
 *
 *   size   field
 *   8      logical expiry: epoch ms (unsigned 64-bit big-endian) after which the value is
 *          stale; 0 = never stale. Redis keeps the key until ttl + grace (its PX).
 *   2      tag count n (unsigned 16-bit big-endian)
 *   n ×    2  tag length in UTF-8 bytes (unsigned 16-bit big-endian)
 *          …  the tag, UTF-8
 *          6  the tag's invalidation version when the value was computed (unsigned 48-bit
 *             big-endian); the entry is invalid once the tag's stamp in Redis differs
 *
 * Entries written without grace or tags have no envelope (flag clear): their bytes are exactly
 * what the codec wrote before envelopes existed.
 */

export const ENVELOPE_FLAG = 0x1;

const MAX_TAG_BYTES = 0xffff;
const MAX_TAGS = 0xffff;

/** One tag of an entry, with the tag's invalidation stamp as the entry saw it. */
export interface TagVersion {
  /** The tag's name. */
  readonly tag: string;
  /** The tag's invalidation stamp (an INCR counter; 0 = never invalidated) seen before computing the value. */
  readonly version: number;
}

/** What an entry's envelope carries (`grace`, `tags`): when it goes stale, and its tags. */
export interface EntryMeta {
  /** Epoch ms after which the value is stale (served only within grace); 0 = never stale. */
  readonly staleAt: number;
  /** The entry's tags, each with the stamp seen before the value was computed. */
  readonly tags: readonly TagVersion[];
}

/** Thrown for a malformed envelope; the codec turns it into a DecodeError naming the key. */
export class EnvelopeError extends Error {}

/** The envelope's bytes for `meta` (placed right after the codec header). */
export function writeEnvelope(meta: EntryMeta): Buffer {
  const tags = meta.tags.map(({ tag, version }) => ({ bytes: Buffer.from(tag, 'utf8'), version }));
  if (tags.length > MAX_TAGS) throw new RangeError(`at most ${MAX_TAGS} tags per entry`);
  let size = 8 + 2;
  for (const { bytes } of tags) {
    if (bytes.length > MAX_TAG_BYTES) throw new RangeError(`a tag is at most ${MAX_TAG_BYTES} bytes (UTF-8)`);
    size += 2 + bytes.length + 6;
  }
  const out = Buffer.allocUnsafe(size);
  out.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(meta.staleAt))), 0);
  out.writeUInt16BE(tags.length, 8);
  let offset = 10;
  for (const { bytes, version } of tags) {
    out.writeUInt16BE(bytes.length, offset);
    out.set(bytes, offset + 2);
    offset += 2 + bytes.length;
    out.writeUIntBE(version, offset, 6);
    offset += 6;
  }
  return out;
}

/** Reads the envelope starting at `offset`; returns it and where the payload starts. */
export function readEnvelope(raw: Uint8Array, offset: number): { meta: EntryMeta; end: number } {
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const need = (n: number, what: string) => {
    if (offset + n > buf.length) throw new EnvelopeError(`truncated envelope (${what})`);
  };
  need(10, 'logical expiry and tag count');
  const staleAt = Number(buf.readBigUInt64BE(offset));
  if (!Number.isSafeInteger(staleAt)) throw new EnvelopeError('logical expiry out of range');
  const count = buf.readUInt16BE(offset + 8);
  offset += 10;
  const tags: TagVersion[] = [];
  for (let i = 0; i < count; i++) {
    need(2, 'tag length');
    const length = buf.readUInt16BE(offset);
    offset += 2;
    need(length + 6, 'tag');
    const tag = buf.toString('utf8', offset, offset + length);
    offset += length;
    tags.push({ tag, version: buf.readUIntBE(offset, 6) });
    offset += 6;
  }
  return { meta: { staleAt, tags }, end: offset };
}
