import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { compressors } from '../../src/compressors/index.js';
import { DecodeError, SerializationError, ValueTooLargeError } from '../../src/core/errors.js';
import type { Compressor } from '../../src/core/formats.js';
import { Codec } from '../../src/create-cache.js';
import { serializers } from '../../src/serializers/index.js';
import { compressorNames } from '../fixtures/zstd.js';

/**
 * Property tests for the codec:
 * 1. any value a serializer accepts round-trips exactly through every compressor (up to the
 *    differences each serializer documents: -0, null prototypes, array holes);
 * 2. any value at all is either refused with SerializationError or round-trips;
 * 3. any byte string — random, or a valid encoding truncated, bit-flipped, re-labelled — fed
 *    to decode either decodes or throws DecodeError, and never takes long.
 */

const MiB = 1024 * 1024;
const serializerNames = ['json', 'msgpack', 'v8', 'string'] as const;
type SerializerName = (typeof serializerNames)[number];

function codec(serializer: string, compressor: string, maxValueBytes = 1 * MiB): Codec {
  const make = compressors[compressor as 'lz4'] as (o?: object) => Compressor;
  // minLength 0: every payload goes through the compressor (kept only if smaller).
  return new Codec({
    serializer: serializers.byName(serializer)!,
    compressor: compressor === 'none' ? compressors.none() : make({ minLength: 0 }),
    maxValueBytes,
  });
}

interface Differences {
  /** -0 reads back as 0 everywhere (json, msgpack) or only at top level (codec integers). */
  negativeZero: 'everywhere' | 'top';
  /** Array holes read back as undefined (msgpack); json refuses them, v8 keeps them. */
  holes: boolean;
}

const documented: Record<SerializerName, Differences> = {
  json: { negativeZero: 'everywhere', holes: false },
  msgpack: { negativeZero: 'everywhere', holes: true },
  v8: { negativeZero: 'top', holes: false },
  string: { negativeZero: 'top', holes: false },
};

/** What a value is documented to read back as: null prototypes become plain objects, etc. */
function expected(value: unknown, differences: Differences, top = true): unknown {
  if (typeof value === 'number') {
    return Object.is(value, -0) && (top || differences.negativeZero === 'everywhere') ? 0 : value;
  }
  if (typeof value !== 'object' || value === null) return value;
  const recurse = (v: unknown) => expected(v, differences, false);
  const proto: unknown = Object.getPrototypeOf(value);
  if (Array.isArray(value) && proto === Array.prototype) {
    if (differences.holes) return Array.from(value, recurse);
    const copy = new Array(value.length);
    for (const key of Object.keys(value)) copy[Number(key)] = recurse(value[Number(key)]);
    return copy;
  }
  if (value instanceof Map && proto === Map.prototype) {
    return new Map(Array.from(value, ([k, v]) => [recurse(k), recurse(v)]));
  }
  if (value instanceof Set && proto === Set.prototype) return new Set(Array.from(value, recurse));
  if (proto === null || proto === Object.prototype) {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(copy, key, {
        value: recurse((value as Record<string, unknown>)[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  }
  return value;
}

function hasOwnProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (value instanceof Map) return [...value].some(([k, v]) => hasOwnProtoKey(k) || hasOwnProtoKey(v));
  if (value instanceof Set) return [...value].some(hasOwnProtoKey);
  if (ArrayBuffer.isView(value)) return false;
  if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) return true;
  return Object.values(value).some(hasOwnProtoKey);
}

/** Values each serializer accepts. */
const accepted: Record<SerializerName, fc.Arbitrary<unknown>> = {
  json: fc.jsonValue({ stringUnit: 'binary' }),
  msgpack: fc
    .anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withObjectString: true,
      stringUnit: 'grapheme', // well-formed Unicode: MessagePack strings are UTF-8
    })
    .filter((v) => !hasOwnProtoKey(v)),
  v8: fc.anything({
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    withBoxedValues: true,
    withObjectString: true,
    stringUnit: 'binary',
  }),
  string: fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 2000 }),
    fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)),
  ),
};

/** Everything fast-check can make, for the "refused or exact" property. */
const anything = fc.oneof(
  fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withNullPrototype: true,
    withObjectString: true,
    withSet: true,
    withSparseArray: true,
    withTypedArray: true,
    stringUnit: 'binary',
  }),
  fc.constantFrom(undefined, Number.NaN, -0, Number.POSITIVE_INFINITY, () => 1, Symbol('s'), new Error('e')),
);

describe.each(serializerNames)('%s: accepted values round-trip exactly', (serializer) => {
  it.each(compressorNames)('through %s', (compressor) => {
    const c = codec(serializer, compressor);
    fc.assert(
      fc.property(accepted[serializer], (value) => {
        const encoded = c.encode(value);
        const raw = typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
        expect(c.decode(raw, 'k')).toStrictEqual(expected(value, documented[serializer]));
      }),
      { numRuns: 150 },
    );
  });
});

describe.each(serializerNames)(
  '%s: any value is refused with SerializationError or round-trips',
  (serializer) => {
    it('holds for fast-check anything (null prototypes, boxed values, holes, lone surrogates, …)', () => {
      const c = codec(serializer, 'brotli');
      let refused = 0;
      fc.assert(
        fc.property(anything, (value) => {
          let encoded: Buffer | string;
          try {
            encoded = c.encode(value);
          } catch (error) {
            expect(error).toBeInstanceOf(SerializationError);
            refused++;
            return;
          }
          const raw = typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
          expect(c.decode(raw, 'k')).toStrictEqual(expected(value, documented[serializer]));
        }),
        { numRuns: 400 },
      );
      // The property must not hold vacuously: some values are stored, for json/msgpack/v8 some refused.
      expect(refused).toBeLessThan(400);
    });
  },
);

/**
 * encodeArg (what set / setMany send) must put exactly encode()'s bytes on the wire: a Buffer
 * equal to them, or a string whose UTF-8 encoding is them; a value encode() refuses it refuses
 * with the same error class. Strings of every kind (lone surrogates, astral, multibyte text whose
 * UTF-8 length crosses the limits the fast path bounds by length), through every compressor at
 * its default minLength and at minLength 0, and under a small maxValueBytes.
 */
describe('encodeArg sends exactly the bytes encode() makes', () => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.string({ unit: 'grapheme', maxLength: 80 }),
    fc.string({ unit: fc.constantFrom('a', 'é', '€', '\u{1F600}', '\uD800', '\uDC00'), maxLength: 200 }),
  );
  const values = fc.oneof(text, anything);
  function sameAsEncode(c: Codec, value: unknown): 'string' | 'buffer' | 'refused' {
    let expectedBytes: Buffer | string | undefined;
    let refusal: unknown;
    try {
      expectedBytes = c.encode(value);
    } catch (error) {
      refusal = error;
    }
    let sent: Buffer | string;
    try {
      sent = c.encodeArg(value);
    } catch (error) {
      expect(refusal).toBeDefined();
      expect((error as Error).constructor).toBe((refusal as Error).constructor);
      return 'refused';
    }
    expect(refusal).toBeUndefined();
    const wire = (x: Buffer | string) => (typeof x === 'string' ? Buffer.from(x, 'utf8') : x);
    expect(wire(sent).equals(wire(expectedBytes as Buffer | string))).toBe(true);
    return typeof sent === 'string' ? 'string' : 'buffer';
  }

  it.each(serializerNames)(
    '%s, every compressor, minLength 0 and default, maxValueBytes 64 and 1 MiB',
    (name) => {
      const codecs = compressorNames.flatMap((compressor) => {
        const make = compressors[compressor as 'lz4'] as (o?: object) => Compressor;
        return [64, 1 * MiB].flatMap((maxValueBytes) => [
          codec(name, compressor, maxValueBytes),
          new Codec({ serializer: serializers.byName(name)!, compressor: make(), maxValueBytes }),
        ]);
      });
      const seen = { string: 0, buffer: 0, refused: 0 };
      fc.assert(
        fc.property(fc.nat({ max: codecs.length - 1 }), values, (i, value) => {
          seen[sameAsEncode(codecs[i]!, value)]++;
        }),
        { numRuns: 1500 },
      );
      // Not vacuous: for the string serializer the text path is taken, and values are refused.
      if (name === 'string') expect(seen.string).toBeGreaterThan(0);
      expect(seen.refused).toBeGreaterThan(0);
    },
  );

  it('the string serializer sends text as a string only where no limit or compressor applies', () => {
    const plain = codec('string', 'none', 30);
    expect(plain.encodeArg('hello')).toBe('\u0000\u0010\u0004\u0000\u0000hello');
    // 15 × 'é' is 31 bytes serialized (kind byte + 30): over 30, refused as encode() refuses it.
    expect(() => plain.encodeArg('é'.repeat(15))).toThrow(ValueTooLargeError);
    expect(() => plain.encodeArg('\uD800')).toThrow(SerializationError);
    // lz4 at minLength 0 compresses everything it can shrink: no text path.
    const small = codec('string', 'lz4');
    expect(Buffer.isBuffer(small.encodeArg('a'.repeat(500)))).toBe(true);
    expect((small.encodeArg('a'.repeat(500)) as Buffer).equals(small.encode('a'.repeat(500)) as Buffer)).toBe(
      true,
    );
  });
});

/** One mutation of a valid encoding. */
type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'serializer'; id: number }
  | { kind: 'compressor'; id: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'splice'; at: number; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('serializer' as const), id: fc.constantFrom(0, 1, 2, 3, 4, 77, 255) }),
  fc.record({ kind: fc.constant('compressor' as const), id: fc.constantFrom(0, 1, 2, 3, 4, 5, 77, 255) }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
);

function mutate(encoded: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(encoded);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : ('at' in m ? m.at : 0) % out.length;
    switch (m.kind) {
      case 'truncate':
        out = out.subarray(0, at);
        break;
      case 'flip':
        if (out.length > 0) out[at]! ^= 1 << m.bit;
        break;
      case 'set':
        if (out.length > 0) out[at] = m.byte;
        break;
      case 'serializer':
        if (out.length > 2) out[2] = m.id;
        break;
      case 'compressor':
        if (out.length > 3) out[3] = m.id;
        break;
      case 'append':
        out = Buffer.concat([out, m.bytes]);
        break;
      case 'splice':
        out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at + m.bytes.length)]);
        break;
    }
  }
  return out;
}

describe('decode of arbitrary bytes: a value or DecodeError, nothing else, never a hang', () => {
  const reader = codec('json', 'none', 1 * MiB);
  /** The longest single decode of the running test (reset by each check: tests never share it). */
  let slowest = 0;

  /** Budget: 2 s for one decode, far above a healthy microsecond decode, so load cannot trip it. */
  function expectNoSlowDecode(): void {
    const longest = slowest;
    slowest = 0;
    expect(longest).toBeLessThan(2000);
  }
  beforeEach(() => {
    slowest = 0;
  });

  function decodesOrDecodeError(raw: Buffer): void {
    const started = performance.now();
    try {
      reader.decode(raw, 'fuzz');
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      expect(error.key).toBe('fuzz');
    } finally {
      slowest = Math.max(slowest, performance.now() - started);
    }
  }

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => decodesOrDecodeError(Buffer.from(bytes))),
      {
        numRuns: 2000,
      },
    );
    expectNoSlowDecode();
  });

  it('a valid header followed by random bytes, for every serializer × compressor id', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 2, 3, 4, 200),
        fc.constantFrom(0, 1, 2, 3, 4, 5, 200),
        fc.uint8Array({ maxLength: 300 }),
        (serializerId, compressorId, payload) =>
          decodesOrDecodeError(
            Buffer.concat([Buffer.from([0x00, 0x10, serializerId, compressorId]), payload]),
          ),
      ),
      { numRuns: 3000 },
    );
    expectNoSlowDecode();
  });

  it.each(serializerNames)('mutations of valid %s encodings, through every compressor', (serializer) => {
    const writers = compressorNames.map((name) => codec(serializer, name));
    fc.assert(
      fc.property(
        fc.nat({ max: writers.length - 1 }),
        accepted[serializer],
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (writer, value, mutations) => {
          const encoded = writers[writer]!.encode(value);
          const raw = typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
          decodesOrDecodeError(mutate(raw, mutations));
        },
      ),
      { numRuns: 1500 },
    );
    expectNoSlowDecode();
  });
});
