/**
 * The README's Quick start in plain JavaScript (ESM, Node >= 20). Against a local topology:
 *
 *   npx sentinel-cache topology up --detach      # prints the sentinels' addresses
 *   SENTINEL_CACHE_SENTINELS=127.0.0.1:7003,127.0.0.1:7004 node examples/quick-start.mjs
 */
import { compressors, createCache, routers, serializers } from 'sentinel-cache';

const sentinels = (process.env.SENTINEL_CACHE_SENTINELS ?? '127.0.0.1:26379').split(',').map((s) => {
  const [host, port] = s.split(':');
  return { host, port: Number(port) };
});

const cache = createCache({
  router: routers.pooled({
    sentinels,
    service: process.env.SENTINEL_CACHE_SERVICE ?? 'mymaster',
    readFrom: 'replica-preferred',
    commandTimeoutMs: 500,
  }),
  serializer: serializers.msgpack(),
  compressor: compressors.lz4({ minLength: 256 }),
  keyPrefix: 'app',
  defaultTtl: '5m', // TTL numbers are milliseconds: write '5m', not 300
});
cache.on('failover', ({ to }) => console.log('new master', to));

await cache.set('user:42', { name: 'Ada', roles: new Set(['admin']) }, { ttl: '1h' });
const user = await cache.get('user:42');
console.log('user:', user?.name, [...(user?.roles ?? [])]);
console.log('ttl (ms):', (await cache.ttl('user:42')) ?? 'none');

const visits = await cache.incr('visits', 1, { ignoreKeyCheck: true });
console.log('visits:', visits);

const buildReport = async () => ({ rows: 3 });
const report = await cache.getOrSet('report', () => buildReport(), { ttl: '30s' });
console.log('report rows:', report.rows);

// `await using` is TypeScript-only on Node 20: in JavaScript, release in `finally`.
// A blocking acquire waits up to blockingTimeout, then throws LockError: it never returns false.
const lock = cache.lock('nightly-job', { ttl: '30s' });
await lock.acquire({ blocking: true, blockingTimeout: '5s' });
try {
  console.log('lock held:', await lock.owned());
  // ... the job; lock.extend('30s') if it runs long
} finally {
  await lock.release(); // token-checked: never releases another holder's lock
}
console.log('lock released:', !(await cache.lock('nightly-job').locked()));

await cache.close(); // closes every socket; the process can exit
