/**
 * The README's router configurations, runnable: the same cache operations through each router.
 *
 *   npx sentinel-cache topology up --detach
 *   SENTINEL_CACHE_SENTINELS=127.0.0.1:7003 REDIS_URL=redis://127.0.0.1:7000 npx tsx examples/routers.ts
 *
 * (examples/routers.mjs is the same in plain JavaScript.)
 */
import { createCache, type NodeAddress, type Router, routers } from 'sentinel-cache';

const sentinels: NodeAddress[] = (process.env.SENTINEL_CACHE_SENTINELS ?? '127.0.0.1:26379')
  .split(',')
  .map((s) => {
    const [host, port] = s.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port) };
  });
const service = process.env.SENTINEL_CACHE_SERVICE ?? 'mymaster';

const configured: Record<string, Router> = {
  // Asks a sentinel where the master / a replica is on every operation.
  discovery: routers.discovery({
    sentinels,
    service,
    readFrom: 'replica-preferred', // 'master' | 'replica' | 'replica-preferred'
    commandTimeoutMs: 500, // a hung (paused) node fails fast with CommandTimeoutError
    connectTimeoutMs: 1000,
    sentinelTimeoutMs: 250, // per sentinel, before trying the next one
  }),
  // Pools per node, evicts on failover, a circuit breaker per role: the production default.
  pooled: routers.pooled({
    sentinels,
    service,
    pool: { min: 1, max: 8, acquireTimeoutMs: 1000 },
    breaker: {
      errorThresholdPercentage: 50,
      resetTimeoutMs: 1000,
      rollingCountTimeoutMs: 1000,
      volumeThreshold: 10,
    },
  }),
  // One Redis URL (no Sentinel).
  standalone: routers.standalone({
    url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    commandTimeoutMs: 500,
  }),
};

for (const [name, router] of Object.entries(configured)) {
  const cache = createCache({ router, keyPrefix: `example-${name}` });
  try {
    await cache.ready(); // connect now (routers connect lazily, on first use)
    await cache.set('greeting', `hello from ${name}`, { ttl: '1m' });
    console.log(`${name}:`, await cache.get('greeting'));
  } finally {
    await cache.close();
  }
}
