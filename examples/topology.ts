/**
 * The README's Topology section, runnable: start real servers, watch a failover, stop.
 * Needs redis-server on PATH.
 *
 *   npx tsx examples/topology.ts
 *
 * (examples/topology.mjs is the same in plain JavaScript.)
 */
import { createCache, routers } from 'sentinel-cache';
import { startTopology } from 'sentinel-cache/topology';

const topo = await startTopology({ provider: 'process', replicas: 1, sentinels: 3, downAfterMs: 1000 });
try {
  const cache = createCache({ router: routers.pooled(topo.routerOptions()) });
  cache.on('failover', ({ to }) => console.log('failover event: new master', `${to.host}:${to.port}`));
  await cache.set('k', 'before');
  const old = await topo.pauseMaster(); // SIGSTOP, like `docker pause`
  console.log('paused master', `${old.host}:${old.port}`);
  const next = await topo.waitForNewMaster(30_000);
  console.log('new master', `${next.host}:${next.port}`);
  await topo.resumeMaster(); // comes back as a replica
  await cache.set('k', 'after');
  console.log('value:', await cache.get('k'));
  await cache.close();
} finally {
  await topo.stop(); // kills every process, removes the temp dir
}
