// Same-run A/B of whole builds on one Sentinel topology (2 replicas, 3 sentinels): routers.pooled
// of each build (a dist/ directory; its node_modules decide the ioredis it runs on) and plain
// ioredis clients, each cell in a child process of its own, in rounds with the order rotated and
// reversed every other round. Prints per variant the median ops/s, the median client CPU per
// operation (process.cpuUsage: steadier than ops/s on a loaded machine) and the median of its
// per-round CPU ratio to the first variant.
//   node bench/builds-ab.mjs <rounds> <readRatio> <inFlight> <valueBytes> <seconds> <variant...>
// A variant is a dist/ directory (a build of another commit: `npx tsc -p tsconfig.build.json`
// in its checkout, with node_modules installed or linked; routers.pooled, or `discovery=<dir>`
// for routers.discovery), or `ioredis5` (the ioredis5 alias,
// 5.11), `ioredis6` (ioredis 6, its defaults: RESP3) or `ioredis6r2` (ioredis 6 on RESP2).
// Example (docs/design.md, "ioredis 6"):
//   node bench/builds-ab.mjs 9 0.9 256 100 4 /tmp/before/dist dist ioredis5 ioredis6r2
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--child') await child(process.argv.slice(3));
else await parent(process.argv.slice(2));

async function parent([rounds, readRatio, inFlight, size, secs, ...variants]) {
  if (variants.length === 0) throw new Error('usage: see the header of bench/builds-ab.mjs');
  const { startTopology } = await import('../dist/src/topology/index.js');
  const topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3 });
  const o = topo.routerOptions();
  const sentinels = JSON.stringify(o.sentinels.map((s) => ({ host: s.host, port: s.port })));
  const results = new Map(variants.map((v) => [v, []]));
  try {
    for (let r = 0; r < Number(rounds); r++) {
      const k = r % variants.length;
      const rotated = [...variants.slice(k), ...variants.slice(0, k)];
      for (const v of r % 2 === 0 ? rotated : rotated.reverse()) {
        const args = [self, '--child', v, sentinels, o.service, readRatio, inFlight, size, secs];
        const out = execFileSync(process.execPath, args, { encoding: 'utf8' });
        const cell = JSON.parse(out.trim().split('\n').pop());
        results.get(v).push(cell);
        process.stderr.write(`round ${r} ${v}: ${cell.opsPerSec} ops/s ${cell.cpuUsPerOp} us/op\n`);
      }
    }
  } finally {
    await topo.stop();
  }
  const median = (a) => {
    const s = [...a].sort((x, y) => x - y);
    const m = s.length >> 1;
    return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const base = results.get(variants[0]);
  console.log(`${readRatio} reads, ${inFlight} in flight, ${size} B, ${secs} s x ${rounds} rounds`);
  for (const [v, cells] of results) {
    const cpu = cells.map((c) => c.cpuUsPerOp);
    const ratio = cells.map((c, i) => c.cpuUsPerOp / base[i].cpuUsPerOp);
    console.log(
      `${v}: median ops/s ${Math.round(median(cells.map((c) => c.opsPerSec)))}, ` +
        `median CPU us/op ${median(cpu).toFixed(2)}, paired CPU ratio ${median(ratio).toFixed(3)} [${cpu.join(' ')}]`,
    );
  }
}

async function child([variant, sentinelsJson, service, readRatio, inFlight, size, secs]) {
  const sentinels = JSON.parse(sentinelsJson);
  const value = 'sentinel-cache bench value 0123456789 '
    .repeat(Math.ceil(Number(size) / 38))
    .slice(0, Number(size));
  let get, set, close;
  if (variant.startsWith('ioredis')) {
    const require = createRequire(import.meta.url);
    const { Redis } = require(variant === 'ioredis5' ? 'ioredis5' : 'ioredis');
    const r = new Redis({ sentinels, name: service, ...(variant === 'ioredis6r2' ? { protocol: 2 } : {}) });
    r.on('error', () => {});
    get = (k) => r.get(`b:1:${k}`);
    set = (k) => r.set(`b:1:${k}`, value);
    close = () => r.disconnect();
  } else {
    const [router, dist] = variant.includes('=') ? variant.split('=') : ['pooled', variant];
    const m = await import(pathToFileURL(resolve(dist, 'src/index.js')).href);
    const cache = m.createCache({
      router: m.routers[router]({ sentinels, service, readFrom: 'master' }),
      serializer: m.serializers.string(),
      compressor: m.compressors.none(),
      keyPrefix: 'b',
      version: 1,
      defaultTtl: null,
    });
    cache.on('error', () => {});
    get = (k) => cache.get(k);
    set = (k) => cache.set(k, value);
    close = () => cache.close();
  }
  for (let i = 0; i < 1000; i++) await set(`k${i}`);
  let ops = 0;
  let running = true;
  let counting = false;
  const worker = async () => {
    while (running) {
      const k = `k${(Math.random() * 1000) | 0}`;
      await (Math.random() < Number(readRatio) ? get(k) : set(k));
      if (counting) ops++;
    }
  };
  const workers = Array.from({ length: Number(inFlight) }, worker);
  await new Promise((r) => setTimeout(r, 700));
  counting = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, Number(secs) * 1000));
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  counting = false;
  running = false;
  await Promise.all(workers);
  await close();
  const cpuUsPerOp = Number(((cpu.user + cpu.system) / ops).toFixed(2));
  console.log(JSON.stringify({ variant, opsPerSec: Math.round(ops / ((t1 - t0) / 1000)), cpuUsPerOp }));
  process.exit(0);
}
