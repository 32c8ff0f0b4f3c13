/**
 * The whole core API suite (django-redis backend tests, codec matrix) through the two
 * Sentinel routers on a real topology: master + 2 replicas + 3 sentinels.
 */
import { afterAll, beforeAll } from 'vitest';
import { routers } from '../../src/routers/index.js';
import { startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import { defineCacheSuite } from './cache-suite.js';

let topo: Topology;

beforeAll(async () => {
  topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
});

afterAll(async () => {
  await topo?.stop();
});

// readFrom 'master': the suite reads its own writes at once (replication is asynchronous).
// The suite checks what the API returns, not how fast: its batches of 2,100 keys outlived the
// default 500 ms bound when the whole npm test ran on a loaded 2-core machine (CI, load ~10).
const SUITE_COMMAND_TIMEOUT_MS = 5_000;

defineCacheSuite('pooled', async () => ({
  router: routers.pooled({
    ...topo.routerOptions(),
    readFrom: 'master',
    commandTimeoutMs: SUITE_COMMAND_TIMEOUT_MS,
  }),
  cleanup: async () => {},
}));

defineCacheSuite('discovery', async () => ({
  router: routers.discovery({
    ...topo.routerOptions(),
    readFrom: 'master',
    commandTimeoutMs: SUITE_COMMAND_TIMEOUT_MS,
  }),
  cleanup: async () => {},
}));
