/**
 * The README's `serializers.register` / `compressors.register` in plain JavaScript: a serializer
 * and a compressor of your own, with ids 128..255, written into each value's header so that a
 * reader finds them by id.
 *
 *   SENTINEL_CACHE_SENTINELS=127.0.0.1:7003 node examples/custom-codecs.mjs
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { compressors, createCache, DecodeError, routers, serializers } from 'sentinel-cache';

const sentinels = (process.env.SENTINEL_CACHE_SENTINELS ?? '127.0.0.1:26379').split(',').map((s) => {
  const [host, port] = s.split(':');
  return { host, port: Number(port) };
});
const service = process.env.SENTINEL_CACHE_SERVICE ?? 'mymaster';

// JSON whose Dates come back as Dates: { name, id: 128..255, serialize(v): Buffer, deserialize(b) }.
const jsonDates = {
  name: 'json-dates',
  id: 200,
  serialize: (value) =>
    Buffer.from(
      JSON.stringify(value, function (key, v) {
        // JSON.stringify has already turned a Date into a string by the time `v` is seen: look at the original.
        return this[key] instanceof Date ? { $date: this[key].toISOString() } : v;
      }),
    ),
  deserialize: (bytes) =>
    JSON.parse(bytes.toString('utf8'), (_key, v) =>
      v !== null && typeof v === 'object' && typeof v.$date === 'string' ? new Date(v.$date) : v,
    ),
};

// Raw deflate: { name, id: 128..255, minLength, compress(b), decompress(b, maxBytes) }.
// decompress must never produce more than maxBytes (no decompression bombs).
const deflateRaw = {
  name: 'deflate-raw',
  id: 201,
  minLength: 64,
  compress: (bytes) => deflateRawSync(bytes),
  decompress: (bytes, maxBytes) => {
    try {
      return inflateRawSync(bytes, { maxOutputLength: maxBytes });
    } catch (error) {
      throw new DecodeError(`deflate-raw: ${error.message}`, undefined, { cause: error });
    }
  },
};

serializers.register(jsonDates);
compressors.register(deflateRaw);

const cache = createCache({
  router: routers.pooled({ sentinels, service }),
  serializer: jsonDates,
  compressor: deflateRaw,
  keyPrefix: 'example-codecs',
});

const order = { id: 7, placedAt: new Date('2026-01-02T03:04:05.000Z'), lines: 'x'.repeat(500) };
await cache.set('order:7', order, { ttl: '1m' });
const back = await cache.get('order:7');
console.log('placedAt is a Date:', back?.placedAt instanceof Date, back?.placedAt.toISOString());

// The header names the codec by id: a cache configured with the defaults still reads the value.
const plain = createCache({ router: routers.pooled({ sentinels, service }), keyPrefix: 'example-codecs' });
const [header] = await cache.withClient('read', async (client) => [
  await client.getBuffer('example-codecs:1:order:7'),
]);
console.log('header ids (serializer, compressor):', header?.[2], header?.[3]);
console.log('read by a default cache:', (await plain.get('order:7'))?.lines.length);

await plain.close();
await cache.close();
