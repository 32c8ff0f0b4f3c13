/**
 * A script that never reaches cache.close() must still exit (issue 17, item 3): routers connect
 * lazily, createCache closes the router it was given when it throws, a standalone router on a
 * dead port stops retrying in the background, and `unref: true` lets idle sockets go.
 *
 * Each case runs a child process (test/fixtures/child.ts) that never calls close() or
 * process.exit(); the budget is a no-hang bound, not a timing assertion.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startStandalone, startTopology } from '../../src/topology/index.js';
import { freePort } from '../../src/topology/ports.js';
import type { Standalone, Topology } from '../../src/topology/types.js';
import { runTsxSource, spawnTsx, srcModule } from '../fixtures/child.js';

const EXIT_BUDGET_MS = 30_000;

let data: Standalone;
let topo: Topology;

beforeAll(async () => {
  [data, topo] = await Promise.all([
    startStandalone(),
    startTopology({ provider: 'process', replicas: 1, sentinels: 1, downAfterMs: 1000 }),
  ]);
});

afterAll(async () => {
  await Promise.allSettled([data?.stop(), topo?.stop()]);
});

/** Runs `body` in a child with `createCache` and `routers` imported; returns its outcome. */
function runChild(body: string, budgetMs = EXIT_BUDGET_MS) {
  const source = `
import { createCache } from ${srcModule('create-cache.ts')};
import { routers } from ${srcModule('routers/index.ts')};
const out = {};
${body}
process.stdout.write(JSON.stringify(out) + '\\n');
`;
  return runTsxSource(source, [], budgetMs);
}

function parsed(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
}

describe('a process that forgets close() still exits', () => {
  it('createCache throws: the router it was given is closed (Sentinel routers, dead sentinels)', async () => {
    const port = await freePort();
    const run = await runChild(`
for (const kind of ['discovery', 'pooled']) {
  const router = routers[kind]({ sentinels: [{ host: '127.0.0.1', port: ${port} }], service: 'mymaster' });
  await router.ready(); // opens the +switch-master subscriptions, which retry a dead sentinel forever
  try {
    createCache({ router, defaultTtl: 'soon' });
  } catch (err) {
    out[kind] = err.code;
  }
}
`);
    expect(run.hung, run.output).toBe(false);
    expect(run.code, run.output).toBe(0);
    expect(parsed(run.stdout)).toEqual({ discovery: 'CONFIG', pooled: 'CONFIG' });
  });

  it('a standalone router on a dead port stops retrying in the background', async () => {
    const port = await freePort();
    const run = await runChild(`
const cache = createCache({ router: routers.standalone({ port: ${port} }) });
try { await cache.get('k'); } catch (err) { out.first = err.code; }
try { await cache.get('k'); } catch (err) { out.second = err.code; }
`);
    expect(run.hung, run.output).toBe(false);
    expect(run.code, run.output).toBe(0);
    expect(parsed(run.stdout)).toEqual({ first: 'CONNECTION_INTERRUPTED', second: 'CONNECTION_INTERRUPTED' });
  });

  it('a built but unused router opens no socket (all three kinds, live servers)', async () => {
    const sentinels = JSON.stringify(topo.routerOptions().sentinels);
    const run = await runChild(`
createCache({ router: routers.standalone({ url: ${JSON.stringify(data.url)} }) });
createCache({ router: routers.discovery({ sentinels: ${sentinels}, service: ${JSON.stringify(topo.service)} }) });
createCache({ router: routers.pooled({ sentinels: ${sentinels}, service: ${JSON.stringify(topo.service)} }) });
out.built = true;
`);
    expect(run.hung, run.output).toBe(false);
    expect(parsed(run.stdout)).toEqual({ built: true });
  });

  it.each(['standalone', 'discovery', 'pooled'] as const)(
    'unref: true — %s, used and never closed, exits on its own',
    async (kind) => {
      const options =
        kind === 'standalone' ? { url: data.url, unref: true } : { ...topo.routerOptions(), unref: true };
      const run = await runChild(`
const cache = createCache({ router: routers.${kind}(${JSON.stringify(options)}) });
await cache.ready();
await cache.set('k', 'v');
out.value = await cache.get('k');
`);
      expect(run.hung, run.output).toBe(false);
      expect(run.code, run.output).toBe(0);
      expect(parsed(run.stdout)).toEqual({ value: 'v' });
    },
  );

  it.each(['standalone', 'pooled'] as const)(
    'unref: true — %s with a near cache and a getOrSet that waited on another cache (fill subscriber) exits',
    async (kind) => {
      const options =
        kind === 'standalone' ? { url: data.url, unref: true } : { ...topo.routerOptions(), unref: true };
      // Two caches with one prefix: b's getOrSet waits for a's fill (another flight), over the
      // fill channel's subscriber; both near caches hold an invalidation connection.
      const run = await runChild(`
const make = () => createCache({ router: routers.${kind}(${JSON.stringify(options)}), keyPrefix: 'exit-${kind}', nearCache: true });
const [a, b] = [make(), make()];
await a.delete('k');
const filled = a.getOrSet('k', () => new Promise((r) => setTimeout(() => r('from-a'), 1500)));
await new Promise((r) => setTimeout(r, 300));
out.b = await b.getOrSet('k', () => 'from-b');
out.a = await filled;
out.near = [await a.get('k'), await a.get('k'), a.stats().nearCache.enabled];
`);
      expect(run.hung, run.output).toBe(false);
      expect(run.code, run.output).toBe(0);
      expect(parsed(run.stdout)).toEqual({ a: 'from-a', b: 'from-a', near: ['from-a', 'from-a', true] });
    },
  );

  it.each(['standalone', 'pooled'] as const)(
    'without unref, %s: an unclosed cache keeps the process alive, with a one-time hint saying why',
    async (kind) => {
      const options = kind === 'standalone' ? { url: data.url } : topo.routerOptions();
      const dir = mkdtempSync(join(tmpdir(), 'sentinel-cache-child-'));
      const script = join(dir, 'child.mts');
      writeFileSync(
        script,
        `import { createCache } from ${srcModule('create-cache.ts')};
import { routers } from ${srcModule('routers/index.ts')};
const cache = createCache({ router: routers.${kind}(${JSON.stringify(options)}) });
process.stdout.write(String(await cache.get('missing')) + '\\n');
`,
      );
      const run = spawnTsx(script);
      try {
        await vi.waitFor(() => expect(run.stderr).toContain('SENTINEL_CACHE_OPEN'), {
          timeout: 20_000,
          interval: 100,
        });
        expect(run.stdout).toContain('undefined');
        await sleep(2_000); // its work is done: only the open connections can keep it running
        expect(run.child.exitCode, run.output).toBeNull();
        expect(run.stderr.match(/\[SENTINEL_CACHE_OPEN\]/g), run.output).toHaveLength(1);
        expect(run.stderr).toMatch(/cache\.close\(\)/);
      } finally {
        run.child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
