// Same-run A/B of the stall watchdog: this build's (`npm run build` first) against another
// build's (BASELINE_DIST: the dist/ directory of a checkout of the commit to compare with, built
// with `npx tsc -p tsconfig.build.json`) against ioredis' per-command timer, on one redis-server,
// in interleaved rounds: GET of a 100 B value at 1 and 16 in flight. Prints per variant the median
// ops/s, p99 and client CPU per operation (process.cpuUsage: steadier than ops/s on a loaded
// machine). ROUNDS (default 8) and CELL_MS (default 1000) set the size.
//   BASELINE_DIST=/path/to/old/dist node bench/watchdog-ab.mjs
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { watchForStalls as newWatch } from '../dist/src/routers/stall-watchdog.js';
import { startStandalone } from '../dist/src/topology/index.js';

if (process.env.BASELINE_DIST === undefined)
  throw new Error('BASELINE_DIST: the dist/ directory of the build to compare with');
const { watchForStalls: oldWatch } = await import(
  pathToFileURL(resolve(process.env.BASELINE_DIST, 'src/routers/stall-watchdog.js')).href
);

const ROUNDS = Number(process.env.ROUNDS ?? 8),
  CELL_MS = Number(process.env.CELL_MS ?? 1000);
const server = await startStandalone();
const mk = async (kind) => {
  const c = new Redis({
    host: server.host,
    port: server.port,
    protocol: 2,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    disableClientInfo: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...(kind === 'timer' ? { commandTimeout: 500 } : {}),
  });
  if (kind === 'old') oldWatch(c, 500);
  if (kind === 'new') newWatch(c, 500);
  await c.connect();
  return c;
};
const kinds = ['old', 'new', 'timer'];
const clients = Object.fromEntries(await Promise.all(kinds.map(async (k) => [k, await mk(k)])));
await clients.old.set('k', 'x'.repeat(100));
async function cell(c, conc) {
  const lat = [];
  let ops = 0;
  const end = performance.now() + CELL_MS;
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await c.get('k');
        lat.push(performance.now() - t);
        ops++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  return {
    ops: ops / (CELL_MS / 1000),
    p99: lat[Math.floor(lat.length * 0.99)],
    cpuUs: (cpu.user + cpu.system) / ops,
  };
}
const acc = {};
for (let r = 0; r < ROUNDS; r++) {
  const order = kinds.slice(r % 3).concat(kinds.slice(0, r % 3));
  for (const conc of [1, 16])
    for (const k of order) {
      const res = await cell(clients[k], conc);
      const key = `${k} c=${conc}`;
      acc[key] = [...(acc[key] ?? []), res];
    }
}
for (const conc of [1, 16]) {
  const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = med(acc[`timer c=${conc}`].map((x) => x.ops));
  for (const k of kinds) {
    const xs = acc[`${k} c=${conc}`];
    const cpuBase = med(acc[`timer c=${conc}`].map((x) => x.cpuUs));
    console.log(
      `c=${conc} ${k.padEnd(5)} median ops/s ${Math.round(med(xs.map((x) => x.ops)))} (${(med(xs.map((x) => x.ops)) / base).toFixed(3)}× timer)  median p99 ${med(xs.map((x) => x.p99)).toFixed(3)} ms  median client CPU ${med(xs.map((x) => x.cpuUs)).toFixed(2)} µs/op (${(med(xs.map((x) => x.cpuUs)) / cpuBase).toFixed(3)}× timer)`,
    );
  }
}
for (const c of Object.values(clients)) c.disconnect();
await server.stop();
