/**
 * sentinel-cache as the Redis store of cache-manager 7 (through Keyv) and of cacheable, in plain
 * JavaScript (examples/keyv-cache-manager.ts is the same in TypeScript).
 *
 *   REDIS_HOST=127.0.0.1 REDIS_PORT=6379 node examples/keyv-cache-manager.mjs
 *
 * In production, use routers.pooled({ sentinels, service }) instead of routers.standalone().
 */
import { createCache as createCacheManager } from 'cache-manager';
import { Cacheable } from 'cacheable';
import Keyv from 'keyv';
import { createCache, routers } from 'sentinel-cache';
import { KeyvSentinelStore } from 'sentinel-cache/keyv';

const cache = createCache({
  router: routers.standalone({
    host: process.env.REDIS_HOST ?? '127.0.0.1',
    port: Number(process.env.REDIS_PORT ?? 6379),
  }),
  keyPrefix: 'example-keyv',
});
await cache.clear(); // this prefix only: the example starts from nothing each run

const manager = createCacheManager({ stores: [new Keyv({ store: new KeyvSentinelStore(cache) })] });
let loads = 0;
const loadUser = async (id) => {
  loads++;
  return { id, name: `user ${id}` };
};
const first = await manager.wrap('user:42', () => loadUser(42), 60_000); // ttl in ms
const second = await manager.wrap('user:42', () => loadUser(42), 60_000); // from Redis
console.log(`cache-manager: ${first.name}, ${second.name}, loaded ${loads} time(s)`);

const tiered = new Cacheable({ secondary: new KeyvSentinelStore(cache), namespace: 'tiered' });
await tiered.set('greeting', 'hello', '1m');
await tiered.primary.clear(); // drop the in-memory tier: the next read comes from Redis
console.log(`cacheable: ${await tiered.get('greeting')}`);

await manager.disconnect(); // closes the cache (and its connections)
