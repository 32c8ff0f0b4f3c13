/**
 * What a campaign tells its reader: one summary line per configuration on screen, and
 * `report.md` + `results.json` in `chaos/results/<timestamp>/`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CampaignResult,
  DEFAULT_TAIL_MS,
  type ScheduledViolation,
  type ScheduleResult,
} from './campaign.js';
import { RULES, type RuleId } from './checker.js';

const round = (n: number): number => Math.round(n);

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record).filter(([, n]) => n > 0);
  return entries.length === 0 ? '0' : entries.map(([k, n]) => `${k} ${n}`).join(', ');
}

export function violationCount(r: CampaignResult): number {
  return r.report.violations.length;
}

/** The one-line summary of a configuration. */
export function summaryLine(r: CampaignResult): string {
  const rep = r.report;
  const faults = Object.values(rep.faults).reduce((a, b) => a + (b ?? 0), 0);
  return [
    `${r.config.padEnd(22)}${r.schedules ? ` schedules ${r.schedules.length} |` : ''} ops ${rep.operations}`,
    `failed ${rep.failedOperations}`,
    `faults ${faults}`,
    `violations: ${violationCount(r)}`,
    `max stale ${round(rep.maxStaleMs)} ms`,
    `max op ${round(rep.maxOpMs)} ms`,
    `lost acked (windows) ${counts(rep.lostAckedWrites)}`,
    `rollbacks reported ${rep.rollbacksReported}`,
    `checked ${rep.checked.reads} reads (${r.readsOutsideFaultWindows ?? '?'} outside fault windows), ${rep.checked.finalReads} final, ${rep.checked.increments} incr, ${rep.checked.taggedAnswers} tagged, ${rep.checked.lockHolds} locks`,
    // The single-flight and lock-wait rules' measures.
    `fills ${rep.checked.fills} (factory calls ${rep.checked.factoryCalls}, allowed extra ${counts(rep.extraFactoryCalls)}, most in one fill ${rep.maxFactoryCallsPerFill}), WAIT locks ${rep.checked.waitLockHolds} (overlaps in windows ${counts(rep.waitLockOverlaps)})`,
    ...(r.harnessError ? [`HARNESS ERROR: ${r.harnessError}`] : []),
  ].join(' | ');
}

const options = (r: CampaignResult): string => {
  const faults = r.faultKinds ? ` --faults ${r.faultKinds.join(',')}` : '';
  return ` --processes ${r.processes}${faults}${r.spin ? ' --spin' : ''}`;
};

/** `--schedule-seconds` (and `--tail-seconds` when not the default) of a schedules run. */
const scheduleTimes = (r: CampaignResult): string =>
  ` --schedule-seconds ${r.durationMs / 1000}${r.tailMs !== undefined && r.tailMs !== DEFAULT_TAIL_MS ? ` --tail-seconds ${r.tailMs / 1000}` : ''}`;

/** How to run one schedule of a schedules run again, alone: its own seed on a fresh topology. */
export function scheduleReplayCommand(r: CampaignResult, seed: number | string): string {
  return `npm run chaos -- --config ${r.config} --schedule-seed ${seed}${scheduleTimes(r)}${options(r)}`;
}

/** How to run a configuration's campaign (or all its schedules) again with the same seed. */
export function replayCommand(r: CampaignResult): string {
  // One schedule (its own result, or a `--schedule-seed` run): its own seed.
  if (r.scheduleSeed) return scheduleReplayCommand(r, r.seed);
  if (r.schedules) {
    return `npm run chaos -- --config ${r.config} --seed ${r.seed} --schedules ${r.schedules.length}${scheduleTimes(r)}${options(r)}`;
  }
  return `npm run chaos -- --config ${r.config} --seed ${r.seed} --minutes ${r.durationMs / 60_000}${options(r)}`;
}

/** The replay of the schedule a violation is from, or of the whole campaign. */
function violationReplay(r: CampaignResult, v: ScheduledViolation): string {
  return v.seed !== undefined ? scheduleReplayCommand(r, v.seed) : replayCommand(r);
}

/** What the screen shows about each violation (the rule, the ops, the seed). */
export function violationLines(r: CampaignResult, max = 5): string[] {
  const lines: string[] = [];
  for (const v of r.report.violations.slice(0, max) as ScheduledViolation[]) {
    const where = v.schedule !== undefined ? ` schedule ${v.schedule} (seed ${v.seed})` : '';
    lines.push(`  VIOLATION [${r.config}${where}] ${v.rule}: ${RULES[v.rule].title} (${RULES[v.rule].doc})`);
    lines.push(`    ${v.message}`);
    for (const op of v.ops) lines.push(`    - ${op}`);
    lines.push(`    replay: ${violationReplay(r, v)}`);
  }
  if (r.report.violations.length > max)
    lines.push(`  ... and ${r.report.violations.length - max} more in report.md`);
  return lines;
}

/** One schedule's line on screen, as soon as it is judged (`--schedules`). */
export function scheduleLine(r: ScheduleResult, of: number): string {
  const rep = r.report;
  return [
    `  [${r.config} ${r.index + 1}/${of}] seed ${r.seed}`,
    `ops ${rep.operations}`,
    `failed ${rep.failedOperations}`,
    `faults ${r.faults.map((f) => f.kind).join(', ') || 'none'}`,
    `violations: ${violationCount(r)}`,
    `strict reads ${r.readsOutsideFaultWindows}`,
    `lost acked (windows) ${counts(rep.lostAckedWrites)}`,
    `load ${(r.loadMs / 1000).toFixed(1)} s, ${(r.elapsedMs / 1000).toFixed(1)} s in all`,
    ...(r.harnessError ? [`HARNESS ERROR: ${r.harnessError}`] : []),
  ].join(' | ');
}

/** The whole run in one line (schedules runs): schedules, their rate, operations, faults, violations. */
export function runTotals(run: ChaosRun): string | undefined {
  const scheduled = run.results.filter((r) => r.schedules);
  if (scheduled.length === 0) return undefined;
  const schedules = scheduled.reduce((n, r) => n + r.schedules!.length, 0);
  const ops = scheduled.reduce((n, r) => n + r.report.operations, 0);
  const faults = scheduled.reduce(
    (n, r) => n + Object.values(r.report.faults).reduce((a, b) => a + (b ?? 0), 0),
    0,
  );
  const violations = scheduled.reduce((n, r) => n + violationCount(r), 0);
  const harness = scheduled.reduce((n, r) => n + r.schedules!.filter((s) => s.harnessError).length, 0);
  const hours = (run.elapsedMs ?? 0) / 3_600_000;
  return `${schedules} schedules over ${scheduled.length} configurations in ${(hours * 60).toFixed(1)} min (${hours > 0 ? Math.round(schedules / hours) : '?'} per hour): ${ops} operations, ${faults} faults, ${violations} violations, ${harness} harness errors`;
}

export interface ChaosRun {
  command: string;
  startedAt: string;
  /** Wall time of the whole run so far (ms). */
  elapsedMs?: number;
  machine: { cpus: number; loadavg: number[]; node: string };
  /** The measured code (git commit, '+dirty' with uncommitted changes to src, bench or chaos). */
  commit?: string;
  results: CampaignResult[];
}

function markdown(run: ChaosRun): string {
  const out: string[] = [];
  out.push('# Chaos campaign', '');
  out.push(`Command: \`${run.command}\``, '');
  out.push(`Code: ${run.commit ? `commit ${run.commit}` : 'unknown commit'}.`, '');
  out.push(
    `Started ${run.startedAt} on ${run.machine.cpus} CPUs (load average ${run.machine.loadavg.map((l) => l.toFixed(1)).join(' / ')}), Node ${run.machine.node}.`,
    '',
  );
  const totals = runTotals(run);
  if (totals) {
    out.push(
      `Schedules: ${totals}. Each schedule is judged alone: its own seed, keys, faults, quiescent read and verdict (docs/chaos.md, "Schedules").`,
      '',
    );
  }
  out.push('## Summary', '');
  out.push(
    '| config | seed | schedules | ops | failed | faults | violations | reads outside fault windows | max stale read (ms) | max op (ms) | lost acked writes in fault windows | stale reads in fault windows (max ms) | rollbacks reported |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of run.results) {
    const rep = r.report;
    const faults = Object.values(rep.faults).reduce((a, b) => a + (b ?? 0), 0);
    out.push(
      `| ${r.config} | ${r.seed} | ${r.schedules?.length ?? 1} | ${rep.operations} | ${rep.failedOperations} | ${faults} | ${violationCount(r)}${r.harnessError ? ' (harness error)' : ''} | ${r.readsOutsideFaultWindows ?? '?'} | ${round(rep.maxStaleMs)} | ${round(rep.maxOpMs)} | ${counts(rep.lostAckedWrites)} | ${counts(rep.staleReadsInFaultWindows)} (${round(rep.maxStaleInFaultWindowsMs)}) | ${rep.rollbacksReported} |`,
    );
  }
  out.push('', '## Violations per rule', '');
  out.push(`| config | ${Object.keys(RULES).join(' | ')} |`);
  out.push(
    `|---|${Object.keys(RULES)
      .map(() => '---')
      .join('|')}|`,
  );
  for (const r of run.results) {
    out.push(
      `| ${r.config} | ${Object.keys(RULES)
        .map((k) => r.report.violationsByRule[k as RuleId])
        .join(' | ')} |`,
    );
  }
  out.push('', 'Rules (docs/chaos.md explains each):', '');
  for (const [id, rule] of Object.entries(RULES)) out.push(`- \`${id}\`: ${rule.title} — ${rule.doc}`);
  for (const r of run.results) {
    out.push('', `## ${r.config}`, '');
    out.push(`Replay: \`${replayCommand(r)}\``, '');
    if (r.harnessError) out.push(`Harness error: ${r.harnessError}`, '');
    out.push(`Failures by error: ${counts(r.report.failuresByError)}.`, '');
    if (r.schedules) {
      out.push(
        `Faults per kind: ${counts(r.report.faults as Record<string, number>)}. One schedule alone: \`${scheduleReplayCommand(r, '<seed>')}\`.`,
        '',
      );
      out.push(
        '| # | seed | ops | failed | faults (ms from the start of its load) | violations | reads outside fault windows | load (s) | wall (s) |',
      );
      out.push('|---|---|---|---|---|---|---|---|---|');
      for (const sch of r.schedules) {
        const faults = sch.faults
          .map((f) => `${f.startMs}–${f.endMs} ${f.kind} ${f.target}${f.note ? ` (${f.note})` : ''}`)
          .join('; ');
        const broken = Object.entries(sch.violationsByRule)
          .map(([rule, n]) => `${rule} ${n}`)
          .join(', ');
        out.push(
          `| ${sch.index} | ${sch.seed} | ${sch.ops} | ${sch.failed} | ${faults || 'none'} | ${sch.violations}${broken ? ` (${broken})` : ''}${sch.harnessError ? ` harness error: ${sch.harnessError}` : ''}${sch.historyFile ? `, history ${sch.historyFile}` : ''} | ${sch.readsOutsideFaultWindows} | ${(sch.loadMs / 1000).toFixed(1)} | ${(sch.elapsedMs / 1000).toFixed(1)} |`,
        );
      }
    } else {
      out.push('Faults (ms from the start of the load):', '');
      for (const f of r.faults) {
        out.push(`- ${f.startMs}–${f.endMs}: ${f.kind} ${f.target}${f.note ? ` (${f.note})` : ''}`);
      }
    }
    if (r.report.violations.length > 0) {
      out.push('', 'Violations:', '');
      for (const v of r.report.violations.slice(0, 50) as ScheduledViolation[]) {
        const where =
          v.schedule !== undefined ? ` (schedule ${v.schedule}, \`${violationReplay(r, v)}\`)` : '';
        out.push(`- **${v.rule}**${where}: ${v.message}`);
        for (const op of v.ops) out.push(`  - \`${op}\``);
      }
    }
  }
  return `${out.join('\n')}\n`;
}

/** Writes report.md and results.json under `dir`; returns the report's path. */
export function writeChaosReport(dir: string, run: ChaosRun): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(run, null, 2)}\n`);
  const path = join(dir, 'report.md');
  writeFileSync(path, markdown(run));
  return path;
}
