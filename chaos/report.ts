/**
 * What a campaign tells its reader: one summary line per configuration on screen, and
 * `report.md` + `results.json` in `chaos/results/<timestamp>/`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CampaignResult } from './campaign.js';
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
    `${r.config.padEnd(22)} ops ${rep.operations}`,
    `failed ${rep.failedOperations}`,
    `faults ${faults}`,
    `violations: ${violationCount(r)}`,
    `max stale ${round(rep.maxStaleMs)} ms`,
    `max op ${round(rep.maxOpMs)} ms`,
    `lost acked (windows) ${counts(rep.lostAckedWrites)}`,
    `rollbacks reported ${rep.rollbacksReported}`,
    `checked ${rep.checked.reads} reads, ${rep.checked.finalReads} final, ${rep.checked.increments} incr, ${rep.checked.taggedAnswers} tagged, ${rep.checked.lockHolds} locks`,
    // The single-flight and lock-wait rules' measures (branch w4-rules).
    `fills ${rep.checked.fills} (factory calls ${rep.checked.factoryCalls}, allowed extra ${counts(rep.extraFactoryCalls)}, most in one fill ${rep.maxFactoryCallsPerFill}), WAIT locks ${rep.checked.waitLockHolds} (overlaps in windows ${counts(rep.waitLockOverlaps)})`,
    ...(r.harnessError ? [`HARNESS ERROR: ${r.harnessError}`] : []),
  ].join(' | ');
}

/** How to run a configuration's campaign again with the same seed and schedule. */
export function replayCommand(r: CampaignResult): string {
  const faults = r.faultKinds ? ` --faults ${r.faultKinds.join(',')}` : '';
  return `npm run chaos -- --config ${r.config} --seed ${r.seed} --minutes ${r.durationMs / 60_000} --processes ${r.processes}${faults}${r.spin ? ' --spin' : ''}`;
}

/** What the screen shows about each violation (the rule, the ops, the seed). */
export function violationLines(r: CampaignResult, max = 5): string[] {
  const lines: string[] = [];
  for (const v of r.report.violations.slice(0, max)) {
    lines.push(`  VIOLATION [${r.config}] ${v.rule}: ${RULES[v.rule].title} (${RULES[v.rule].doc})`);
    lines.push(`    ${v.message}`);
    for (const op of v.ops) lines.push(`    - ${op}`);
    lines.push(`    replay: ${replayCommand(r)}`);
  }
  if (r.report.violations.length > max)
    lines.push(`  ... and ${r.report.violations.length - max} more in report.md`);
  return lines;
}

export interface ChaosRun {
  command: string;
  startedAt: string;
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
  out.push('## Summary', '');
  out.push(
    '| config | seed | ops | failed | faults | violations | max stale read (ms) | max op (ms) | lost acked writes in fault windows | stale reads in fault windows (max ms) | rollbacks reported |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of run.results) {
    const rep = r.report;
    const faults = Object.values(rep.faults).reduce((a, b) => a + (b ?? 0), 0);
    out.push(
      `| ${r.config} | ${r.seed} | ${rep.operations} | ${rep.failedOperations} | ${faults} | ${violationCount(r)}${r.harnessError ? ' (harness error)' : ''} | ${round(rep.maxStaleMs)} | ${round(rep.maxOpMs)} | ${counts(rep.lostAckedWrites)} | ${counts(rep.staleReadsInFaultWindows)} (${round(rep.maxStaleInFaultWindowsMs)}) | ${rep.rollbacksReported} |`,
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
    out.push('Faults (ms from the start of the load):', '');
    for (const f of r.faults) {
      out.push(`- ${f.startMs}–${f.endMs}: ${f.kind} ${f.target}${f.note ? ` (${f.note})` : ''}`);
    }
    if (r.report.violations.length > 0) {
      out.push('', 'Violations:', '');
      for (const v of r.report.violations.slice(0, 50)) {
        out.push(`- **${v.rule}**: ${v.message}`);
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
