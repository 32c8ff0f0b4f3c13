/**
 * What rollback detection costs a write: sequential `set`s through a Sentinel router (one
 * master, one replica, one sentinel started here), this checkout against another one without
 * it, both in this process, in alternating rounds so machine load hits both alike.
 *
 *   node --import tsx bench/rollback-overhead.ts --baseline <checkout> [pooled|discovery] [--swap] [--quick]
 *
 * `<checkout>` is another working tree of this repository with its node_modules (its `src/` is
 * loaded through tsx). Prints CPU µs per set and sets/s, medians of the rounds. `--swap` builds
 * the baseline's cache first (the first cache built tends to measure slower on a loaded
 * machine: run both orders).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Cache } from '../src/core/cache.js';
import { createCache } from '../src/create-cache.js';
import { routers } from '../src/routers/index.js';
import { startTopology } from '../src/topology/index.js';

const args = process.argv.slice(2);
const baselineAt = args.indexOf('--baseline');
const baseline = baselineAt < 0 ? undefined : args[baselineAt + 1];
if (baseline === undefined)
  throw new Error('usage: --baseline <checkout> [pooled|discovery] [--swap] [--quick]');
const kind = args.includes('discovery') ? 'discovery' : 'pooled';
const quick = args.includes('--quick');
const rounds = quick ? 2 : 12;
const opsPerRound = quick ? 500 : 10_000;

const load = (path: string) => import(pathToFileURL(resolve(baseline, 'src', path)).href);
const other = {
  createCache: (await load('create-cache.ts')).createCache as typeof createCache,
  routers: (await load('routers/index.ts')).routers as typeof routers,
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const topo = await startTopology({ provider: 'process', replicas: 1, sentinels: 1, quorum: 1 });
const caches: Array<{ label: string; cache: Cache; cpu: number[]; rate: number[] }> = [];
try {
  const build = (label: string, b: typeof other, prefix: string) => ({
    label,
    cache: b.createCache({
      router: b.routers[kind]({ ...topo.routerOptions(), commandTimeoutMs: 2000 }),
      keyPrefix: prefix,
    }),
    cpu: [] as number[],
    rate: [] as number[],
  });
  const mine = build('this checkout', { createCache, routers }, 'bench-a');
  const theirs = build(`baseline (${baseline})`, other, 'bench-b');
  caches.push(...(args.includes('--swap') ? [theirs, mine] : [mine, theirs]));
  for (const c of caches) for (let i = 0; i < 2000; i++) await c.cache.set('k', i); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < caches.length; j++) {
      const c = caches[(round + j) % caches.length]!;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < opsPerRound; i++) await c.cache.set('k', i);
      const cpu = process.cpuUsage(cpu0);
      c.cpu.push((cpu.user + cpu.system) / opsPerRound);
      c.rate.push(opsPerRound / ((performance.now() - t0) / 1000));
    }
  }
  console.log(`| ${kind}, ${rounds} × ${opsPerRound} sequential sets | CPU µs per set | sets/s |`);
  console.log('|---|---:|---:|');
  for (const c of caches) {
    console.log(
      `| ${c.label} | ${median(c.cpu).toFixed(2)} | ${Math.round(median(c.rate)).toLocaleString('en-US')} |`,
    );
  }
} finally {
  await Promise.allSettled(caches.map((c) => c.cache.close()));
  await topo.stop();
}
