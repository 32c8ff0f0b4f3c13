/**
 * `npm run chaos -- --config <name[,name]|all> --minutes <n> --seed <n> [--processes <n>]
 * [--replay <results.json>]`: randomized fault campaigns judged against docs/guarantees.md.
 * Exit 0 when no violation, 1 when any, 2 on a harness error. See docs/chaos.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gitCommit, projectRoot } from '../bench/lib/machine.js';
import { type CampaignResult, runCampaign } from './campaign.js';
import { ALL_CONFIGS, type ChaosConfig, faultKinds, parseConfig } from './generator.js';
import type { FaultKind } from './history.js';
import { type ChaosRun, summaryLine, violationCount, violationLines, writeChaosReport } from './report.js';

const USAGE = `usage: npm run chaos -- --config <name[,name]|all> [--minutes <n>] [--seed <n>] [--processes <n>] [--faults <kind,...>] [--spin] [--out <dir>]
       npm run chaos -- --replay <chaos/results/<timestamp>/results.json> [--config <name>]
config names: ${ALL_CONFIGS.map((c) => c.name).join(', ')}`;

interface Job {
  config: ChaosConfig;
  seed: number;
  durationMs: number;
  processes: number;
}

function jobs(argv: string[]): { jobs: Job[]; out: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      minutes: { type: 'string', default: '1' },
      seed: { type: 'string' },
      processes: { type: 'string', default: '2' },
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
    return {
      out,
      jobs: run.results
        .filter((r) => !only || only.has(r.config))
        .map((r) => ({
          config: parseConfig(r.config),
          seed: r.seed,
          durationMs: r.durationMs,
          processes: r.processes,
          ...(r.faultKinds ? { faultKinds: r.faultKinds } : {}),
          ...(r.spin ? { spin: true } : {}),
        })),
    };
  }
  if (!values.config) throw new Error(`--config is required\n${USAGE}`);
  const configs = values.config === 'all' ? ALL_CONFIGS : values.config.split(',').map(parseConfig);
  const minutes = Number(values.minutes);
  const processes = Number(values.processes);
  // Keys live 1 h (chaos/worker.ts): a longer run would see them expire and call that a lost write.
  if (!(minutes > 0 && minutes <= 50)) throw new Error('--minutes must be a number in (0, 50]');
  if (!Number.isInteger(processes) || processes < 2) throw new Error('--processes must be an integer >= 2');
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error('--seed must be an integer');
  const only = values.faults?.split(',') as FaultKind[] | undefined;
  return {
    out,
    jobs: configs.map((config) => {
      const kinds = only?.filter((k) => faultKinds(config.router).includes(k));
      if (only && kinds?.length === 0)
        throw new Error(`--faults: none of ${only.join(', ')} applies to ${config.name}`);
      return {
        config,
        seed,
        durationMs: Math.round(minutes * 60_000),
        processes,
        ...(kinds ? { faultKinds: kinds } : {}),
        ...(values.spin ? { spin: true } : {}),
      };
    }),
  };
}

async function main(): Promise<number> {
  let parsed: { jobs: Job[]; out: string };
  try {
    parsed = jobs(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  const run: ChaosRun = {
    command: `npm run chaos -- ${process.argv.slice(2).join(' ')}`,
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, loadavg: loadavg(), node: process.version },
    ...gitCommit(projectRoot()),
    results: [],
  };
  const log = (line: string) => console.error(line);
  for (const [i, job] of parsed.jobs.entries()) {
    log(
      `[${i + 1}/${parsed.jobs.length}] ${job.config.name}: seed ${job.seed}, ${job.durationMs / 1000} s, ${job.processes} processes`,
    );
    mkdirSync(parsed.out, { recursive: true });
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
    run.results.push(result);
    console.log(summaryLine(result));
    for (const line of violationLines(result)) console.log(line);
    writeChaosReport(parsed.out, run);
  }
  const path = writeChaosReport(parsed.out, run);
  console.log(`report: ${resolve(path)}`);
  if (run.results.some((r) => r.harnessError)) return 2;
  return run.results.some((r) => violationCount(r) > 0) ? 1 : 0;
}

process.exitCode = await main();
