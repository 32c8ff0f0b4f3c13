/**
 * Value codec: JS value <-> the bytes stored in Redis.
 *
 * Wire format
 * -----------
 * A safe integer (`Number.isSafeInteger`, so not booleans, not -0's sign) is stored as its
 * plain decimal string, e.g. `42`, `-7`, so `INCR`/`DECR` work on it and any client reads it.
 * `-0` is stored as `0`.
 *
 * Every other value is `header ‖ payload`:
 *
 *   offset  size  field
 *   0       1     magic 0x00 — never an ASCII digit or '-', so a header can never be read as
 *                 a decimal integer (and no text format starts with NUL)
 *   1       1     high nibble: format version (1); low nibble: flags. Bit 0x1: an envelope
 *                 (logical expiry + tags, see envelope.ts) follows the header; the other bits
 *                 must be 0 in version 1
 *   2       1     serializer id: 1 json, 2 msgpack, 3 v8, 4 string; 128..255 user-registered
 *   3       1     compressor id: 0 none, 1 lz4, 2 zlib, 3 gzip, 4 brotli, 5 zstd;
 *                 128..255 user-registered
 *   4       n     payload: serialize(value), compressed when the compressor id is not 0
 *                 (after the envelope when flag 0x1 is set)
 *
 * e.g. `00 10 02 01 …` is msgpack compressed with lz4. A value written without grace or tags
 * never has the envelope flag: its bytes are exactly those of a plain `set`.
 *
 * Payload formats, for readers in other languages:
 *   json     UTF-8 JSON text
 *   msgpack  MessagePack (plain maps, no msgpackr records); extensions: -1 timestamp (Date),
 *            0x42 big BigInt, 0x73 Set, 0x74 typed array/ArrayBuffer/DataView, 0x78 RegExp,
 *            0x6d Map (an array k1, v1, k2, v2, …), 0 undefined
 *   v8       node:v8 serialize() output (Node only)
 *   string   one kind byte (0x00 UTF-8 text, 0x01 raw bytes) then the data
 *   lz4      LZ4 block with the uncompressed length as a 4-byte little-endian prefix
 *   zlib     RFC 1950 stream · gzip: RFC 1952 member · brotli: raw Brotli stream
 *   zstd     one Zstandard frame with content size and XXH64 checksum
 *
 * Writing: the configured serializer runs; a serialized size above `maxValueBytes` is a
 * `ValueTooLargeError` and nothing is returned. The configured compressor runs only when the
 * serialized size is at least its `minLength`, and its output is kept only when smaller;
 * otherwise the payload is stored uncompressed with compressor id 0.
 *
 * Reading: decimal integer bytes become a number. Anything else must carry a valid header;
 * the serializer and compressor are looked up by the ids in the header (the configured ones,
 * else the process-wide registries), so changing either option never breaks existing
 * entries. Decompression never produces more than `maxValueBytes`. Every failure — unknown
 * magic, version, flags or id, truncated or corrupt payload, a decompression bomb, a parse
 * error — is a `DecodeError` naming the key (the original error is its `cause`).
 */
import { constants } from 'node:buffer';
import { ENVELOPE_FLAG, type EntryMeta, EnvelopeError, readEnvelope, writeEnvelope } from './envelope.js';
import { ConfigError, DecodeError, SerializationError, ValueTooLargeError } from './errors.js';
import {
  assertCompressor,
  assertSerializer,
  type CodecFormats,
  type Compressor,
  NONE_ID,
  type Serializer,
  type WireLookup,
} from './formats.js';
import { FIRST_USER_ID } from './wire-registry.js';

export const CODEC_MAGIC = 0x00;
export const CODEC_VERSION = 1;
export const HEADER_BYTES = 4;
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024 * 1024;

const VERSION_BYTE = CODEC_VERSION << 4;
/** The largest Buffer Node can allocate. */
const MAX_LENGTH = constants.MAX_LENGTH;

/** A decoded value and its envelope (undefined for entries written without grace or tags). */
export interface DecodedEntry {
  /** The decoded value. */
  value: unknown;
  /** The entry's envelope (grace, tags), when it has one. */
  meta: EntryMeta | undefined;
}

/** Options of `new Codec(...)`: the serializer and compressor values are written with, and the size bound. */
export interface CodecOptions {
  /** The serializer values are written with (reading finds each value's own by the id in its header). */
  serializer: Serializer;
  /** Default compressors.none(). */
  compressor?: Compressor;
  /** Largest serialized value accepted on write and produced by decompression on read. Default 64 MiB. */
  maxValueBytes?: number;
}

/**
 * What the cache needs from a codec: values to the bytes stored in Redis and back. `Codec`
 * (this file: header + serializer + compressor) is the default; a `compat` option selects
 * another one, whose factory the package's createCache passes in (see CacheLayers).
 */
export interface ValueCodec {
  /** A safe integer as its decimal string (so INCR works); anything else as bytes. */
  encode(value: unknown): Buffer | string;
  /**
   * Optional: `encode(value)` as a command argument: the same bytes, or a string whose UTF-8
   * encoding is exactly those bytes where that is cheaper to send. ioredis writes a command whose
   * arguments are all strings as one string (one copy, into the socket); a single Buffer argument
   * makes it assemble the whole command in a Buffer of its own (another copy of the value, and
   * for a large one another external allocation). What Redis stores is the same either way.
   */
  encodeArg?(value: unknown): Buffer | string;
  /** `raw` as read with getBuffer; DecodeError naming `key` for bytes it cannot read. */
  decode(raw: Buffer, key: string): unknown;
  /**
   * Codecs whose format can carry an entry envelope (grace, tags — see envelope.ts) implement
   * both of these; sentinel-cache's own does, a compat codec (another library's bytes) need not.
   */
  encodeEntry?(value: unknown, meta: EntryMeta): Buffer | string;
  decodeEntry?(raw: Buffer, key: string): DecodedEntry;
}

/** What a compat codec is built from: the cache's own serializer, compressor and limit. */
export interface CompatCodecOptions {
  serializer: Serializer;
  compressor: Compressor;
  maxValueBytes: number;
}

/** Builds a compat codec (`compat: name`) from the cache's serializer, compressor and limit. */
export type CompatCodecFactory = (options: CompatCodecOptions) => ValueCodec;

/**
 * The codec. `formats` are the registries a header's ids are looked up in and the default
 * compressor: the package's `Codec` (src/create-cache.ts) passes the built-ins.
 */
export class Codec implements ValueCodec {
  /** The serializer values are written with. */
  readonly serializer: Serializer;
  /** The compressor values are written with (`none` by default). */
  readonly compressor: Compressor;
  /** Largest serialized value accepted on write and produced by decompression on read. */
  readonly maxValueBytes: number;
  readonly #serializers: WireLookup<Serializer>;
  readonly #compressors: WireLookup<Compressor>;
  /**
   * encodeArg's text path (the string serializer): the longest string, in UTF-16 code units,
   * that is surely within maxValueBytes and below the compressor's minLength once serialized
   * (at most 3 UTF-8 bytes per code unit, plus the kind byte); -1 with another serializer.
   */
  readonly #plainTextMaxChars: number;

  constructor(options: CodecOptions, formats: CodecFormats) {
    if (typeof options !== 'object' || options === null) {
      throw new ConfigError('Codec options must be an object with at least a serializer');
    }
    assertSerializer(options.serializer);
    const compressor = options.compressor ?? formats.defaultCompressor();
    assertCompressor(compressor);
    assertRegistryAgrees('serializer', options.serializer, formats.serializers.byId(options.serializer.id));
    assertRegistryAgrees('compressor', compressor, formats.compressors.byId(compressor.id));
    const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes < 1 || maxValueBytes > MAX_LENGTH) {
      throw new ConfigError(
        `Option 'maxValueBytes' must be an integer from 1 to ${MAX_LENGTH} (bytes); got ${String(options.maxValueBytes)}`,
      );
    }
    this.serializer = options.serializer;
    this.compressor = compressor;
    this.maxValueBytes = maxValueBytes;
    this.#serializers = formats.serializers;
    this.#compressors = formats.compressors;
    // Id 4 is the built-in string serializer (assertRegistryAgrees above; plainText relies on it too).
    const isString = options.serializer.id === STRING_ID && options.serializer.name === 'string';
    const bytesBound =
      compressor.id === NONE_ID ? maxValueBytes : Math.min(maxValueBytes, compressor.minLength - 1);
    this.#plainTextMaxChars = isString ? Math.floor((bytesBound - 1) / 3) : -1;
  }

  /**
   * encode() as a command argument (ValueCodec.encodeArg). A string of the string serializer
   * that needs no compression (shorter than the compressor's minLength, or no compressor) is
   * sent as `PLAIN_TEXT_PREFIX + value`: the header and kind byte are ASCII, so its UTF-8 bytes
   * are exactly what encode() returns, without building them here (two copies of the value) or
   * in ioredis (a third, see ValueCodec.encodeArg). Anything else, and a string the serializer
   * would refuse (a lone surrogate), goes through encode().
   */
  encodeArg(value: unknown): Buffer | string {
    if (
      typeof value === 'string' &&
      value.length <= this.#plainTextMaxChars &&
      (value as string & { isWellFormed(): boolean }).isWellFormed()
    ) {
      return PLAIN_TEXT_PREFIX + value;
    }
    return this.encode(value);
  }

  /**
   * Integers (Number.isSafeInteger, not booleans) → decimal string; else header ‖ payload
   * Buffer. Throws SerializationError / ValueTooLargeError (before anything is sent).
   * With `meta` (grace or tags) the value always gets a header with the envelope flag, also an
   * integer (INCR cannot work on it then anyway: it would lose the envelope).
   */
  encode(value: unknown, meta?: EntryMeta): Buffer | string {
    if (meta === undefined && typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    this.refuseObviouslyTooLarge(value);

    let serialized: Buffer;
    try {
      serialized = toBuffer(this.serializer.serialize(value));
    } catch (error) {
      if (error instanceof SerializationError || error instanceof ValueTooLargeError) throw error;
      throw new SerializationError(`Serializer '${this.serializer.name}' failed: ${messageOf(error)}`, {
        cause: error,
      });
    }
    if (serialized.length > this.maxValueBytes) {
      throw new ValueTooLargeError(
        `Value is ${serialized.length} bytes serialized; maxValueBytes is ${this.maxValueBytes}`,
        serialized.length,
        this.maxValueBytes,
      );
    }

    let payload: Uint8Array = serialized;
    let compressorId = NONE_ID;
    if (this.compressor.id !== NONE_ID && serialized.length >= this.compressor.minLength) {
      let compressed: Uint8Array;
      try {
        compressed = this.compressor.compress(serialized);
      } catch (error) {
        throw new SerializationError(`Compressor '${this.compressor.name}' failed: ${messageOf(error)}`, {
          cause: error,
        });
      }
      if (compressed.length < serialized.length) {
        payload = compressed;
        compressorId = this.compressor.id;
      }
    }

    const envelope = meta === undefined ? undefined : encodeEnvelope(meta);
    const start = HEADER_BYTES + (envelope?.length ?? 0);
    const out = Buffer.allocUnsafe(start + payload.length);
    out[0] = CODEC_MAGIC;
    out[1] = envelope === undefined ? VERSION_BYTE : VERSION_BYTE | ENVELOPE_FLAG;
    out[2] = this.serializer.id;
    out[3] = compressorId;
    if (envelope !== undefined) out.set(envelope, HEADER_BYTES);
    out.set(payload, start);
    return out;
  }

  /**
   * `raw` as read with getBuffer. Decimal integer bytes → number. Anything else must be a
   * valid header + payload, else DecodeError naming `key`. Decompression is bounded by
   * maxValueBytes.
   */
  decode(raw: Buffer, key: string): unknown {
    const text = plainText(raw, this.maxValueBytes);
    return text !== undefined ? text : this.decodeEntry(raw, key).value;
  }

  /** encode() with an envelope (ValueCodec's envelope support). */
  encodeEntry(value: unknown, meta: EntryMeta): Buffer | string {
    return this.encode(value, meta);
  }

  /** As decode(), with the envelope (logical expiry and tags) when the entry has one. */
  decodeEntry(raw: Buffer, key: string): DecodedEntry {
    const text = plainText(raw, this.maxValueBytes);
    if (text !== undefined) return { value: text, meta: undefined };
    try {
      return this.decodeOrThrow(raw);
    } catch (error) {
      if (error instanceof Malformed || error instanceof EnvelopeError) {
        throw new DecodeError(`Cannot decode value: ${error.message}`, key);
      }
      throw new DecodeError(`Cannot decode value: ${messageOf(error)}`, key, { cause: error });
    }
  }

  private decodeOrThrow(raw: Buffer): DecodedEntry {
    if (!(raw instanceof Uint8Array)) throw new Malformed(`expected a Buffer, got ${typeof raw}`);
    if (raw.length === 0) throw new Malformed('empty value (not written by sentinel-cache)');
    const first = raw[0]!;
    if (first === 0x2d /* - */ || (first >= 0x30 && first <= 0x39)) {
      return { value: parseInteger(raw), meta: undefined };
    }
    if (first !== CODEC_MAGIC) {
      throw new Malformed(`unknown format (first byte 0x${hex(first)}; not written by sentinel-cache)`);
    }
    if (raw.length < HEADER_BYTES) throw new Malformed(`truncated header (${raw.length} bytes)`);
    const version = raw[1]! >> 4;
    const flags = raw[1]! & 0x0f;
    if (version !== CODEC_VERSION) {
      throw new Malformed(
        `unsupported format version ${version} (this sentinel-cache reads version ${CODEC_VERSION})`,
      );
    }
    if ((flags & ~ENVELOPE_FLAG) !== 0) throw new Malformed(`unknown header flags 0x${hex(flags)}`);

    const serializerId = raw[2]!;
    const serializer =
      serializerId === this.serializer.id ? this.serializer : this.#serializers.byId(serializerId);
    if (serializer === undefined) {
      throw new Malformed(`unknown serializer id ${serializerId} (register it with serializers.register())`);
    }
    const compressorId = raw[3]!;
    let meta: EntryMeta | undefined;
    let payloadStart = HEADER_BYTES;
    if ((flags & ENVELOPE_FLAG) !== 0) {
      const envelope = readEnvelope(raw, HEADER_BYTES);
      meta = envelope.meta;
      payloadStart = envelope.end;
    }
    let payload = raw.subarray(payloadStart);
    if (compressorId === NONE_ID) {
      if (payload.length > this.maxValueBytes) {
        throw new ValueTooLargeError(
          `Value is ${payload.length} bytes; maxValueBytes is ${this.maxValueBytes}`,
          payload.length,
          this.maxValueBytes,
        );
      }
    } else {
      const compressor =
        compressorId === this.compressor.id ? this.compressor : this.#compressors.byId(compressorId);
      if (compressor === undefined) {
        throw new Malformed(
          `unknown compressor id ${compressorId} (register it with compressors.register())`,
        );
      }
      payload = compressor.decompress(payload, this.maxValueBytes);
      if (!(payload instanceof Uint8Array) || payload.length > this.maxValueBytes) {
        throw new Malformed(
          `compressor '${compressor.name}' returned more than maxValueBytes or not a Buffer`,
        );
      }
    }
    return { value: serializer.deserialize(payload), meta };
  }

  /**
   * Built-in serializers never produce fewer bytes than a string has UTF-16 code units or a
   * byte array has bytes, so such a value above the limit is refused before serializing it.
   */
  private refuseObviouslyTooLarge(value: unknown): void {
    if (this.serializer.id >= FIRST_USER_ID) return;
    const size =
      typeof value === 'string'
        ? value.length
        : ArrayBuffer.isView(value)
          ? value.byteLength
          : value instanceof ArrayBuffer
            ? value.byteLength
            : 0;
    if (size > this.maxValueBytes) {
      throw new ValueTooLargeError(
        `Value is at least ${size} bytes serialized; maxValueBytes is ${this.maxValueBytes}`,
        size,
        this.maxValueBytes,
      );
    }
  }
}

function encodeEnvelope(meta: EntryMeta): Buffer {
  try {
    return writeEnvelope(meta);
  } catch (error) {
    throw new SerializationError(`Cannot write the entry's envelope: ${messageOf(error)}`, { cause: error });
  }
}

/** The string serializer's id and its payload's kind byte for UTF-8 text (wire format above). */
const STRING_ID = 4;
const STRING_TEXT = 0x00;
/** The first two bytes of a version-1 header without an envelope, as a little-endian uint16. */
const PLAIN_HEADER = CODEC_MAGIC | (VERSION_BYTE << 8);
/**
 * The header and kind byte of that value (`00 10 04 00 00`) as a string: every code unit is
 * below 0x80, so its UTF-8 encoding is those bytes, and `PLAIN_TEXT_PREFIX + text` encodes to
 * exactly what encode() writes for `text`.
 */
const PLAIN_TEXT_PREFIX = String.fromCharCode(CODEC_MAGIC, VERSION_BYTE, STRING_ID, NONE_ID, STRING_TEXT);
/** What `toString('utf8')` puts in place of bytes that are not UTF-8. */
const REPLACEMENT = '\uFFFD';

/**
 * The text of `raw` when it is the most common value of a cache with the string serializer:
 * `00 10 04 00 00 ‖ UTF-8`, no envelope, not compressed. Read straight from the reply buffer
 * (no header parse, no payload view, no serializer call): batches of such values are what the
 * string serializer is for, and each of those steps cost as much as the read itself. Anything
 * else, and text that does not decode cleanly (a replacement character may be invalid bytes,
 * which the full path reports as a DecodeError), is undefined: take the full path.
 */
function plainText(raw: Buffer, maxValueBytes: number): string | undefined {
  if (
    raw.length < HEADER_BYTES + 1 ||
    raw.length - HEADER_BYTES > maxValueBytes ||
    (raw[0] as number) + ((raw[1] as number) << 8) !== PLAIN_HEADER ||
    raw[2] !== STRING_ID ||
    raw[3] !== NONE_ID ||
    raw[4] !== STRING_TEXT
  ) {
    return undefined;
  }
  const text = raw.toString('utf8', HEADER_BYTES + 1);
  return text.includes(REPLACEMENT) ? undefined : text;
}

/** A structural problem found by the codec itself (no underlying error to attach). */
class Malformed extends Error {}

/** Largest decimal text of a safe integer: '-9007199254740991'. */
const MAX_INTEGER_TEXT = 17;

function parseInteger(raw: Buffer): number {
  const negative = raw[0] === 0x2d;
  const digits = raw.length - (negative ? 1 : 0);
  let canonical = digits > 0 && raw.length <= MAX_INTEGER_TEXT;
  for (let i = negative ? 1 : 0; canonical && i < raw.length; i++) {
    const byte = raw[i]!;
    canonical = byte >= 0x30 && byte <= 0x39;
  }
  // No leading zeros and no '-0': exactly what String(n) produces for a safe integer.
  const leading = raw[negative ? 1 : 0];
  if (canonical && leading === 0x30 && (digits > 1 || negative)) canonical = false;
  const value = canonical ? Number(raw.toString('latin1')) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw new Malformed(
      `starts like a number but is not a canonical decimal integer in the safe range (${JSON.stringify(raw.subarray(0, 24).toString('latin1'))})`,
    );
  }
  return value;
}

function assertRegistryAgrees(
  kind: 'serializer' | 'compressor',
  configured: Serializer | Compressor,
  registered?: Serializer | Compressor,
): void {
  if (registered === undefined) {
    if (configured.id < FIRST_USER_ID && !(kind === 'compressor' && configured.id === NONE_ID)) {
      throw new ConfigError(
        `Option '${kind}': id ${configured.id} ('${configured.name}') is reserved for built-ins; give your own ${kind} an id from ${FIRST_USER_ID} to 255`,
      );
    }
    return;
  }
  if (registered.name !== configured.name) {
    throw new ConfigError(
      `Option '${kind}': '${configured.name}' uses id ${configured.id}, which belongs to '${registered.name}'; entries would be decoded by the wrong ${kind}`,
    );
  }
}

function toBuffer(bytes: unknown): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (bytes instanceof Uint8Array) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new SerializationError('The serializer did not return a Buffer');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
