/**
 * instrument() on a real redis-server: what the instruments say must be what happened — a read
 * answered from the near cache's memory is not a Redis hit, an incr of a missing key is a
 * failed operation. And NODE_DEBUG=sentinel-cache's lines, in a child process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { KeyNotFoundError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { instrument, METRICS } from '../../src/telemetry/index.js';
import { startStandalone } from '../../src/topology/index.js';
import { freePort } from '../../src/topology/ports.js';
import type { Standalone } from '../../src/topology/types.js';
import { runTsx, srcModule } from '../fixtures/child.js';
import { point, type TestMetrics, testMeterProvider } from '../fixtures/metrics.js';
import { until } from '../fixtures/until.js';
import { uniquePrefix } from './cache-suite.js';

let server: Standalone;
let metrics: TestMetrics;
let cache: Cache;

beforeAll(async () => {
  server = await startStandalone();
  metrics = testMeterProvider();
  cache = createCache({
    router: routers.standalone({ url: server.url, commandTimeoutMs: 2000 }),
    keyPrefix: uniquePrefix('telemetry'),
    nearCache: true,
  });
  instrument(cache, { meterProvider: metrics.provider });
});

afterAll(async () => {
  await cache?.close();
  await metrics?.shutdown();
  await server?.stop();
});

/** Reads `key` until one read is answered from memory (its connection is tracking by then). */
async function readUntilHeld(key: string): Promise<void> {
  await until(
    async () => {
      const before = cache.stats().nearCache?.hits ?? 0;
      await cache.get(key);
      return (cache.stats().nearCache?.hits ?? 0) > before;
    },
    10_000,
    `the near cache to serve ${key} from memory`,
  );
}

describe('instrument() with a near cache', () => {
  it('counts a read answered from memory under the near tier only', async () => {
    await cache.set('held', 1);
    await readUntilHeld('held');
    const { tiers, hits } = cache.stats();
    const m = await metrics.collect();
    const near = point(m.get(METRICS.hits), { 'cache.tier': 'near' })?.value;
    const redis = point(m.get(METRICS.hits), { 'cache.tier': 'redis' })?.value;
    expect(near).toBeGreaterThan(0);
    expect(near).toBe(tiers.near.hits);
    // Every get of 'held' was a hit: those not answered from memory were Redis replies.
    expect(redis).toBe(hits - tiers.near.hits);
    expect(tiers.redis.hits).toBe(redis);
  });

  it('names the node that served each operation', async () => {
    await cache.set('served', 1);
    const durations = (await metrics.collect()).get(METRICS.operationDuration);
    expect(
      point(durations, {
        'db.system.name': 'redis',
        'db.operation.name': 'set',
        'server.address': server.host,
        'server.port': server.port,
        'db.namespace': '0',
      }),
    ).toBeDefined();
  });

  it('records an incr of a missing key as a failed operation', async () => {
    await expect(cache.incr('missing')).rejects.toBeInstanceOf(KeyNotFoundError);
    await expect(cache.incrVersion('missing')).rejects.toBeInstanceOf(KeyNotFoundError);
    const durations = (await metrics.collect()).get(METRICS.operationDuration);
    for (const operation of ['incr', 'incrVersion']) {
      expect(point(durations, { 'db.operation.name': operation, 'error.type': undefined })).toBeUndefined();
      expect(
        point(durations, { 'db.operation.name': operation, 'error.type': 'KEY_NOT_FOUND' }),
      ).toBeDefined();
    }
  });

  it('counts near-cache flushes by reason', async () => {
    await cache.nearCache.clear();
    const flushes = (await metrics.collect()).get(METRICS.nearFlushes);
    expect(point(flushes, { 'cache.flush.reason': 'manual' })?.value).toBe(1);
  });
});

describe('NODE_DEBUG=sentinel-cache', () => {
  /** Runs a script that flushes a near cache and has ignoreErrors answer for a dead node. */
  async function run(env: Record<string, string | undefined>) {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-cache-debug-'));
    const script = join(dir, 'child.mts');
    writeFileSync(
      script,
      `import { createCache } from ${srcModule('create-cache.ts')};
import { routers } from ${srcModule('routers/index.ts')};
const near = createCache({ router: routers.standalone({ url: ${JSON.stringify(server.url)} }), nearCache: true });
await near.set('k', 1);
await near.get('k');
await near.nearCache.clear();
const dead = createCache({ router: routers.standalone({ port: ${await freePort()} }), ignoreErrors: true });
dead.on('error', () => {});
process.stdout.write(String(await dead.get('gone')) + '\\n');
await Promise.all([near.close(), dead.close()]);
`,
    );
    try {
      return await runTsx(script, [], { budgetMs: 30_000, env: { ...process.env, ...env } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('prints one line per decision: a near-cache flush, a failure ignoreErrors answered for', async () => {
    const result = await run({ NODE_DEBUG: 'sentinel-cache' });
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain('undefined');
    expect(result.stderr).toMatch(/SENTINEL-CACHE \d+: near cache: flushed \(manual\), \d+ entries dropped/);
    expect(result.stderr).toMatch(
      /SENTINEL-CACHE \d+: ignoreErrors: get "gone" answered as if Redis had nothing, after CONNECTION_INTERRUPTED/,
    );
  });

  it('prints nothing without it', async () => {
    const result = await run({ NODE_DEBUG: undefined });
    expect(result.code, result.output).toBe(0);
    expect(result.stderr).not.toContain('SENTINEL-CACHE');
  });
});
