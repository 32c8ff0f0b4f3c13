import { constants } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compressors } from '../../src/compressors/index.js';
import { CODEC_MAGIC, HEADER_BYTES } from '../../src/core/codec.js';
import { ConfigError, DecodeError, SerializationError, ValueTooLargeError } from '../../src/core/errors.js';
import type { Compressor, Serializer } from '../../src/core/formats.js';
import { Codec } from '../../src/create-cache.js';
import { serializers } from '../../src/serializers/index.js';
import { thrown } from '../fixtures/thrown.js';
import { compressorNames } from '../fixtures/zstd.js';

const MiB = 1024 * 1024;
const serializerNames = ['json', 'msgpack', 'v8', 'string'] as const;

function codec(
  serializer: string,
  compressor = 'none',
  options: { minLength?: number; maxValueBytes?: number } = {},
) {
  const make = compressors[compressor as 'lz4'] as (o?: object) => Compressor;
  return new Codec({
    serializer: serializers.byName(serializer)!,
    compressor: compressor === 'none' ? compressors.none() : make({ minLength: options.minLength ?? 0 }),
    ...(options.maxValueBytes === undefined ? {} : { maxValueBytes: options.maxValueBytes }),
  });
}

function decodeError(fn: () => unknown): DecodeError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(DecodeError);
  return error as DecodeError;
}

const record = {
  id: 'u-1',
  name: 'Ann Example',
  email: 'ann@example.com',
  roles: ['admin', 'editor'],
  sessions: Array.from({ length: 20 }, (_, i) => ({
    token: `t${i}`.repeat(8),
    ip: `10.0.0.${i}`,
    active: i % 2 === 0,
  })),
};

/** Values each serializer accepts and reads back exactly (integers are covered separately). */
const samples: Record<(typeof serializerNames)[number], unknown[]> = {
  json: [null, true, 1.5, 'text', '', [], {}, record, ['a', { b: [null, false] }]],
  msgpack: [
    null,
    undefined,
    false,
    Number.NaN,
    2n ** 80n,
    'ü',
    record,
    new Date(86_400_000),
    new Map<unknown, unknown>([[1, new Set(['x'])]]),
    Buffer.from('bytes'),
    new Float32Array([0.5]),
  ],
  v8: [undefined, record, { z: -0 }, new Map([[{}, []]]), new Set([1n]), /re/g, Buffer.alloc(300, 1)],
  string: ['', 'plain', 'x'.repeat(5000), Buffer.from([0, 1, 2]), randomBytes(2000)],
};

describe('integers', () => {
  const c = codec('json');

  it.each([0, 1, -1, 42, -7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER])(
    '%d is stored as its decimal string and read back as a number',
    (n) => {
      const encoded = c.encode(n);
      expect(encoded).toBe(String(n));
      expect(c.decode(Buffer.from(encoded as string), 'k')).toBe(n);
    },
  );

  it('does so for every serializer, which never sees them', () => {
    for (const name of serializerNames) expect(codec(name, 'brotli').encode(12)).toBe('12');
  });

  it('stores -0 as 0 (documented)', () => {
    expect(c.encode(-0)).toBe('0');
  });

  it('sends booleans, floats and unsafe integers through the serializer', () => {
    for (const value of [true, false, 1.5, 2 ** 53, -(2 ** 60)]) {
      const encoded = c.encode(value);
      expect(Buffer.isBuffer(encoded)).toBe(true);
      expect(c.decode(encoded as Buffer, 'k')).toBe(value);
    }
  });

  it('reads what INCR produced and what another client wrote as decimals', () => {
    expect(c.decode(Buffer.from('100'), 'k')).toBe(100);
    expect(c.decode(Buffer.from('-9007199254740991'), 'k')).toBe(-9007199254740991);
  });

  it.each(['007', '-0', '-', '+1', '1.5', '1e3', '12a', '9007199254740993', '99999999999999999999', '-01'])(
    'refuses %j, which starts like a number but is not a canonical safe integer, with DecodeError',
    (text) => {
      decodeError(() => c.decode(Buffer.from(text), 'k'));
    },
  );
});

describe('header', () => {
  it('is magic, version/flags, serializer id, compressor id', () => {
    const encoded = codec('msgpack', 'lz4').encode({ text: 'a'.repeat(1000) }) as Buffer;
    expect([...encoded.subarray(0, HEADER_BYTES)]).toEqual([CODEC_MAGIC, 0x10, 2, 1]);
    const plain = codec('json').encode('x') as Buffer;
    expect([...plain]).toEqual([0x00, 0x10, 1, 0, ...Buffer.from('"x"')]);
  });

  it('can never be read as a decimal integer', () => {
    for (const s of serializerNames) {
      for (const c of compressorNames) {
        const encoded = codec(s, c).encode(s === 'string' ? 'x' : { a: 1 }) as Buffer;
        expect(/^-?\d+$/.test(encoded.toString('latin1'))).toBe(false);
        expect(encoded[0]).toBe(CODEC_MAGIC);
      }
    }
  });

  it.each([
    ['empty', []],
    ['unknown magic', [0x7b, 0x7d]],
    ['truncated header', [0x00, 0x10, 1]],
    ['unknown version', [0x00, 0x20, 1, 0, 0x31]],
    ['version 0', [0x00, 0x00, 1, 0, 0x31]],
    ['unknown flag set', [0x00, 0x12, 1, 0, 0x31]],
    ['envelope flag with a truncated envelope', [0x00, 0x11, 1, 0, 0x31]],
    ['envelope with a truncated tag', [0x00, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 9, 0x61]],
    ['unknown serializer id', [0x00, 0x10, 99, 0, 0x31]],
    ['unregistered user serializer id', [0x00, 0x10, 250, 0, 0x31]],
    ['unknown compressor id', [0x00, 0x10, 1, 99, 0x31]],
    ['header only', [0x00, 0x10, 1, 0]],
    ['bad JSON payload', [0x00, 0x10, 1, 0, 0x7b]],
    ['truncated msgpack payload', [0x00, 0x10, 2, 0, 0x92, 0x01]],
    ['msgpack payload with trailing bytes', [0x00, 0x10, 2, 0, 0x01, 0x02]],
    ['bad v8 payload', [0x00, 0x10, 3, 0, 0xff]],
    ['bad lz4 payload', [0x00, 0x10, 1, 1, 1, 2, 3]],
  ])('%s → DecodeError naming the key', (_name, bytes) => {
    const error = decodeError(() => codec('json').decode(Buffer.from(bytes), 'user:42'));
    expect(error.key).toBe('user:42');
    expect(error.message).toContain('user:42');
  });

  it('says how to fix an unknown serializer id', () => {
    const error = decodeError(() => codec('json').decode(Buffer.from([0, 0x10, 250, 0, 1]), 'k'));
    expect(error.message).toMatch(/serializer id 250.*serializers\.register/);
  });

  it('wraps the underlying error as the cause', () => {
    const error = decodeError(() => codec('json').decode(Buffer.from([0, 0x10, 1, 0, 0x7b]), 'k'));
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });
});

describe.each(serializerNames)('%s serializer through the codec', (serializer) => {
  it.each(compressorNames)('round-trips every sample with %s (compressing from 0 bytes)', (compressor) => {
    const c = codec(serializer, compressor, { minLength: 0 });
    for (const value of samples[serializer]) {
      expect(c.decode(c.encode(value) as Buffer, 'k')).toStrictEqual(value);
    }
  });

  it.each(compressorNames)('round-trips every sample with %s (default minLength)', (compressor) => {
    const make = compressors[compressor] as () => Compressor;
    const c = new Codec({ serializer: serializers.byName(serializer)!, compressor: make() });
    for (const value of samples[serializer]) {
      expect(c.decode(c.encode(value) as Buffer, 'k')).toStrictEqual(value);
    }
  });
});

describe('compression policy', () => {
  it('compresses only at or above minLength', () => {
    const c = new Codec({
      serializer: serializers.string(),
      compressor: compressors.zlib({ minLength: 100 }),
    });
    const below = c.encode('a'.repeat(98)) as Buffer; // 99 bytes serialized (kind byte + 98)
    const at = c.encode('a'.repeat(99)) as Buffer; // 100 bytes serialized
    expect(below[3]).toBe(0);
    expect(at[3]).toBe(2);
    expect(c.decode(at, 'k')).toBe('a'.repeat(99));
  });

  it('stores uncompressed (compressor id 0) when compression does not shrink the payload', () => {
    for (const name of compressorNames.filter((n) => n !== 'none')) {
      const c = codec('string', name, { minLength: 0 });
      const incompressible = randomBytes(4096);
      const encoded = c.encode(incompressible) as Buffer;
      expect(encoded[3], name).toBe(0);
      expect(encoded.length).toBe(HEADER_BYTES + 1 + 4096);
      expect(c.decode(encoded, 'k')).toStrictEqual(incompressible);
    }
  });

  it('uses the configured compressor id when it pays', () => {
    const ids = { lz4: 1, zlib: 2, gzip: 3, brotli: 4, zstd: 5 };
    for (const [name, id] of Object.entries(ids).filter(([name]) =>
      compressorNames.includes(name as 'zstd'),
    )) {
      const encoded = codec('json', name).encode(record) as Buffer;
      expect(encoded[3], name).toBe(id);
      expect(encoded.length).toBeLessThan(JSON.stringify(record).length);
    }
  });
});

describe('switching configuration never breaks old entries', () => {
  it('a json/none codec reads an entry written by msgpack/lz4', () => {
    const value = { user: 'ann', at: new Date(5), tags: new Set(['a']), blob: Buffer.alloc(500, 7) };
    const written = codec('msgpack', 'lz4').encode(value) as Buffer;
    expect(written[2]).toBe(2);
    expect(written[3]).toBe(1);
    expect(codec('json', 'none').decode(written, 'k')).toStrictEqual(value);
  });

  it('every reader configuration decodes what every writer configuration wrote', () => {
    for (const ws of serializerNames) {
      for (const wc of compressorNames) {
        const writer = codec(ws, wc, { minLength: 0 });
        for (const value of samples[ws]) {
          const encoded = writer.encode(value) as Buffer;
          for (const rs of serializerNames) {
            for (const rc of compressorNames) {
              expect(codec(rs, rc).decode(encoded, 'k'), `${ws}/${wc} read by ${rs}/${rc}`).toStrictEqual(
                value,
              );
            }
          }
        }
      }
    }
  });
});

describe('maxValueBytes', () => {
  it('defaults to 64 MiB', () => {
    expect(codec('json').maxValueBytes).toBe(64 * MiB);
  });

  it('refuses an oversized value on write with ValueTooLargeError and returns nothing', () => {
    const c = codec('json', 'brotli', { maxValueBytes: 1000 });
    const error = thrown(() =>
      c.encode({ list: Array.from({ length: 400 }, (_, i) => i) }),
    ) as ValueTooLargeError;
    expect(error).toBeInstanceOf(ValueTooLargeError);
    expect(error.limit).toBe(1000);
    expect(error.size).toBeGreaterThan(1000);
  });

  it('measures the serialized size, before compression', () => {
    const c = codec('string', 'brotli', { maxValueBytes: 1000 });
    // Compresses to a few bytes, but serialized it is 2001 bytes.
    expect(thrown(() => c.encode('a'.repeat(2000)))).toBeInstanceOf(ValueTooLargeError);
    expect(c.decode(c.encode('a'.repeat(999)) as Buffer, 'k')).toBe('a'.repeat(999));
    expect(thrown(() => c.encode('a'.repeat(1000)))).toBeInstanceOf(ValueTooLargeError); // 1001 with the kind byte
  });

  it('refuses huge strings and Buffers before serializing them', () => {
    for (const name of serializerNames) {
      const c = codec(name, 'none', { maxValueBytes: 10 });
      expect(thrown(() => c.encode('x'.repeat(11)))).toBeInstanceOf(ValueTooLargeError);
      if (name !== 'json')
        expect(thrown(() => c.encode(Buffer.alloc(11)))).toBeInstanceOf(ValueTooLargeError);
    }
  });

  it('refuses on read a value larger than this codec allows, compressed or not', () => {
    const big = { data: 'x'.repeat(5000) };
    for (const name of compressorNames) {
      const written = codec('json', name).encode(big) as Buffer;
      const error = decodeError(() => codec('json', name, { maxValueBytes: 1000 }).decode(written, 'big'));
      expect(error.cause, name).toBeInstanceOf(ValueTooLargeError);
    }
  });

  it('stops a 100 MB decompression bomb from every compressor at 1 MiB', () => {
    const zeros = Buffer.alloc(100_000_000);
    const reader = codec('string', 'none', { maxValueBytes: 1 * MiB });
    for (const name of compressorNames.filter((n) => n !== 'none')) {
      const compressor = compressors.byName(name)!;
      const payload = compressor.compress(Buffer.concat([Buffer.from([1]), zeros]));
      const bomb = Buffer.concat([Buffer.from([0x00, 0x10, 4, compressor.id]), payload]);
      const before = process.memoryUsage();
      const error = decodeError(() => reader.decode(bomb, 'bomb'));
      const after = process.memoryUsage();
      expect(error.cause, name).toBeInstanceOf(ValueTooLargeError);
      expect(error.key).toBe('bomb');
      // Generous sanity bounds: decoding the bomb would take 100 MB.
      expect(after.arrayBuffers - before.arrayBuffers, name).toBeLessThan(32 * MiB);
      expect(after.rss - before.rss, name).toBeLessThan(64 * MiB);
    }
  });

  // Above the largest Buffer this Node can allocate (4 GiB on Node 20, 2^53 - 1 from Node 22).
  it('rejects a bad maxValueBytes with ConfigError', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '1mb', Number.POSITIVE_INFINITY, constants.MAX_LENGTH + 1]) {
      expect(() => new Codec({ serializer: serializers.json(), maxValueBytes: bad as number })).toThrow(
        ConfigError,
      );
    }
  });
});

describe('refusals surface as SerializationError', () => {
  it.each([
    ['json', undefined],
    ['json', { a: () => 1 }],
    ['json', new Map()],
    ['json', 10n],
    ['json', Number.POSITIVE_INFINITY],
    ['msgpack', Symbol('x')],
    ['msgpack', new (class X {})()],
    ['v8', () => 1],
    ['string', { a: 1 }],
    ['string', 1.5],
  ] as [string, unknown][])('%s refuses %s', (name, value) => {
    expect(thrown(() => codec(name, 'lz4').encode(value))).toBeInstanceOf(SerializationError);
  });
});

describe('user serializers and compressors', () => {
  const upper: Serializer = {
    id: 140,
    name: 'test-codec-upper',
    serialize: (value) => {
      if (typeof value !== 'string') throw new TypeError('strings only');
      return Buffer.from(value.toUpperCase());
    },
    deserialize: (bytes) => {
      if (bytes.length === 0) throw new RangeError('empty');
      return bytes.toString().toLowerCase();
    },
  };
  const xor: Compressor = {
    id: 141,
    name: 'test-codec-xor',
    minLength: 0,
    compress: (bytes) => Buffer.from(bytes.subarray(0, Math.max(0, bytes.length - 1)).map((b) => b ^ 0xff)),
    decompress: (bytes) => Buffer.from(bytes.map((b) => b ^ 0xff)),
  };

  it('work when configured, and decode elsewhere once registered', () => {
    const mine = new Codec({ serializer: upper });
    const encoded = mine.encode('hello') as Buffer;
    expect(encoded[2]).toBe(140);
    expect(mine.decode(encoded, 'k')).toBe('hello');
    const other = codec('json');
    expect(decodeError(() => other.decode(encoded, 'k')).message).toMatch(/serializer id 140/);
    serializers.register(upper);
    expect(other.decode(encoded, 'k')).toBe('hello');
  });

  it('wraps a user serializer failure in SerializationError / DecodeError with the cause', () => {
    const mine = new Codec({ serializer: upper });
    const error = thrown(() => mine.encode(5.5)) as SerializationError;
    expect(error).toBeInstanceOf(SerializationError);
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(decodeError(() => mine.decode(Buffer.from([0, 0x10, 140, 0]), 'k')).cause).toBeInstanceOf(
      RangeError,
    );
  });

  it('a compressor that does not shrink is not used; one that does is recorded', () => {
    const mine = new Codec({ serializer: serializers.string(), compressor: xor });
    const encoded = mine.encode('abc') as Buffer;
    expect(encoded[3]).toBe(141); // the toy compressor drops a byte, so it "shrinks"
  });

  it('refuses configurations that would decode with the wrong implementation (ConfigError)', () => {
    const impostor: Serializer = { ...upper, id: 1, name: 'not-json' };
    expect(() => new Codec({ serializer: impostor })).toThrow(ConfigError);
    const reserved: Serializer = { ...upper, id: 60, name: 'test-reserved' };
    expect(() => new Codec({ serializer: reserved })).toThrow(/reserved/);
    const fakeLz4: Compressor = { ...xor, id: 1, name: 'fake' };
    expect(() => new Codec({ serializer: serializers.json(), compressor: fakeLz4 })).toThrow(ConfigError);
    expect(() => new Codec({} as never)).toThrow(ConfigError);
    expect(() => new Codec({ serializer: { name: 'x' } } as never)).toThrow(ConfigError);
    expect(() => new Codec({ serializer: serializers.json(), compressor: 'lz4' as never })).toThrow(
      ConfigError,
    );
  });

  it('accepts differently configured instances of a built-in', () => {
    expect(() => new Codec({ serializer: serializers.json({ strict: false }) })).not.toThrow();
    expect(
      () => new Codec({ serializer: serializers.json(), compressor: compressors.brotli({ level: 9 }) }),
    ).not.toThrow();
  });
});

describe('bad values per serializer: each round-trips exactly or is refused (issue 6, item 1)', () => {
  const circular = (): object => {
    const node: Record<string, unknown> = { name: 'loop' };
    node.next = { back: node };
    return node;
  };
  type Outcome = 'exact' | 'refused';
  // [case, value factory, json, msgpack, v8, string]
  const cases: [string, () => unknown, Outcome, Outcome, Outcome, Outcome][] = [
    ['undefined', () => undefined, 'refused', 'exact', 'exact', 'refused'],
    ['undefined property', () => ({ a: undefined }), 'refused', 'exact', 'exact', 'refused'],
    ['undefined in an array', () => [undefined], 'refused', 'exact', 'exact', 'refused'],
    ['function', () => () => 1, 'refused', 'refused', 'refused', 'refused'],
    ['nested function', () => ({ cb: () => 1 }), 'refused', 'refused', 'refused', 'refused'],
    ['symbol', () => Symbol('s'), 'refused', 'refused', 'refused', 'refused'],
    ['nested symbol', () => [Symbol('s')], 'refused', 'refused', 'refused', 'refused'],
    ['circular structure', circular, 'refused', 'refused', 'exact', 'refused'],
    ['NaN', () => Number.NaN, 'refused', 'exact', 'exact', 'refused'],
    ['Infinity', () => Number.POSITIVE_INFINITY, 'refused', 'exact', 'exact', 'refused'],
    ['-Infinity nested', () => ({ low: Number.NEGATIVE_INFINITY }), 'refused', 'exact', 'exact', 'refused'],
    ['Map', () => new Map<unknown, unknown>([[1, { a: 1 }]]), 'refused', 'exact', 'exact', 'refused'],
    ['Set', () => new Set(['a', 1]), 'refused', 'exact', 'exact', 'refused'],
    ['BigInt', () => 12n, 'refused', 'exact', 'exact', 'refused'],
    ['huge BigInt', () => -(2n ** 200n), 'refused', 'exact', 'exact', 'refused'],
    ['Date', () => new Date(7), 'refused', 'exact', 'exact', 'refused'],
    [
      'class instance',
      () =>
        new (class Money {
          amount = 5;
        })(),
      'refused',
      'refused',
      'refused',
      'refused',
    ],
    ['lone surrogate', () => '\ud83d', 'exact', 'refused', 'exact', 'refused'],
  ];
  const names = ['json', 'msgpack', 'v8', 'string'] as const;

  for (const [name, make, ...outcomes] of cases) {
    for (const [i, serializer] of names.entries()) {
      it(`${serializer}: ${name} is ${outcomes[i]}`, () => {
        const c = codec(serializer, 'lz4');
        if (outcomes[i] === 'refused') {
          expect(thrown(() => c.encode(make()))).toBeInstanceOf(SerializationError);
        } else {
          const value = make();
          expect(c.decode(c.encode(value) as Buffer, 'k')).toStrictEqual(value);
        }
      });
    }
  }
});
