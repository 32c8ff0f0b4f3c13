/**
 * The README's cluster router, runnable: a Redis Cluster through `routers.cluster`,
 * batches spread over the masters, and hash tags for the atomic multi-key set commands.
 *
 *   SENTINEL_CACHE_CLUSTER_NODES=127.0.0.1:7000,127.0.0.1:7001 npx tsx examples/cluster.ts
 *
 * (A local cluster: `startCluster()` from 'sentinel-cache/topology', see the README.
 * examples/cluster.mjs is the same in plain JavaScript.)
 */
import { ConfigError, createCache, type NodeAddress, routers } from 'sentinel-cache';

const nodes: NodeAddress[] = (process.env.SENTINEL_CACHE_CLUSTER_NODES ?? '127.0.0.1:7000')
  .split(',')
  .map((s) => {
    const [host, port] = s.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port) };
  });

const cache = createCache({
  router: routers.cluster({
    nodes, // seeds; the rest is discovered
    readFrom: 'master', // 'replica' / 'replica-preferred': read-only commands on a replica of the slot
    commandTimeoutMs: 500,
    connectTimeoutMs: 1000,
    slotsRefreshIntervalMs: 1000, // slot map refresh on a timer (and on MOVED, CLUSTERDOWN, errors)
    slotsRefreshTimeoutMs: 100, // per node asked for CLUSTER SLOTS
    failoverRefreshMs: 25, // after a timeout / connection error: refresh every 25 ms ...
    failoverWatchMs: 15000, // ... for 15 s
    coalesceWrites: true, // same-tick commands to one node share one socket write
  }),
  keyPrefix: 'example-cluster',
});

// One round trip per master, in parallel.
const entries = new Map<string, { i: number }>(
  Array.from({ length: 100 }, (_, i) => [`item:${i}`, { i }] as const),
);
await cache.setMany(entries, { ttl: '1m' });
const back = await cache.getMany(entries.keys());
console.log('getMany over every master:', back.size);

// Atomic multi-key commands need their keys in one hash slot: a hash tag puts them there.
await cache.sadd('{u42}:a', 'x', 'y');
try {
  await cache.smove('u42:a', 'u42:b', 'x');
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.log('smove across slots:', error.code);
}
console.log('smove with a hash tag:', await cache.smove('{u42}:a', '{u42}:b', 'x'));
console.log('{u42}:b holds', [...(await cache.smembers<string>('{u42}:b'))]);

await cache.deleteMany(['{u42}:a', '{u42}:b']);
await cache.close();
