/**
 * `compat: 'django-redis'` against the real thing: Debian's django-redis 5 under /usr/bin/python3
 * (test/fixtures/django: a settings module and a small command-line bridge). For every
 * serializer × compressor pair, Django writes and Node reads, Node writes and Django reads
 * (and checks the bytes are the ones django-redis itself would store), plus `incr` from both
 * sides on one counter. Without that Python side the file skips with a one-line notice
 * (test/fixtures/python-django.ts); CI sets SENTINEL_CACHE_REQUIRE_DJANGO=1 to make it required.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The package entry, as users import it: it registers compat 'django-redis'.
import { type Cache, compressors, createCache, routers, serializers } from '../../src/index.js';
import { type Standalone, startStandalone } from '../../src/topology/index.js';
import { djangoRedisPresent, PYTHON } from '../fixtures/python-django.js';
import { zstdAvailable } from '../fixtures/zstd.js';

const run = promisify(execFile);
const BRIDGE = join(import.meta.dirname, '..', 'fixtures', 'django', 'bridge.py');

// The samples bridge.py writes and expects, as Node has them.
const SAMPLES: Record<string, unknown> = {
  int: 42,
  negative: -7,
  wide: 2 ** 40,
  float: 3.25,
  tiny: 1.5e-7,
  true: true,
  none: null,
  short: 'hi',
  text: 'héllo ✓ "quoted" \\ \n tab\t',
  long: 'sentinel-cache '.repeat(40),
  list: [1, 2.5, 'a', null, true, [], {}],
  dict: { a: 1, nested: { b: [1, 2, 3], wide: 2 ** 40 }, s: 'x'.repeat(30) },
  empty: '',
};
const BYTES = Buffer.from(Array.from({ length: 32 }, (_, i) => i));

const SERIALIZERS = ['json', 'msgpack'] as const;
type SerializerName = (typeof SERIALIZERS)[number];
type CompressorName = 'none' | 'zlib' | 'gzip' | 'lz4' | 'zstd';
// zstd where this process has one (node:zlib on Node >= 22.15, or zstd-napi).
const COMPRESSORS: CompressorName[] = [
  'none',
  'zlib',
  'gzip',
  'lz4',
  ...(zstdAvailable ? (['zstd'] as const) : []),
];

// Bytes Node writes that django-redis would write differently (same values, both decode them):
// gzip headers carry Python's mtime; python-lz4 (liblz4) and lz4-napi (lz4_flex) find different
// matches; Node's zlib (Chromium's) and Python's pick different matches on some inputs; Python's
// msgpack writes positive integers >= 2^32 as uint64 where msgpackr writes int64.
function bytesMayDiffer(serializer: SerializerName, compressor: CompressorName, name: string): boolean {
  if (compressor === 'gzip' || compressor === 'lz4') return true;
  if (compressor === 'zlib' && name === 'dict') return true;
  return serializer === 'msgpack' && name === 'dict';
}

const present = djangoRedisPresent(import.meta.filename);

let server: Standalone;

async function django(serializer: SerializerName, compressor: CompressorName, ...args: string[]) {
  const env = {
    ...process.env,
    DJANGO_REDIS_URL: `redis://${server.host}:${server.port}/0`,
    DJANGO_REDIS_SERIALIZER: serializer,
    DJANGO_REDIS_COMPRESSOR: compressor,
    DJANGO_KEY_PREFIX: 'shop',
  };
  const { stdout } = await run(PYTHON, [BRIDGE, ...args], { env, timeout: 60_000 });
  return stdout.trim();
}

function nodeCache(serializer: SerializerName, compressor: CompressorName): Cache {
  return createCache({
    router: routers.standalone({ host: server.host, port: server.port }),
    keyPrefix: 'shop',
    compat: 'django-redis',
    serializer: serializers[serializer](),
    compressor: compressors[compressor](),
  });
}

describe.runIf(present)('django-redis interop', () => {
  beforeAll(async () => {
    server = await startStandalone();
  });
  afterAll(async () => {
    await server?.stop();
  });

  describe.each(SERIALIZERS)('django-redis %s serializer', (serializer) => {
    describe.each(COMPRESSORS)('with the %s compressor', (compressor) => {
      const suffix = `:${serializer}:${compressor}`;
      const samples = serializer === 'msgpack' ? { ...SAMPLES, bytes: BYTES } : SAMPLES;
      let cache: Cache;

      beforeAll(() => {
        cache = nodeCache(serializer, compressor);
      });
      afterAll(async () => {
        await cache?.close();
      });

      it('Django writes, Node reads', async () => {
        await django(serializer, compressor, 'write', suffix);
        for (const [name, value] of Object.entries(samples)) {
          const got = await cache.get(name + suffix);
          if (Buffer.isBuffer(value)) expect(Buffer.from(got as Uint8Array).equals(value), name).toBe(true);
          else expect(got, name).toEqual(value);
        }
      });

      it('Node writes, Django reads (the bytes django-redis would store)', async () => {
        for (const [name, value] of Object.entries(samples)) await cache.set(`${name}${suffix}:node`, value);
        const report = JSON.parse(await django(serializer, compressor, 'check', `${suffix}:node`)) as Record<
          string,
          { equal: boolean; got: string; bytes_equal: boolean }
        >;
        for (const [name, result] of Object.entries(report)) {
          expect(result.equal, `${name}: Django read ${result.got}`).toBe(true);
          if (!bytesMayDiffer(serializer, compressor, name))
            expect(result.bytes_equal, `${name} bytes`).toBe(true);
        }
      });
    });
  });

  describe('incr from both sides', () => {
    it('one counter, raw integers in Redis, counted by Django and Node alike', async () => {
      const cache = nodeCache('json', 'zlib');
      try {
        await cache.set('visits', 10);
        expect(await django('json', 'zlib', 'incr', 'visits', '5')).toBe('15');
        expect(await cache.incr('visits', 2)).toBe(17);
        expect(await django('json', 'zlib', 'get', 'visits')).toBe('17');
        expect(await cache.get('visits')).toBe(17);
        expect(await cache.decr('visits', 20)).toBe(-3);
        expect(await django('json', 'zlib', 'incr', 'visits', '3')).toBe('0');
      } finally {
        await cache.close();
      }
    });
  });
});
