/**
 * The README's serializers and compressors, runnable: every pair round-trips a value.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/codecs.ts
 *
 * (examples/codecs.mjs is the same in plain JavaScript.)
 */
import {
  type Compressor,
  compressors,
  createCache,
  routers,
  type Serializer,
  serializers,
} from 'sentinel-cache';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const text = 'sentinel-cache '.repeat(100); // long enough (1.5 KB) to be compressed

const serializerList: Record<string, Serializer> = {
  json: serializers.json(),
  msgpack: serializers.msgpack(), // the default
  v8: serializers.v8(), // trusted writers only (SECURITY.md)
  string: serializers.string(),
};
const compressorList: Record<string, Compressor> = {
  none: compressors.none(), // the default
  lz4: compressors.lz4({ minLength: 256 }),
  zlib: compressors.zlib({ level: 6 }),
  gzip: compressors.gzip(),
  brotli: compressors.brotli({ level: 4 }),
  // zstd needs node:zlib's (Node >= 22.15) or `npm install zstd-napi`; without either, zstd() throws.
  ...(compressors.zstdImplementations().length > 0 ? { zstd: compressors.zstd({ level: 3 }) } : {}),
};

for (const [s, serializer] of Object.entries(serializerList)) {
  for (const [c, compressor] of Object.entries(compressorList)) {
    const cache = createCache({
      router: routers.standalone({ url }),
      serializer,
      compressor,
      keyPrefix: 'example-codecs',
    });
    try {
      await cache.set(`${s}-${c}`, text, { ttl: '1m' });
      console.log(`${s}/${c}:`, (await cache.get(`${s}-${c}`)) === text ? 'round-trips' : 'DIFFERS');
    } finally {
      await cache.close();
    }
  }
}
