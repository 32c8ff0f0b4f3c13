/**
 * What the bench shows while it runs, on stderr: an overall bar with the time left (from the
 * run's plan, plan.ts, corrected by how fast the run goes) and one bar per phase
 * (cli-progress); plain lines when stderr is not a terminal (CI), nothing with --quiet. Log
 * lines (topology steps, faults, failures) go to the run's log file (run.ts), never between
 * the bars.
 */
import cliProgress from 'cli-progress';
import { type PhasePlan, plannedMs } from './plan.js';

/** Where progress is drawn: process.stderr, or a test's sink. */
export interface TextOut {
  write(text: string): unknown;
  isTTY?: boolean;
}

type Mode = 'bar' | 'lines' | 'silent';

/** Without a terminal: a progress line every this often at most, so CI shows the run is alive. */
const LINE_INTERVAL_MS = 10_000;

export class Progress {
  private readonly multibar: cliProgress.MultiBar | undefined;
  private readonly overallBar: cliProgress.SingleBar | undefined;
  private readonly refresher: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private bar: cliProgress.SingleBar | undefined;
  private name = '';
  private unit = '';
  private value = 0;
  private total = 0;
  private phaseStartedAt = 0;
  private active = false;
  private lastLineAt = 0;
  /** Estimated ms of the phases already done. */
  private doneMs = 0;

  constructor(
    private readonly mode: Mode,
    private readonly out: TextOut,
    private readonly plan: readonly PhasePlan[],
  ) {
    if (mode === 'bar') {
      this.multibar = new cliProgress.MultiBar(
        {
          stream: out as NodeJS.WritableStream,
          format: '{scenario} [{bar}] {percentage}% | {value}/{total} {unit} | {label}',
          barsize: 28,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      this.overallBar = this.multibar.create(
        1000,
        0,
        { scenario: 'overall', label: this.overallText() },
        { format: '{scenario} [{bar}] {percentage}% | {label}' },
      );
      // The time left moves while a long step (a 60 s soak) reports nothing.
      this.refresher = setInterval(() => this.drawOverall(), 1000);
      this.refresher.unref();
    }
  }

  /** stderr as a bar when it is a terminal, as lines when not; silent with --quiet. */
  static for(quiet: boolean, out: TextOut, plan: readonly PhasePlan[]): Progress {
    return new Progress(quiet ? 'silent' : out.isTTY ? 'bar' : 'lines', out, plan);
  }

  /** Start a phase; the previous one ends at its total (its bar stays on screen, full). */
  phase(name: string, total: number, unit: string): void {
    this.complete();
    this.name = name;
    this.unit = unit;
    this.total = total;
    this.value = 0;
    this.phaseStartedAt = Date.now();
    this.active = true;
    if (this.multibar) this.bar = this.multibar.create(total, 0, { scenario: name, unit, label: '' });
    else this.line(`${name}: 0/${total} ${unit} (about ${formatDuration(this.estimateOf(name))})`);
  }

  update(value: number, label: string, total?: number): void {
    if (total !== undefined) {
      this.total = total;
      this.bar?.setTotal(total);
    }
    this.value = value;
    this.bar?.update(value, { label });
    this.drawOverall();
    if (this.mode === 'lines' && Date.now() - this.lastLineAt >= LINE_INTERVAL_MS) {
      this.line(`${this.name}: ${value}/${this.total} ${this.unit}: ${label}`);
    }
  }

  /** The run finished: the last phase ends at its total, the overall bar at 100 %. */
  finish(): void {
    this.complete();
    this.overallBar?.update(1000, { label: `done in ${formatDuration(Date.now() - this.startedAt)}` });
    this.stop();
  }

  /** Stop drawing (also after a failure: bars stay where they were). */
  stop(): void {
    clearInterval(this.refresher);
    this.multibar?.stop();
  }

  private complete(): void {
    if (!this.active) return;
    this.active = false;
    // A phase's steps are estimates (a failover's length, a soak's last sample): once it is
    // over, it ends at its total, and a phase that did more steps than planned grows its total.
    this.total = Math.max(this.total, this.value);
    this.value = this.total;
    this.bar?.setTotal(this.total);
    this.bar?.update(this.total, { label: `done in ${formatDuration(Date.now() - this.phaseStartedAt)}` });
    this.bar?.stop();
    this.doneMs += this.estimateOf(this.name);
    this.drawOverall();
    this.line(
      `${this.name}: ${this.total}/${this.total} ${this.unit} done in ${formatDuration(Date.now() - this.phaseStartedAt)}`,
    );
  }

  private estimateOf(name: string): number {
    return this.plan.find((p) => p.name === name)?.estimatedMs ?? 0;
  }

  /** Fraction of the planned work done: finished phases plus the current one's share. */
  private fraction(): number {
    const planned = plannedMs(this.plan);
    if (planned === 0) return 0;
    const current = this.active && this.total > 0 ? Math.min(1, this.value / this.total) : 0;
    return Math.min(1, (this.doneMs + current * this.estimateOf(this.name)) / planned);
  }

  /** "overall 42%, about 6m 10s left": the plan's remaining time, scaled by this run's pace. */
  private overallText(): string {
    const planned = plannedMs(this.plan);
    const fraction = this.fraction();
    const elapsed = Date.now() - this.startedAt;
    // Once a tenth is done the run's own pace (slower on a loaded machine) predicts the rest.
    const left = fraction >= 0.1 ? (elapsed / fraction) * (1 - fraction) : planned * (1 - fraction);
    return `overall ${Math.round(fraction * 100)}%, about ${formatDuration(left)} left`;
  }

  private drawOverall(): void {
    this.overallBar?.update(Math.round(this.fraction() * 1000), { label: this.overallText() });
  }

  private line(text: string): void {
    if (this.mode !== 'lines') return;
    this.lastLineAt = Date.now();
    this.out.write(`${text} · ${this.overallText()}\n`);
  }
}

/** 45s, 4m 05s, 1h 02m. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
