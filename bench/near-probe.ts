/**
 * Near cache probe (issue 9's report numbers), run by hand on a local redis-server:
 *
 *   npx tsx bench/near-probe.ts [--router standalone|pooled] [--seconds 2] [--writes 1000]
 *
 * 1. Hot-key `get` of one 100 B and one 10 KB value, concurrency 1 and 64, with the near
 *    cache and without it, same process, same server, interleaved: ops/s and the ratio.
 * 2. Invalidation delay: a raw ioredis client SETs a new value; we measure from its reply to
 *    the first `cache.get` that returns the new value (the cache polls without sleeping,
 *    yielding to I/O between reads): p50 / p99 / max.
 * 3. Peer (standalone only): node-redis `createClient({ RESP: 3, clientSideCache })` on the
 *    same server, same hot-key loop and same invalidation-delay loop (raw string values).
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { type Cache, createCache } from '../src/core/cache.js';
import { routers } from '../src/routers/index.js';
import type { Router } from '../src/routers/types.js';
import { startStandalone, startTopology } from '../src/topology/index.js';

const { values: args } = parseArgs({
  options: {
    router: { type: 'string', default: 'standalone' },
    seconds: { type: 'string', default: '2' },
    writes: { type: 'string', default: '1000' },
  },
});
const seconds = Number(args.seconds);
const writes = Number(args.writes);

const yieldToIo = () => new Promise<void>((r) => setImmediate(r));

async function opsPerSecond(cache: Cache, key: string, concurrency: number): Promise<number> {
  let ops = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      let n = 0;
      while (performance.now() < end) {
        await cache.get(key);
        ops++;
        // Hits resolve without I/O; yield now and then so timers and sockets keep running.
        if (++n % 256 === 0) await yieldToIo();
      }
    }),
  );
  return ops / seconds;
}

async function measureDelays(
  raw: Redis,
  redisKey: string,
  read: () => Promise<unknown>,
  same: (value: unknown, n: number) => boolean,
): Promise<number[]> {
  const delays: number[] = [];
  await raw.set(redisKey, '0');
  for (let i = 1; i <= writes; i++) {
    while (!same(await read(), i - 1)) await yieldToIo();
    // Warm: the entry is held (the second read comes from memory).
    await read();
    await raw.set(redisKey, String(i));
    const t0 = performance.now();
    while (!same(await read(), i)) await yieldToIo();
    delays.push(performance.now() - t0);
  }
  return delays.sort((a, b) => a - b);
}

function describeDelays(delays: number[]): string {
  const ms = (v: number) => `${v.toFixed(3)} ms`;
  return `p50 ${ms(percentile(delays, 50))}, p99 ${ms(percentile(delays, 99))}, max ${ms(delays[delays.length - 1] ?? Number.NaN)}`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  let url: string | undefined;
  let stop: () => Promise<void>;
  let makeRouter: () => Router;
  let rawClient: () => Redis;
  if (args.router === 'pooled') {
    const topo = await startTopology({ provider: 'process', replicas: 1, sentinels: 3 });
    stop = () => topo.stop();
    makeRouter = () => routers.pooled(topo.routerOptions());
    const master = await topo.currentMaster();
    rawClient = () => new Redis({ host: master.host, port: master.port });
  } else {
    const server = await startStandalone();
    url = server.url;
    stop = () => server.stop();
    makeRouter = () => routers.standalone({ url: url as string });
    rawClient = () => new Redis(url as string);
  }
  const near = createCache({ router: makeRouter(), keyPrefix: 'probe', nearCache: true });
  const plain = createCache({ router: makeRouter(), keyPrefix: 'probe' });
  const raw = rawClient();
  try {
    // Strings are immutable: decoded once and shared. Objects are decoded on every hit.
    const values: Record<string, unknown> = {
      '100 B string': 'x'.repeat(100),
      '10 KB string': 'y'.repeat(10_000),
      '~100 B object': { id: 42, name: 'n'.repeat(60), tags: ['a', 'b'], active: true },
    };
    console.log(`router: ${args.router}, ${seconds} s per cell, node ${process.version}`);
    console.log('| value | concurrency | without near cache (ops/s) | with near cache (ops/s) | ratio |');
    console.log('|---|---|---|---|---|');
    for (const [label, value] of Object.entries(values)) {
      const key = `hot:${label}`;
      await plain.set(key, value, { ttl: null });
      for (let i = 0; i < 5; i++) await near.get(key);
      for (const concurrency of [1, 64]) {
        const without = await opsPerSecond(plain, key, concurrency);
        const withNear = await opsPerSecond(near, key, concurrency);
        console.log(
          `| ${label} | ${concurrency} | ${Math.round(without).toLocaleString('en')} | ${Math.round(withNear).toLocaleString('en')} | ${(withNear / without).toFixed(1)}x |`,
        );
      }
    }
    console.log('near cache stats:', JSON.stringify(near.stats().nearCache));

    // Invalidation delay: raw SET reply → first get returning the new value.
    const delays = await measureDelays(
      raw,
      'probe:1:inv',
      () => near.get('inv'),
      (v, n) => v === n,
    );
    console.log(`invalidation delay over ${writes} raw writes: ${describeDelays(delays)}`);

    if (url !== undefined) {
      const peer = createClient({ url, RESP: 3, clientSideCache: { ttl: 60_000, maxEntries: 10_000 } });
      await peer.connect();
      try {
        await raw.set('peer:hot', 'x'.repeat(100));
        for (const concurrency of [1, 64]) {
          let ops = 0;
          const end = performance.now() + seconds * 1000;
          await Promise.all(
            Array.from({ length: concurrency }, async () => {
              let n = 0;
              while (performance.now() < end) {
                await peer.get('peer:hot');
                ops++;
                if (++n % 256 === 0) await yieldToIo();
              }
            }),
          );
          console.log(
            `node-redis RESP3 clientSideCache, 100 B hot get, concurrency ${concurrency}: ${Math.round(ops / seconds).toLocaleString('en')} ops/s`,
          );
        }
        const peerDelays = await measureDelays(
          raw,
          'peer:inv',
          () => peer.get('peer:inv'),
          (v, n) => v === String(n),
        );
        console.log(`node-redis invalidation delay over ${writes} raw writes: ${describeDelays(peerDelays)}`);
      } finally {
        peer.destroy();
      }
    }
  } finally {
    raw.disconnect();
    await near.close();
    await plain.close();
    await stop();
  }
}

await main();
