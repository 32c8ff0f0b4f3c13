/**
 * One campaign of one configuration: start the topology, fork the worker processes, run the
 * nemesis' schedule while they load the caches, stop, heal, read every key once the topology is
 * quiet, then judge the whole history with the checker. Used by `npm run chaos` (chaos/run.ts)
 * and by test/integration/chaos-campaign.test.ts.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startCluster, startStandalone, startTopology } from '../src/topology/index.js';
import type { ProcessTopology } from '../src/topology/process-topology.js';
import { type CheckReport, cacheErrorNames, checkHistory, singleWriterProblems } from './checker.js';
import { allKeys, type ChaosConfig, faultSchedule, type PlannedFault } from './generator.js';
import { type FaultEvent, type FaultKind, type HistoryEvent, monotonicMs } from './history.js';
import { type ChaosTopology, Nemesis } from './nemesis.js';
import { LOCK_TTL_MS, type ParentMessage, type WorkerMessage, type WorkerSpec } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
/** The routers' command timeout in the campaign: as the integration tests use. */
export const COMMAND_TIMEOUT_MS = 500;
/** A worker that sent nothing this long while loaded has a blocked event loop. */
const STALL_MS = 10_000;

export interface CampaignOptions {
  config: ChaosConfig;
  seed: number;
  durationMs: number;
  processes?: number;
  cachesPerProcess?: number;
  /** Callers retry at once after a failure (no event-loop turn). Default false. */
  spin?: boolean;
  /** Only these fault kinds (default: every kind the router's topology has). */
  faultKinds?: FaultKind[];
  /** Gaps between faults (ms). Default 2000-6000. */
  gapMs?: { min: number; max: number };
  /** Progress lines. */
  log?: (line: string) => void;
  /** Keep the whole history in the result (for results.json / a failing test). Default false. */
  keepHistory?: boolean;
  /** Where a stalled worker's diagnostic report goes. Default: the OS temp dir. */
  reportDir?: string;
}

export interface CampaignResult {
  config: string;
  seed: number;
  durationMs: number;
  processes: number;
  cachesPerProcess: number;
  /** The fault kinds the nemesis drew from, when restricted (`--faults`). */
  faultKinds?: FaultKind[];
  /** Callers retried at once after failures (`--spin`). */
  spin?: boolean;
  /** The nemesis' planned schedule (what the seed fixes). */
  schedule: PlannedFault[];
  /** What it did, with the real times (ms from the start of the load). */
  faults: (Omit<FaultEvent, 'start' | 'end' | 'type'> & { startMs: number; endMs: number })[];
  report: CheckReport;
  /** The harness could not run the campaign (not a verdict on the cache). */
  harnessError?: string;
  history?: HistoryEvent[];
  elapsedMs: number;
}

async function startChaosTopology(config: ChaosConfig): Promise<ChaosTopology> {
  switch (config.router) {
    case 'standalone':
      return { kind: 'standalone', server: await startStandalone() };
    case 'cluster':
      return { kind: 'cluster', topo: await startCluster({ shards: 3, replicasPerShard: 1 }) };
    default:
      return {
        kind: 'sentinel',
        topo: (await startTopology({ provider: 'process', replicas: 2, sentinels: 3 })) as ProcessTopology,
      };
  }
}

function connectionOf(t: ChaosTopology): Record<string, unknown> {
  if (t.kind === 'standalone') return { url: t.server.url };
  if (t.kind === 'cluster') return { ...t.topo.routerOptions() };
  return { ...t.topo.routerOptions() };
}

async function stopTopology(t: ChaosTopology): Promise<void> {
  if (t.kind === 'standalone') await t.server.stop();
  else await t.topo.stop();
}

/** A process' scheduler state from /proc (R running, S sleeping, T stopped, Z zombie), for diagnosis. */
function processState(pid: number | undefined): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[0] ?? '?';
  } catch {
    return 'gone';
  }
}

/** A forked worker, with its messages turned into promises. */
class Worker {
  readonly child: ChildProcess;
  private waiters: { type: WorkerMessage['type']; resolve: (m: WorkerMessage) => void }[] = [];
  exitError: string | undefined;
  /** When the worker last sent anything (it sends its events every 200 ms while it runs). */
  lastHeardAt = monotonicMs();
  /** Set when the worker went silent: its event loop was blocked (a diagnostic report was asked for). */
  stalled = false;
  exited = false;

  constructor(onEvents: (events: HistoryEvent[]) => void, reportDir: string) {
    this.child = fork(WORKER, [], {
      // SIGUSR2 writes a diagnostic report with the JavaScript stack, even while JS is spinning.
      execArgv: [
        '--import',
        'tsx',
        '--report-on-signal',
        '--report-signal=SIGUSR2',
        `--report-directory=${reportDir}`,
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: WorkerMessage) => {
      this.lastHeardAt = monotonicMs();
      if (m.type === 'events') onEvents(m.events);
      else if (m.type === 'error') this.exitError = m.message;
      for (const w of this.waiters.filter((w) => w.type === m.type || m.type === 'error')) w.resolve(m);
      this.waiters = this.waiters.filter((w) => w.type !== m.type && m.type !== 'error');
    });
    this.child.on('exit', (code, sig) => {
      this.exitError ??= `worker exited (${code ?? sig})`;
      this.exited = true;
      for (const w of this.waiters) w.resolve({ type: 'error', message: this.exitError });
      this.waiters = [];
    });
  }

  send(m: ParentMessage): void {
    this.child.send(m);
  }

  /** The next message of `type` (or an error), within `timeoutMs`. */
  async next(type: WorkerMessage['type'], timeoutMs: number): Promise<WorkerMessage> {
    if (this.exited) throw new Error(this.exitError);
    const message = new Promise<WorkerMessage>((resolve) => this.waiters.push({ type, resolve }));
    const timeout = sleep(timeoutMs).then(
      (): WorkerMessage => ({ type: 'error', message: `no ${type} from worker within ${timeoutMs} ms` }),
    );
    const m = await Promise.race([message, timeout]);
    if (m.type === 'error') throw new Error(m.message);
    return m;
  }

  /** Asks a silent worker for a diagnostic report (where its JavaScript is stuck). */
  diagnose(): void {
    this.stalled = true;
    this.child.kill('SIGUSR2');
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Runs one configuration's campaign; never throws (a harness failure is `harnessError`). */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const { config, seed, durationMs } = options;
  const processes = options.processes ?? 2;
  const caches = options.cachesPerProcess ?? 2;
  const log = options.log ?? (() => {});
  const reportDir = options.reportDir ?? tmpdir();
  const schedule = faultSchedule(seed, config.router, durationMs, options.gapMs, options.faultKinds);
  const history: HistoryEvent[] = [];
  const faults: FaultEvent[] = [];
  const workers: Worker[] = [];
  const started = Date.now();
  let harnessError: string | undefined;
  let topology: ChaosTopology | undefined;
  let origin = monotonicMs();
  let completed = 0;
  try {
    topology = await startChaosTopology(config);
    const nemesis = new Nemesis(topology, (line) => log(`  ${line}`));
    const keyPrefix = `chaos${seed}`;
    for (let p = 0; p < processes; p++) {
      const w = new Worker((events) => {
        for (const e of events) {
          history.push(e);
          if (e.type === 'complete') completed++;
        }
      }, reportDir);
      workers.push(w);
      const spec: WorkerSpec = {
        process: p,
        processes,
        caches,
        seed,
        config,
        connection: connectionOf(topology),
        keyPrefix,
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
        ...(options.spin ? { spin: true } : {}),
      };
      w.send({ type: 'start', spec });
    }
    await Promise.all(workers.map((w) => w.next('ready', 60_000)));
    origin = monotonicMs();
    const progress = setInterval(() => {
      const s = ((monotonicMs() - origin) / 1000).toFixed(0);
      for (const [i, w] of workers.entries()) {
        if (!w.stalled && monotonicMs() - w.lastHeardAt > STALL_MS) {
          log(
            `  [${config.name}] worker ${i} (pid ${w.child.pid}, state ${processState(w.child.pid)}) silent for ${STALL_MS / 1000} s: diagnostic report in ${reportDir}`,
          );
          w.diagnose();
        }
      }
      log(
        `  [${config.name}] ${s}/${(durationMs / 1000).toFixed(0)} s, ${completed} ops, ${faults.length} faults`,
      );
    }, 5_000);
    try {
      try {
        for (const planned of schedule) {
          const wait = origin + planned.atMs - monotonicMs();
          if (wait > 0) await sleep(wait);
          if (monotonicMs() - origin > durationMs) break;
          faults.push(await nemesis.run(planned));
        }
        const rest = origin + durationMs - monotonicMs();
        if (rest > 0) await sleep(rest);
      } finally {
        for (const w of workers) w.send({ type: 'stop' });
        await Promise.all(workers.map((w) => w.next('stopped', 60_000)));
        await nemesis.healAll();
      }
      // Quiescent: no faults, no load. Let replication settle, then read every key from the master.
      await sleep(1000);
      workers.forEach((w, i) => {
        w.send({ type: 'final', keys: i === 0 ? allKeys(processes, caches) : [] });
      });
      await Promise.all(workers.map((w) => w.next('final-done', 120_000)));
    } finally {
      clearInterval(progress);
    }
  } catch (error) {
    harnessError = error instanceof Error ? error.message : String(error);
  } finally {
    for (const w of workers) w.kill();
    if (topology) await stopTopology(topology).catch(() => {});
  }
  history.push(...faults);
  const problems = singleWriterProblems(history);
  if (problems.length > 0) harnessError ??= `generator broke its single-writer promise: ${problems[0]}`;
  const report = checkHistory(history, {
    readFrom: config.readFrom,
    near: config.near,
    // The cluster router has no readYourWrites: its replica reads are bounded staleness only.
    readYourWritesMs: config.router === 'cluster' ? 0 : 1000,
    errorNames: cacheErrorNames(),
    lockTtlMs: LOCK_TTL_MS,
  });
  return {
    config: config.name,
    seed,
    durationMs,
    processes,
    cachesPerProcess: caches,
    ...(options.faultKinds ? { faultKinds: options.faultKinds } : {}),
    ...(options.spin ? { spin: true } : {}),
    schedule,
    faults: faults.map(({ type: _type, start, end, ...f }) => ({
      ...f,
      startMs: Math.round(start - origin),
      endMs: Math.round(end - origin),
    })),
    report,
    ...(harnessError ? { harnessError } : {}),
    ...(options.keepHistory ? { history } : {}),
    elapsedMs: Date.now() - started,
  };
}
