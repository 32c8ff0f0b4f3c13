// Same-run A/B of the steady cells where pooled trails ioredis (write-heavy mixes, 10 KB values):
// this build (`npm run build` first) against ioredis 6 as the bench's baseline runs it (RESP3
// defaults), ioredis 5.11, and optionally another build of pooled (BASELINE_DIST: the dist/
// directory of a checkout to compare with, placed inside this worktree so it resolves this
// worktree's node_modules). One process, one Sentinel topology (master, 2 replicas, 3 sentinels,
// as the bench), the bench's own workload (closed-loop workers, random keys of a preloaded key
// space, the bench's values), the variants in interleaved rounds with the order rotated.
// Prints per variant and cell the median over rounds of ops/s, p50 / p99 (ms) and client CPU
// per operation (process.cpuUsage: user + system µs / op; steadier than ops/s on a shared machine).
//
// Variants: pooled (this build), base (BASELINE_DIST's pooled), ioredis6, ioredis5, ioredis6-prefix
// (ioredis 6 storing the value behind our codec header as a string prefix, as pooled sends it).
// Commands that fail (a loaded machine can time one out) are counted in `errors`, not measured.
//
//   CELLS=50/16/100,90/16/10240 ROUNDS=8 CELL_MS=1500 [VARIANTS=pooled,ioredis6,ioredis5,base]
//     [BASELINE_DIST=.ab/base/dist] node bench/write-path.mjs
//
// Profiling one variant alone: VARIANTS=pooled ROUNDS=1 CELL_MS=10000 node --cpu-prof bench/write-path.mjs
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { Redis as Redis5 } from 'ioredis5';
import { compressors, createCache, routers, serializers } from '../dist/src/index.js';
import { startTopology } from '../dist/src/topology/index.js';

const env = process.env;
const ROUNDS = Number(env.ROUNDS ?? 8);
const CELL_MS = Number(env.CELL_MS ?? 1500);
const WARMUP_MS = Number(env.WARMUP_MS ?? 200);
const KEY_SPACE = Number(env.KEY_SPACE ?? 10_000);
const VARIANTS = (env.VARIANTS ?? 'pooled,ioredis6,ioredis5').split(',');
const CELLS = (env.CELLS ?? '50/16/100').split(',').map((c) => {
  const [read, conc, size] = c.split('/').map(Number);
  return { readRatio: read / 100, concurrency: conc, valueSize: size, label: c };
});

/** The bench's value (bench/lib/steady.ts valueOfSize). */
function valueOfSize(size) {
  const unit = 'sentinel-cache bench value 0123456789 ';
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}
const redisKey = (key) => `bench:1:${key}`;

function cacheOf(lib, options) {
  const cache = lib.createCache({
    router: lib.routers.pooled({ ...options, readFrom: 'master' }),
    serializer: lib.serializers.string(),
    compressor: lib.compressors.none(),
    keyPrefix: 'bench',
    version: 1,
    defaultTtl: null,
  });
  cache.on('error', () => {});
  return cache;
}

const topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3 });
const clients = {};
try {
  const o = topo.routerOptions();
  const sentinels = { sentinels: o.sentinels.map((s) => ({ host: s.host, port: s.port })), name: o.service };
  for (const v of VARIANTS) {
    if (v === 'pooled') {
      const cache = cacheOf({ createCache, routers, serializers, compressors }, o);
      clients[v] = { get: (k) => cache.get(k), set: (k, x) => cache.set(k, x), close: () => cache.close() };
    } else if (v === 'base') {
      if (env.BASELINE_DIST === undefined) throw new Error('variant base needs BASELINE_DIST');
      const lib = await import(pathToFileURL(resolve(env.BASELINE_DIST, 'src/index.js')).href);
      const cache = cacheOf(lib, o);
      clients[v] = { get: (k) => cache.get(k), set: (k, x) => cache.set(k, x), close: () => cache.close() };
    } else if (v === 'ioredis6' || v === 'ioredis5' || v === 'ioredis6-prefix') {
      const redis = v === 'ioredis5' ? new Redis5(sentinels) : new Redis(sentinels);
      redis.on('error', () => {});
      await redis.ping();
      // ioredis6-prefix: ioredis 6 storing our format's bytes the way pooled now sends them (the
      // codec header as a string prefix): what the value format costs ioredis itself.
      const prefix = v === 'ioredis6-prefix' ? '\x00\x10\x04\x00\x00' : undefined;
      clients[v] = {
        get: (k) => redis.get(redisKey(k)),
        set:
          prefix === undefined
            ? (k, x) => redis.set(redisKey(k), x)
            : (k, x) => redis.set(redisKey(k), prefix + x),
        close: async () => redis.disconnect(),
      };
    } else throw new Error(`unknown variant ${v}`);
  }

  const results = {};
  for (const [ci, cell] of CELLS.entries()) {
    const value = valueOfSize(cell.valueSize);
    for (const v of VARIANTS) {
      const keys = Array.from({ length: KEY_SPACE }, (_, i) => `${v}:s${cell.valueSize}:${i}`);
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          // A loaded machine can time a command out (500 ms): write that key again.
          while (next < keys.length) {
            const key = keys[next++];
            await clients[v].set(key, value).catch(() => clients[v].set(key, value));
          }
        }),
      );
    }
    for (let round = 0; round < ROUNDS; round++) {
      const shift = (ci * ROUNDS + round) % VARIANTS.length;
      const order = [...VARIANTS.slice(shift), ...VARIANTS.slice(0, shift)];
      for (const v of order) {
        const keys = Array.from({ length: KEY_SPACE }, (_, i) => `${v}:s${cell.valueSize}:${i}`);
        const r = await measure(clients[v], cell, keys, value);
        const id = `${cell.label} ${v}`;
        results[id] ??= [];
        results[id].push(r);
        if (env.PROGRESS) console.error(id, JSON.stringify(r));
      }
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `\n${ROUNDS} rounds × ${CELL_MS} ms per cell and variant; medians over rounds; ratio = ops/s ÷ ioredis6's, same round set`,
  );
  console.log('| cell (read%/conc/bytes) | variant | ops/s | ratio | p50 ms | p99 ms | CPU µs/op | errors |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const cell of CELLS) {
    const baseOps = results[`${cell.label} ioredis6`]
      ? med(results[`${cell.label} ioredis6`].map((r) => r.ops))
      : undefined;
    for (const v of VARIANTS) {
      const rs = results[`${cell.label} ${v}`];
      const ops = med(rs.map((r) => r.ops));
      console.log(
        `| ${cell.label} | ${v} | ${Math.round(ops).toLocaleString('en-US')} | ${baseOps ? (ops / baseOps).toFixed(2) : '-'} | ${med(rs.map((r) => r.p50)).toFixed(3)} | ${med(rs.map((r) => r.p99)).toFixed(3)} | ${med(rs.map((r) => r.cpu)).toFixed(2)} | ${rs.reduce((n, r) => n + r.errors, 0)} |`,
      );
    }
  }
  if (env.RAW) console.log(JSON.stringify(results));
} finally {
  await Promise.allSettled(Object.values(clients).map((c) => c.close()));
  await topo.stop();
}

async function measure(client, cell, keys, value) {
  const start = performance.now();
  const from = start + WARMUP_MS;
  const end = from + CELL_MS;
  const lat = [];
  let errors = 0;
  let cpu0;
  const keyCount = keys.length;
  const worker = async () => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      if (cpu0 === undefined && t0 >= from) cpu0 = process.cpuUsage();
      const key = keys[(Math.random() * keyCount) | 0];
      try {
        if (Math.random() < cell.readRatio) await client.get(key);
        else await client.set(key, value);
        if (t0 >= from) lat.push(performance.now() - t0);
      } catch {
        errors++;
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  };
  await Promise.all(Array.from({ length: cell.concurrency }, worker));
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  return {
    ops: lat.length / (CELL_MS / 1000),
    p50: lat[Math.floor(lat.length * 0.5)],
    p99: lat[Math.floor(lat.length * 0.99)],
    cpu: (cpu.user + cpu.system) / lat.length,
    errors,
  };
}
