/**
 * results.json (everything raw) and report.md (the tables a reader wants) from one bench run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatchRow } from './batches.js';
import { BASELINE_CLIENT, type ClientFamily, type SkippedClient } from './clients.js';
import { type ClusterBenchResult, clusterSection } from './cluster.js';
import type { FailoverResult } from './failover.js';
import { LIMIT_ROW } from './limit.js';
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
    /** The redis-benchmark reference rows in `steady` (kind 'limit'); empty when they did not run. */
    limits?: Array<{ name: string; family: ClientFamily; description: string }>;
    method: string[];
  };
  /** Clients' rows and, with kind 'limit', redis-benchmark's rows for the same cells. */
  steady: SteadyRow[];
  /** The explicit-pipelines table (batches of keys per call); absent when it did not run. */
  batches?: BatchRow[];
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
  "Limit rows (`redis-benchmark`, `redis-benchmark -P16`): redis-benchmark, the C client shipped with redis-server, against the same master at each cell's concurrency (`-c` connections) and value size (`-d`), random keys over the same key-space size (`-r`, preloaded so GETs hit). It has no mixed workload, so GET and SET run separately for half the cell's time each and are combined for the cell's mix: time per operation = r / GET rate + (1 − r) / SET rate (r = GET fraction; a weighted harmonic mean of the two rates), latency percentiles from the mixture r·F_GET + (1 − r)·F_SET of the two latency distributions redis-benchmark prints (n/a when its output cannot be read). redis-benchmark takes a request count, not a time: a short first run (also the warm-up) measures the rate and the measured run asks for rate × time requests. The limit rows of a cell run after the clients' rounds of that cell, not interleaved with them, and redis-benchmark re-reads the current master before each cell. \"vs limit\" = a client's ops/s ÷ the non-pipelined row's in the same cell.",
  'Explicit pipelines: batches of random keys per call (ours getMany / setMany: one MGET, or one MSET, per node, and setMany with a TTL: one EVALSHA of SET PX per key; ioredis pipeline() of GETs / SETs, of SET PX, and MGET / MSET; on pooled, getMany through the near cache, every key held or half of them) in a closed loop, the clients one after another per (operation, batches in flight), order rotated; the limit rows are redis-benchmark with as many connections as batches in flight, -P <batch size> GET / SET for the pipelines and one MGET / MSET of <batch size> `key:__rand_int__` keys per request for the multi-key commands. keys/s = batches/s × batch size.',
  'Failover: all clients run concurrently on one fresh topology per fault (the same failover for everyone), each with the same open-loop offered load (half writes of fresh sequence-numbered keys, half reads). Lost writes = acknowledged writes missing on the master afterwards; demoted-master writes = acknowledged writes that the old master executed (seen through MONITOR) after it came back (pause: SIGCONT, kill: restart) or, for SENTINEL FAILOVER, after +switch-master — split-brain writes; usually lost as well, unless the client also retried them on the new master. Success rate = (operations that succeeded − acknowledged writes that were lost) ÷ operations offered: a write acknowledged and then lost counts as failed.',
  'Client part of the outage = +switch-master → first acknowledged write started after it that the new master has (a write acknowledged by the demoted master and then lost does not count as recovery). Longest write gap = longest time without a successful write between the fault and the end of the load (includes the server part).',
];

const sameCell = (a: SteadyRow, b: SteadyRow) =>
  a.readRatio === b.readRatio && a.concurrency === b.concurrency && a.valueSize === b.valueSize;

/**
 * Fill in opsRatio / p50Ratio / p99Ratio / p999Ratio relative to the baseline client in the same
 * cell, and limitRatio relative to the non-pipelined redis-benchmark row (limit.ts).
 */
export function addRatios(rows: SteadyRow[], baseline = BASELINE_CLIENT): void {
  for (const row of rows) {
    const base = rows.find((r) => r.client === baseline && sameCell(r, row));
    const limit = rows.find((r) => r.kind === 'limit' && r.client === LIMIT_ROW && sameCell(r, row));
    const of = (mine: number, theirs: number | undefined) =>
      theirs !== undefined && theirs > 0 ? round2(mine / theirs) : null;
    row.opsRatio = of(row.opsPerSec, base?.opsPerSec);
    // A limit row's latency is per request of a combined mix (and per pipelined request with -P): no ratio.
    const latencyComparable = row.kind !== 'limit';
    row.p50Ratio = latencyComparable ? of(row.latency.p50Ms, base?.latency.p50Ms) : null;
    row.p99Ratio = latencyComparable ? of(row.latency.p99Ms, base?.latency.p99Ms) : null;
    row.p999Ratio = latencyComparable ? of(row.latency.p999Ms, base?.latency.p999Ms) : null;
    row.limitRatio = of(row.opsPerSec, limit?.opsPerSec);
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
export function headToHead(allRows: SteadyRow[], ours: string[]): HeadToHead[] {
  const rows = allRows.filter((r) => r.kind !== 'limit');
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
      [...meta.clients, ...(meta.limits ?? [])].map((c) => [`\`${c.name}\``, c.family, c.description]),
    ),
    '',
  );
  if (results.skipped.length > 0) {
    out.push('Skipped:', '');
    for (const s of results.skipped) out.push(`- \`${s.client}\` in ${s.scenario}: ${s.reason}`);
    out.push('');
  }

  if (results.steady.length > 0) out.push(...steadySection(results));
  if (results.batches && results.batches.length > 0) {
    const order = [...meta.clients.map((c) => c.name), LIMIT_ROW];
    out.push(...batchSection(results.batches, order));
  }
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
  out.push(...limitSection(results));
  const rowOrder = [...clientOrder, ...(results.meta.limits ?? []).map((l) => l.name)];
  const hasLimit = rows.some((r) => r.kind === 'limit');
  for (const size of sizes) {
    for (const mix of mixes) {
      const cellRows = rows
        .filter((r) => r.valueSize === size && r.readRatio === mix)
        .sort(
          (a, b) => a.concurrency - b.concurrency || rowOrder.indexOf(a.client) - rowOrder.indexOf(b.client),
        );
      if (cellRows.length === 0) continue;
      out.push(
        `### ${cellRows[0]?.mix} GET/SET, ${sizeLabel(size)} values`,
        '',
        `In brackets: relative to \`${results.meta.baseline}\` in the same cell (ops/s above 1 = faster; latency below 1 = faster).${hasLimit ? ` vs limit: ops/s ÷ \`${LIMIT_ROW}\` (no pipelining) in the same cell; limit rows are in italics.` : ''}`,
        '',
      );
      const latency = (r: SteadyRow, ms: number, ratioOf: number | null | undefined) =>
        r.kind === 'limit' && r.limit?.latencyParsed === false ? 'n/a' : withRatio(fmt(ms, 3), ratioOf);
      out.push(
        table(
          [
            'concurrency',
            'client',
            'ops/s',
            ...(hasLimit ? ['vs limit'] : []),
            'p50 ms',
            'p99 ms',
            'p99.9 ms',
            'errors',
          ],
          cellRows.map((r) => [
            String(r.concurrency),
            r.kind === 'limit' ? `*\`${r.client}\`*` : `\`${r.client}\``,
            withRatio(fmt(r.opsPerSec, 0), r.opsRatio),
            ...(hasLimit ? [ratio(r.limitRatio)] : []),
            latency(r, r.latency.p50Ms, r.p50Ratio),
            latency(r, r.latency.p99Ms, r.p99Ratio),
            latency(r, r.latency.p999Ms, r.p999Ratio),
            topErrors(r.errorsByName, 2),
          ]),
        ),
        '',
      );
    }
  }
  return out;
}

const geomeanOf = (values: Array<number | null | undefined>) =>
  geomean(values.filter((x): x is number => typeof x === 'number' && x > 0));

/**
 * "Distance from the limit": every client's ops/s as a fraction of redis-benchmark's in the same
 * cell, by concurrency, and why a Node client sits below a C benchmark client. The text is
 * written to hold whatever the numbers; the numbers come from the run.
 */
function limitSection(results: BenchResults): string[] {
  const rows = results.steady;
  const limits = rows.filter((r) => r.kind === 'limit');
  if (limits.length === 0) return [];
  const concurrencies = [...new Set(rows.map((r) => r.concurrency))].sort((a, b) => a - b);
  const names = [
    ...results.meta.clients.map((c) => c.name),
    ...(results.meta.limits ?? []).map((l) => l.name).filter((n) => n !== LIMIT_ROW),
  ].filter((n) => rows.some((r) => r.client === n));
  const cellLabel = (r: SteadyRow) => `${r.mix}, c=${r.concurrency}, ${sizeLabel(r.valueSize)}`;
  const out: string[] = [
    '### Distance from the limit',
    '',
    `Each client's ops/s ÷ \`${LIMIT_ROW}\`'s (redis-benchmark without pipelining, same master, same concurrency, value size and GET/SET mix), geometric mean over mixes and value sizes; 1.00× = as many operations per second as redis-benchmark's C client. The \`${LIMIT_ROW} -P16\` row shows what pipelining 16 requests per connection gets out of the same server.`,
    '',
    table(
      ['client', ...concurrencies.map((c) => `concurrency ${c}`), 'all cells', 'highest cell', 'lowest cell'],
      names.map((client) => {
        const mine = rows.filter((r) => r.client === client && typeof r.limitRatio === 'number');
        const sorted = [...mine].sort((a, b) => (b.limitRatio as number) - (a.limitRatio as number));
        const best = sorted[0];
        const worst = sorted[sorted.length - 1];
        return [
          rows.find((r) => r.client === client)?.kind === 'limit' ? `*\`${client}\`*` : `\`${client}\``,
          ...concurrencies.map((c) =>
            ratio(geomeanOf(mine.filter((r) => r.concurrency === c).map((r) => r.limitRatio))),
          ),
          ratio(geomeanOf(mine.map((r) => r.limitRatio))),
          best ? `${ratio(best.limitRatio)} (${cellLabel(best)})` : '–',
          worst ? `${ratio(worst.limitRatio)} (${cellLabel(worst)})` : '–',
        ];
      }),
    ),
    '',
    "What sets the distance (what the ratios measure; the numbers above are this run's):",
    '',
    `- **CPU per command in the client.** A Node client runs every command through JavaScript on one thread: building the command, writing it, parsing the reply, allocating its strings or Buffers, settling a promise and running the caller's continuation. redis-benchmark writes a precomputed request and only counts replies, in C. Here the bench process, redis-server (master, replicas replicating every SET, sentinels) and redis-benchmark share ${results.meta.machine.cpus} CPU core(s), so whatever CPU the client spends per command is also taken from the server: where a client is below the row, this is usually most of the reason.`,
    '- **Connections.** redis-benchmark opens one connection per unit of concurrency, each with one request in flight (with `-P16`, 16). ioredis and our routers multiplex every in-flight command over one connection per node (`pooled`: a small pool): at high concurrency they write many commands per socket write and read many replies per read (implicit pipelining), which saves system calls on both sides and can bring them close to, or past, the non-pipelined row; the `-P16` row is the bound for that effect.',
    "- **Concurrency 1.** One operation in flight is one round trip at a time: the ratio is the client's added latency per operation (event-loop turn, promise, timers) against a round trip that costs redis-benchmark almost nothing; at higher concurrency that cost is hidden behind other operations in flight and the ratio measures throughput per CPU instead.",
    "- **Our extra work over a raw client.** `createCache` builds the key, adds the codec header and goes through the router (breaker and pool for `pooled`, a Sentinel query per operation for `discovery`); the distance of `standalone` (no Sentinel) from the raw peers is that cost, the distance of `pooled` / `discovery` from `standalone` is the router's.",
    '- **What the limit row is not.** It is combined from separate GET and SET runs (see Method), it reads keys named by redis-benchmark (`key:<n>`, same key-space size and value size), and it does not count the client-side work a cache exists for (serialization, compression): it is the ceiling for this machine and server, not a competitor.',
    '',
  ];
  return out;
}

/** What reaches Redis for one batch of `b`. */
function sentAs(b: BatchRow): string {
  const op = b.op.toUpperCase();
  switch (b.shape) {
    case 'pipeline':
      return `pipeline of ${b.size} ${op}`;
    case 'script':
      return `EVALSHA: ${b.size} SET PX`;
    case 'memory':
      return 'nothing (near cache)';
    default:
      return `${b.op === 'get' ? 'MGET' : 'MSET'} of ${b.size}`;
  }
}

function batchSection(batches: BatchRow[], order: string[]): string[] {
  const first = batches[0] as BatchRow;
  const hasLimit = batches.some((b) => b.kind === 'limit');
  const base = (b: BatchRow) =>
    batches.find(
      (r) =>
        r.client === BASELINE_CLIENT &&
        r.method === 'pipeline of GET / SET' &&
        r.op === b.op &&
        r.concurrency === b.concurrency,
    );
  const sorted = [...batches].sort(
    (a, b) =>
      (a.op === b.op ? 0 : a.op === 'get' ? -1 : 1) ||
      a.concurrency - b.concurrency ||
      Number(a.kind === 'limit') - Number(b.kind === 'limit') ||
      order.indexOf(a.client) - order.indexOf(b.client) ||
      a.method.localeCompare(b.method),
  );
  return [
    '## Explicit pipelines',
    '',
    `Batches of ${first.size} random keys with ${sizeLabel(first.valueSize)} values per call, closed loop (concurrency = batches in flight), same run and topology as the steady state. keys/s = batches/s × ${first.size}; in brackets: keys/s relative to \`${BASELINE_CLIENT}\` pipeline of GET / SET.${hasLimit ? ` vs limit: keys/s ÷ the redis-benchmark row that sends the same thing to Redis (\`-P ${first.size}\` GET / SET: ${first.size} single-key requests written before the replies are read; MGET / MSET of ${first.size} keys: one command per batch), with as many connections as batches in flight.` : ''} Latency per batch (redis-benchmark: per request, from the write of its batch).`,
    '',
    table(
      [
        'op',
        'concurrency',
        'client',
        'method',
        'sent as',
        'batches/s',
        'keys/s',
        ...(hasLimit ? ['vs limit'] : []),
        'vs goal row',
        'p50 ms',
        'p99 ms',
        'errors',
      ],
      sorted.map((b) => {
        const ref = base(b);
        return [
          b.op.toUpperCase(),
          String(b.concurrency),
          b.kind === 'limit' ? `*\`${b.client}\`*` : `\`${b.client}\``,
          b.method,
          sentAs(b),
          fmt(b.batchesPerSec, 0),
          withRatio(
            fmt(b.keysPerSec, 0),
            ref && ref.keysPerSec > 0 ? round2(b.keysPerSec / ref.keysPerSec) : null,
          ),
          ...(hasLimit ? [ratio(b.limitRatio)] : []),
          b.versus !== undefined ? `${ratio(b.versusRatio)} ${b.versus.client} ${b.versus.method}` : '',
          b.latency ? fmt(b.latency.p50Ms, 3) : 'n/a',
          b.latency ? fmt(b.latency.p99Ms, 3) : 'n/a',
          topErrors(b.errorsByName, 2),
        ];
      }),
    ),
    '',
    "vs goal row: keys/s ÷ the keys/s of the row named (same operation and batches in flight, same run): our `getMany` against ioredis' own MGET of the same keys, our `setMany` with a TTL (one EVALSHA of SET PX per key) against an ioredis pipeline of `SET … PX`, and `getMany` through the near cache (a cache of its own on a router of its own: every key of the key space held, or 50 of the 100 keys held and the rest read with one MGET) against the network `getMany`.",
    '',
    'What the two ratios say: a batch pays the per-call cost (promise, event-loop turn, router bookkeeping, one round trip per node) once for all its keys, so the distance left from the limit row of the same shape is mostly the per-key cost of building the commands and parsing the replies in JavaScript, which redis-benchmark does not have; the bracket compares the clients with each other. One MGET / MSET is also less work for the server than as many GETs / SETs (one command to parse and dispatch instead of one per key), which is why each row is compared with the limit row that sends the same thing.',
    '',
  ];
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
        'success rate (acked writes lost count as failed)',
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
        // A write acknowledged and then lost did not succeed: it must not read as 100 %.
        c.offered > 0 ? `${(((c.succeeded - (c.lostWrites ?? 0)) / c.offered) * 100).toFixed(1)}%` : '–',
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
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(dir, 'report.md'), renderMarkdown(results));
  for (const [name, svg] of Object.entries(svgs)) await writeFile(join(dir, name), svg);
}
