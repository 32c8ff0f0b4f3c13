/**
 * `compat: 'django-redis'`: values stored exactly as django-redis 5 stores them, so a Django
 * service and a Node service share one cache (keys are already Django's `prefix:version:key`).
 *
 * django-redis's `DefaultClient.encode`/`decode`:
 * - a Python `int` (not `bool`) is stored as its decimal string, and read back first:
 *   anything `int()` accepts is an integer;
 * - everything else is `compressor.compress(serializer.dumps(value))`, where a compressor only
 *   compresses payloads longer than `min_length` (15 bytes) and its `decompress` falls back to
 *   the raw bytes when they are not compressed. No header: the bytes are the payload.
 *
 * Serializers: `json` (`json.dumps(value, cls=DjangoJSONEncoder).encode()`: Python's
 * separators and `ensure_ascii`) and `msgpack` (`msgpack.dumps` / `loads(raw=False)`).
 * Compressors: zlib (`zlib.compress(v, 6)`), gzip (django-redis >= 5.3, `gzip.compress`),
 * lz4 (`lz4.frame`, the frame format), zstd (`pyzstd.compress`: level 3, no checksum).
 */
import { gunzipSync, gzipSync, deflateSync as zlibDeflate, inflateSync as zlibInflate } from 'node:zlib';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { Packr, Unpackr } from 'msgpackr';
import { corrupt, tooLarge } from '../compressors/limits.js';
import { boundedDecompress } from '../compressors/node-zlib.js';
import { zstd } from '../compressors/zstd.js';
import type { CompatCodecFactory, ValueCodec } from '../core/codec.js';
import {
  CacheError,
  ConfigError,
  DecodeError,
  SerializationError,
  ValueTooLargeError,
} from '../core/errors.js';

// msgpackr's 'auto' (number when it fits, BigInt beyond) is implemented but missing from its types.
const INT64_AUTO = 'auto' as 'bigint';

export type DjangoRedisSerializer = 'json' | 'msgpack';
export type DjangoRedisCompressor = 'none' | 'zlib' | 'gzip' | 'lz4' | 'zstd';

export interface DjangoRedisCodecOptions {
  /** Django's `SERIALIZER` option: JSONSerializer or MSGPackSerializer. */
  serializer: DjangoRedisSerializer;
  /** Django's `COMPRESSOR` option: IdentityCompressor ('none'), Zlib, Gzip, Lz4 or ZStd. */
  compressor?: DjangoRedisCompressor;
  /** Largest serialized value written, and produced by decompression on read. */
  maxValueBytes: number;
  /** zlib/gzip/zstd level; default django-redis's (zlib 6, gzip 9, zstd 3). */
  level?: number;
}

/** django-redis compressors only compress payloads longer than this (`min_length`). */
export const DJANGO_MIN_LENGTH = 15;

interface Compress {
  compress(bytes: Buffer): Buffer;
  /** DecodeError when `bytes` are not this compressor's output (→ read them raw). */
  decompress(bytes: Buffer, maxBytes: number): Buffer;
}

export class DjangoRedisCodec implements ValueCodec {
  readonly serializer: DjangoRedisSerializer;
  readonly compressor: DjangoRedisCompressor;
  readonly maxValueBytes: number;
  readonly #dumps: (value: unknown) => Buffer;
  readonly #loads: (bytes: Buffer) => unknown;
  readonly #compress: Compress | undefined;

  constructor(options: DjangoRedisCodecOptions) {
    this.serializer = options.serializer;
    this.compressor = options.compressor ?? 'none';
    this.maxValueBytes = options.maxValueBytes;
    if (this.serializer === 'json') {
      this.#dumps = (value) => Buffer.from(pythonJsonDumps(value), 'latin1');
      this.#loads = (bytes) => JSON.parse(bytes.toString('utf8'));
    } else if (this.serializer === 'msgpack') {
      const packr = new Packr({ useRecords: false, variableMapSize: true, encodeUndefinedAsNil: true });
      const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: INT64_AUTO });
      this.#dumps = (value) => packr.pack(wideIntegersAsBigInt(value));
      this.#loads = (bytes) => unpackr.unpack(bytes);
    } else {
      throw new ConfigError(
        `compat 'django-redis' supports the json and msgpack serializers (django-redis's JSONSerializer and MSGPackSerializer); got '${String(this.serializer)}'`,
      );
    }
    this.#compress = compressorFor(this.compressor, options.level);
  }

  encode(value: unknown): Buffer | string {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    let payload: Buffer;
    try {
      payload = this.#dumps(value);
    } catch (error) {
      if (error instanceof CacheError) throw error;
      throw new SerializationError(`django-redis ${this.serializer}: ${messageOf(error)}`, { cause: error });
    }
    if (payload.length > this.maxValueBytes) {
      throw new ValueTooLargeError(
        `Value is ${payload.length} bytes serialized; maxValueBytes is ${this.maxValueBytes}`,
        payload.length,
        this.maxValueBytes,
      );
    }
    if (this.#compress !== undefined && payload.length > DJANGO_MIN_LENGTH) {
      payload = this.#compress.compress(payload);
    }
    return payload;
  }

  decode(raw: Buffer, key: string): unknown {
    const integer = pythonInt(raw);
    if (integer !== undefined) return integer;
    let payload = raw;
    if (this.#compress !== undefined) {
      try {
        payload = this.#compress.decompress(raw, this.maxValueBytes);
      } catch (error) {
        if (error instanceof ValueTooLargeError) throw new DecodeError(error.message, key, { cause: error });
        // django-redis: "Handle little values, chosen to be not compressed": read the bytes raw.
        payload = raw;
      }
    }
    try {
      return this.#loads(payload);
    } catch (error) {
      throw new DecodeError(`Cannot decode django-redis ${this.serializer} value: ${messageOf(error)}`, key, {
        cause: error,
      });
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function compressorFor(name: DjangoRedisCompressor, level: number | undefined): Compress | undefined {
  switch (name) {
    case 'none':
      return undefined;
    case 'zlib': {
      const zlibLevel = level ?? 6;
      return {
        compress: (bytes) => zlibDeflate(bytes, { level: zlibLevel }),
        decompress: (bytes, maxBytes) => boundedDecompress('zlib', zlibInflate, bytes, maxBytes),
      };
    }
    case 'gzip': {
      const gzipLevel = level ?? 9;
      return {
        compress: (bytes) => gzipSync(bytes, { level: gzipLevel }),
        decompress: (bytes, maxBytes) => boundedDecompress('gzip', gunzipSync, bytes, maxBytes),
      };
    }
    case 'lz4':
      return { compress: (bytes) => compressFrameSync(bytes), decompress: lz4FrameDecompress };
    case 'zstd': {
      const z = zstd({ level: level ?? 3, checksum: false, minLength: 0 });
      return { compress: (bytes) => z.compress(bytes), decompress: (bytes, max) => z.decompress(bytes, max) };
    }
    default:
      throw new ConfigError(
        `compat 'django-redis' supports the none, zlib, gzip, lz4 and zstd compressors; got '${String(name)}'`,
      );
  }
}

const LZ4_FRAME_MAGIC = 0x184d2204;
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

/**
 * lz4 frame (python-lz4's `lz4.frame.compress`). lz4-napi's frame decoder has no output cap,
 * so the frame is walked first: a declared content size above `maxBytes` is refused; without
 * one, the blocks bound the output (a block holds at most the frame's block size, and lz4
 * expands at most 255:1), and a frame that could exceed the limit is refused before decoding.
 * python-lz4 always writes the content size, so the bound only matters for other writers.
 */
function lz4FrameDecompress(bytes: Buffer, maxBytes: number): Buffer {
  if (bytes.length < 7 || bytes.readUInt32LE(0) !== LZ4_FRAME_MAGIC) throw corrupt('lz4', 'not an lz4 frame');
  const flags = bytes[4]!;
  const hasBlockChecksum = (flags & 0x10) !== 0;
  const hasContentSize = (flags & 0x08) !== 0;
  const hasContentChecksum = (flags & 0x04) !== 0;
  const hasDictId = (flags & 0x01) !== 0;
  const blockMax = LZ4_BLOCK_MAX[(bytes[5]! >> 4) & 0x07]!;
  if (flags >> 6 !== 1 || blockMax === 0) throw corrupt('lz4', 'unsupported frame header');
  let offset = 6;
  let declared: number | undefined;
  if (hasContentSize) {
    if (bytes.length < offset + 8) throw corrupt('lz4', 'truncated frame');
    declared = Number(bytes.readBigUInt64LE(offset));
    offset += 8;
  }
  if (hasDictId) offset += 4;
  offset += 1; // header checksum
  if (declared !== undefined && declared > maxBytes) throw tooLarge('lz4', maxBytes, declared);
  let bound = 0;
  for (;;) {
    if (bytes.length < offset + 4) throw corrupt('lz4', 'truncated frame');
    const word = bytes.readUInt32LE(offset);
    const size = word & 0x7fffffff;
    const stored = word !== size; // high bit: the block is stored uncompressed
    offset += 4;
    if (word === 0) break; // EndMark
    offset += size + (hasBlockChecksum ? 4 : 0);
    bound += stored ? size : Math.min(blockMax, size * 255 + 255);
  }
  if (hasContentChecksum) offset += 4;
  if (offset !== bytes.length) throw corrupt('lz4', 'truncated frame or trailing bytes');
  if (declared === undefined && bound > maxBytes) throw tooLarge('lz4', maxBytes);
  let out: Buffer;
  try {
    out = decompressFrameSync(bytes);
  } catch (error) {
    throw corrupt('lz4', 'invalid frame', error);
  }
  if (out.length > maxBytes) throw tooLarge('lz4', maxBytes, out.length);
  return out;
}

/**
 * Python's `int(bytes)`: optional surrounding whitespace, a sign, digits with single
 * underscores between them. A safe integer comes back as a number, a wider one as a BigInt.
 */
const PYTHON_INT = /^[ \t\n\r\f\v]*([+-]?)(\d(?:_?\d)*)[ \t\n\r\f\v]*$/;

function pythonInt(raw: Buffer): number | bigint | undefined {
  if (raw.length === 0 || raw.length > 4300) return undefined; // Python's int() digit limit
  const first = raw[0]!;
  // Cheap exit for everything that cannot start an int (serialized or compressed payloads).
  if (!(first === 0x2b || first === 0x2d || (first >= 0x30 && first <= 0x39) || first <= 0x20))
    return undefined;
  const match = PYTHON_INT.exec(raw.toString('latin1'));
  if (match === null) return undefined;
  const digits = match[2]!.replaceAll('_', '');
  const big = BigInt(`${match[1] === '-' ? '-' : ''}${digits}`);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/**
 * msgpackr writes integers wider than 32 bits as float64; Python's msgpack writes them as
 * int64/uint64 and reads a float64 back as a Python float. Such integers become BigInts (which
 * msgpackr writes as int64/uint64); the value is copied only where one occurs.
 */
function wideIntegersAsBigInt(value: unknown): unknown {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && (value > 0xffffffff || value < -0x80000000) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const converted = wideIntegersAsBigInt(value[i]);
      if (converted !== value[i]) {
        copy ??= value.slice();
        copy[i] = converted;
      }
    }
    return copy ?? value;
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    let copy: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const converted = wideIntegersAsBigInt(v);
      if (converted !== v) {
        copy ??= { ...(value as Record<string, unknown>) };
        copy[k] = converted;
      }
    }
    return copy ?? value;
  }
  return value;
}

/**
 * `json.dumps(value, cls=DjangoJSONEncoder)` byte for byte: separators `', '` and `': '`,
 * non-ASCII escaped as `\uXXXX` (ensure_ascii), floats as Python's `repr`, Dates as
 * DjangoJSONEncoder writes a UTC datetime (ISO 8601, milliseconds, `Z`). Like JSON.stringify,
 * `toJSON()` is honoured, and `undefined` and functions are dropped from objects (`null` in
 * arrays). BigInts are Python ints. Returns ASCII only.
 */
export function pythonJsonDumps(value: unknown): string {
  const out = dump(value, new Set());
  if (out === undefined) throw new SerializationError(`json: cannot serialize ${typeof value}`);
  return out;
}

function dump(value: unknown, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
      return pythonString(value);
    case 'number':
      return pythonFloat(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (object instanceof Date) return djangoDate(object);
  if (object instanceof Map || object instanceof Set || ArrayBuffer.isView(object)) {
    throw new SerializationError(
      `json: ${object.constructor.name} is not JSON-serializable (django-redis's msgpack serializer takes bytes)`,
    );
  }
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
    return dump((object as { toJSON: () => unknown }).toJSON(), seen);
  }
  if (seen.has(object)) throw new SerializationError('json: circular reference');
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      return `[${object.map((item) => dump(item, seen) ?? 'null').join(', ')}]`;
    }
    const parts: string[] = [];
    for (const [k, v] of Object.entries(object)) {
      const item = dump(v, seen);
      if (item !== undefined) parts.push(`${pythonString(k)}: ${item}`);
    }
    return `{${parts.join(', ')}}`;
  } finally {
    seen.delete(object);
  }
}

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

function pythonString(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are what must be escaped
  return `"${text.replace(/["\\\u0000-\u001f\u0080-\uffff]/g, (ch) => ESCAPES[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/** Python's `float.__repr__` (and `int` for integral values, which JS cannot tell apart). */
function pythonFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'Infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (Number.isSafeInteger(n)) return Object.is(n, -0) ? '-0.0' : String(n);
  // Shortest round-trip digits, then Python's layout: scientific below 1e-4 and from 1e16.
  const [mantissa, exp] = n.toExponential().split('e') as [string, string];
  const exponent = Number(exp);
  if (exponent < -4 || exponent >= 16) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const text = String(n);
  return text.includes('.') ? text : `${text}.0`;
}

function djangoDate(date: Date): string {
  const iso = date.toISOString(); // 2024-01-02T03:04:05.678Z
  return pythonString(date.getUTCMilliseconds() === 0 ? `${iso.slice(0, 19)}Z` : iso);
}

const SERIALIZER_NAMES: readonly string[] = ['json', 'msgpack'];
const COMPRESSOR_NAMES: readonly string[] = ['none', 'zlib', 'gzip', 'lz4', 'zstd'];

// `compat: 'django-redis'`: the cache's serializer and compressor options say which of
// django-redis's to speak (by name); levels are django-redis's own.
export const djangoRedisCodec: CompatCodecFactory = ({ serializer, compressor, maxValueBytes }) => {
  if (!SERIALIZER_NAMES.includes(serializer.name)) {
    throw new ConfigError(
      `createCache: compat 'django-redis' needs serializers.json() or serializers.msgpack() (django-redis's JSONSerializer / MSGPackSerializer); got serializer '${serializer.name}'`,
    );
  }
  if (!COMPRESSOR_NAMES.includes(compressor.name)) {
    throw new ConfigError(
      `createCache: compat 'django-redis' needs compressors.none(), zlib(), gzip(), lz4() or zstd(); got compressor '${compressor.name}'`,
    );
  }
  return new DjangoRedisCodec({
    serializer: serializer.name as DjangoRedisSerializer,
    compressor: compressor.name as DjangoRedisCompressor,
    maxValueBytes,
  });
};
