/**
 * Campaigns: start a topology, fork the worker processes, run the nemesis' schedule while they
 * load the caches, stop, heal, read every key once the topology is quiet, then judge the
 * history with the checker. Used by `npm run chaos` (chaos/run.ts) and by
 * test/integration/chaos-campaign.test.ts.
 *
 * Two shapes:
 * - `runCampaign`: one configuration, one seed, one long schedule on a topology of its own
 *   (`--minutes`).
 * - `runSchedules`: many short schedules (`--schedules n`), each judged alone, one after the
 *   other on one topology shared by every configuration of its kind (standalone, Sentinel,
 *   cluster) and on the same worker processes. A schedule has its own seed, derived from the
 *   run's seed, the configuration and its index (`scheduleSeed`), its own key prefix (so its
 *   history, quiescent read and verdict are its own), at least one fault, and a quiet tail
 *   after its last fault healed; it starts only once the topology is healed and healthy.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startCluster, startStandalone, startTopology } from '../src/topology/index.js';
import type { ProcessTopology } from '../src/topology/process-topology.js';
import {
  type CheckReport,
  cacheErrorNames,
  checkHistory,
  DEFAULT_FAULT_WINDOW_MS,
  type RuleId,
  singleWriterProblems,
  type Violation,
} from './checker.js';
import { allKeys, type ChaosConfig, faultSchedule, type PlannedFault, streamSeed } from './generator.js';
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
  /**
   * Successful reads of string keys that began outside every fault window (a fault from 5 s
   * before it was injected to 5 s after it was healed, as the checker draws them): the reads
   * judged strictly, a stale one being a violation rather than counted apart.
   */
  readsOutsideFaultWindows?: number;
  /** The harness could not run the campaign (not a verdict on the cache). */
  harnessError?: string;
  history?: HistoryEvent[];
  elapsedMs: number;
  /**
   * `runSchedules`: every schedule of this configuration, each judged alone (then `seed` is
   * the run's seed, `durationMs` each schedule's planned load, and `report` the sum of the
   * schedules' reports: counts added, maxima taken, violations tagged with their schedule).
   */
  schedules?: ScheduleSummary[];
  /** `runSchedules`: the load went on at least this long after the last fault healed. */
  tailMs?: number;
  /** `runSchedules`: `seed` was one schedule's own seed (`--schedule-seed`), not a run's. */
  scheduleSeed?: boolean;
}

/** One schedule of a `runSchedules` run, as results.json keeps it. */
export interface ScheduleSummary {
  index: number;
  /** Its own seed: `npm run chaos -- --schedule-seed <seed>` replays it alone. */
  seed: number;
  /** The Redis key prefix of its caches (its keys are its own). */
  keyPrefix: string;
  ops: number;
  failed: number;
  /** The faults it planned (what its seed fixes) and what the nemesis did, ms from its load's start. */
  planned: PlannedFault[];
  faults: CampaignResult['faults'];
  violations: number;
  /** Only the rules it broke. */
  violationsByRule: Partial<Record<RuleId, number>>;
  readsOutsideFaultWindows: number;
  /** How long its load ran (ms): the planned load, or longer when a heal ran late (quiet tail). */
  loadMs: number;
  /** Its wall time, from waiting for a healed topology to the verdict. */
  elapsedMs: number;
  harnessError?: string;
  /** Where its whole history was written (a violation or a harness error). */
  historyFile?: string;
}

/** A schedule's violation, with the schedule it is from (`runSchedules`). */
export type ScheduledViolation = Violation & { schedule?: number; seed?: number };

/** One schedule's own result (`runSchedules`' `onSchedule`), history included. */
export interface ScheduleResult extends CampaignResult {
  index: number;
  keyPrefix: string;
  loadMs: number;
  history: HistoryEvent[];
}

/** The topology a configuration runs on: configurations of one kind can share one. */
export type TopologyKind = ChaosTopology['kind'];

export function topologyKind(config: ChaosConfig): TopologyKind {
  if (config.router === 'standalone') return 'standalone';
  return config.router === 'cluster' ? 'cluster' : 'sentinel';
}

async function startChaosTopology(kind: TopologyKind): Promise<ChaosTopology> {
  switch (kind) {
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
    // Cancelled once answered: a pending timer would keep the run's process alive after its end.
    const answered = new AbortController();
    const timeout = sleep(timeoutMs, undefined, { signal: answered.signal }).then(
      (): WorkerMessage => ({ type: 'error', message: `no ${type} from worker within ${timeoutMs} ms` }),
      (): WorkerMessage => ({ type: 'error', message: 'cancelled' }),
    );
    const m = await Promise.race([message, timeout]);
    answered.abort();
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

/** `runSchedules`' quiet gaps before and between faults (ms). */
export const SCHEDULE_GAP_MS = { min: 1000, max: 3000 } as const;
/**
 * `runSchedules`' default quiet tail: the load goes on at least this long after the last fault
 * healed and the topology was healthy again, past the fault's 5 s window, so every schedule has
 * reads the checker judges strictly (and the recovery from the fault is under load).
 */
export const DEFAULT_TAIL_MS = 6000;

/** FNV-1a of a string (a configuration name into a seed). */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * The seed of schedule `index` of configuration `config` in a run seeded `runSeed`: a
 * non-negative 31-bit integer (so `--schedule-seed <it>` parses), different per configuration
 * so that configurations sharing a topology do not all draw the same faults.
 */
export function scheduleSeed(runSeed: number, config: string, index: number): number {
  return streamSeed(runSeed, 3, hash(config), index) & 0x7fffffff;
}

/**
 * A schedule's faults: the nemesis' plan for `loadMs` of load (SCHEDULE_GAP_MS gaps), and at
 * least one fault: when none fits in `loadMs`, the first one the seed plans, whatever its time.
 */
export function planScheduleFaults(
  seed: number,
  router: ChaosConfig['router'],
  loadMs: number,
  kinds?: readonly FaultKind[],
): PlannedFault[] {
  const plan = faultSchedule(seed, router, loadMs, SCHEDULE_GAP_MS, kinds);
  if (plan.length > 0) return plan;
  return faultSchedule(seed, router, Number.POSITIVE_INFINITY, SCHEDULE_GAP_MS, kinds).slice(0, 1);
}

/** Successful reads of string keys that began outside every fault's window (judged strictly). */
export function readsOutsideFaultWindows(history: readonly HistoryEvent[]): number {
  const faults = history.filter((e): e is FaultEvent => e.type === 'fault');
  const ok = new Set<string>();
  for (const e of history) if (e.type === 'complete' && e.outcome === 'ok') ok.add(e.id);
  let n = 0;
  for (const e of history) {
    if (e.type !== 'invoke' || (e.op !== 'get' && e.op !== 'getMany') || !ok.has(e.id)) continue;
    if (!e.keys.some((k) => k.startsWith('k:'))) continue;
    if (
      faults.some((f) => e.at >= f.start - DEFAULT_FAULT_WINDOW_MS && e.at <= f.end + DEFAULT_FAULT_WINDOW_MS)
    )
      continue;
    n++;
  }
  return n;
}

/**
 * Adds `source` into `target`, field by field: numbers add up, except `max...` fields which
 * take the larger; records merge the same way; arrays are concatenated. (A CheckReport of
 * several schedules, whatever fields the checker adds.)
 */
export function mergeReport<T extends object>(target: T, source: T): T {
  const t = target as Record<string, unknown>;
  for (const [key, value] of Object.entries(source)) {
    const current = t[key];
    if (typeof value === 'number') {
      const n = typeof current === 'number' ? current : 0;
      t[key] = /^max/.test(key) ? Math.max(n, value) : n + value;
    } else if (Array.isArray(value)) {
      t[key] = [...(Array.isArray(current) ? current : []), ...value];
    } else if (value !== null && typeof value === 'object') {
      t[key] = mergeReport(
        (current !== null && typeof current === 'object' ? current : {}) as object,
        value as object,
      );
    } else if (current === undefined) {
      t[key] = value;
    }
  }
  return target;
}

/** The checker's options for a configuration. */
function checkOptions(config: ChaosConfig) {
  return {
    readFrom: config.readFrom,
    near: config.near,
    // The cluster router has no readYourWrites: its replica reads are bounded staleness only.
    readYourWritesMs: config.router === 'cluster' ? 0 : 1000,
    errorNames: cacheErrorNames(),
    lockTtlMs: LOCK_TTL_MS,
  };
}

/**
 * A started topology with its nemesis and worker processes, shared by every schedule run on
 * it: the workers are forked once and get a new `start` (router, caches, seed, key prefix) per
 * schedule; after a harness error they are replaced.
 */
class Rig {
  private workers: Worker[] = [];
  /** Where the workers' events go: the history of the schedule running now. */
  sink: (events: HistoryEvent[]) => void = () => {};
  readonly nemesis: Nemesis;

  private constructor(
    readonly topology: ChaosTopology,
    log: (line: string) => void,
  ) {
    this.nemesis = new Nemesis(topology, log);
  }

  static async start(kind: TopologyKind, log: (line: string) => void): Promise<Rig> {
    return new Rig(await startChaosTopology(kind), log);
  }

  /** `processes` idle workers: the ones of the last schedule when all are alive and sound. */
  workersFor(processes: number, reportDir: string): Worker[] {
    const sound = this.workers.length === processes && this.workers.every((w) => !w.exited && !w.stalled);
    if (!sound) {
      this.discardWorkers();
      for (let p = 0; p < processes; p++) {
        this.workers.push(new Worker((events) => this.sink(events), reportDir));
      }
    }
    return this.workers;
  }

  discardWorkers(): void {
    for (const w of this.workers) w.kill();
    this.workers = [];
  }

  async stop(): Promise<void> {
    this.discardWorkers();
    await stopTopology(this.topology).catch(() => {});
  }
}

interface ScheduleJob {
  config: ChaosConfig;
  seed: number;
  keyPrefix: string;
  plan: PlannedFault[];
  /** Planned load (ms); faults that no longer fit are skipped, except the first. */
  loadMs: number;
  /** The load goes on at least this long after the last fault healed. */
  tailMs: number;
  processes: number;
  caches: number;
  spin?: boolean;
  log: (line: string) => void;
  reportDir: string;
  /** Progress lines every 5 s (the long single schedule of `runCampaign`). */
  progress: boolean;
}

interface ScheduleRun {
  history: HistoryEvent[];
  faults: FaultEvent[];
  origin: number;
  loadMs: number;
  harnessError?: string;
}

/**
 * One schedule on a rig: wait for a healed, healthy topology, start the workers' caches, run
 * the faults under load, stop, heal, the quiescent read. Never throws (a harness failure is
 * `harnessError`, and the rig's workers are replaced for the next schedule).
 */
async function runSchedule(rig: Rig, job: ScheduleJob): Promise<ScheduleRun> {
  const { config, processes, caches, log } = job;
  const history: HistoryEvent[] = [];
  const faults: FaultEvent[] = [];
  let completed = 0;
  let harnessError: string | undefined;
  let origin = monotonicMs();
  let loadEnd: number | undefined;
  rig.sink = (events) => {
    for (const e of events) {
      history.push(e);
      if (e.type === 'complete') completed++;
    }
  };
  try {
    // Whatever the last schedule did (a failover moved the master, a node was killed), this one
    // starts on a healed topology that its checks call healthy; routers find the master anew.
    await rig.nemesis.healAll();
    const workers = rig.workersFor(processes, job.reportDir);
    for (const [p, w] of workers.entries()) {
      const spec: WorkerSpec = {
        process: p,
        processes,
        caches,
        seed: job.seed,
        config,
        connection: connectionOf(rig.topology),
        keyPrefix: job.keyPrefix,
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
        ...(job.spin ? { spin: true } : {}),
      };
      w.send({ type: 'start', spec });
    }
    await Promise.all(workers.map((w) => w.next('ready', 60_000)));
    origin = monotonicMs();
    // Workers are silent once stopped (a long heal is not a stall).
    let loaded = true;
    const progress = setInterval(() => {
      const s = ((monotonicMs() - origin) / 1000).toFixed(0);
      for (const [i, w] of workers.entries()) {
        if (loaded && !w.stalled && monotonicMs() - w.lastHeardAt > STALL_MS) {
          log(
            `  [${config.name}] worker ${i} (pid ${w.child.pid}, state ${processState(w.child.pid)}) silent for ${STALL_MS / 1000} s: diagnostic report in ${job.reportDir}`,
          );
          w.diagnose();
        }
      }
      if (job.progress) {
        log(
          `  [${config.name}] ${s}/${(job.loadMs / 1000).toFixed(0)} s, ${completed} ops, ${faults.length} faults`,
        );
      }
    }, 5_000);
    try {
      try {
        let quietFrom = origin;
        for (const planned of job.plan) {
          const wait = origin + planned.atMs - monotonicMs();
          if (wait > 0) await sleep(wait);
          // A fault that no longer fits once the previous one healed is skipped.
          if (faults.length > 0 && monotonicMs() - origin > job.loadMs) break;
          faults.push(await rig.nemesis.run(planned));
          quietFrom = monotonicMs();
        }
        const rest = Math.max(origin + job.loadMs, quietFrom + job.tailMs) - monotonicMs();
        if (rest > 0) await sleep(rest);
      } finally {
        loadEnd = monotonicMs();
        loaded = false;
        for (const w of workers) w.send({ type: 'stop' });
        await Promise.all(workers.map((w) => w.next('stopped', 60_000)));
        await rig.nemesis.healAll();
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
    rig.discardWorkers();
  } finally {
    rig.sink = () => {};
  }
  history.push(...faults);
  return {
    history,
    faults,
    origin,
    loadMs: (loadEnd ?? origin) - origin,
    ...(harnessError ? { harnessError } : {}),
  };
}

/** Judges a schedule's history; a broken single-writer promise is a harness error. */
function judge(config: ChaosConfig, run: ScheduleRun): { report: CheckReport; harnessError?: string } {
  let harnessError = run.harnessError;
  const problems = singleWriterProblems(run.history);
  if (problems.length > 0) harnessError ??= `generator broke its single-writer promise: ${problems[0]}`;
  const report = checkHistory(run.history, checkOptions(config));
  return { report, ...(harnessError ? { harnessError } : {}) };
}

const faultRecords = (run: ScheduleRun): CampaignResult['faults'] =>
  run.faults.map(({ type: _type, start, end, ...f }) => ({
    ...f,
    startMs: Math.round(start - run.origin),
    endMs: Math.round(end - run.origin),
  }));

/** Runs one configuration's campaign; never throws (a harness failure is `harnessError`). */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const { config, seed, durationMs } = options;
  const processes = options.processes ?? 2;
  const caches = options.cachesPerProcess ?? 2;
  const log = options.log ?? (() => {});
  const schedule = faultSchedule(seed, config.router, durationMs, options.gapMs, options.faultKinds);
  const started = Date.now();
  let rig: Rig | undefined;
  let run: ScheduleRun = { history: [], faults: [], origin: monotonicMs(), loadMs: 0 };
  try {
    rig = await Rig.start(topologyKind(config), (line) => log(`  ${line}`));
    run = await runSchedule(rig, {
      config,
      seed,
      keyPrefix: `chaos${seed}`,
      plan: schedule,
      loadMs: durationMs,
      tailMs: 0,
      processes,
      caches,
      ...(options.spin ? { spin: true } : {}),
      log,
      reportDir: options.reportDir ?? tmpdir(),
      progress: true,
    });
  } catch (error) {
    run.harnessError = error instanceof Error ? error.message : String(error);
  } finally {
    await rig?.stop();
  }
  const { report, harnessError } = judge(config, run);
  return {
    config: config.name,
    seed,
    durationMs,
    processes,
    cachesPerProcess: caches,
    ...(options.faultKinds ? { faultKinds: options.faultKinds } : {}),
    ...(options.spin ? { spin: true } : {}),
    schedule,
    faults: faultRecords(run),
    report,
    readsOutsideFaultWindows: readsOutsideFaultWindows(run.history),
    ...(harnessError ? { harnessError } : {}),
    ...(options.keepHistory ? { history: run.history } : {}),
    elapsedMs: Date.now() - started,
  };
}

export interface SchedulesOptions {
  /** Configurations of one topology kind (`topologyKind`): they share one topology. */
  configs: ChaosConfig[];
  /** The run's seed; schedule i of configuration c gets `scheduleSeed(seed, c, i)`. */
  seed: number;
  /** Schedules per configuration. */
  schedules: number;
  /** Each schedule's planned load (ms). */
  loadMs: number;
  /** The load goes on at least this long after the last fault healed (default DEFAULT_TAIL_MS). */
  tailMs?: number;
  /** `seed` is the seed of one schedule (a replay: `--schedule-seed`), taken as it is. */
  scheduleSeedGiven?: boolean;
  processes?: number;
  cachesPerProcess?: number;
  spin?: boolean;
  faultKinds?: FaultKind[];
  log?: (line: string) => void;
  /** Diagnostic reports, and the history of every schedule with a violation or a harness error. */
  reportDir?: string;
  /** Write those histories to `reportDir` (`history-<config>-<index>.json`). Default false. */
  keepFailingHistories?: boolean;
  /** Each schedule's result, history included, as soon as it is judged. */
  onSchedule?: (result: ScheduleResult) => void;
}

/** How many violations a configuration's summed report keeps (every one is counted). */
const KEPT_VIOLATIONS = 100;

/**
 * Runs `schedules` schedules of each configuration, one after the other, on one topology (and
 * one set of worker processes) for all of them; returns one result per configuration, its
 * `schedules` listing each. Never throws: a schedule's harness failure is its `harnessError`
 * (and the topology is started afresh for the next one); a topology that does not start ends
 * the run with a `harnessError` on every configuration left.
 */
export async function runSchedules(options: SchedulesOptions): Promise<CampaignResult[]> {
  const { configs, loadMs } = options;
  const kinds = new Set(configs.map(topologyKind));
  if (kinds.size !== 1)
    throw new Error(`runSchedules: configurations of one topology kind, got ${[...kinds]}`);
  const kind = [...kinds][0]!;
  const processes = options.processes ?? 2;
  const caches = options.cachesPerProcess ?? 2;
  const tailMs = options.tailMs ?? DEFAULT_TAIL_MS;
  const log = options.log ?? (() => {});
  const reportDir = options.reportDir ?? tmpdir();
  const count = options.scheduleSeedGiven ? 1 : options.schedules;
  const nemesisLog = (line: string) => log(`  ${line}`);
  const results: CampaignResult[] = [];
  let rig: Rig | undefined;
  let fatal: string | undefined;
  try {
    for (const config of configs) {
      const started = Date.now();
      const result: CampaignResult = {
        config: config.name,
        seed: options.seed,
        durationMs: loadMs,
        processes,
        cachesPerProcess: caches,
        ...(options.faultKinds ? { faultKinds: options.faultKinds } : {}),
        ...(options.spin ? { spin: true } : {}),
        ...(options.scheduleSeedGiven ? { scheduleSeed: true } : {}),
        schedule: [],
        faults: [],
        report: checkHistory([], checkOptions(config)),
        readsOutsideFaultWindows: 0,
        elapsedMs: 0,
        schedules: [],
        tailMs,
      };
      results.push(result);
      for (let index = 0; index < count && !fatal; index++) {
        const scheduleStarted = Date.now();
        const seed = options.scheduleSeedGiven
          ? options.seed
          : scheduleSeed(options.seed, config.name, index);
        // No ':<integer>' segment: createCache refuses a prefix whose keys another prefix's versions reach.
        const keyPrefix = `chaos:${config.name}:s${index}:x${seed}`;
        const plan = planScheduleFaults(seed, config.router, loadMs, options.faultKinds);
        let run: ScheduleRun = { history: [], faults: [], origin: monotonicMs(), loadMs: 0 };
        try {
          // A second try: ports or processes of the last topology may still be going away.
          rig ??= await Rig.start(kind, nemesisLog).catch(() => Rig.start(kind, nemesisLog));
        } catch (error) {
          fatal = `topology did not start: ${error instanceof Error ? error.message : String(error)}`;
          break;
        }
        run = await runSchedule(rig, {
          config,
          seed,
          keyPrefix,
          plan,
          loadMs,
          tailMs,
          processes,
          caches,
          ...(options.spin ? { spin: true } : {}),
          log,
          reportDir,
          progress: false,
        });
        if (run.harnessError) {
          // Whatever broke (a worker, a heal), the next schedule gets a fresh topology.
          await rig.stop();
          rig = undefined;
        }
        const { report, harnessError } = judge(config, run);
        const outside = readsOutsideFaultWindows(run.history);
        const one: ScheduleResult = {
          config: config.name,
          index,
          seed,
          keyPrefix,
          durationMs: loadMs,
          loadMs: Math.round(run.loadMs),
          processes,
          cachesPerProcess: caches,
          ...(options.faultKinds ? { faultKinds: options.faultKinds } : {}),
          ...(options.spin ? { spin: true } : {}),
          schedule: plan,
          faults: faultRecords(run),
          report,
          readsOutsideFaultWindows: outside,
          ...(harnessError ? { harnessError } : {}),
          history: run.history,
          elapsedMs: Date.now() - scheduleStarted,
          tailMs,
          scheduleSeed: true,
        };
        let historyFile: string | undefined;
        if (options.keepFailingHistories && (report.violations.length > 0 || harnessError)) {
          historyFile = join(reportDir, `history-${config.name}-${index}.json`);
          writeFileSync(historyFile, JSON.stringify(run.history));
        }
        const tagged: ScheduledViolation[] = report.violations.map((v) => ({ ...v, schedule: index, seed }));
        mergeReport(result.report, { ...report, violations: [] });
        result.report.violations.push(
          ...tagged.slice(0, Math.max(0, KEPT_VIOLATIONS - result.report.violations.length)),
        );
        result.readsOutsideFaultWindows = (result.readsOutsideFaultWindows ?? 0) + outside;
        if (harnessError && !result.harnessError) result.harnessError = `schedule ${index}: ${harnessError}`;
        result.schedules!.push({
          index,
          seed,
          keyPrefix,
          ops: report.operations,
          failed: report.failedOperations,
          planned: plan,
          faults: one.faults,
          violations: report.violations.length,
          violationsByRule: Object.fromEntries(
            Object.entries(report.violationsByRule).filter(([, n]) => n > 0),
          ) as Partial<Record<RuleId, number>>,
          readsOutsideFaultWindows: outside,
          loadMs: one.loadMs,
          elapsedMs: one.elapsedMs,
          ...(harnessError ? { harnessError } : {}),
          ...(historyFile ? { historyFile } : {}),
        });
        options.onSchedule?.(one);
      }
      result.elapsedMs = Date.now() - started;
      if (fatal) result.harnessError ??= fatal;
    }
  } finally {
    await rig?.stop();
  }
  return results;
}
