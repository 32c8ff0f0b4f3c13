/**
 * results.json (everything raw) and report.md (the tables a reader wants) from one bench run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BASELINE_CLIENT, type ClientFamily, type SkippedClient } from './clients.js';
import { type ClusterBenchResult, clusterSection } from './cluster.js';
import type { FailoverResult } from './failover.js';
import type { MachineInfo } from './machine.js';
import type { NearResult } from './near.js';
import type { BenchOptions } from './options.js';
import type { SoakResult } from './soak.js';
import type { SteadyRow } from './steady.js';

export interface BenchResults {
  schema: 1;
  meta: {
    startedAt: string;
    finishedAt: string;
    durationMs: number;
    argv: string[];
    machine: MachineInfo;
    options: BenchOptions;
    baseline: string;
    clients: Array<{ name: string; family: ClientFamily; description: string }>;
    method: string[];
  };
  steady: SteadyRow[];
  failover: FailoverResult[];
  soak: SoakResult[];
  /** `--scenario cluster`. */
  cluster?: ClusterBenchResult;
  /** `--scenario near` (absent when it did not run). */
  near?: NearResult;
  skipped: SkippedClient[];
  /** File names (in the output directory) of the SVG charts. */
  charts: string[];
}

export const METHOD_NOTES = [
  'Our clients (pooled, discovery, standalone) run through createCache with the string serializer and no compressor; the peers store the same string values raw. The comparison includes our whole per-operation cost (key building, codec header, router); the key layout `bench:1:<key>` is the same for everyone.',
  "Every client reads from the master (readFrom: 'master' for ours, the peers' default), so the numbers compare routing, not replica reads.",
  'Steady state: closed-loop workers (concurrency = operations in flight); each cell runs client after client, in several rounds with the order rotated per round, and sums the rounds, so outside load on a shared machine is spread over all clients; ratios compare clients within the same cell. Latency from hdr-histogram-js (µs resolution, 3 significant digits).',
  'Failover: all clients run concurrently on one fresh topology per fault (the same failover for everyone), each with the same open-loop offered load (half writes of fresh sequence-numbered keys, half reads). Lost writes = acknowledged writes missing on the master afterwards; demoted-master writes = acknowledged writes that the old master executed (seen through MONITOR) after it came back (pause: SIGCONT, kill: restart) or, for SENTINEL FAILOVER, after +switch-master — split-brain writes; usually lost as well, unless the client also retried them on the new master.',
  'Client part of the outage = +switch-master → first acknowledged write started after it that the new master has (a write acknowledged by the demoted master and then lost does not count as recovery). Longest write gap = longest time without a successful write between the fault and the end of the load (includes the server part).',
];

/** Fill in opsRatio / p99Ratio relative to the baseline client in the same cell. */
export function addRatios(rows: SteadyRow[], baseline = BASELINE_CLIENT): void {
  for (const row of rows) {
    const base = rows.find(
      (r) =>
        r.client === baseline &&
        r.readRatio === row.readRatio &&
        r.concurrency === row.concurrency &&
        r.valueSize === row.valueSize,
    );
    const of = (mine: number, theirs: number | undefined) =>
      theirs !== undefined && theirs > 0 ? round2(mine / theirs) : null;
    row.opsRatio = of(row.opsPerSec, base?.opsPerSec);
    row.p50Ratio = of(row.latency.p50Ms, base?.latency.p50Ms);
    row.p99Ratio = of(row.latency.p99Ms, base?.latency.p99Ms);
    row.p999Ratio = of(row.latency.p999Ms, base?.latency.p999Ms);
  }
}

export interface HeadToHead {
  client: string;
  versus: string;
  cells: number;
  /** Geometric mean over cells of client ops/s ÷ versus ops/s. */
  opsRatio: number | null;
  /** Geometric mean over cells of client p99 ÷ versus p99 (below 1 = faster). */
  p99Ratio: number | null;
}

/** Each of `ours` against every other client: geometric means over the cells both ran. */
export function headToHead(rows: SteadyRow[], ours: string[]): HeadToHead[] {
  const clients = [...new Set(rows.map((r) => r.client))];
  const out: HeadToHead[] = [];
  for (const client of ours.filter((c) => clients.includes(c))) {
    for (const versus of clients.filter((c) => c !== client)) {
      const ops: number[] = [];
      const p99: number[] = [];
      for (const row of rows.filter((r) => r.client === client)) {
        const other = rows.find(
          (r) =>
            r.client === versus &&
            r.readRatio === row.readRatio &&
            r.concurrency === row.concurrency &&
            r.valueSize === row.valueSize,
        );
        if (!other) continue;
        if (row.opsPerSec > 0 && other.opsPerSec > 0) ops.push(row.opsPerSec / other.opsPerSec);
        if (row.latency.p99Ms > 0 && other.latency.p99Ms > 0)
          p99.push(row.latency.p99Ms / other.latency.p99Ms);
      }
      out.push({ client, versus, cells: ops.length, opsRatio: geomean(ops), p99Ratio: geomean(p99) });
    }
  }
  return out;
}

function geomean(values: number[]): number | null {
  if (values.length === 0) return null;
  return round2(Math.exp(values.reduce((a, v) => a + Math.log(v), 0) / values.length));
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const fmt = (n: number | null | undefined, digits = 2) =>
  n === null || n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits });
const ratio = (n: number | null | undefined) => (n === null || n === undefined ? '–' : `${n.toFixed(2)}×`);
const withRatio = (value: string, r: number | null | undefined) =>
  r === null || r === undefined ? value : `${value} (${ratio(r)})`;
const sizeLabel = (bytes: number) => (bytes >= 1024 ? `${Math.round(bytes / 1024)} KB` : `${bytes} B`);
const msOrNever = (n: number | null, never = 'never') => (n === null ? never : `${fmt(n, 0)} ms`);

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function topErrors(errors: Record<string, number>, n = 3): string {
  const entries = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return '0';
  const shown = entries.slice(0, n).map(([name, count]) => `${count} ${name}`);
  if (entries.length > n) shown.push(`+${entries.length - n} more`);
  return shown.join(', ');
}

export function renderMarkdown(results: BenchResults): string {
  const { meta } = results;
  const m = meta.machine;
  const out: string[] = [];
  out.push('# sentinel-cache bench report', '');
  out.push(
    `Run ${meta.startedAt} → ${meta.finishedAt} (${Math.round(meta.durationMs / 1000)} s): \`sentinel-cache bench ${meta.argv.join(' ')}\`${meta.options.quick ? ' (quick: smoke-test sizes, not for comparison)' : ''}.`,
    '',
    `Code: ${m.commit ? `commit ${m.commit}` : 'unknown commit'}. Machine: ${m.cpus} × ${m.cpuModel}, ${fmt(m.totalMemoryMb / 1024, 1)} GB RAM, ${m.platform} ${m.release} ${m.arch}; Node ${m.node}; Redis ${m.redis ?? 'unknown'}; load average at start ${m.loadAverage.join(' ')}.`,
    `Packages: ${Object.entries(m.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '',
  );
  out.push('## Clients', '');
  out.push(
    table(
      ['client', 'kind', 'configuration'],
      meta.clients.map((c) => [`\`${c.name}\``, c.family, c.description]),
    ),
    '',
  );
  if (results.skipped.length > 0) {
    out.push('Skipped:', '');
    for (const s of results.skipped) out.push(`- \`${s.client}\` in ${s.scenario}: ${s.reason}`);
    out.push('');
  }

  if (results.steady.length > 0) out.push(...steadySection(results));
  for (const f of results.failover) out.push(...failoverSection(f));
  if (results.soak.length > 0) out.push(...soakSection(results.soak));
  if (results.cluster) out.push(...clusterSection(results.cluster));
  if (results.near !== undefined) out.push(...nearSection(results.near));

  out.push('## Method', '');
  for (const note of meta.method) out.push(`- ${note}`);
  out.push('');
  return out.join('\n');
}

function steadySection(results: BenchResults): string[] {
  const rows = results.steady;
  const out: string[] = ['## Steady state', ''];
  const ours = results.meta.clients.filter((c) => c.family === 'ours').map((c) => c.name);
  const h2h = headToHead(rows, ours);
  if (h2h.length > 0) {
    out.push(
      'Head to head (geometric mean over all cells; throughput ratio above 1 = more ops/s, p99 ratio below 1 = lower tail latency):',
      '',
      table(
        ['client', 'vs', 'cells', 'throughput ratio', 'p99 ratio'],
        h2h.map((h) => [
          `\`${h.client}\``,
          `\`${h.versus}\``,
          String(h.cells),
          ratio(h.opsRatio),
          ratio(h.p99Ratio),
        ]),
      ),
      '',
    );
  }
  const sizes = [...new Set(rows.map((r) => r.valueSize))];
  const mixes = [...new Set(rows.map((r) => r.readRatio))];
  const clientOrder = results.meta.clients.map((c) => c.name);
  const baseline = results.meta.baseline;
  const concurrencies = [...new Set(rows.map((r) => r.concurrency))].sort((a, b) => a - b);
  const others = clientOrder.filter((c) => c !== baseline && rows.some((r) => r.client === c));
  if (rows.some((r) => r.client === baseline) && others.length > 0) {
    out.push(
      `By concurrency, against \`${baseline}\` (throughput ratio / p99 ratio, geometric mean over mixes and value sizes):`,
      '',
      table(
        ['client', ...concurrencies.map((c) => `concurrency ${c}`)],
        others.map((client) => [
          `\`${client}\``,
          ...concurrencies.map((c) => {
            const mine = rows.filter((r) => r.client === client && r.concurrency === c);
            const ops = geomean(
              mine.map((r) => r.opsRatio).filter((x): x is number => typeof x === 'number' && x > 0),
            );
            const p99 = geomean(
              mine.map((r) => r.p99Ratio).filter((x): x is number => typeof x === 'number' && x > 0),
            );
            return `${ratio(ops)} / ${ratio(p99)}`;
          }),
        ]),
      ),
      '',
    );
  }
  for (const size of sizes) {
    for (const mix of mixes) {
      const cellRows = rows
        .filter((r) => r.valueSize === size && r.readRatio === mix)
        .sort(
          (a, b) =>
            a.concurrency - b.concurrency || clientOrder.indexOf(a.client) - clientOrder.indexOf(b.client),
        );
      if (cellRows.length === 0) continue;
      out.push(
        `### ${cellRows[0]?.mix} GET/SET, ${sizeLabel(size)} values`,
        '',
        `In brackets: relative to \`${results.meta.baseline}\` in the same cell (ops/s above 1 = faster; latency below 1 = faster).`,
        '',
      );
      out.push(
        table(
          ['concurrency', 'client', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors'],
          cellRows.map((r) => [
            String(r.concurrency),
            `\`${r.client}\``,
            withRatio(fmt(r.opsPerSec, 0), r.opsRatio),
            withRatio(fmt(r.latency.p50Ms, 3), r.p50Ratio),
            withRatio(fmt(r.latency.p99Ms, 3), r.p99Ratio),
            withRatio(fmt(r.latency.p999Ms, 3), r.p999Ratio),
            topErrors(r.errorsByName, 2),
          ]),
        ),
        '',
      );
    }
  }
  return out;
}

function failoverSection(f: FailoverResult): string[] {
  const mk = f.marks;
  const out: string[] = [`## Failover: ${f.fault}`, ''];
  out.push(
    `Topology: ${f.provider}, down-after ${f.downAfterMs} ms; initial master ${f.initialMaster.host}:${f.initialMaster.port}${f.newMaster ? `, new master ${f.newMaster.host}:${f.newMaster.port}` : ''}. ` +
      `Load: ${f.ratePerClient} ops/s per client (half writes). Timeline (s since load start): fault ${sec(mk.faultMs)}` +
      `${mk.odownMs !== undefined ? `, +odown ${sec(mk.odownMs)}` : ''}${mk.switchMs !== undefined ? `, +switch-master ${sec(mk.switchMs)}` : ''}` +
      `${mk.resumeMs !== undefined ? `, ${f.fault === 'kill' ? 'restart' : 'resume'} ${sec(mk.resumeMs)}` : ''}, load stop ${sec(mk.loadStopMs)}.`,
    '',
    `Server part (fault → +switch-master): **${msOrNever(f.serverPartMs, 'no +switch-master')}**.`,
    '',
    table(
      [
        'client',
        'client part (+switch-master → first kept write)',
        'longest write gap',
        'errors',
        'hung > 1 s',
        'unfinished',
        'writes acked',
        'acked writes lost',
        'acked writes the demoted master executed',
        'success rate',
      ],
      f.clients.map((c) => [
        `\`${c.client}\``,
        msOrNever(c.clientPartMs),
        `${fmt(c.longestWriteGapMs, 0)} ms`,
        topErrors(c.errorsByName),
        String(c.hungOver1s),
        String(c.unfinished),
        String(c.writesAcked),
        c.lostWrites === null ? '–' : String(c.lostWrites),
        c.demotedMasterWrites === null ? '–' : String(c.demotedMasterWrites),
        c.offered > 0 ? `${((c.succeeded / c.offered) * 100).toFixed(1)}%` : '–',
      ]),
    ),
    '',
    `![${f.fault} timeline](failover-${f.fault}.svg)`,
    '',
  );
  for (const note of f.notes) out.push(`- Note: ${note}`);
  if (f.notes.length > 0) out.push('');
  return out;
}

function soakSection(soak: SoakResult[]): string[] {
  const first = soak[0] as SoakResult;
  return [
    '## Soak',
    '',
    `Each client alone for ${fmt(first.durationMs / 1000, 0)} s at ${fmt(first.ratePerSec, 0)} ops/s offered (${Math.round(first.readRatio * 100)}% GET, ${first.valueSize} B values), one after another in this process; slopes are least-squares over the second half of the samples${first.durationMs < 300_000 ? ' (runs shorter than 5 minutes mostly show warm-up: use `--scenario soak --duration 10m` to judge leaks)' : ''}.`,
    '',
    table(
      [
        'client',
        'ops/s done',
        'errors',
        'shed',
        'RSS start → end (max) MB',
        'RSS slope MB/min',
        'heap slope MB/min',
        'heap floor first → last fifth MB',
        'loop delay p99 (median of samples)',
        'loop delay max',
        'op p99 (worst sample)',
      ],
      soak.map((s) => [
        `\`${s.client}\``,
        fmt(s.opsPerSec, 0),
        topErrors(s.errorsByName),
        String(s.shed),
        `${fmt(s.rssStartMb, 1)} → ${fmt(s.rssEndMb, 1)} (${fmt(s.rssMaxMb, 1)})`,
        fmt(s.rssSlopeMbPerMin, 2),
        fmt(s.heapSlopeMbPerMin, 2),
        `${fmt(s.heapFloorFirstMb, 1)} → ${fmt(s.heapFloorLastMb, 1)}`,
        `${fmt(s.eventLoopDelayP99MedianMs, 2)} ms`,
        `${fmt(s.eventLoopDelayMaxMs, 2)} ms`,
        `${fmt(s.opP99MaxMs, 2)} ms`,
      ]),
    ),
    '',
    '![soak](soak.svg)',
    '',
  ];
}

const sec = (ms: number) => (ms / 1000).toFixed(1);

/** Write results.json, report.md and the given SVGs into `dir`. */
function nearSection(near: NearResult): string[] {
  const out: string[] = ['## Near cache', ''];
  const network = (r: NearResult['hot'][number]) =>
    near.hot.find(
      (n) => n.client === 'pooled' && n.valueBytes === r.valueBytes && n.concurrency === r.concurrency,
    );
  out.push(
    table(
      ['value', 'concurrency', 'client', 'GET ops/s', 'vs network path', 'hit rate'],
      near.hot.map((r) => [
        sizeLabel(r.valueBytes),
        String(r.concurrency),
        `\`${r.client}\``,
        fmt(r.opsPerSec, 0),
        ratio((network(r)?.opsPerSec ?? 0) > 0 ? r.opsPerSec / (network(r)?.opsPerSec as number) : null),
        r.hitRate === null ? '–' : `${fmt(r.hitRate * 100, 1)} %`,
      ]),
    ),
    '',
    'Invalidation delay: a third client (raw ioredis) SETs a new value; time from its reply until the client returns it.',
    '',
    table(
      ['client', 'writes seen', 'p50', 'p99', 'max', 'still stale 1 s after the write'],
      near.delay.map((d) => [
        `\`${d.client}\``,
        String(d.samples),
        `${fmt(d.p50Ms, 3)} ms`,
        `${fmt(d.p99Ms, 3)} ms`,
        `${fmt(d.maxMs, 3)} ms`,
        String(d.staleAfterOneSecond),
      ]),
    ),
    '',
  );
  if (near.failover !== null) {
    const f = near.failover;
    out.push(
      `SENTINEL FAILOVER with the near cache on (pooled): ${f.staleReadsAfterWrite} stale reads among ${f.readsAfterWrite} reads started after a write on the new master was acknowledged; near-flush reasons: ${f.flushReasons.join(', ') || 'none'}.`,
      '',
    );
  }
  for (const s of near.skipped) out.push(`- skipped \`${s.client}\`: ${s.reason}`);
  if (near.skipped.length > 0) out.push('');
  for (const note of near.notes ?? []) out.push(`- ${note}`);
  if ((near.notes ?? []).length > 0) out.push('');
  return out;
}

export async function writeReport(
  dir: string,
  results: BenchResults,
  svgs: Record<string, string>,
): Promise<{ markdown: string }> {
  await mkdir(dir, { recursive: true });
  const markdown = renderMarkdown(results);
  await writeFile(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(dir, 'report.md'), markdown);
  for (const [name, svg] of Object.entries(svgs)) await writeFile(join(dir, name), svg);
  return { markdown };
}
