/**
 * The two contracts a stored value's bytes are made with — a `Serializer` (value ↔ bytes) and
 * a `Compressor` (bytes ↔ fewer bytes) — with their shape checks and registries. Core owns
 * them; src/serializers and src/compressors implement them, and the package entry hands the
 * built-ins to core (`CodecFormats`), so core never imports an implementation.
 */
import { ConfigError } from './errors.js';
import { LAST_ID, WireRegistry } from './wire-registry.js';

/**
 * A serializer turns a value into bytes and back. It must refuse (SerializationError) any
 * value it cannot round-trip exactly, rather than store something that reads back different.
 */
export interface Serializer {
  /** Registry name, e.g. 'json'. */
  readonly name: string;
  /** Wire id written into the value header (1..255, unique per registry). */
  readonly id: number;
  /** The value's bytes; throws `SerializationError` for a value it cannot round-trip. */
  serialize(value: unknown): Buffer;
  /** The value `serialize` made these bytes from. */
  deserialize(bytes: Buffer): unknown;
}

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
  /** The compressed bytes (kept only when shorter than `bytes`). */
  compress(bytes: Buffer): Buffer;
  /**
   * Decompress, refusing to produce more than `maxBytes` (throw ValueTooLargeError or
   * DecodeError before allocating past it — no decompression bombs).
   */
  decompress(bytes: Buffer, maxBytes: number): Buffer;
}

/** Compressor id 0 in a header: the payload is stored as serialized (the codec never calls `compress`). */
export const NONE_ID = 0;

/** Where the codec finds the serializer or compressor a header names by id. */
export interface WireLookup<T> {
  byId(id: number): T | undefined;
}

/**
 * What the codec is built with besides its options: the registries a header's ids are looked
 * up in, and the defaults. The package entry (src/create-cache.ts) passes the built-ins.
 */
export interface CodecFormats {
  readonly serializers: WireLookup<Serializer>;
  readonly compressors: WireLookup<Compressor>;
  /** The serializer of a cache whose options name none. */
  defaultSerializer(): Serializer;
  /** The compressor of a codec whose options name none (stores payloads uncompressed). */
  defaultCompressor(): Compressor;
}

/** Checks the shape of a serializer handed in by a user (registry or codec options). */
export function assertSerializer(value: unknown, option = 'serializer'): asserts value is Serializer {
  const s = value as Partial<Serializer> | null | undefined;
  const problem =
    typeof s !== 'object' || s === null
      ? 'it is not an object'
      : typeof s.name !== 'string' || s.name === ''
        ? "'name' must be a non-empty string"
        : typeof s.id !== 'number' || !Number.isInteger(s.id) || s.id < 1 || s.id > LAST_ID
          ? `'id' must be an integer from 1 to ${LAST_ID}`
          : typeof s.serialize !== 'function' || typeof s.deserialize !== 'function'
            ? "'serialize' and 'deserialize' must be functions"
            : undefined;
  if (problem !== undefined) {
    throw new ConfigError(
      `Option '${option}' must be a Serializer (serializers.json(), msgpack(), v8(), string() or your own): ${problem}`,
    );
  }
}

/** Checks the shape of a compressor handed in by a user (registry or codec options). */
export function assertCompressor(value: unknown, option = 'compressor'): asserts value is Compressor {
  const c = value as Partial<Compressor> | null | undefined;
  const problem =
    typeof c !== 'object' || c === null
      ? 'it is not an object'
      : typeof c.name !== 'string' || c.name === ''
        ? "'name' must be a non-empty string"
        : typeof c.id !== 'number' || !Number.isInteger(c.id) || c.id < 0 || c.id > LAST_ID
          ? `'id' must be an integer from 0 to ${LAST_ID}`
          : typeof c.minLength !== 'number' || Number.isNaN(c.minLength) || c.minLength < 0
            ? "'minLength' must be a non-negative number"
            : typeof c.compress !== 'function' || typeof c.decompress !== 'function'
              ? "'compress' and 'decompress' must be functions"
              : undefined;
  if (problem !== undefined) {
    throw new ConfigError(
      `Option '${option}' must be a Compressor (compressors.none(), lz4(), zlib(), gzip(), brotli(), zstd() or your own): ${problem}`,
    );
  }
}

/** Serializers by wire id and by name (see WireRegistry); user entries are shape-checked first. */
export class SerializerRegistry extends WireRegistry<Serializer> {
  constructor() {
    super('Serializer', (entry) => assertSerializer(entry));
  }
}

/** Compressors by wire id and by name (see WireRegistry); user entries are shape-checked first. */
export class CompressorRegistry extends WireRegistry<Compressor> {
  constructor() {
    super('Compressor', (entry) => assertCompressor(entry));
  }
}
