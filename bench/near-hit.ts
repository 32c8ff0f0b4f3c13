/**
 * Near-cache hit micro-benchmark: what one `await cache.get(key)` answered from memory costs,
 * by the type of the value held (one 100 B value per cache, a standalone redis-server started
 * for the run). Prints CPU nanoseconds per hit (median and best of interleaved runs), which a
 * loaded machine distorts far less than operations per wall-clock second.
 *
 *   npm run -s build && node dist/bench/near-hit.js [--ms 300] [--runs 10]
 *
 * The loop itself (an await and a clock read every 16 hits) costs ~80 ns per hit and is
 * included. See docs/near-cache.md "The hit path".
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { Command } from 'commander';
import type { Cache } from '../src/core/cache.js';
import type { Serializer } from '../src/core/formats.js';
import { createCache } from '../src/create-cache.js';
import { routers } from '../src/routers/index.js';
import { serializers } from '../src/serializers/index.js';
import { startStandalone } from '../src/topology/index.js';

const { ms, runs } = new Command('near-hit')
  .option('--ms <n>', 'measured time per run and value type', (v) => Number(v), 300)
  .option('--runs <n>', 'runs per value type (interleaved)', (v) => Number(v), 10)
  .parse(process.argv)
  .opts<{ ms: number; runs: number }>();

const KINDS: Array<[string, () => Serializer, unknown]> = [
  ['string (string serializer)', () => serializers.string(), 'v'.repeat(100)],
  ['string (msgpack)', () => serializers.msgpack(), 'v'.repeat(100)],
  ['Buffer (msgpack)', () => serializers.msgpack(), Buffer.alloc(100, 0x76)],
  [
    'object, 5 fields (msgpack)',
    () => serializers.msgpack(),
    { name: 'x'.repeat(40), n: 1, tags: ['a', 'b'], nested: { a: 1, b: 'yy' } },
  ],
];

/** CPU ns per hit over `ms` of closed-loop hits. */
async function run(cache: Cache): Promise<number> {
  let hits = 0;
  let batches = 0;
  const cpu0 = process.cpuUsage();
  const end = performance.now() + ms;
  for (;;) {
    for (let i = 0; i < 16; i++) await cache.get('hot');
    hits += 16;
    if (performance.now() >= end) break;
    if (++batches % 16 === 0) await yieldToIo();
  }
  const cpu = process.cpuUsage(cpu0);
  return ((cpu.user + cpu.system) * 1000) / hits;
}

const server = await startStandalone();
const caches: Array<{ name: string; cache: Cache; samples: number[] }> = [];
try {
  for (const [name, serializer, value] of KINDS) {
    const cache = createCache({
      router: routers.standalone({ url: server.url }),
      serializer: serializer(),
      keyPrefix: `nearhit${caches.length}`,
      nearCache: true,
    });
    caches.push({ name, cache, samples: [] });
    await cache.set('hot', value, { ttl: null });
    // Until it is held (the first read's connection must have confirmed tracking).
    for (let i = 0; i < 100 && (cache.stats().nearCache?.hits ?? 0) === 0; i++) await cache.get('hot');
    if ((cache.stats().nearCache?.hits ?? 0) === 0) throw new Error(`${name}: never served from memory`);
  }
  for (let r = 0; r < runs; r++) {
    for (const c of r % 2 === 0 ? caches : [...caches].reverse()) c.samples.push(await run(c.cache));
  }
  console.log('| value held (100 B) | CPU ns per hit, median | best |');
  console.log('|---|---|---|');
  for (const c of caches) {
    const sorted = [...c.samples].sort((a, b) => a - b);
    const median = sorted[sorted.length >> 1] as number;
    console.log(`| ${c.name} | ${Math.round(median)} | ${Math.round(sorted[0] as number)} |`);
  }
} finally {
  await Promise.allSettled(caches.map((c) => c.cache.close()));
  await server.stop();
}
