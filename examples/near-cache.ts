/**
 * The README's Near cache, runnable: hot reads answered from process memory, kept true
 * by Redis CLIENT TRACKING when another client writes the key.
 *
 *   SENTINEL_CACHE_SENTINELS=127.0.0.1:7003 npx tsx examples/near-cache.ts
 *
 * (examples/near-cache.mjs is the same in plain JavaScript.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, type NodeAddress, routers } from 'sentinel-cache';

const sentinels: NodeAddress[] = (process.env.SENTINEL_CACHE_SENTINELS ?? '127.0.0.1:26379')
  .split(',')
  .map((s) => {
    const [host, port] = s.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port) };
  });
const service = process.env.SENTINEL_CACHE_SERVICE ?? 'mymaster';
const router = routers.pooled({ sentinels, service });

const cache = createCache({
  router,
  keyPrefix: 'example-near',
  nearCache: {
    // or `nearCache: true` for these defaults
    maxEntries: 10_000, // LRU bound on entries
    maxBytes: 64 * 1024 ** 2, // bound on bytes held: encoded value + key
    ttl: '1m', // longest an entry is served from memory
    mode: 'default', // or 'broadcast'
  },
});
cache.on('near-flush', ({ reason }) => console.log('near-flush:', reason));

await cache.set('flags', { beta: false }, { ttl: '5m' });
await cache.get('flags'); // from Redis; now held in memory
await cache.get('flags'); // from memory
const { hits, enabled } = cache.stats().nearCache ?? {};
console.log(`near cache enabled: ${enabled}, near hits: ${hits}`);

// Another client (here a second cache without a near cache; it could be redis-cli or a Python
// service) changes the key: Redis tells this process, which drops its copy.
const other = createCache({ router: routers.pooled({ sentinels, service }), keyPrefix: 'example-near' });
await other.set('flags', { beta: true }, { ttl: '5m' });
let seen = await cache.get<{ beta: boolean }>('flags');
for (let i = 0; i < 100 && seen?.beta !== true; i++) {
  await sleep(100); // the invalidation arrives asynchronously, typically within a millisecond
  seen = await cache.get<{ beta: boolean }>('flags');
}
console.log('after another client wrote: beta =', seen?.beta);

await cache.nearCache.clear(); // emits near-flush 'manual'
console.log('entries after clear:', cache.stats().nearCache?.entries);

await other.close();
await cache.close();
