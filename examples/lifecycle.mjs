/**
 * The README's connection lifecycle, raw commands and replicated locks in plain JavaScript:
 * lazy connections and `ready()`, `withClient`, `lock()` with `waitReplicas`, and `unref: true`,
 * which lets this script exit although it never calls `close()`.
 *
 *   SENTINEL_CACHE_SENTINELS=127.0.0.1:7003 node examples/lifecycle.mjs
 */
import { CacheError, createCache, routers } from 'sentinel-cache';

const sentinels = (process.env.SENTINEL_CACHE_SENTINELS ?? '127.0.0.1:26379').split(',').map((s) => {
  const [host, port] = s.split(':');
  return { host, port: Number(port) };
});
const service = process.env.SENTINEL_CACHE_SERVICE ?? 'mymaster';

const cache = createCache({
  router: routers.discovery({ sentinels, service, unref: true }), // idle sockets do not keep the process alive
  keyPrefix: 'example-lifecycle',
});

// Building a router opens no socket; ready() connects now and resolves once the master answers.
await cache.ready();
console.log('ready');

// withClient: raw ioredis on the node the router picks for that intent.
const [role] = await cache.withClient('write', (client) => client.role());
console.log('withClient(write) ran on a', role);

// A lock acknowledged by a replica (WAIT) before acquire() resolves, so a failover right after
// cannot lose it; fewer replicas within waitTimeoutMs is a LockError.
const lock = cache.lock('deploy', { ttl: '30s', waitReplicas: 1, waitTimeoutMs: 5000 });
console.log('lock acquired with 1 replica:', await lock.acquire({ blocking: false }));
console.log('held by another caller:', await cache.lock('deploy').acquire({ blocking: false }));
await lock.release();

// ready() rejects with the named error when it cannot connect.
const nowhere = createCache({ router: routers.standalone({ host: '127.0.0.1', port: 1, unref: true }) });
try {
  await nowhere.ready();
} catch (error) {
  if (!(error instanceof CacheError)) throw error;
  console.log('ready() rejected:', error.code);
}

// No close(): with `unref: true` the process exits once its work is done. (Do call close() in
// a long-running service; unref is for scripts and CLIs that might forget it.)
console.log('done');
