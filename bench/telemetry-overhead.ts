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
import { type Cache, createCache } from '../src/core/cache.js';
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
const make = () => createCache({ router: routers.standalone({ host: server.host, port: server.port }) });
const plain = make();
const noSdk = make();
const withSdk = make();
const sdk = new MeterProvider();
try {
  instrument(noSdk); // the global provider: @opentelemetry/api's no-op without an SDK
  instrument(withSdk, { meterProvider: sdk });
  await plain.set('bench:key', { user: 42, roles: ['a', 'b'] });
  const variants: Array<[string, Cache, number[]]> = [
    ['plain cache', plain, []],
    ['instrument(), no SDK', noSdk, []],
    ['instrument(), SDK recording', withSdk, []],
  ];
  for (const [, cache] of variants) await opsPerSecond(cache); // warm-up
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no variant always runs first.
    for (let i = 0; i < variants.length; i++) {
      const [, cache, results] = variants[(round + i) % variants.length]!;
      results.push(await opsPerSecond(cache));
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
  await Promise.all([plain.close(), noSdk.close(), withSdk.close()]);
  await sdk.shutdown();
  await server.stop();
}
