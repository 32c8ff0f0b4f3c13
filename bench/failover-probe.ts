/**
 * Failover probe for the two Sentinel routers (issue 4's report numbers), run by hand:
 *
 *   npx tsx bench/failover-probe.ts [--scenario pause|kill|failover] [--router pooled|discovery|all]
 *                                   [--writers 20] [--steady-ms 2000] [--rounds 3]
 *
 * 1. Steady state: ops/s of SET through plain ioredis (`new Redis({ sentinels, name })`),
 *    pooled and discovery on the same topology, interleaved rounds, median reported.
 * 2. Failover, per router: N writers write unique keys; the master is paused (SIGSTOP),
 *    killed (SIGKILL) or failed over (SENTINEL FAILOVER). We record, against an
 *    independent +switch-master subscription: time from +switch-master to the first
 *    successful write, errors by class during the outage, the slowest operation, and,
 *    after the old master is back and the topology healthy, every acknowledged key that
 *    is missing from the current master (acknowledged writes lost).
 */
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { routers } from '../src/routers/index.js';
import type { Router } from '../src/routers/types.js';
import { startTopology } from '../src/topology/index.js';
import type { NodeAddress, Topology } from '../src/topology/types.js';

// commander, like the CLI and the bench runner.
const args = new Command('failover-probe')
  .option('--scenario <name>', 'pause, kill, ...', 'pause')
  .option('--router <kind>', 'pooled, discovery or all', 'all')
  .option('--writers <n>', 'concurrent writers', '20')
  .option('--steady-ms <ms>', 'steady-state phase length', '2000')
  .option('--rounds <n>', 'rounds per router', '3')
  .option('--skip-steady', 'skip the steady-state phase', false)
  .parse(process.argv)
  .opts<{
    scenario: string;
    router: string;
    writers: string;
    steadyMs: string;
    rounds: string;
    skipSteady: boolean;
  }>();
const WRITERS = Number(args.writers);
const STEADY_MS = Number(args.steadyMs);
const ROUNDS = Number(args.rounds);
const COMMAND_TIMEOUT_MS = 500;

type Kind = 'pooled' | 'discovery';
const kinds: Kind[] = args.router === 'all' ? ['pooled', 'discovery'] : [args.router as Kind];

async function opsPerSecond(set: (key: string) => Promise<unknown>, ms: number): Promise<number> {
  let n = 0;
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      while (Date.now() < end) {
        await set(`steady:${w}`);
        n++;
      }
    }),
  );
  return Math.round((n * 1000) / ms);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function steady(topo: Topology): Promise<void> {
  const opts = topo.routerOptions();
  const io = new Redis({ sentinels: opts.sentinels, name: opts.service });
  const ours = { pooled: routers.pooled(opts), discovery: routers.discovery(opts) };
  const results: Record<string, number[]> = { ioredis: [], pooled: [], discovery: [] };
  await io.set('warm', '1');
  for (const r of Object.values(ours)) await r.execute('write', (c) => c.set('warm', '1'));
  for (let round = 0; round < ROUNDS; round++) {
    results.ioredis?.push(await opsPerSecond((k) => io.set(k, 'x'), STEADY_MS));
    results.pooled?.push(
      await opsPerSecond((k) => ours.pooled.execute('write', (c) => c.set(k, 'x')), STEADY_MS),
    );
    results.discovery?.push(
      await opsPerSecond((k) => ours.discovery.execute('write', (c) => c.set(k, 'x')), STEADY_MS),
    );
  }
  io.disconnect();
  await Promise.all(Object.values(ours).map((r) => r.close()));
  const io_ = median(results.ioredis ?? []);
  const p = median(results.pooled ?? []);
  const d = median(results.discovery ?? []);
  console.log(
    `steady SET, ${WRITERS} writers, ${ROUNDS} interleaved rounds of ${STEADY_MS} ms (median ops/s):`,
  );
  console.log(`  ioredis Sentinel client ${io_}   rounds ${JSON.stringify(results.ioredis)}`);
  console.log(
    `  pooled                  ${p} (${(p / io_).toFixed(2)}x ioredis)   rounds ${JSON.stringify(results.pooled)}`,
  );
  console.log(
    `  discovery               ${d} (${(d / p).toFixed(2)}x pooled)   rounds ${JSON.stringify(results.discovery)}`,
  );
}

/** Our own +switch-master subscription on every sentinel: the reference clock. */
function watchSwitch(topo: Topology): { at: () => number | undefined; close: () => void } {
  let at: number | undefined;
  const subs = topo.sentinels.map((s) => {
    const sub = new Redis({ host: s.host, port: s.port, retryStrategy: () => 200 });
    sub.on('error', () => {});
    sub.subscribe('+switch-master').catch(() => {});
    sub.on('message', () => {
      at ??= performance.now();
    });
    return sub;
  });
  return {
    at: () => at,
    close: () => {
      for (const s of subs) s.disconnect();
    },
  };
}

interface Ack {
  key: string;
  at: number;
}

async function failover(topo: Topology, kind: Kind, scenario: string): Promise<void> {
  const router: Router = routers[kind]({ ...topo.routerOptions(), commandTimeoutMs: COMMAND_TIMEOUT_MS });
  await (router as unknown as { ready(): Promise<void> }).ready();
  const clock = watchSwitch(topo);
  await new Promise((r) => setTimeout(r, 300));
  const acks: Ack[] = [];
  const errors: { at: number; name: string }[] = [];
  let slowest = 0;
  let stop = false;
  const run = `${kind}:${scenario}:${Date.now()}`;
  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (let seq = 0; !stop; seq++) {
      const key = `probe:${run}:${w}:${seq}`;
      const t0 = performance.now();
      try {
        await router.execute('write', (c) => c.set(key, String(seq)));
        acks.push({ key, at: performance.now() });
      } catch (err) {
        errors.push({ at: performance.now(), name: (err as Error).name });
        await new Promise((r) => setTimeout(r, 5));
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }
  });
  await new Promise((r) => setTimeout(r, 1000));
  const before = await topo.currentMaster();
  const tFault = performance.now();
  if (scenario === 'pause') await topo.pauseMaster();
  else if (scenario === 'kill') await topo.killMaster();
  else await topo.failover();
  const next = await topo.waitForNewMaster(30_000, before);
  await new Promise((r) => setTimeout(r, 2000));
  let tResume: number | undefined;
  if (scenario === 'pause') {
    tResume = performance.now();
    await topo.resumeMaster();
  } else if (scenario === 'kill') {
    await topo.restartNode(before);
  }
  await new Promise((r) => setTimeout(r, 3000));
  stop = true;
  await Promise.all(writers);
  const tSwitch = clock.at();
  clock.close();
  await topo.waitForHealthy(30_000);
  const master = await topo.currentMaster();
  const missing = await missingKeys(topo, master, acks);
  const firstAfterSwitch = tSwitch === undefined ? undefined : acks.find((a) => a.at >= tSwitch);
  const outage = errors.filter((e) => e.at >= tFault);
  const byName: Record<string, number> = {};
  for (const e of outage) byName[e.name] = (byName[e.name] ?? 0) + 1;
  const lostAfterSwitch = missing.filter((a) => tSwitch !== undefined && a.at >= tSwitch).length;
  const lostAfterResume = missing.filter((a) => tResume !== undefined && a.at >= tResume).length;
  console.log(`${kind} / ${scenario}: master ${fmt(before)} -> ${fmt(next)}`);
  console.log(
    `  fault -> +switch-master ${tSwitch === undefined ? '?' : Math.round(tSwitch - tFault)} ms; +switch-master -> first acknowledged write ${firstAfterSwitch && tSwitch !== undefined ? (firstAfterSwitch.at - tSwitch).toFixed(1) : '?'} ms`,
  );
  console.log(
    `  errors after the fault: ${outage.length} ${JSON.stringify(byName)}; slowest operation ${Math.round(slowest)} ms`,
  );
  console.log(
    `  acknowledged writes ${acks.length}; lost ${missing.length} (acknowledged after +switch-master: ${lostAfterSwitch}, after SIGCONT: ${lostAfterResume})`,
  );
  console.log(`  router stats: ${JSON.stringify(router.stats())}`);
  await router.close();
}

async function missingKeys(topo: Topology, master: NodeAddress, acks: Ack[]): Promise<Ack[]> {
  const opts = topo.routerOptions();
  const client = new Redis({
    host: master.host,
    port: master.port,
    password: opts.password,
    username: opts.username,
  });
  const missing: Ack[] = [];
  try {
    for (let i = 0; i < acks.length; i += 1000) {
      const chunk = acks.slice(i, i + 1000);
      const values = await client.mget(chunk.map((a) => a.key));
      values.forEach((v, j) => {
        const ack = chunk[j];
        if (v === null && ack) missing.push(ack);
      });
    }
  } finally {
    client.disconnect();
  }
  return missing;
}

function fmt(a: NodeAddress): string {
  return `${a.host}:${a.port}`;
}

const topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
try {
  if (!args.skipSteady) await steady(topo);
  for (const kind of kinds) {
    await topo.waitForHealthy(30_000);
    await failover(topo, kind, String(args.scenario));
  }
} finally {
  await topo.stop();
}
