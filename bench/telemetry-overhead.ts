/**
 * What `instrument(cache)` costs when no OpenTelemetry SDK is installed (the API's no-op
 * meters): sequential `get`s of one key against a local redis-server, an instrumented cache
 * against a plain one, in alternating rounds so machine load hits both alike. Also the cost
 * with the SDK recording (in-memory reader), for reference.
 *
 *   npm run bench:telemetry             # 12 rounds of 20k gets per cache, about a minute
 *   npm run bench:telemetry -- --quick  # to check it runs
 *
 * Prints ops/s per variant (median of rounds) and the overhead against the plain cache.
 */
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { Cache } from '../src/core/cache.js';
import { createCache } from '../src/create-cache.js';
import { routers } from '../src/routers/index.js';
import { instrument } from '../src/telemetry/index.js';
import { startStandalone } from '../src/topology/index.js';

const quick = process.argv.includes('--quick');
const rounds = quick ? 2 : 12;
const opsPerRound = quick ? 500 : 20_000;

async function opsPerSecond(cache: Cache): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < opsPerRound; i++) await cache.get('bench:key');
  return opsPerRound / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const server = await startStandalone();
const cache: Cache = createCache({ router: routers.standalone({ host: server.host, port: server.port }) });
const sdk = new MeterProvider();
try {
  await cache.set('bench:key', { user: 42, roles: ['a', 'b'] });
  // One cache; each variant attaches its instrumentation for its own rounds only, since the
  // channel's subscribers are process-wide: a plain cache beside an instrumented one would pay too.
  const variants: Array<[string, () => (() => void) | undefined, number[]]> = [
    ['plain cache (no subscriber)', () => undefined, []],
    ['instrument(), no SDK', () => instrument(cache).stop, []], // the API's no-op global provider
    ['instrument(), SDK recording', () => instrument(cache, { meterProvider: sdk }).stop, []],
  ];
  for (const [, attach] of variants) {
    const detach = attach();
    await opsPerSecond(cache); // warm-up
    detach?.();
  }
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no variant always runs first.
    for (let i = 0; i < variants.length; i++) {
      const [, attach, results] = variants[(round + i) % variants.length]!;
      const detach = attach();
      results.push(await opsPerSecond(cache));
      detach?.();
    }
  }
  const baseline = median(variants[0]![2]);
  console.log(`| variant | get ops/s (median of ${rounds} × ${opsPerRound}) | overhead |`);
  console.log('|---|---:|---:|');
  for (const [name, , results] of variants) {
    const ops = median(results);
    const overhead = ((baseline - ops) / baseline) * 100;
    console.log(`| ${name} | ${Math.round(ops).toLocaleString('en-US')} | ${overhead.toFixed(1)} % |`);
  }
} finally {
  await cache.close();
  await sdk.shutdown();
  await server.stop();
}
