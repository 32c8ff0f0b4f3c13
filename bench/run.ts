/**
 * `sentinel-cache bench`: starts a topology, runs the steady-state, failover and soak
 * scenarios for every client, and writes bench/results/<timestamp>/{results.json,report.md,
 * bench.log,*.svg}. On screen: progress with the time left (stderr), then a short summary and
 * the report's path (stdout). See bench/lib/options.ts for the flags (`--help`).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '../src/topology/types.js';
import { type BatchRow, batchSteps, runBatches } from './lib/batches.js';
import { failoverChart, soakChart } from './lib/chart.js';
import {
  BASELINE_CLIENT,
  type ClientAdapter,
  closeClients,
  createClients,
  type SkippedClient,
  selectClients,
} from './lib/clients.js';
import {
  type ClusterBenchResult,
  clusterBenchOptions,
  clusterSteps,
  runClusterScenario,
} from './lib/cluster.js';
import { errorLabel } from './lib/errors.js';
import { type FailoverResult, runFailover } from './lib/failover.js';
import { benchmarkTarget, LIMIT_VARIANTS, preloadBenchmarkKeys, runBenchmarkFor } from './lib/limit.js';
import { machineInfo, projectRoot, redisVersion } from './lib/machine.js';
import { type NearResult, nearSteps, runNear } from './lib/near.js';
import { type BenchOptions, parseBenchArgs, USAGE } from './lib/options.js';
import { plannedMs, planRun } from './lib/plan.js';
import { formatDuration, Progress, type TextOut } from './lib/progress.js';
import { addRatios, type BenchResults, METHOD_NOTES, writeReport } from './lib/report.js';
import { runSoak, type SoakResult } from './lib/soak.js';
import {
  CellMeasurement,
  limitRow,
  measureSteady,
  mixLabel,
  preload,
  type SteadyRow,
  steadyCells,
  steadyKeys,
  valueOfSize,
} from './lib/steady.js';
import { benchSummary } from './lib/summary.js';
import { startBenchTopology } from './lib/topology.js';

/** The clients the soak runs: ours that follow a failover. */
const SOAK_CLIENTS = ['pooled', 'discovery'];

/** Where the bench writes what a user reads: the summary (stdout) and the progress (stderr). */
export interface BenchIO {
  stdout: TextOut;
  stderr: TextOut;
}

export async function runBenchCli(
  argv: string[],
  io: BenchIO = { stdout: process.stdout, stderr: process.stderr },
): Promise<void> {
  const options = parseBenchArgs(argv);
  if (options.help) {
    io.stdout.write(`${USAGE}\n`);
    return;
  }
  const adapters = selectClients(options.only);
  const started = new Date();
  const outDir =
    options.outDir ?? join(projectRoot(), 'bench', 'results', started.toISOString().replace(/[:.]/g, '-'));
  mkdirSync(outDir, { recursive: true });
  const logFile = join(outDir, 'bench.log');
  // Topology steps, faults and failures: in the log file, not between the progress bars.
  const log = (line: string) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
  const soakAdapters = adapters.filter((a) => SOAK_CLIENTS.includes(a.name));
  const plan = planRun(options, adapters.length, soakAdapters.length);
  if (!options.quiet) {
    io.stderr.write(
      `sentinel-cache bench: ${plan.map((p) => p.name).join(', ')}; about ${formatDuration(plannedMs(plan))}${options.quick ? '' : ' (--quick: a 1-minute smoke run)'}. Output: ${outDir}\n`,
    );
  }
  const progress = Progress.for(options.quiet, io.stderr, plan);
  const machine = machineInfo();
  const steady: SteadyRow[] = [];
  const batches: BatchRow[] = [];
  const failover: FailoverResult[] = [];
  const soak: SoakResult[] = [];
  const skipped: SkippedClient[] = [];
  let cluster: ClusterBenchResult | undefined;
  let near: NearResult | undefined;

  try {
    const wantsSteady = options.scenarios.includes('steady');
    const wantsSoak = options.scenarios.includes('soak') && soakAdapters.length > 0;
    const wantsNear = options.scenarios.includes('near');
    // 'steady' ends with the explicit-pipelines table; 'batches' alone runs only that table.
    const wantsBatches = !wantsSteady && options.scenarios.includes('batches');
    if (wantsSteady || wantsBatches || wantsSoak || wantsNear) {
      log('starting topology (2 replicas, 3 sentinels)');
      // No fault is injected here: a production-like down-after keeps sentinels calm under load.
      const topology = await startBenchTopology({ downAfterMs: 5000, log });
      try {
        machine.redis = await redisVersion(await topology.currentMaster(), topology.routerOptions());
        if (wantsSteady) {
          const measured = await runSteadyScenario(adapters, topology, options, progress, skipped);
          steady.push(...measured.rows);
          batches.push(...measured.batches);
        }
        if (wantsBatches)
          batches.push(...(await runBatchScenario(adapters, topology, options, progress, skipped)));
        if (wantsSoak)
          soak.push(...(await runSoakScenario(soakAdapters, topology, options, progress, skipped)));
        if (wantsNear) {
          progress.phase('near cache', nearSteps(options.near), 'steps');
          let step = 0;
          near = await runNear(topology, options.near, (line) => progress.update(step++, line));
        }
      } finally {
        await topology.stop();
      }
    }
    if (options.scenarios.includes('failover')) {
      for (const fault of options.failover.faults) {
        progress.phase(`failover ${fault}`, Math.round(options.failover.minDurationMs / 1000), 's');
        try {
          const { result, skipped: notRun } = await runFailover(fault, adapters, options.failover, {
            log,
            progress: (elapsed, estimated, phase) =>
              progress.update(
                Math.round(elapsed / 1000),
                phase,
                Math.round(Math.max(elapsed, estimated) / 1000),
              ),
          });
          skipped.push(...notRun);
          if (result) {
            failover.push(result);
            if (machine.redis === undefined)
              machine.redis = await redisVersion(result.initialMaster).catch(() => undefined);
          }
        } catch (error) {
          // A provider that cannot inject this fault (an external deployment) skips it, the run goes on.
          const reason = `${errorLabel(error)}: ${error instanceof Error ? error.message : String(error)}`;
          log(`failover ${fault} failed: ${reason}`);
          for (const a of adapters) skipped.push({ client: a.name, scenario: `failover-${fault}`, reason });
        }
      }
    }
    if (options.scenarios.includes('cluster')) {
      const clusterOptions = clusterBenchOptions(options.quick);
      progress.phase('cluster', clusterSteps(clusterOptions), 'steps');
      let step = 0;
      cluster = await runClusterScenario(clusterOptions, (line) => progress.update(step++, line));
    }
    progress.finish();
  } finally {
    progress.stop();
  }

  const svgs: Record<string, string> = {};
  for (const f of failover) svgs[`failover-${f.fault}.svg`] = await failoverChart(f);
  if (soak.length > 0) svgs['soak.svg'] = await soakChart(soak);

  addRatios(steady);
  const finished = new Date();
  const results: BenchResults = {
    schema: 1,
    meta: {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      argv: argv[0] === 'bench' ? argv.slice(1) : argv,
      machine,
      options,
      baseline: BASELINE_CLIENT,
      clients: adapters.map((a) => ({ name: a.name, family: a.family, description: a.description })),
      limits: steady.some((r) => r.kind === 'limit')
        ? LIMIT_VARIANTS.map((v) => ({ name: v.name, family: 'limit' as const, description: v.description }))
        : [],
      method: METHOD_NOTES,
    },
    steady,
    ...(batches.length > 0 ? { batches } : {}),
    failover,
    soak,
    ...(cluster ? { cluster } : {}),
    ...(near !== undefined ? { near } : {}),
    skipped,
    charts: Object.keys(svgs),
  };
  await writeReport(outDir, results, svgs);
  if (!options.quiet) {
    io.stdout.write(benchSummary(results, { report: join(outDir, 'report.md'), log: logFile }));
  }
}

async function runSteadyScenario(
  adapters: ClientAdapter[],
  topology: Topology,
  options: BenchOptions,
  progress: Progress,
  skipped: SkippedClient[],
): Promise<{ rows: SteadyRow[]; batches: BatchRow[] }> {
  const { created, skipped: notRun } = await createClients(adapters, topology, 'steady');
  skipped.push(...notRun);
  const rows: SteadyRow[] = [];
  const reasonOf = (error: unknown) =>
    error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  // The limit rows: redis-benchmark on the current master (limit.ts). Not installed (or a TLS
  // topology): skipped with the reason. A run that fails skips that cell's rows, with the reason.
  let limitAvailable = true;
  try {
    await benchmarkTarget(topology);
  } catch (error) {
    limitAvailable = false;
    for (const v of LIMIT_VARIANTS)
      skipped.push({ client: v.name, scenario: 'steady', reason: reasonOf(error) });
  }
  try {
    const cells = steadyCells(options.steady);
    const { rounds, cellMs, warmupMs, keySpace } = options.steady;
    const limitRuns = limitAvailable ? LIMIT_VARIANTS.length : 0;
    progress.phase(
      'steady',
      cells.length * (created.length * rounds + limitRuns) +
        batchSteps(created, options.batch, limitAvailable),
      'runs',
    );
    let done = 0;
    let preloadedSize: number | undefined;
    let limitPreloaded: string | undefined;
    for (const [i, cell] of cells.entries()) {
      const value = valueOfSize(cell.valueSize);
      if (preloadedSize !== cell.valueSize) {
        for (const c of created) {
          progress.update(done, `preloading ${cell.valueSize} B values · ${c.adapter.name}`);
          await preload(c.client, steadyKeys(c.adapter.name, cell.valueSize, keySpace), value);
        }
        preloadedSize = cell.valueSize;
      }
      const measurements = new Map(created.map((c) => [c.adapter.name, new CellMeasurement()]));
      for (let round = 0; round < rounds; round++) {
        // Rotate the order per cell and round so no client always runs first (cold) or last.
        const shift = (i * rounds + round) % created.length;
        const order = [...created.slice(shift), ...created.slice(0, shift)];
        for (const c of order) {
          progress.update(
            done,
            `${mixLabel(cell.readRatio)} c=${cell.concurrency} ${cell.valueSize} B · round ${round + 1}/${rounds} · ${c.adapter.name}`,
          );
          const keys = steadyKeys(c.adapter.name, cell.valueSize, keySpace);
          const into = measurements.get(c.adapter.name) as CellMeasurement;
          await measureSteady(c, cell, keys, value, into, { warmupMs, measureMs: cellMs / rounds });
          done++;
        }
      }
      for (const c of created) {
        rows.push((measurements.get(c.adapter.name) as CellMeasurement).toRow(c.adapter.name, cell));
      }
      if (limitAvailable) {
        const cellName = `steady ${mixLabel(cell.readRatio)} c=${cell.concurrency} ${cell.valueSize} B`;
        let variantsDone = 0;
        try {
          // Asked per cell: redis-benchmark follows the master should a failover have happened.
          const target = await benchmarkTarget(topology);
          const preloadKey = `${target.host}:${target.port} ${cell.valueSize}`;
          if (limitPreloaded !== preloadKey) {
            progress.update(done, `preloading ${cell.valueSize} B values · redis-benchmark`);
            await preloadBenchmarkKeys(target, cell.valueSize, keySpace);
            limitPreloaded = preloadKey;
          }
          for (const variant of LIMIT_VARIANTS) {
            progress.update(done, `${cellName.slice(7)} · ${variant.name}`);
            // GET and SET separately (redis-benchmark has no mix), half the cell's time each.
            const spec = {
              concurrency: cell.concurrency,
              pipeline: variant.pipeline,
              valueSize: cell.valueSize,
              keySpace,
            };
            const get = await runBenchmarkFor(target, { ...spec, command: 'GET' }, cellMs / 2);
            const set = await runBenchmarkFor(target, { ...spec, command: 'SET' }, cellMs / 2);
            const ms = Math.round((get.requests / get.opsPerSec + set.requests / set.opsPerSec) * 1000);
            rows.push(limitRow(variant, cell, get, set, ms));
            variantsDone++;
            done++;
          }
        } catch (error) {
          for (const v of LIMIT_VARIANTS.slice(variantsDone)) {
            skipped.push({ client: v.name, scenario: cellName, reason: reasonOf(error) });
            done++;
          }
        }
      }
    }
    let batches: BatchRow[] = [];
    try {
      const target = limitAvailable ? await benchmarkTarget(topology) : undefined;
      batches = await runBatches(
        created,
        target,
        options.batch,
        (label) => progress.update(done++, label),
        (client, reason) => skipped.push({ client, scenario: 'explicit pipelines', reason }),
      );
    } catch (error) {
      skipped.push({ client: 'explicit pipelines', scenario: 'steady', reason: reasonOf(error) });
    }
    progress.update(done, 'done');
    return { rows, batches };
  } finally {
    await closeClients(created);
  }
}

/** `--scenario batches` without steady: the explicit-pipelines table alone, on the same clients. */
async function runBatchScenario(
  adapters: ClientAdapter[],
  topology: Topology,
  options: BenchOptions,
  progress: Progress,
  skipped: SkippedClient[],
): Promise<BatchRow[]> {
  const { created, skipped: notRun } = await createClients(adapters, topology, 'batches');
  skipped.push(...notRun);
  const reasonOf = (error: unknown) =>
    error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  try {
    let target: Awaited<ReturnType<typeof benchmarkTarget>> | undefined;
    try {
      target = await benchmarkTarget(topology);
    } catch (error) {
      skipped.push({ client: 'redis-benchmark', scenario: 'explicit pipelines', reason: reasonOf(error) });
    }
    progress.phase('batches', batchSteps(created, options.batch, target !== undefined), 'runs');
    let done = 0;
    const rows = await runBatches(
      created,
      target,
      options.batch,
      (label) => progress.update(done++, label),
      (client, reason) => skipped.push({ client, scenario: 'explicit pipelines', reason }),
    );
    progress.update(done, 'done');
    return rows;
  } finally {
    await closeClients(created);
  }
}

async function runSoakScenario(
  adapters: ClientAdapter[],
  topology: Topology,
  options: BenchOptions,
  progress: Progress,
  skipped: SkippedClient[],
): Promise<SoakResult[]> {
  const results: SoakResult[] = [];
  const seconds = Math.round(options.soak.durationMs / 1000);
  progress.phase('soak', adapters.length * seconds, 's');
  for (const [i, adapter] of adapters.entries()) {
    // One client at a time, each with only its own sockets open, so its RSS curve is its own.
    const { created, skipped: notRun } = await createClients([adapter], topology, 'soak');
    skipped.push(...notRun);
    try {
      for (const c of created) {
        results.push(
          await runSoak(c, options.soak, (s) =>
            progress.update(
              i * seconds + Math.round(s.tMs / 1000),
              `${adapter.name} · RSS ${s.rssMb} MB · loop delay p99 ${s.eventLoopDelayP99Ms} ms · ${s.opsPerSec} ops/s`,
            ),
          ),
        );
      }
    } finally {
      await closeClients(created);
    }
  }
  return results;
}
