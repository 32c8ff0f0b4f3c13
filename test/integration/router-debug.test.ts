/**
 * NODE_DEBUG=sentinel-cache: one line per router decision, in child processes (Node reads
 * NODE_DEBUG once, at start). A SENTINEL FAILOVER under both Sentinel routers (pool evicted,
 * master adopted, connections dropped, near cache flushed), and — on scripted nodes, no server
 * needed — a READONLY re-route, an eviction and the breaker's transitions. Without NODE_DEBUG:
 * nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import { runTsx, srcModule } from '../fixtures/child.js';

/** ioredis for a generated script (it lives outside the repository, where a bare import would not resolve). */
const IOREDIS = JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('ioredis')).href);

async function runScript(source: string, env: Record<string, string | undefined>, budgetMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-cache-debug-'));
  const script = join(dir, 'child.mts');
  writeFileSync(script, source);
  try {
    return await runTsx(script, [], { budgetMs, env: { ...process.env, ...env } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Lines of one category, e.g. `pooled: ...`, without the `SENTINEL-CACHE <pid>: ` prefix. */
function lines(stderr: string, prefix: string): string[] {
  return stderr
    .split('\n')
    .map((l) => /^SENTINEL-CACHE \d+: (.*)$/.exec(l)?.[1])
    .filter((l): l is string => l?.startsWith(prefix) === true);
}

describe('NODE_DEBUG=sentinel-cache: router decisions on a failover', () => {
  let topo: Topology;

  beforeAll(async () => {
    topo = await startTopology({ provider: 'process', replicas: 1, sentinels: 3, downAfterMs: 1000 });
  });

  afterAll(async () => {
    await topo?.stop();
  });

  function failoverScript(): string {
    return `import ioredis from ${IOREDIS};
const { Redis } = ioredis;
import { createCache } from ${srcModule('create-cache.ts')};
import { routers } from ${srcModule('routers/index.ts')};
const opts = { ...${JSON.stringify(topo.routerOptions())}, commandTimeoutMs: 1000 };
const pooled = createCache({ router: routers.pooled(opts), nearCache: true, keyPrefix: 'dbg-p' });
const discovery = createCache({ router: routers.discovery(opts), keyPrefix: 'dbg-d' });
await Promise.all([pooled.ready(), discovery.ready()]);
await pooled.set('k', 1);
await pooled.get('k');
await pooled.get('k');
await discovery.set('k', 1);
await discovery.get('k');
const switched = Promise.all([pooled, discovery].map((c) => new Promise((r) => c.on('failover', r))));
for (const s of opts.sentinels) {
  const client = new Redis({ host: s.host, port: s.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.call('SENTINEL', 'FAILOVER', opts.service);
    break;
  } catch {
    // the next sentinel
  } finally {
    client.disconnect();
  }
}
const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no failover within 30 s')), 30_000).unref());
await Promise.race([switched, timeout]);
for (let i = 0; i < 5; i++) {
  await pooled.set('k', i).catch(() => {});
  await discovery.set('k', i).catch(() => {});
}
await Promise.all([pooled.close(), discovery.close()]);
process.stdout.write('done\\n');
`;
  }

  it('prints the eviction, the new master, the dropped connections and the near-cache flush', async () => {
    const old = await topo.currentMaster();
    const result = await runScript(failoverScript(), { NODE_DEBUG: 'sentinel-cache' }, 90_000);
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain('done');
    const next = await topo.currentMaster();
    expect(next).not.toEqual(old);
    const oldKey = `${old.host}:${old.port}`;
    const nextKey = `${next.host}:${next.port}`;
    const err = result.stderr;
    expect(lines(err, 'pooled: '), err).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^pooled: pool of ${oldKey} \\(master\\) evicted, \\d+ lane\\(s\\) dropped: .*failed over`,
        ),
      ),
    );
    expect(lines(err, 'pooled: '), err).toContain(`pooled: master ${nextKey} (+switch-master)`);
    expect(lines(err, 'discovery: '), err).toContain(
      'discovery: sentinel news (switch): connections re-check ROLE before their next use',
    );
    expect(lines(err, 'discovery: '), err).toContainEqual(
      expect.stringMatching(new RegExp(`^discovery: connection to ${oldKey} \\(ROLE master\\) dropped`)),
    );
    expect(lines(err, 'near cache: '), err).toContainEqual(
      expect.stringMatching(/^near cache: flushed \(failover\), \d+ entries dropped$/),
    );
    await topo.waitForHealthy(30_000);
  });
});

describe('NODE_DEBUG=sentinel-cache: re-routes, evictions, breaker transitions (scripted nodes)', () => {
  const script = `import ioredis from ${IOREDIS};
const { ReplyError } = ioredis;
import { CommandTimeoutError } from ${srcModule('core/errors.ts')};
import { RoleBreaker } from ${srcModule('routers/breaker.ts')};
import { RouteRunner } from ${srcModule('routers/route-runner.ts')};
import { NodeStats, RouterEvents } from ${srcModule('routers/sentinel/router-events.ts')};
process.on('warning', () => {}); // the scripted client has no ioredis internals to coalesce writes with
const runner = new RouteRunner(new RouterEvents(), new NodeStats(), 500);
const client = {};
const node = (port) => ({ address: { host: '10.0.0.1', port }, key: '10.0.0.1:' + port, acquire: () => client, release() {}, evict() {} });
// READONLY: the node was demoted; the write is retried on the master resolved again.
const retried = await runner.run(node(6379), 'master', () => Promise.reject(new ReplyError("READONLY You can't write against a read only replica.")), () => Promise.resolve('retried'));
// A timeout: the connection is evicted.
await runner.run(node(6380), 'replica', () => Promise.reject(new CommandTimeoutError('Command timed out', 500))).catch(() => {});
const breaker = new RoleBreaker('master', { volumeThreshold: 1, resetTimeoutMs: 50 }, { open() {}, halfOpen() {}, close() {} });
await breaker.run(() => Promise.reject(new CommandTimeoutError('t', 500))).catch(() => {});
await new Promise((r) => setTimeout(r, 200));
await breaker.run(async () => 'ok');
breaker.shutdown();
process.stdout.write(retried + '\\n');
`;

  it('prints one line per decision', async () => {
    const result = await runScript(script, { NODE_DEBUG: 'sentinel-cache' }, 30_000);
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain('retried');
    expect(lines(result.stderr, ''), result.stderr).toEqual([
      're-route: 10.0.0.1:6379 replied READONLY (demoted), its connections dropped: retrying on the master resolved again',
      'evict: 10.0.0.1:6380 (replica) connection dropped: Command timed out',
      'skip: replica 10.0.0.1:6380 left out of reads for 1000 ms',
      'breaker: master opened: its operations fail fast with CircuitOpenError',
      'breaker: master half-open: its connections are dropped, the next operation resolves the node afresh',
      'breaker: master closed: operations run again',
    ]);
  });

  it('prints nothing without it', async () => {
    const result = await runScript(script, { NODE_DEBUG: undefined }, 30_000);
    expect(result.code, result.output).toBe(0);
    expect(result.stderr).not.toContain('SENTINEL-CACHE');
  });
});
