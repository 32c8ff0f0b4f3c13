/**
 * A Node service sharing a cache with a Django service that uses django-redis:
 *
 *   CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://...",
 *     "KEY_PREFIX": "shop", "OPTIONS": {
 *       "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
 *       "COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor"}}}
 *
 *   REDIS_HOST=127.0.0.1 REDIS_PORT=6379 node examples/django.mjs
 *
 * (Plain JavaScript; examples/django.ts is the same in TypeScript.)
 *
 * Then, in Django: cache.get("cart:7") == {"items": [...], "total": 59.9}; cache.incr("orders").
 */
import { compressors, createCache, routers, serializers } from 'sentinel-cache';

const cache = createCache({
  router: routers.standalone({
    host: process.env.REDIS_HOST ?? '127.0.0.1',
    port: Number(process.env.REDIS_PORT ?? 6379),
  }),
  compat: 'django-redis',
  keyPrefix: 'shop', // Django's KEY_PREFIX
  serializer: serializers.json(),
  compressor: compressors.zlib(),
});

await cache.set('cart:7', { items: [{ sku: 'A-1', qty: 2 }], total: 59.9 }, { ttl: '1h' });
await cache.set('orders', 100); // a raw integer, as Django stores ints: incr works on both sides
console.log(`cart: ${JSON.stringify(await cache.get('cart:7'))}, orders: ${await cache.incr('orders')}`);
await cache.close();
