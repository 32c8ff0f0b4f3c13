/**
 * docs/cluster.md's local Redis Cluster, runnable: start one, fail a shard over while
 * a cache uses it, and stop it. Needs `redis-server` and `redis-cli` on PATH.
 *
 *   npx tsx examples/cluster-topology.ts
 *
 * (examples/cluster-topology.mjs is the same in plain JavaScript.)
 */
import { createCache, routers } from 'sentinel-cache';
import { startCluster } from 'sentinel-cache/topology';

const cluster = await startCluster({ shards: 3, replicasPerShard: 1, nodeTimeoutMs: 1000 });
const cache = createCache({ router: routers.cluster(cluster.routerOptions()), keyPrefix: 'example' });
try {
  await cache.set('greeting', 'before', { ttl: '1m' });

  const old = await cluster.pauseMaster(1); // SIGSTOP the master of shard 1 (slots 5461-10922)
  console.log(`paused master of shard 1: ${old.host}:${old.port}`);
  const next = await cluster.waitForNewMaster(1, 30_000, old);
  console.log(`new master of shard 1: ${next.host}:${next.port}`);
  await cluster.resumeMaster(1); // rejoins as a replica
  await cluster.waitForHealthy();

  await cache.set('greeting', 'after', { ttl: '1m' });
  console.log('value:', await cache.get('greeting'));
} finally {
  await cache.close();
  await cluster.stop(); // every process and file gone
}
