/**
 * Corrupt data against a real redis-server: bytes written by another client that are not
 * the cache's format must surface as DecodeError naming the key, from every read path
 * (get, getMany, hget, hgetall, smembers, zrange, ...). Then fast-check fuzzes the decoder
 * through the Cache: random bytes and mutated valid payloads written raw, read back with
 * cache.get — only DecodeError or a value, never another error, never a hang, never an
 * allocation past maxValueBytes.
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressors } from '../../src/compressors/index.js';
import type { Cache } from '../../src/core/cache.js';
import { DecodeError } from '../../src/core/errors.js';
import { Codec, createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { serializers } from '../../src/serializers/index.js';
import { startStandalone } from '../../src/topology/index.js';
import type { Standalone } from '../../src/topology/types.js';
import { rawClient, settleWithin } from '../fixtures/reliability.js';
import { zstdAvailable } from '../fixtures/zstd.js';

const PREFIX = 'corrupt';
const MAX_VALUE_BYTES = 64 * 1024;

let server: Standalone;
let raw: Redis;
let cache: Cache;

beforeAll(async () => {
  server = await startStandalone();
  raw = rawClient(server);
  cache = createCache({
    router: routers.standalone({ url: server.url }),
    serializer: serializers.msgpack(),
    compressor: compressors.lz4({ minLength: 16 }),
    keyPrefix: PREFIX,
    defaultTtl: null,
    maxValueBytes: MAX_VALUE_BYTES,
  });
});

afterAll(async () => {
  await cache?.close();
  raw?.disconnect();
  await server?.stop();
});

const redisKey = (key: string) => `${PREFIX}:1:${key}`;

/** Bytes another client might leave under our keys; none is a valid sentinel-cache value. */
const FOREIGN: Array<[string, Buffer]> = [
  ['plain text', Buffer.from('hello world')],
  ['JSON text', Buffer.from('{"a":1}')],
  ['empty string', Buffer.alloc(0)],
  ['a lone magic byte', Buffer.from([0x00])],
  ['a truncated header', Buffer.from([0x00, 0x10, 0x02])],
  ['header only, msgpack, no payload', Buffer.from([0x00, 0x10, 0x02, 0x00])],
  ['unknown format version', Buffer.from([0x00, 0x20, 0x02, 0x00, 0xc0])],
  ['unknown flags', Buffer.from([0x00, 0x11, 0x02, 0x00, 0xc0])],
  ['unknown serializer id', Buffer.from([0x00, 0x10, 0x63, 0x00, 0xc0])],
  ['unknown compressor id', Buffer.from([0x00, 0x10, 0x02, 0x4d, 0xc0])],
  ['msgpack header + truncated map', Buffer.from([0x00, 0x10, 0x02, 0x00, 0x82, 0xa1, 0x61])],
  ['msgpack header + reserved byte 0xc1', Buffer.from([0x00, 0x10, 0x02, 0x00, 0xc1])],
  ['json header + invalid JSON', Buffer.from([0x00, 0x10, 0x01, 0x00, ...Buffer.from('{nope')])],
  ['json header + invalid UTF-8', Buffer.from([0x00, 0x10, 0x01, 0x00, 0x22, 0xff, 0xfe, 0x22])],
  ['v8 header + garbage', Buffer.from([0x00, 0x10, 0x03, 0x00, 0xff, 0x0f, 0x6f, 0x22, 0x7f])],
  ['string header + unknown kind', Buffer.from([0x00, 0x10, 0x04, 0x00, 0x07, 0x61])],
  ['string header + empty payload', Buffer.from([0x00, 0x10, 0x04, 0x00])],
  ['lz4 header + garbage', Buffer.from([0x00, 0x10, 0x02, 0x01, 0x10, 0, 0, 0, 0xff, 0xff, 0xff])],
  ['zlib header + garbage', Buffer.from([0x00, 0x10, 0x02, 0x02, 0x78, 0x9c, 0x01, 0x02])],
  ['zstd header + garbage', Buffer.from([0x00, 0x10, 0x02, 0x05, 0x28, 0xb5, 0x2f, 0xfd, 0x00])],
  // Small payloads that claim huge sizes or nest deeper than the stack: refused, not allocated.
  [
    'msgpack array32 claiming 4G elements',
    Buffer.from([0x00, 0x10, 0x02, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff]),
  ],
  ['msgpack map32 claiming 4G entries', Buffer.from([0x00, 0x10, 0x02, 0x00, 0xdf, 0xff, 0xff, 0xff, 0xff])],
  ['msgpack str32 claiming 2 GiB', Buffer.from([0x00, 0x10, 0x02, 0x00, 0xdb, 0x7f, 0xff, 0xff, 0xff])],
  ['msgpack bin32 claiming 2 GiB', Buffer.from([0x00, 0x10, 0x02, 0x00, 0xc6, 0x7f, 0xff, 0xff, 0xff])],
  [
    'msgpack nested 60,000 deep',
    Buffer.concat([Buffer.from([0x00, 0x10, 0x02, 0x00]), Buffer.alloc(60_000, 0x91)]),
  ],
  [
    'v8 dense array claiming 2^30 elements',
    Buffer.from([0x00, 0x10, 0x03, 0x00, 0xff, 0x0f, 0x41, 0x80, 0x80, 0x80, 0x80, 0x04]),
  ],
  [
    'v8 string claiming 1 GiB',
    Buffer.from([0x00, 0x10, 0x03, 0x00, 0xff, 0x0f, 0x22, 0x80, 0x80, 0x80, 0x80, 0x04, 0x61]),
  ],
  [
    'v8 objects nested 60,000 deep',
    Buffer.concat([Buffer.from([0x00, 0x10, 0x03, 0x00, 0xff, 0x0f]), Buffer.alloc(60_000, 0x6f)]),
  ],
  ['a lone minus', Buffer.from('-')],
  ['leading zero', Buffer.from('007')],
  ['minus zero', Buffer.from('-0')],
  ['a decimal fraction', Buffer.from('1.5')],
  ['an integer past 2^53', Buffer.from('12345678901234567890')],
  ['digits then text', Buffer.from('12abc')],
];

/** Every read path that decodes stored bytes, each given a key holding `bytes` in the right type. */
const READERS: Array<
  [string, (key: string, bytes: Buffer) => Promise<unknown>, (key: string) => Promise<unknown>]
> = [
  ['get', (k, b) => raw.set(redisKey(k), b), (k) => cache.get(k)],
  ['getMany', (k, b) => raw.set(redisKey(k), b), (k) => cache.getMany(['absent', k])],
  ['getOrSet', (k, b) => raw.set(redisKey(k), b), (k) => cache.getOrSet(k, () => 'fresh')],
  ['hget', (k, b) => raw.hset(redisKey(k), 'f', b), (k) => cache.hget(k, 'f')],
  ['hgetall', (k, b) => raw.hset(redisKey(k), 'f', b), (k) => cache.hgetall(k)],
  ['smembers', (k, b) => raw.sadd(redisKey(k), b), (k) => cache.smembers(k)],
  ['sscan', (k, b) => raw.sadd(redisKey(k), b), (k) => cache.sscan(k)],
  ['srandmember', (k, b) => raw.sadd(redisKey(k), b), (k) => cache.srandmember(k)],
  ['spop', (k, b) => raw.sadd(redisKey(k), b), (k) => cache.spop(k)],
  ['sinter', (k, b) => raw.sadd(redisKey(k), b), (k) => cache.sinter(k)],
  ['zrange', (k, b) => raw.zadd(redisKey(k), 1, b), (k) => cache.zrange(k, 0, -1)],
  [
    'zrange withScores',
    (k, b) => raw.zadd(redisKey(k), 1, b),
    (k) => cache.zrange(k, 0, -1, { withScores: true }),
  ],
  ['zrangebyscore', (k, b) => raw.zadd(redisKey(k), 1, b), (k) => cache.zrangebyscore(k, '-inf', '+inf')],
  ['zrevrange', (k, b) => raw.zadd(redisKey(k), 1, b), (k) => cache.zrevrange(k, 0, -1)],
  ['zpopmin', (k, b) => raw.zadd(redisKey(k), 1, b), (k) => cache.zpopmin(k)],
];

describe('foreign bytes → DecodeError naming the key, from every read path', () => {
  it.each(READERS)('%s', async (reader, write, read) => {
    for (const [label, bytes] of FOREIGN) {
      // Set members and hash fields of length 0 are valid Redis values too.
      const key = `foreign:${reader}:${label}`;
      await raw.del(redisKey(key));
      await write(key, bytes);
      const error = await read(key).then(
        (value) => new Error(`resolved with ${String(value)}`),
        (e: unknown) => e,
      );
      expect(error, `${reader} / ${label}: ${String(error)}`).toBeInstanceOf(DecodeError);
      expect((error as DecodeError).key, label).toBe(key);
      expect((error as Error).message, label).toContain(JSON.stringify(key));
    }
  });

  it('ignoreErrors: true never turns corrupt data into a miss', async () => {
    const lenient = createCache({
      router: routers.standalone({ url: server.url }),
      keyPrefix: PREFIX,
      ignoreErrors: true,
    });
    try {
      await raw.set(redisKey('lenient'), 'not ours');
      await expect(lenient.get('lenient')).rejects.toBeInstanceOf(DecodeError);
      await expect(lenient.getMany(['lenient'])).rejects.toBeInstanceOf(DecodeError);
    } finally {
      await lenient.close();
    }
  });

  it('getOrSet does not overwrite a corrupt entry it could not read', async () => {
    await raw.set(redisKey('keep-corrupt'), 'not ours');
    await expect(cache.getOrSet('keep-corrupt', () => 'fresh')).rejects.toBeInstanceOf(DecodeError);
    expect(await raw.get(redisKey('keep-corrupt'))).toBe('not ours');
  });
});

/** Valid encodings of `value` under every serializer × compressor (compression forced on). */
const CODECS = [serializers.json(), serializers.msgpack(), serializers.v8(), serializers.string()].flatMap(
  (serializer) =>
    [
      compressors.none(),
      compressors.lz4({ minLength: 0 }),
      compressors.zlib({ minLength: 0 }),
      compressors.gzip({ minLength: 0 }),
      compressors.brotli({ minLength: 0 }),
      ...(zstdAvailable ? [compressors.zstd({ minLength: 0 })] : []),
    ].map((compressor) => new Codec({ serializer, compressor, maxValueBytes: MAX_VALUE_BYTES })),
);

function encodeAny(codec: Codec, value: unknown): Buffer | undefined {
  try {
    // The string serializer stores only strings: give it the value's JSON text.
    const out = codec.encode(codec.serializer.name === 'string' ? JSON.stringify(value) : value);
    return typeof out === 'string' ? Buffer.from(out) : out;
  } catch {
    return undefined;
  }
}

type Mutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'splice'; at: number; bytes: Uint8Array }
  | { kind: 'none' };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({
    kind: fc.constant('splice' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.constant({ kind: 'none' as const }),
);

function mutate(bytes: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    if (out.length === 0) break;
    const at = 'at' in m ? m.at % out.length : 0;
    if (m.kind === 'flip') out[at] = (out[at] as number) ^ m.xor;
    else if (m.kind === 'truncate') out = out.subarray(0, at);
    else if (m.kind === 'append') out = Buffer.concat([out, m.bytes]);
    else if (m.kind === 'splice') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
  }
  return out;
}

/** Read `bytes` stored raw under `key` through the cache: a value or DecodeError, within 5 s. */
async function readBack(
  key: string,
  bytes: Uint8Array,
): Promise<{ ok: true; value: unknown } | { ok: false }> {
  await raw.set(redisKey(key), Buffer.from(bytes));
  const outcome = await settleWithin(cache.get(key), 5000);
  if (outcome.status === 'pending')
    throw new Error(`cache.get hung on ${Buffer.from(bytes).toString('hex')}`);
  if (outcome.status === 'resolved') return { ok: true, value: outcome.value };
  if (!(outcome.error instanceof DecodeError)) {
    throw new Error(
      `cache.get threw ${String(outcome.error)} (not a DecodeError) on ${Buffer.from(bytes).toString('hex')}`,
    );
  }
  expect(outcome.error.key).toBe(key);
  return { ok: false };
}

describe('fuzzing the decoder through the cache (fast-check)', () => {
  const peakBefore = () => process.resourceUsage().maxRSS * 1024;
  let startPeak = 0;
  beforeAll(() => {
    startPeak = peakBefore();
  });

  it('random bytes: a value or DecodeError, never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), async (bytes) => {
        await readBack('fuzz-random', bytes);
      }),
      { numRuns: 200 },
    );
  });

  it('random payloads behind a valid header (every serializer × compressor id)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 2, 3, 4),
        fc.constantFrom(0, 1, 2, 3, 4, 5),
        fc.uint8Array({ maxLength: 256 }),
        async (serializerId, compressorId, payload) => {
          await readBack(
            'fuzz-header',
            Buffer.concat([Buffer.from([0x00, 0x10, serializerId, compressorId]), payload]),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('mutated valid payloads: unmutated ones read back exactly, mutated ones a value or DecodeError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue({ maxDepth: 3 }),
        fc.nat({ max: CODECS.length - 1 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        async (value, codecIndex, mutations) => {
          const codec = CODECS[codecIndex] as Codec;
          const encoded = encodeAny(codec, value);
          if (encoded === undefined) return; // refused by this serializer: nothing to mutate
          const bytes = mutate(encoded, mutations);
          const result = await readBack('fuzz-mutated', bytes);
          if (bytes.equals(encoded)) {
            // Not actually mutated: it must decode to what was encoded (every id is registered).
            expect(result.ok).toBe(true);
            expect(result.ok && result.value).toEqual(codec.decode(encoded, 'control'));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('peak memory stayed far below what an unbounded decode of a bomb would need', () => {
    // Every fuzzed payload is ≤ a few hundred bytes and maxValueBytes is 64 KiB: the peak
    // may grow by ordinary allocation noise, not by hundreds of MiB.
    expect(peakBefore() - startPeak).toBeLessThan(128 * 1024 * 1024);
  });
});
