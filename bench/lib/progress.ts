/**
 * One progress bar on stderr (cli-progress) while the bench runs; plain log lines when stderr
 * is not a terminal (CI) and nothing at all with --quiet.
 */
import cliProgress from 'cli-progress';

export class Progress {
  private readonly multibar: cliProgress.MultiBar | undefined;
  private bar: cliProgress.SingleBar | undefined;
  private scenario = '';
  private total = 0;
  private lastLineAt = 0;

  constructor(private readonly mode: 'bar' | 'lines' | 'silent') {
    if (mode === 'bar') {
      this.multibar = new cliProgress.MultiBar(
        {
          stream: process.stderr,
          format: '{scenario} [{bar}] {percentage}% | {value}/{total} {unit} | {label}',
          barsize: 28,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  static for(quiet: boolean): Progress {
    if (quiet) return new Progress('silent');
    return new Progress(process.stderr.isTTY ? 'bar' : 'lines');
  }

  /** Start a new bar (the previous one stays on screen, finished). */
  phase(scenario: string, total: number, unit: string): void {
    this.bar?.stop();
    this.scenario = scenario;
    this.total = total;
    if (this.multibar) this.bar = this.multibar.create(total, 0, { scenario, unit, label: '' });
    else this.log(`${scenario}: ${total} ${unit}`);
  }

  update(value: number, label: string, total?: number): void {
    if (total !== undefined) {
      this.total = total;
      this.bar?.setTotal(total);
    }
    this.bar?.update(value, { label });
    // Without a terminal: a line every 10 s at most, so a long run in CI still shows it is alive.
    if (this.mode === 'lines' && Date.now() - this.lastLineAt >= 10_000) {
      this.lastLineAt = Date.now();
      this.log(`${this.scenario} ${value}/${this.total}: ${label}`);
    }
  }

  log(line: string): void {
    if (this.mode === 'silent') return;
    if (this.multibar) this.multibar.log(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  }

  stop(): void {
    this.bar?.stop();
    this.multibar?.stop();
  }
}
