/**
 * The whole core API suite (django-redis backend tests, codec matrix) through the cluster router
 * on a real Redis Cluster: 3 masters + 3 replicas. Keys of one test spread over every shard, so
 * many-key methods, scans, set algebra and incrVersion all cross slots and nodes.
 */
import { afterAll, beforeAll } from 'vitest';
import { routers } from '../../src/routers/index.js';
import { type ClusterTopology, startCluster } from '../../src/topology/index.js';
import { CODEC_MATRIX, defineCacheSuite } from './cache-suite.js';

let topo: ClusterTopology;

beforeAll(async () => {
  topo = await startCluster({ shards: 3, replicasPerShard: 1, nodeTimeoutMs: 1000 });
});

afterAll(async () => {
  await topo?.stop();
});

// readFrom 'master': the suite reads its own writes at once (replication is asynchronous).
// Four of the six codec cases (every serializer, four compressors): the codec does not depend on
// the router and runs in full on the other routers; this keeps the file under a minute.
defineCacheSuite(
  'cluster',
  async () => ({
    router: routers.cluster({ ...topo.routerOptions(), readFrom: 'master' }),
    cleanup: async () => {},
  }),
  CODEC_MATRIX.slice(0, 4),
);
