/**
 * What `instrument(cache)` costs when no OpenTelemetry SDK is installed (the API's no-op
 * meters): sequential `get`s of one key against a local redis-server, an instrumented cache
 * against a plain one, in alternating rounds so machine load hits both alike. Also the cost
 * with the SDK recording (in-memory reader), for reference.
 *
 *   npm run bench:telemetry             # 12 rounds of 20k gets per cache, about a minute
 *   npm run bench:telemetry -- --quick  # to check it runs
 *   npm run bench:telemetry -- --baseline <another checkout, built>
 *
 * Prints ops/s and CPU µs per get for each variant (medians of rounds), each with its overhead
 * against the plain cache; CPU time is the steadier of the two on a loaded machine.
 * `--baseline` loads another checkout's `dist/` into the same process and interleaves its three
 * variants with this build's (its rows' overhead is against its own plain cache).
 */
import { resolve } from 'node:path';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { Cache } from '../src/core/cache.js';
import { createCache } from '../src/create-cache.js';
import { routers } from '../src/routers/index.js';
import { instrument } from '../src/telemetry/index.js';
import { startStandalone } from '../src/topology/index.js';

const quick = process.argv.includes('--quick');
const baselineAt = process.argv.indexOf('--baseline');
const baseline = baselineAt < 0 ? undefined : process.argv[baselineAt + 1];
const rounds = quick ? 2 : 12;
const opsPerRound = quick ? 500 : 20_000;

interface Sample {
  opsPerSecond: number;
  cpuMicros: number;
}

async function measure(cache: Cache): Promise<Sample> {
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < opsPerRound; i++) await cache.get('bench:key');
  const cpu = process.cpuUsage(cpu0);
  return {
    opsPerSecond: opsPerRound / ((performance.now() - started) / 1000),
    cpuMicros: (cpu.user + cpu.system) / opsPerRound,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

interface Build {
  label: string;
  createCache: typeof createCache;
  routers: typeof routers;
  instrument: typeof instrument;
}

const builds: Build[] = [{ label: '', createCache, routers, instrument }];
if (baseline !== undefined) {
  const dist = resolve(baseline, 'dist/src');
  builds.push({
    label: `baseline (${baseline}): `,
    createCache: (await import(`${dist}/create-cache.js`)).createCache,
    routers: (await import(`${dist}/routers/index.js`)).routers,
    instrument: (await import(`${dist}/telemetry/index.js`)).instrument,
  });
}
const server = await startStandalone();
const caches: Cache[] = [];
const sdk = new MeterProvider();
try {
  // One cache per build; each variant attaches its instrumentation for its own rounds only, since
  // the channel's subscribers are process-wide: a plain cache beside an instrumented one would pay too.
  const variants: Array<[string, Cache, () => (() => void) | undefined, Sample[]]> = [];
  for (const build of builds) {
    const cache = build.createCache({
      router: build.routers.standalone({ host: server.host, port: server.port }),
    });
    caches.push(cache);
    await cache.set('bench:key', { user: 42, roles: ['a', 'b'] });
    variants.push(
      [`${build.label}plain cache (no subscriber)`, cache, () => undefined, []],
      [`${build.label}instrument(), no SDK`, cache, () => build.instrument(cache).stop, []], // the API's no-op global provider
      [
        `${build.label}instrument(), SDK recording`,
        cache,
        () => build.instrument(cache, { meterProvider: sdk }).stop,
        [],
      ],
    );
  }
  for (const [, cache, attach] of variants) {
    const detach = attach();
    await measure(cache); // warm-up
    detach?.();
  }
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no variant always runs first.
    for (let i = 0; i < variants.length; i++) {
      const [, cache, attach, results] = variants[(round + i) % variants.length]!;
      const detach = attach();
      results.push(await measure(cache));
      detach?.();
    }
  }
  console.log(
    `| variant | get ops/s (median of ${rounds} × ${opsPerRound}) | overhead | CPU µs per get | overhead |`,
  );
  console.log('|---|---:|---:|---:|---:|');
  for (let i = 0; i < variants.length; i++) {
    const [name, , , samples] = variants[i]!;
    // Against the plain cache of the same build (the first of each three).
    const plain = variants[i - (i % 3)]![3];
    const plainOps = median(plain.map((s) => s.opsPerSecond));
    const plainCpu = median(plain.map((s) => s.cpuMicros));
    const ops = median(samples.map((s) => s.opsPerSecond));
    const cpu = median(samples.map((s) => s.cpuMicros));
    const opsOverhead = ((plainOps - ops) / plainOps) * 100;
    const cpuOverhead = ((cpu - plainCpu) / plainCpu) * 100;
    console.log(
      `| ${name} | ${Math.round(ops).toLocaleString('en-US')} | ${opsOverhead.toFixed(1)} % | ${cpu.toFixed(2)} | ${cpuOverhead.toFixed(1)} % |`,
    );
  }
} finally {
  await Promise.allSettled(caches.map((cache) => cache.close()));
  await sdk.shutdown();
  await server.stop();
}
