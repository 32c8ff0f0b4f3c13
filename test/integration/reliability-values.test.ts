/**
 * Bad values, per serializer, against a real redis-server: every value either reads back
 * exactly or is refused with SerializationError before anything reaches Redis (the key is
 * checked with a raw client). Oversized values are refused before sending (no SET in
 * INFO commandstats), and decompression bombs written by another client are refused on read
 * without allocating their expanded size.
 */
import { Readable } from 'node:stream';
import {
  brotliCompressSync,
  constants,
  createBrotliCompress,
  createDeflate,
  createGzip,
  deflateSync,
  gzipSync,
} from 'node:zlib';
import { compressSync as lz4CompressSync } from 'lz4-napi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressors } from '../../src/compressors/index.js';
import type { Cache } from '../../src/core/cache.js';
import { DecodeError, SerializationError, ValueTooLargeError } from '../../src/core/errors.js';
import type { Serializer } from '../../src/core/formats.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { serializers } from '../../src/serializers/index.js';
import { commandCalls, useStandalone } from '../fixtures/reliability.js';
import { zstdAvailable, zstdStreamingZeros } from '../fixtures/zstd.js';

type SerializerName = 'json' | 'msgpack' | 'v8' | 'string';
/**
 * 'ok': must read back exactly; 'refused': must throw SerializationError; 'either': one of the
 * two; 'clone': accepted and read back as `structuredClone(value)` — the v8 serializer's
 * documented structured-clone semantics, which drop class prototypes and symbol-keyed
 * properties (not exact: listed in SECURITY.md and the report).
 */
type Expect = 'ok' | 'refused' | 'either' | 'clone';

interface BadValue {
  name: string;
  make: () => unknown;
  expect: Record<SerializerName, Expect>;
}

const all = (e: Expect): Record<SerializerName, Expect> => ({ json: e, msgpack: e, v8: e, string: e });
/** json and string refuse; msgpack and v8 round-trip. */
const richOnly: Record<SerializerName, Expect> = {
  json: 'refused',
  msgpack: 'ok',
  v8: 'ok',
  string: 'refused',
};

function circular(): unknown {
  const a: Record<string, unknown> = { name: 'a' };
  a.self = a;
  return a;
}

function deeplyNested(depth: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const BAD_VALUES: BadValue[] = [
  {
    name: 'top-level undefined',
    make: () => undefined,
    expect: { json: 'refused', msgpack: 'ok', v8: 'ok', string: 'refused' },
  },
  { name: 'a function', make: () => () => 1, expect: all('refused') },
  { name: 'a class (constructor function)', make: () => class Foo {}, expect: all('refused') },
  { name: 'a symbol', make: () => Symbol('s'), expect: all('refused') },
  { name: 'a function nested in an object', make: () => ({ a: 1, f() {} }), expect: all('refused') },
  { name: 'a symbol nested in an array', make: () => [1, Symbol('x')], expect: all('refused') },
  {
    name: 'a symbol-keyed property',
    make: () => ({ [Symbol('k')]: 1, a: 2 }),
    expect: { json: 'refused', msgpack: 'refused', v8: 'clone', string: 'refused' },
  },
  {
    name: 'a circular object',
    make: circular,
    expect: { json: 'refused', msgpack: 'refused', v8: 'ok', string: 'refused' },
  },
  {
    name: 'a circular array',
    make: () => {
      const a: unknown[] = [1];
      a.push(a);
      return a;
    },
    expect: { json: 'refused', msgpack: 'refused', v8: 'ok', string: 'refused' },
  },
  { name: 'NaN', make: () => Number.NaN, expect: richOnly },
  { name: 'Infinity', make: () => Number.POSITIVE_INFINITY, expect: richOnly },
  { name: '-Infinity', make: () => Number.NEGATIVE_INFINITY, expect: richOnly },
  { name: 'NaN nested', make: () => ({ x: [Number.NaN] }), expect: richOnly },
  {
    name: 'a float',
    make: () => 0.1 + 0.2,
    expect: { json: 'ok', msgpack: 'ok', v8: 'ok', string: 'refused' },
  },
  {
    name: 'an unsafe integer',
    make: () => 2 ** 60,
    expect: { json: 'ok', msgpack: 'ok', v8: 'ok', string: 'refused' },
  },
  {
    name: 'a Map with non-string keys',
    make: () =>
      new Map<unknown, unknown>([
        [1, 'one'],
        [{ k: 1 }, [2]],
        ['s', null],
      ]),
    expect: richOnly,
  },
  { name: 'an empty Map', make: () => new Map(), expect: richOnly },
  { name: 'a Set', make: () => new Set([1, 'two', { three: 3 }]), expect: richOnly },
  { name: 'a small BigInt', make: () => 5n, expect: richOnly },
  { name: 'a 100-bit BigInt', make: () => 2n ** 100n + 7n, expect: richOnly },
  { name: 'a negative BigInt nested', make: () => ({ n: -(2n ** 70n) }), expect: richOnly },
  { name: 'a Date', make: () => new Date('2024-02-29T12:34:56.789Z'), expect: richOnly },
  { name: 'an invalid Date', make: () => new Date(Number.NaN), expect: richOnly },
  { name: 'a RegExp', make: () => /a[b-c]+$/giu, expect: richOnly },
  { name: 'nested undefined in an object', make: () => ({ a: undefined, b: 1 }), expect: richOnly },
  { name: 'nested undefined in an array', make: () => [1, undefined, 3], expect: richOnly },
  {
    name: 'a Buffer',
    make: () => Buffer.from([0, 1, 2, 255]),
    expect: { json: 'refused', msgpack: 'ok', v8: 'ok', string: 'ok' },
  },
  {
    name: 'a boxed String',
    make: () => new String('boxed'),
    expect: { json: 'refused', msgpack: 'refused', v8: 'ok', string: 'refused' },
  },
  { name: 'a WeakMap', make: () => new WeakMap(), expect: all('refused') },
  { name: 'a Promise', make: () => Promise.resolve(1), expect: all('refused') },
  {
    name: 'a class instance',
    make: () =>
      new (class Point {
        x = 1;
        y = 2;
      })(),
    expect: { json: 'refused', msgpack: 'refused', v8: 'clone', string: 'refused' },
  },
  {
    name: 'a lone surrogate string',
    make: () => 'a\uD800b',
    expect: { json: 'either', msgpack: 'refused', v8: 'ok', string: 'refused' },
  },
  {
    name: 'an own __proto__ key (from JSON.parse)',
    make: () => JSON.parse('{"__proto__":{"polluted":true},"a":1}'),
    expect: { json: 'ok', msgpack: 'refused', v8: 'either', string: 'refused' },
  },
  { name: 'a plain string with NUL and emoji', make: () => '\u0000a😀\u202Eb', expect: all('ok') },
  { name: 'an empty string', make: () => '', expect: all('ok') },
  { name: 'a string of digits (not an integer value)', make: () => '0042', expect: all('ok') },
  { name: 'null', make: () => null, expect: { json: 'ok', msgpack: 'ok', v8: 'ok', string: 'refused' } },
  { name: 'false', make: () => false, expect: { json: 'ok', msgpack: 'ok', v8: 'ok', string: 'refused' } },
  { name: 'an array nested 100 000 deep', make: () => deeplyNested(100_000), expect: all('either') },
];

const SERIALIZERS: Record<SerializerName, () => Serializer> = {
  json: () => serializers.json(),
  msgpack: () => serializers.msgpack(),
  v8: () => serializers.v8(),
  string: () => serializers.string(),
};

/** Exact equality for the 'ok' cases: types, prototypes, NaN, BigInt, Map/Set contents, cycles. */
function expectExact(actual: unknown, expected: unknown): void {
  if (typeof expected === 'number' && Number.isNaN(expected)) {
    expect(Number.isNaN(actual)).toBe(true);
    return;
  }
  expect(typeof actual).toBe(typeof expected);
  expect(actual).toStrictEqual(expected);
  if (expected instanceof Map)
    expect([...(actual as Map<unknown, unknown>).keys()]).toStrictEqual([...expected.keys()]);
  if (expected instanceof Date) expect((actual as Date).getTime()).toBe(expected.getTime());
}

/** A redis-server for this file, and a raw client on it (bypasses the cache). */
const redis = useStandalone();

function cacheWith(serializer: Serializer, extra: Partial<Parameters<typeof createCache>[0]> = {}): Cache {
  return createCache({
    router: routers.standalone({ url: redis.server.url }),
    serializer,
    keyPrefix: `values-${serializer.name}`,
    defaultTtl: null,
    ...extra,
  });
}

describe.each(Object.keys(SERIALIZERS) as SerializerName[])('bad values: %s serializer', (name) => {
  let cache: Cache;
  beforeAll(() => {
    cache = cacheWith(SERIALIZERS[name]());
  });
  afterAll(async () => {
    await cache?.close();
  });

  it.each(BAD_VALUES.map((c, i) => [c.name, c, i] as const))('%s', async (_label, bad, i) => {
    const key = `bad-${i}`;
    const redisKey = `values-${name}:1:${key}`;
    const value = bad.make();
    let refusal: unknown;
    try {
      await cache.set(key, value);
    } catch (error) {
      refusal = error;
    }
    if (refusal !== undefined) {
      expect(refusal, String(refusal)).toBeInstanceOf(SerializationError);
      expect(bad.expect[name], `${bad.name} was refused by ${name}`).not.toBe('ok');
      // Nothing written: the key does not exist for any client.
      expect(await redis.raw.exists(redisKey)).toBe(0);
      return;
    }
    expect(bad.expect[name], `${bad.name} was accepted by ${name}`).not.toBe('refused');
    expect(await redis.raw.exists(redisKey)).toBe(1);
    if (bad.expect[name] === 'clone') expectExact(await cache.get(key), structuredClone(value));
    else expectExact(await cache.get(key), value);
  });

  it('a refused write leaves the previous value untouched', async () => {
    await cache.set('keep', 'before');
    await expect(cache.set('keep', () => 1)).rejects.toBeInstanceOf(SerializationError);
    await expect(cache.set('keep', Symbol('x'), { ttl: 0 })).rejects.toBeInstanceOf(SerializationError);
    expect(await cache.get('keep')).toBe('before');
  });

  it('setMany with one refused value writes none of the entries', async () => {
    const entries = new Map<string, unknown>([
      ['many-a', 'a'],
      ['many-b', 'b'],
      ['many-bad', Symbol('no')],
      ['many-c', 'c'],
    ]);
    await expect(cache.setMany(entries)).rejects.toBeInstanceOf(SerializationError);
    for (const k of entries.keys()) expect(await redis.raw.exists(`values-${name}:1:${k}`)).toBe(0);
  });

  it('hset, sadd and zadd refuse a bad member/value and write nothing', async () => {
    await expect(cache.hset('h', 'f', () => 0)).rejects.toBeInstanceOf(SerializationError);
    await expect(cache.sadd('s', 'fine', Symbol('bad'))).rejects.toBeInstanceOf(SerializationError);
    await expect(
      cache.zadd(
        'z',
        new Map<unknown, number>([
          ['ok', 1],
          [() => 0, 2],
        ]),
      ),
    ).rejects.toBeInstanceOf(SerializationError);
    for (const k of ['h', 's', 'z']) expect(await redis.raw.exists(`values-${name}:1:${k}`)).toBe(0);
  });
});

describe('oversized values (maxValueBytes)', () => {
  const LIMIT = 1024;
  let cache: Cache;
  beforeAll(() => {
    cache = cacheWith(serializers.msgpack(), {
      maxValueBytes: LIMIT,
      compressor: compressors.brotli({ minLength: 0 }),
      keyPrefix: 'big',
    });
  });
  afterAll(async () => {
    await cache?.close();
  });

  it('refuses an oversized value before sending: ValueTooLargeError, no SET/HSET/SADD issued, key absent', async () => {
    // Warm the connection so the commandstats delta below contains only what the cache sends.
    await cache.get('warm-up');
    const before = await commandCalls(redis.raw);
    // Highly compressible, so only a check on the serialized size (not the compressed one) refuses it.
    const bigString = 'x'.repeat(LIMIT * 4);
    const bigObject = { items: Array.from({ length: 200 }, (_, i) => ({ i, label: `item-${i}` })) };
    const bigBuffer = Buffer.alloc(LIMIT + 1);
    for (const v of [bigString, bigObject, bigBuffer]) {
      const error = await cache.set('big', v).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValueTooLargeError);
      expect((error as ValueTooLargeError).limit).toBe(LIMIT);
      expect((error as ValueTooLargeError).size).toBeGreaterThan(LIMIT);
    }
    await expect(cache.setMany({ small: 1, large: bigString })).rejects.toBeInstanceOf(ValueTooLargeError);
    await expect(cache.hset('bh', 'f', bigString)).rejects.toBeInstanceOf(ValueTooLargeError);
    await expect(cache.sadd('bs', 'a', bigObject)).rejects.toBeInstanceOf(ValueTooLargeError);
    // lock: 'local': the default distributed lock takes (SET NX) and releases (DEL) its own lock
    // key around the factory; this test counts value writes only.
    await expect(cache.getOrSet('bg', () => bigString, { lock: 'local' })).rejects.toBeInstanceOf(
      ValueTooLargeError,
    );
    const after = await commandCalls(redis.raw);
    for (const command of ['set', 'hset', 'sadd', 'del', 'unlink', 'mset']) {
      expect(after[command] ?? 0, `${command} calls`).toBe(before[command] ?? 0);
    }
    for (const k of ['big', 'small', 'large', 'bh', 'bs', 'bg'])
      expect(await redis.raw.exists(`big:1:${k}`)).toBe(0);
  });

  it('accepts a value of exactly maxValueBytes serialized', async () => {
    // msgpack str8/str16 header: a 1021-char string serializes to 3 + 1021 = 1024 bytes.
    const exact = 'y'.repeat(LIMIT - 3);
    expect(serializers.msgpack().serialize(exact).length).toBe(LIMIT);
    expect(await cache.set('exact', exact)).toBe(true);
    expect(await cache.get('exact')).toBe(exact);
  });
});

/** Header of the wire format (see src/core/codec.ts): magic 0, version 1, serializer, compressor. */
function header(serializerId: number, compressorId: number): Buffer {
  return Buffer.from([0x00, 0x10, serializerId, compressorId]);
}

const BOMB_BYTES = 512 * 1024 * 1024;
const READ_LIMIT = 1024 * 1024;

/** Stream `total` zero bytes through a streaming compressor without holding them in memory. */
async function streamZeros(compressor: NodeJS.ReadWriteStream, total: number): Promise<Buffer> {
  const chunk = Buffer.alloc(1 << 20);
  let left = total;
  const source = new Readable({
    read() {
      if (left <= 0) this.push(null);
      else {
        left -= chunk.length;
        this.push(chunk);
      }
    },
  });
  const out: Buffer[] = [];
  compressor.on('data', (d: Buffer) => out.push(d));
  const done = new Promise<void>((resolve, reject) => {
    compressor.on('end', resolve);
    compressor.on('error', reject);
  });
  source.pipe(compressor as NodeJS.WritableStream);
  await done;
  return Buffer.concat(out);
}

type Bomb = [string, number, () => Promise<Buffer> | Buffer];

/** zstd bombs, where this process has a zstd to write them with. */
function zstdBombs(): Bomb[] {
  return [
    ['zstd without content size, 512 MiB of zeros', 5, () => zstdStreamingZeros(BOMB_BYTES)],
    ['zstd frame declaring 2 MiB', 5, () => compressors.zstd().compress(Buffer.alloc(2 * READ_LIMIT))],
  ];
}

/** A size-prefixed lz4 block whose prefix states `declared` bytes. */
function lz4WithPrefix(declared: number, body: Buffer): Buffer {
  const block = lz4CompressSync(body);
  block.writeUInt32LE(declared, 0);
  return block;
}

describe('decompression is bounded on read (bombs written by another client)', () => {
  let cache: Cache;
  beforeAll(() => {
    cache = cacheWith(serializers.string(), { maxValueBytes: READ_LIMIT, keyPrefix: 'bomb' });
  });
  afterAll(async () => {
    await cache?.close();
  });

  // [name, compressor id, payload factory]; each payload expands past READ_LIMIT.
  const bombs: Bomb[] = [
    ['zlib, 512 MiB of zeros', 2, () => streamZeros(createDeflate({ level: 1 }), BOMB_BYTES)],
    ['gzip, 512 MiB of zeros', 3, () => streamZeros(createGzip({ level: 1 }), BOMB_BYTES)],
    [
      'brotli, 512 MiB of zeros',
      4,
      () =>
        streamZeros(createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }), BOMB_BYTES),
    ],
    ...(zstdAvailable ? zstdBombs() : []),
    ['lz4 whose prefix claims 4 GiB', 1, () => lz4WithPrefix(0xffff_ffff, Buffer.alloc(4096))],
    [
      'lz4 whose prefix claims 1 KiB but whose data expands to 2 MiB',
      1,
      () => lz4WithPrefix(1024, Buffer.alloc(2 * READ_LIMIT)),
    ],
    ['zlib of 2 MiB (just past the limit)', 2, () => deflateSync(Buffer.alloc(2 * READ_LIMIT))],
    ['gzip of 2 MiB', 3, () => gzipSync(Buffer.alloc(2 * READ_LIMIT))],
    ['brotli of 2 MiB', 4, () => brotliCompressSync(Buffer.alloc(2 * READ_LIMIT))],
  ];

  it.each(bombs)(
    '%s → DecodeError naming the key, peak memory far below the expanded size',
    async (label, id, make) => {
      const payload = await make();
      expect(payload.length).toBeGreaterThan(0);
      const key = `bomb-${id}-${label.length}`;
      // string serializer, kind byte 0x00 (text) is inside the compressed zeros.
      await redis.raw.set(`bomb:1:${key}`, Buffer.concat([header(4, id), payload]));
      const peakBefore = process.resourceUsage().maxRSS * 1024;
      const error = await cache.get(key).catch((e: unknown) => e);
      const peakAfter = process.resourceUsage().maxRSS * 1024;
      expect(error).toBeInstanceOf(DecodeError);
      expect((error as DecodeError).key).toBe(key);
      expect((error as Error).message).toContain(JSON.stringify(key));
      // A fully expanded bomb would raise the peak by at least 512 MiB (2 MiB ones by 2 MiB, not measurable).
      expect(peakAfter - peakBefore).toBeLessThan(128 * 1024 * 1024);
    },
  );
});
