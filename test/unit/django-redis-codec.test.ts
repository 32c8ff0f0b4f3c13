import { deflateSync } from 'node:zlib';
import { compressFrameSync } from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { DJANGO_MIN_LENGTH, DjangoRedisCodec, pythonJsonDumps } from '../../src/adapters/django-redis.js';
import { ConfigError, DecodeError, SerializationError, ValueTooLargeError } from '../../src/core/errors.js';
import { compressors, createCache, type Router, serializers } from '../../src/index.js';
import { thrown } from '../fixtures/thrown.js';
import { zstdAvailable } from '../fixtures/zstd.js';

const MiB = 1024 * 1024;
const codec = (
  serializer: 'json' | 'msgpack',
  compressor: 'none' | 'zlib' | 'gzip' | 'lz4' | 'zstd' = 'none',
) => new DjangoRedisCodec({ serializer, compressor, maxValueBytes: MiB });

describe("Python's json.dumps, byte for byte", () => {
  it.each([
    [{ a: 1, b: [1, 2.5, 'x'], c: null, d: true }, '{"a": 1, "b": [1, 2.5, "x"], "c": null, "d": true}'],
    [[], '[]'],
    [{}, '{}'],
    ['héllo ✓', '"h\\u00e9llo \\u2713"'],
    ['😀', '"\\ud83d\\ude00"'],
    ['"\\\n\r\t\b\f\u0001\u007f', '"\\"\\\\\\n\\r\\t\\b\\f\\u0001\u007f"'],
    [1.5e-7, '1.5e-07'],
    [1.5e16, '1.5e+16'],
    [1e21, '1e+21'],
    [0.0001, '0.0001'],
    [123.456, '123.456'],
    [-0, '-0.0'],
    [Number.NaN, 'NaN'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
    [2n ** 70n, '1180591620717411303424'],
    [new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), '"2024-01-02T03:04:05Z"'],
    [new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), '"2024-01-02T03:04:05.678Z"'],
    [{ skip: undefined, keep: 1 }, '{"keep": 1}'],
    [[undefined], '[null]'],
  ])('case %#: %s', (value, expected) => {
    expect(pythonJsonDumps(value)).toBe(expected);
  });

  it('refuses what Python cannot read: bytes, Maps, circular objects', () => {
    expect(thrown(() => pythonJsonDumps(Buffer.from('x')))).toBeInstanceOf(SerializationError);
    expect(thrown(() => pythonJsonDumps(new Map()))).toBeInstanceOf(SerializationError);
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(thrown(() => pythonJsonDumps(loop))).toBeInstanceOf(SerializationError);
  });
});

describe('django-redis values', () => {
  it('stores integers (safe numbers and BigInts) as their decimal string, and reads what int() accepts', () => {
    const c = codec('json', 'zlib');
    expect(c.encode(42)).toBe('42');
    expect(c.encode(-7)).toBe('-7');
    expect(c.encode(2n ** 70n)).toBe('1180591620717411303424');
    expect(c.decode(Buffer.from('42'), 'k')).toBe(42);
    expect(c.decode(Buffer.from(' -0012 '), 'k')).toBe(-12);
    expect(c.decode(Buffer.from('1_000'), 'k')).toBe(1000);
    expect(c.decode(Buffer.from('1180591620717411303424'), 'k')).toBe(2n ** 70n);
  });

  it('booleans and floats are serialized, not raw integers', () => {
    const c = codec('json');
    expect(c.encode(true)).toEqual(Buffer.from('true'));
    expect(c.encode(2.5)).toEqual(Buffer.from('2.5'));
    expect(c.decode(Buffer.from('true'), 'k')).toBe(true);
  });

  it(`compresses only payloads longer than ${DJANGO_MIN_LENGTH} bytes, and reads short ones raw`, () => {
    const c = codec('json', 'zlib');
    const short = 'x'.repeat(DJANGO_MIN_LENGTH - 2); // 15 bytes with the quotes: not compressed
    expect(c.encode(short)).toEqual(Buffer.from(JSON.stringify(short)));
    const long = 'x'.repeat(100);
    const packed = c.encode(long) as Buffer;
    expect(packed.equals(deflateSync(Buffer.from(JSON.stringify(long)), { level: 6 }))).toBe(true);
    expect(c.decode(packed, 'k')).toBe(long);
    expect(c.decode(Buffer.from(JSON.stringify(short)), 'k')).toBe(short);
  });

  it.each(['zlib', 'gzip', 'lz4', ...(zstdAvailable ? (['zstd'] as const) : [])] as const)(
    '%s round-trips every serializer',
    (compressor) => {
      for (const serializer of ['json', 'msgpack'] as const) {
        const c = codec(serializer, compressor);
        const value = { list: Array.from({ length: 50 }, (_, i) => i * 1.5), text: 'sentinel '.repeat(20) };
        expect(c.decode(c.encode(value) as Buffer, 'k')).toEqual(value);
      }
    },
  );

  it('reads lz4 frames (python-lz4 writes frames, not blocks), bounded by maxValueBytes', () => {
    const c = new DjangoRedisCodec({ serializer: 'json', compressor: 'lz4', maxValueBytes: MiB });
    const ok = JSON.stringify('y'.repeat(500));
    expect(c.decode(compressFrameSync(Buffer.from(ok)), 'k')).toBe('y'.repeat(500));
    const bomb = compressFrameSync(Buffer.from(JSON.stringify('z'.repeat(4 * MiB))));
    const error = thrown(() => c.decode(bomb, 'k'));
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as Error).cause).toBeInstanceOf(ValueTooLargeError);
  });

  it('msgpack: integers wider than 32 bits stay integers, bytes stay bytes', () => {
    const c = codec('msgpack');
    const value = { wide: 2 ** 40, negative: -(2 ** 40), bytes: Buffer.from([0, 1, 2]) };
    const out = c.decode(c.encode(value) as Buffer, 'k') as typeof value;
    expect(out.wide).toBe(2 ** 40);
    expect(out.negative).toBe(-(2 ** 40));
    expect(Buffer.from(out.bytes).equals(value.bytes)).toBe(true);
  });

  it('bytes that are neither compressed nor valid for the serializer are a DecodeError', () => {
    expect(thrown(() => codec('json', 'zlib').decode(Buffer.from('{not json'), 'k'))).toBeInstanceOf(
      DecodeError,
    );
  });

  it('refuses values over maxValueBytes on write', () => {
    const c = new DjangoRedisCodec({ serializer: 'json', maxValueBytes: 10 });
    expect(thrown(() => c.encode('x'.repeat(20)))).toBeInstanceOf(ValueTooLargeError);
  });

  it('names what django-redis supports when given something else', () => {
    const bad = (options: object) =>
      thrown(() => new DjangoRedisCodec({ serializer: 'json', maxValueBytes: MiB, ...options }));
    expect(bad({ serializer: 'pickle' })).toBeInstanceOf(ConfigError);
    expect(bad({ compressor: 'brotli' })).toBeInstanceOf(ConfigError);
  });
});

describe("createCache({ compat: 'django-redis' })", () => {
  // Never called: these tests stop at option validation.
  const router = {
    kind: 'unused',
    execute: async () => undefined,
    close: async () => {},
    on: () => {},
    off: () => {},
    stats: () => ({ kind: 'unused', nodes: {}, failovers: 0 }),
  } as unknown as Router;

  it('takes the serializer and compressor django-redis has', () => {
    const cache = createCache({
      router,
      compat: 'django-redis',
      serializer: serializers.msgpack(),
      compressor: compressors.lz4(),
    });
    expect(cache).toBeDefined();
  });

  it('refuses the ones it has not, and unknown compat names, with ConfigError', () => {
    const bad = (options: object) =>
      thrown(() => createCache({ router, compat: 'django-redis', ...options }));
    expect(bad({ serializer: serializers.v8() })).toBeInstanceOf(ConfigError);
    expect(bad({ serializer: serializers.json(), compressor: compressors.brotli() })).toBeInstanceOf(
      ConfigError,
    );
    const unknown = thrown(() => createCache({ router, compat: 'memcached' as 'django-redis' }));
    expect(unknown).toBeInstanceOf(ConfigError);
    expect((unknown as Error).message).toContain("'django-redis'");
  });
});
