/**
 * Stampede bench: N processes hammer one key that expires every `ttl` ms; each expiry is a
 * chance for a stampede on the "database" behind the cache (the factory). Reports, per client:
 * factory calls (fewer is better; the floor is about duration / (ttl + factory)), operations,
 * and caller latency (p50 / p99 / max, all processes together).
 *
 *   npm run bench:stampede -- [--processes 8] [--callers 50] [--seconds 10]
 *        [--ttl 1000] [--factory 100] [--deps /path/with/node_modules]
 *
 * Clients: ours with `lock: 'local'` and `'distributed'`, each with and without grace; and, when
 * their packages resolve (devDependencies of this project, or from `--deps <dir>`, e.g. after
 * `npm install --prefix <dir> bentocache cache-manager keyv @keyv/redis`), bentocache's
 * getOrSet (Redis L2 only, with and without grace) and cache-manager 7's `wrap` over @keyv/redis.
 * One redis-server on 127.0.0.1 is started for the run and stopped after it.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';
import { createCache } from '../src/create-cache.js';
import { routers } from '../src/routers/index.js';
import { startStandalone } from '../src/topology/index.js';

const CLIENTS = [
  'ours-local',
  'ours-local-grace',
  'ours-distributed',
  'ours-distributed-grace',
  'bentocache',
  'bentocache-grace',
  'cache-manager-wrap',
] as const;
type ClientName = (typeof CLIENTS)[number];

interface Job {
  client: ClientName;
  url: string;
  prefix: string;
  callers: number;
  seconds: number;
  ttl: number;
  factoryMs: number;
  deps: string | undefined;
}

/** Imports a package from this project, else from the `--deps` directory. */
async function load(name: string, deps: string | undefined): Promise<Record<string, unknown>> {
  try {
    return (await import(name)) as Record<string, unknown>;
  } catch (error) {
    if (deps === undefined) throw error;
    const resolved = createRequire(join(deps, 'package.json')).resolve(name);
    return (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
  }
}

/** The parts of the peers' APIs this bench uses (they are optional, so typed here). */
interface BentoModule {
  BentoCache: new (
    options: object,
  ) => { getOrSet(options: object): Promise<unknown>; disconnectAll(): Promise<void> };
  bentostore: () => { useL2Layer(driver: unknown): unknown };
}
interface CacheManagerModule {
  createCache: (options: object) => {
    wrap(key: string, fn: () => Promise<unknown>, ttl: number): Promise<unknown>;
    disconnect(): Promise<unknown>;
  };
}

type GetOrSet = (key: string, factory: () => Promise<unknown>) => Promise<unknown>;

/** The client under test as one `getOrSet(key, factory)` function, and how to close it. */
async function makeClient(job: Job): Promise<{ getOrSet: GetOrSet; close: () => Promise<void> }> {
  const grace = job.client.endsWith('-grace') ? 60_000 : 0;
  if (job.client.startsWith('ours-')) {
    // A roomy command timeout: the bench shares a loaded machine; a timeout is not what it measures.
    const cache = createCache({
      router: routers.standalone({ url: job.url, commandTimeoutMs: 5_000 }),
      keyPrefix: job.prefix,
    });
    const lock = job.client.startsWith('ours-local') ? 'local' : 'distributed';
    return {
      getOrSet: (key, factory) => cache.getOrSet(key, factory, { ttl: job.ttl, grace, lock }),
      close: () => cache.close(),
    };
  }
  const { port, hostname } = new URL(job.url);
  if (job.client.startsWith('bentocache')) {
    const { BentoCache, bentostore } = (await load('bentocache', job.deps)) as unknown as BentoModule;
    const { redisDriver } = (await load('bentocache/drivers/redis', job.deps)) as unknown as {
      redisDriver: (options: object) => unknown;
    };
    const bento = new BentoCache({
      default: 'redis',
      prefix: job.prefix,
      stores: {
        redis: bentostore().useL2Layer(redisDriver({ connection: { host: hostname, port: Number(port) } })),
      },
    });
    return {
      getOrSet: (key, factory) =>
        bento.getOrSet({ key, factory, ttl: job.ttl, ...(grace > 0 ? { grace } : {}) }),
      close: () => bento.disconnectAll(),
    };
  }
  const { createCache: createManager } = (await load(
    'cache-manager',
    job.deps,
  )) as unknown as CacheManagerModule;
  const { Keyv } = (await load('keyv', job.deps)) as unknown as { Keyv: new (options: object) => unknown };
  const { default: KeyvRedis } = (await load('@keyv/redis', job.deps)) as unknown as {
    default: new (url: string) => unknown;
  };
  const store = new KeyvRedis(job.url);
  const manager = createManager({ stores: [new Keyv({ store, namespace: job.prefix })] });
  return {
    getOrSet: (key, factory) => manager.wrap(key, factory, job.ttl),
    close: async () => {
      await manager.disconnect();
    },
  };
}

/** A worker process: wait for the go signal, hammer the key for `seconds`, print the outcome. */
async function worker(job: Job): Promise<void> {
  const raw = new Redis(job.url);
  const client = await makeClient(job);
  await client.getOrSet('warm-up', async () => 1); // connections up before the start
  process.stdout.write('ready\n');
  await raw.blpop(`${job.prefix}:go`, 120);
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    autoResize: true,
  });
  const factory = async () => {
    await raw.incr(`${job.prefix}:factory-calls`);
    await sleep(job.factoryMs);
    return { at: Date.now(), payload: 'x'.repeat(100) };
  };
  const end = Date.now() + job.seconds * 1000;
  let errors = 0;
  await Promise.all(
    Array.from({ length: job.callers }, async () => {
      while (Date.now() < end) {
        const t0 = performance.now();
        try {
          await client.getOrSet('hot', factory);
          histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        } catch {
          errors++;
        }
        // Callers arrive from I/O in a real service: let timers and sockets run between calls
        // (a stale value is served without I/O, and a loop of those would starve the event loop).
        await new Promise((resolve) => setImmediate(resolve));
      }
    }),
  );
  process.stdout.write(
    `${JSON.stringify({ histogram: hdr.encodeIntoCompressedBase64(histogram), errors })}\n`,
  );
  await client.close();
  raw.disconnect();
}

interface Row {
  client: ClientName;
  factoryCalls: number;
  ops: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

async function runClient(
  job: Omit<Job, 'client' | 'prefix'>,
  client: ClientName,
  processes: number,
): Promise<Row> {
  const prefix = `stampede-${client}-${Date.now()}`;
  const full: Job = { ...job, client, prefix };
  const raw = new Redis(job.url);
  const children = Array.from({ length: processes }, () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', import.meta.filename, '--worker', JSON.stringify(full)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const out = { child, stdout: '' };
    child.stdout.on('data', (d) => {
      out.stdout += d;
    });
    return out;
  });
  try {
    const deadline = Date.now() + 120_000;
    while (!children.every((c) => c.stdout.includes('ready'))) {
      if (children.some((c) => c.child.exitCode !== null))
        throw new Error(`${client}: a worker exited before starting`);
      if (Date.now() > deadline) throw new Error(`${client}: workers did not start`);
      await sleep(50);
    }
    await raw.rpush(`${prefix}:go`, ...children.map(() => '1'));
    await Promise.all(children.map((c) => new Promise((done) => c.child.on('exit', done))));
    const total = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      autoResize: true,
    });
    let errors = 0;
    for (const c of children) {
      const result = JSON.parse(c.stdout.trim().split('\n').at(-1) as string) as {
        histogram: string;
        errors: number;
      };
      total.add(hdr.decodeFromCompressedBase64(result.histogram));
      errors += result.errors;
    }
    return {
      client,
      factoryCalls: Number(await raw.get(`${prefix}:factory-calls`)),
      ops: total.totalCount,
      errors,
      p50Ms: total.getValueAtPercentile(50) / 1000,
      p99Ms: total.getValueAtPercentile(99) / 1000,
      maxMs: total.maxValue / 1000,
    };
  } finally {
    for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    raw.disconnect();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      worker: { type: 'string' },
      processes: { type: 'string', default: '8' },
      callers: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '10' },
      ttl: { type: 'string', default: '1000' },
      factory: { type: 'string', default: '100' },
      deps: { type: 'string' },
      only: { type: 'string' },
    },
  });
  if (values.worker !== undefined) return worker(JSON.parse(values.worker) as Job);

  const processes = Number(values.processes);
  const job = {
    url: '',
    callers: Number(values.callers),
    seconds: Number(values.seconds),
    ttl: Number(values.ttl),
    factoryMs: Number(values.factory),
    deps: values.deps,
  };
  const clients = (values.only?.split(',') ?? [...CLIENTS]) as ClientName[];
  const server = await startStandalone();
  const rows: Row[] = [];
  try {
    job.url = server.url;
    const floor = Math.ceil((job.seconds * 1000) / (job.ttl + job.factoryMs));
    console.log(
      `stampede: ${processes} processes × ${job.callers} callers, ${job.seconds} s, ttl ${job.ttl} ms, factory ${job.factoryMs} ms (floor ≈ ${floor} factory calls)`,
    );
    for (const client of clients) {
      try {
        const row = await runClient(job, client, processes);
        rows.push(row);
        console.log(
          `${client.padEnd(24)} factory calls ${String(row.factoryCalls).padStart(5)}  ops ${String(row.ops).padStart(8)}  errors ${row.errors}  p50 ${row.p50Ms.toFixed(2)} ms  p99 ${row.p99Ms.toFixed(2)} ms  max ${row.maxMs.toFixed(1)} ms`,
        );
      } catch (error) {
        console.log(
          `${client.padEnd(24)} skipped: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
        );
      }
    }
  } finally {
    await server.stop();
  }
}

await main();
