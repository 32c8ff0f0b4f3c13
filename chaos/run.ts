/**
 * `npm run chaos -- --config <name[,name]|all> --minutes <n> --seed <n> [--processes <n>]
 * [--replay <results.json>]`: randomized fault campaigns judged against docs/guarantees.md.
 * `--schedules <n> [--schedule-seconds <s>]`: n short schedules per configuration instead, each
 * judged alone, on one topology per kind; `--schedule-seed <seed>` replays one of them.
 * Exit 0 when no violation, 1 when any, 2 on a harness error. See docs/chaos.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gitCommit, projectRoot } from '../bench/lib/machine.js';
import {
  type CampaignResult,
  DEFAULT_TAIL_MS,
  runCampaign,
  runSchedules,
  type ScheduleResult,
  topologyKind,
} from './campaign.js';
import { ALL_CONFIGS, type ChaosConfig, faultKinds, parseConfig } from './generator.js';
import type { FaultKind } from './history.js';
import {
  type ChaosRun,
  runTotals,
  scheduleLine,
  summaryLine,
  violationCount,
  violationLines,
  writeChaosReport,
} from './report.js';

const USAGE = `usage: npm run chaos -- --config <name[,name]|all> [--minutes <n>] [--seed <n>] [--processes <n>] [--faults <kind,...>] [--spin] [--out <dir>]
       npm run chaos -- --config <name[,name]|all> --schedules <n> [--schedule-seconds <s>] [--tail-seconds <s>] [--seed <n>] [...]
       npm run chaos -- --config <name> --schedule-seed <seed> [--schedule-seconds <s>] [...]   (one schedule of an earlier run)
       npm run chaos -- --replay <chaos/results/<timestamp>/results.json> [--config <name>]
config names: ${ALL_CONFIGS.map((c) => c.name).join(', ')}`;

/** One configuration's campaign (`--minutes`: one long schedule on a topology of its own). */
interface Job {
  config: ChaosConfig;
  seed: number;
  durationMs: number;
  processes: number;
  faultKinds?: FaultKind[];
  spin?: boolean;
}

/** Configurations of one topology kind, each run as short schedules on one shared topology. */
interface Group {
  configs: ChaosConfig[];
  seed: number;
  schedules: number;
  loadMs: number;
  tailMs: number;
  scheduleSeedGiven: boolean;
  processes: number;
  faultKinds?: FaultKind[];
  spin?: boolean;
}

type Plan = { out: string; jobs: Job[]; groups: Group[] };

/** Schedules of adjacent configurations of one topology kind, with the same parameters, share a topology. */
function grouped(list: (Omit<Group, 'configs'> & { config: ChaosConfig })[]): Group[] {
  const groups: Group[] = [];
  for (const { config, ...rest } of list) {
    const last = groups.at(-1);
    const same =
      last &&
      topologyKind(last.configs[0]!) === topologyKind(config) &&
      JSON.stringify({ ...last, configs: undefined }) === JSON.stringify({ ...rest, configs: undefined });
    if (same) last.configs.push(config);
    else groups.push({ configs: [config], ...rest });
  }
  return groups;
}

function plan(argv: string[]): Plan {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      minutes: { type: 'string' },
      seed: { type: 'string' },
      processes: { type: 'string', default: '2' },
      schedules: { type: 'string' },
      'schedule-seconds': { type: 'string' },
      'schedule-seed': { type: 'string' },
      'tail-seconds': { type: 'string' },
      replay: { type: 'string' },
      out: { type: 'string' },
      faults: { type: 'string' },
      spin: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const out = values.out ?? join('chaos', 'results', new Date().toISOString().replace(/[:.]/g, '-'));
  if (values.replay) {
    const run = JSON.parse(readFileSync(values.replay, 'utf8')) as ChaosRun;
    const only = values.config ? new Set(values.config.split(',')) : undefined;
    const results = run.results.filter((r) => !only || only.has(r.config));
    const common = (r: CampaignResult) => ({
      seed: r.seed,
      processes: r.processes,
      ...(r.faultKinds ? { faultKinds: r.faultKinds } : {}),
      ...(r.spin ? { spin: true } : {}),
    });
    return {
      out,
      jobs: results
        .filter((r) => !r.schedules)
        .map((r) => ({ config: parseConfig(r.config), durationMs: r.durationMs, ...common(r) })),
      groups: grouped(
        results
          .filter((r) => r.schedules)
          .map((r) => ({
            config: parseConfig(r.config),
            schedules: r.schedules!.length,
            loadMs: r.durationMs,
            tailMs: r.tailMs ?? DEFAULT_TAIL_MS,
            scheduleSeedGiven: r.scheduleSeed === true,
            ...common(r),
          })),
      ),
    };
  }
  if (!values.config) throw new Error(`--config is required\n${USAGE}`);
  const configs = values.config === 'all' ? ALL_CONFIGS : values.config.split(',').map(parseConfig);
  const processes = Number(values.processes);
  if (!Number.isInteger(processes) || processes < 2) throw new Error('--processes must be an integer >= 2');
  const given = values['schedule-seed'];
  if (given !== undefined && values.seed !== undefined) throw new Error('--schedule-seed replaces --seed');
  const seed =
    given !== undefined
      ? Number(given)
      : values.seed === undefined
        ? Math.floor(Math.random() * 2 ** 31)
        : Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error('--seed and --schedule-seed must be integers');
  const only = values.faults?.split(',') as FaultKind[] | undefined;
  const kindsOf = (config: ChaosConfig): { faultKinds?: FaultKind[] } => {
    const kinds = only?.filter((k) => faultKinds(config.router).includes(k));
    if (only && kinds?.length === 0)
      throw new Error(`--faults: none of ${only.join(', ')} applies to ${config.name}`);
    return kinds ? { faultKinds: kinds } : {};
  };
  const scheduled =
    values.schedules !== undefined ||
    given !== undefined ||
    values['schedule-seconds'] !== undefined ||
    values['tail-seconds'] !== undefined;
  if (scheduled) {
    if (values.minutes !== undefined)
      throw new Error('--minutes is for single campaigns: use --schedule-seconds');
    const schedules = given !== undefined ? 1 : Number(values.schedules ?? '1');
    const seconds = Number(values['schedule-seconds'] ?? '8');
    const tail =
      values['tail-seconds'] === undefined ? DEFAULT_TAIL_MS / 1000 : Number(values['tail-seconds']);
    if (!Number.isInteger(schedules) || schedules < 1) throw new Error('--schedules must be an integer >= 1');
    // Keys live 1 h (chaos/worker.ts); a schedule's keys are its own.
    if (!(seconds >= 1 && seconds <= 600)) throw new Error('--schedule-seconds must be a number in [1, 600]');
    if (!(tail >= 0 && tail <= 600)) throw new Error('--tail-seconds must be a number in [0, 600]');
    return {
      out,
      jobs: [],
      groups: grouped(
        configs.map((config) => ({
          config,
          seed,
          schedules,
          loadMs: Math.round(seconds * 1000),
          tailMs: Math.round(tail * 1000),
          scheduleSeedGiven: given !== undefined,
          processes,
          ...kindsOf(config),
          ...(values.spin ? { spin: true } : {}),
        })),
      ),
    };
  }
  const minutes = Number(values.minutes ?? '1');
  // Keys live 1 h (chaos/worker.ts): a longer run would see them expire and call that a lost write.
  if (!(minutes > 0 && minutes <= 50)) throw new Error('--minutes must be a number in (0, 50]');
  return {
    out,
    groups: [],
    jobs: configs.map((config) => ({
      config,
      seed,
      durationMs: Math.round(minutes * 60_000),
      processes,
      ...kindsOf(config),
      ...(values.spin ? { spin: true } : {}),
    })),
  };
}

async function main(): Promise<number> {
  let parsed: Plan;
  try {
    parsed = plan(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  const started = Date.now();
  const run: ChaosRun = {
    command: `npm run chaos -- ${process.argv.slice(2).join(' ')}`,
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, loadavg: loadavg(), node: process.version },
    ...gitCommit(projectRoot()),
    results: [],
  };
  const log = (line: string) => console.error(line);
  mkdirSync(parsed.out, { recursive: true });
  const finish = (result: CampaignResult): void => {
    run.results.push(result);
    run.elapsedMs = Date.now() - started;
    console.log(summaryLine(result));
    if (!result.schedules) for (const line of violationLines(result)) console.log(line);
    writeChaosReport(parsed.out, run);
  };
  for (const [i, job] of parsed.jobs.entries()) {
    log(
      `[${i + 1}/${parsed.jobs.length}] ${job.config.name}: seed ${job.seed}, ${job.durationMs / 1000} s, ${job.processes} processes`,
    );
    const result: CampaignResult = await runCampaign({
      ...job,
      log,
      reportDir: parsed.out,
      keepHistory: true,
    });
    // The whole history is kept where there is something to look at: a violation or a harness error.
    if (result.history && (violationCount(result) > 0 || result.harnessError)) {
      const file = join(parsed.out, `history-${result.config}.json`);
      writeFileSync(file, JSON.stringify(result.history));
      log(`  history: ${file}`);
    }
    delete result.history;
    finish(result);
  }
  for (const [i, group] of parsed.groups.entries()) {
    const kind = topologyKind(group.configs[0]!);
    log(
      `[topology ${i + 1}/${parsed.groups.length}] ${kind}: ${group.configs.map((c) => c.name).join(', ')}; ${group.scheduleSeedGiven ? `schedule seed ${group.seed}` : `${group.schedules} schedule(s) each, run seed ${group.seed}`}, ${group.loadMs / 1000} s + a ${group.tailMs / 1000} s quiet tail, ${group.processes} processes`,
    );
    const counts = new Map<string, number>();
    const results = await runSchedules({
      ...group,
      log,
      reportDir: parsed.out,
      keepFailingHistories: true,
      onSchedule: (r: ScheduleResult) => {
        counts.set(r.config, (counts.get(r.config) ?? 0) + 1);
        console.log(scheduleLine(r, group.scheduleSeedGiven ? 1 : group.schedules));
        for (const line of violationLines(r)) console.log(line);
        if (r.report.violations.length > 0 || r.harnessError) {
          log(`  history: ${join(parsed.out, `history-${r.config}-${r.index}.json`)}`);
        }
      },
    });
    for (const result of results) finish(result);
  }
  run.elapsedMs = Date.now() - started;
  const path = writeChaosReport(parsed.out, run);
  const totals = runTotals(run);
  if (totals) console.log(totals);
  console.log(`report: ${resolve(path)}`);
  if (run.results.some((r) => r.harnessError)) return 2;
  return run.results.some((r) => violationCount(r) > 0) ? 1 : 0;
}

process.exitCode = await main();
