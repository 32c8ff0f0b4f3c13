import { afterAll, beforeAll } from 'vitest';
import { routers } from '../../src/routers/index.js';
import { startStandalone } from '../../src/topology/index.js';
import type { Standalone } from '../../src/topology/types.js';
import { defineCacheSuite } from './cache-suite.js';

let server: Standalone;

beforeAll(async () => {
  server = await startStandalone();
});

afterAll(async () => {
  await server?.stop();
});

defineCacheSuite('standalone', async () => ({
  router: routers.standalone({ url: server.url }),
  cleanup: async () => {},
}));
