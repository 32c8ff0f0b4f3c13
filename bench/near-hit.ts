/**
 * Near-cache hit micro-benchmark: what one `await cache.get(key)` answered from memory costs,
 * by the type of the value held (one 100 B value per cache, a standalone redis-server started
 * for the run). Prints CPU nanoseconds per hit (median and best of interleaved runs), which a
 * loaded machine distorts far less than operations per wall-clock second.
 *
 *   npm run -s build && node dist/bench/near-hit.js [--ms 300] [--runs 10] [--concurrency 1]
 *     [--baseline <another checkout, built>]
 *
 * `--baseline` loads a second build of the package (another checkout's `dist/`) into the same
 * process and interleaves its runs with this build's, so a change to the hit path is measured
 * against the code before it under the same load (also prints the median of the paired
 * differences). The loop itself (an await and a clock read every 16 hits, an event-loop turn
 * every 256 hits per loop) costs ~80 ns per hit and is included. See docs/near-cache.md "The
 * hit path".
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { Command } from 'commander';
import type { Cache } from '../src/core/cache.js';
import type { Serializer } from '../src/core/formats.js';
import { createCache } from '../src/create-cache.js';
import { routers } from '../src/routers/index.js';
import { serializers } from '../src/serializers/index.js';
import { startStandalone } from '../src/topology/index.js';

const { ms, runs, concurrency, baseline } = new Command('near-hit')
  .option('--ms <n>', 'measured time per run and value type', (v) => Number(v), 300)
  .option('--runs <n>', 'runs per value type (interleaved)', (v) => Number(v), 10)
  .option('--concurrency <n>', 'reads in flight (closed loops)', (v) => Number(v), 1)
  .option('--baseline <dir>', "another checkout, built: its dist/ is measured next to this one's")
  .parse(process.argv)
  .opts<{ ms: number; runs: number; concurrency: number; baseline?: string }>();

interface Build {
  label: string;
  createCache: typeof createCache;
  routers: typeof routers;
  serializers: typeof serializers;
}

const KINDS: Array<[string, (s: typeof serializers) => Serializer, unknown]> = [
  ['string (string serializer)', (s) => s.string(), 'v'.repeat(100)],
  ['string (msgpack)', (s) => s.msgpack(), 'v'.repeat(100)],
  ['Buffer (msgpack)', (s) => s.msgpack(), Buffer.alloc(100, 0x76)],
  [
    'object, 5 fields (msgpack)',
    (s) => s.msgpack(),
    { name: 'x'.repeat(40), n: 1, tags: ['a', 'b'], nested: { a: 1, b: 'yy' } },
  ],
];

async function loadBuild(dir: string): Promise<Build> {
  const dist = resolve(dir, 'dist/src');
  return {
    label: `baseline (${dir})`,
    createCache: (await import(`${dist}/create-cache.js`)).createCache,
    routers: (await import(`${dist}/routers/index.js`)).routers,
    serializers: (await import(`${dist}/serializers/index.js`)).serializers,
  };
}

/** CPU ns per hit over `ms` of closed-loop hits, `concurrency` loops. */
async function run(cache: Cache): Promise<number> {
  let hits = 0;
  const cpu0 = process.cpuUsage();
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      let batches = 0;
      for (;;) {
        for (let i = 0; i < 16; i++) await cache.get('hot');
        hits += 16;
        if (performance.now() >= end) break;
        if (++batches % 16 === 0) await yieldToIo();
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return ((cpu.user + cpu.system) * 1000) / hits;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1] as number;

const builds: Build[] = [{ label: 'this build', createCache, routers, serializers }];
if (baseline !== undefined) builds.push(await loadBuild(baseline));
const server = await startStandalone();
const caches: Array<{ kind: string; build: Build; cache: Cache; samples: number[] }> = [];
try {
  for (const [kind, serializer, value] of KINDS) {
    for (const build of builds) {
      const cache = build.createCache({
        router: build.routers.standalone({ url: server.url, commandTimeoutMs: 5000 }),
        serializer: serializer(build.serializers),
        keyPrefix: `nearhit${caches.length}`,
        nearCache: true,
      });
      caches.push({ kind, build, cache, samples: [] });
      await cache.set('hot', value, { ttl: null });
      // Until it is held (the first read's connection must have confirmed tracking).
      for (let i = 0; i < 100 && (cache.stats().nearCache?.hits ?? 0) === 0; i++) await cache.get('hot');
      if ((cache.stats().nearCache?.hits ?? 0) === 0) throw new Error(`${kind}: never served from memory`);
    }
  }
  for (let r = 0; r < runs; r++) {
    for (const c of r % 2 === 0 ? caches : [...caches].reverse()) c.samples.push(await run(c.cache));
  }
  console.log(`concurrency ${concurrency}, ${runs} runs of ${ms} ms per row`);
  console.log('| value held (100 B) | build | CPU ns per hit, median | best |');
  console.log('|---|---|---|---|');
  for (const c of caches) {
    const best = Math.min(...c.samples);
    console.log(`| ${c.kind} | ${c.build.label} | ${Math.round(median(c.samples))} | ${Math.round(best)} |`);
  }
  if (baseline !== undefined) {
    console.log('\n| value held (100 B) | this build minus baseline, median of paired runs (ns) |');
    console.log('|---|---|');
    for (let i = 0; i < caches.length; i += 2) {
      const [ours, base] = [caches[i], caches[i + 1]] as [(typeof caches)[0], (typeof caches)[0]];
      const diffs = ours.samples.map((s, r) => s - (base.samples[r] as number));
      console.log(`| ${ours.kind} | ${median(diffs).toFixed(1)} |`);
    }
  }
} finally {
  await Promise.allSettled(caches.map((c) => c.cache.close()));
  await server.stop();
}
