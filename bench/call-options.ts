/**
 * What checking per-call options costs: `get` and `set` without and with an options object, at
 * 1 and 64 operations in flight, against a redis-server started for the run. Prints operations
 * per second and CPU microseconds per operation (a loaded machine distorts CPU time far less),
 * medians of interleaved rounds.
 *
 *   npm run -s build && node dist/bench/call-options.js [--rounds 12] [--ops 20000]
 *     [--baseline <another checkout, built>]
 *
 * `--baseline` loads another checkout's `dist/` into the same process and interleaves its
 * rounds with this build's (as bench/near-hit.ts does), so the check is measured against the
 * code without it under the same load.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { Cache } from '../src/core/cache.js';
import { createCache } from '../src/create-cache.js';
import { routers } from '../src/routers/index.js';
import { startStandalone } from '../src/topology/index.js';

const { rounds, ops, baseline } = new Command('call-options')
  .option('--rounds <n>', 'interleaved rounds per row', (v) => Number(v), 12)
  .option('--ops <n>', 'operations per round', (v) => Number(v), 20_000)
  .option('--baseline <dir>', "another checkout, built: its dist/ is measured next to this one's")
  .parse(process.argv)
  .opts<{ rounds: number; ops: number; baseline?: string }>();

interface Build {
  label: string;
  createCache: typeof createCache;
  routers: typeof routers;
}

interface Row {
  label: string;
  concurrency: number;
  op: () => Promise<unknown>;
  opsPerSecond: number[];
  cpuMicros: number[];
}

const VALUE = { user: 42, roles: ['a', 'b'] };

/** The four operations of one cache: each options object is a fresh literal, as callers write them. */
function operations(cache: Cache): Array<[string, () => Promise<unknown>]> {
  return [
    ['get', () => cache.get('k')],
    ['get(k, { version: 1 })', () => cache.get('k', { version: 1 })],
    ['set', () => cache.set('k', VALUE)],
    ["set(k, v, { ttl: '5m' })", () => cache.set('k', VALUE, { ttl: '5m' })],
  ];
}

async function round(row: Row): Promise<void> {
  let started = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: row.concurrency }, async () => {
      while (started++ < ops) await row.op();
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  row.opsPerSecond.push(ops / seconds);
  row.cpuMicros.push((cpu.user + cpu.system) / ops);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1] as number;

async function loadBuild(dir: string): Promise<Build> {
  const dist = resolve(dir, 'dist/src');
  return {
    label: `baseline (${dir})`,
    createCache: (await import(`${dist}/create-cache.js`)).createCache,
    routers: (await import(`${dist}/routers/index.js`)).routers,
  };
}

const builds: Build[] = [{ label: 'this build', createCache, routers }];
if (baseline !== undefined) builds.push(await loadBuild(baseline));
const server = await startStandalone();
const caches: Cache[] = [];
try {
  const rows: Row[] = [];
  for (const build of builds) {
    const cache = build.createCache({
      router: build.routers.standalone({ url: server.url, commandTimeoutMs: 5000 }),
      keyPrefix: `opts${caches.length}`,
      defaultTtl: '5m',
    });
    caches.push(cache);
    await cache.set('k', VALUE);
    for (const concurrency of [1, 64]) {
      for (const [name, op] of operations(cache)) {
        rows.push({
          label: `${build.label} | c${concurrency} | ${name}`,
          concurrency,
          op,
          opsPerSecond: [],
          cpuMicros: [],
        });
      }
    }
  }
  for (const row of rows) await round(row); // warm-up, not counted
  for (const row of rows) row.opsPerSecond.length = row.cpuMicros.length = 0;
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round so no row always runs first.
    for (let i = 0; i < rows.length; i++) await round(rows[(r + i) % rows.length] as Row);
  }
  console.log(`medians of ${rounds} interleaved rounds × ${ops} operations`);
  console.log('| build | in flight | operation | ops/s | CPU µs per op |');
  console.log('|---|---|---|---:|---:|');
  for (const row of rows) {
    const opsPerSecond = Math.round(median(row.opsPerSecond)).toLocaleString('en-US');
    console.log(`| ${row.label} | ${opsPerSecond} | ${median(row.cpuMicros).toFixed(2)} |`);
  }
} finally {
  await Promise.allSettled(caches.map((cache) => cache.close()));
  await server.stop();
}
