/**
 * The few lines `sentinel-cache bench` ends with on stdout (the tables are in report.md): per
 * scenario that ran, the numbers that decide between the routers, and which router they point
 * to, computed from this run; then where the report is and what else can be run.
 */
import type { FailoverClientResult, FailoverResult } from './failover.js';
import { DEFAULT_SCENARIOS, FAULTS } from './options.js';
import { type BenchResults, headToHead } from './report.js';

const count = (n: number) => n.toLocaleString('en-US');
const times = (n: number | null) => (n === null ? '–' : `${n.toFixed(2)}×`);
const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);

/** What each of our Sentinel routers is for, next to its numbers. */
const ROUTER_USE: Record<string, string> = {
  pooled: 'connection pools per node, moved on Sentinel news',
  discovery: 'every operation routed by a fresh Sentinel answer',
};

/** Lost no acknowledged write, left nothing over 1 s, and came back, in every fault run. */
function cleanThroughFailovers(client: string, failovers: FailoverResult[]): boolean {
  const rows = failovers.flatMap((f) => f.clients.filter((c) => c.client === client));
  return (
    rows.length === failovers.length &&
    rows.every((c) => c.lostWrites === 0 && c.hungOver1s === 0 && c.clientPartMs !== null)
  );
}

/** "pooled 0 lost, 0 hung, back 16 ms"; `brief` leaves out the zeros (the other clients' line). */
function failoverClient(c: FailoverClientResult, brief: boolean): string {
  const parts = [
    c.lostWrites === null ? 'lost writes not checked' : `${count(c.lostWrites)} lost`,
    `${count(c.hungOver1s)} hung`,
  ].filter((part) => !brief || !/^0 /.test(part));
  parts.push(c.clientPartMs === null ? 'never back' : `back ${ms(c.clientPartMs)}`);
  return `${c.client} ${parts.join(', ')}`;
}

export function benchSummary(results: BenchResults, files: { report: string; log: string }): string {
  const out: string[] = ['', 'Which router for you, from these numbers:'];
  const ours = results.meta.clients.filter((c) => c.family === 'ours').map((c) => c.name);
  // Each of ours against the baseline peer (or, with --only, the first of ours): geometric
  // means over the cells both ran.
  const measured = new Set(results.steady.map((r) => r.client));
  const reference = measured.has(results.meta.baseline)
    ? results.meta.baseline
    : ours.find((c) => measured.has(c));
  const versus = new Map(
    headToHead(results.steady, ours)
      .filter((h) => h.versus === reference)
      .map((h) => [h.client, h]),
  );
  if (versus.size > 0) {
    const cells = [...versus.values()][0]?.cells ?? 0;
    out.push(
      `  steady state, vs ${reference} over ${cells} cells: ${[...versus.values()]
        .map((h) => `${h.client} ${times(h.opsRatio)} ops/s, p99 ${times(h.p99Ratio)}`)
        .join('; ')}`,
    );
  }
  const opsRatio = new Map([...versus].map(([client, h]) => [client, h.opsRatio ?? 0]));
  if (reference !== undefined && ours.includes(reference)) opsRatio.set(reference, 1);
  for (const f of results.failover) {
    const mine = f.clients.filter((c) => ours.includes(c.client));
    const others = f.clients.filter((c) => !ours.includes(c.client));
    out.push(
      `  failover (${f.fault}; acknowledged writes lost, operations hung over 1 s, first kept write after +switch-master): ${mine.map((c) => failoverClient(c, false)).join('; ')}`,
    );
    if (others.length > 0) {
      out.push(`    others: ${others.map((c) => failoverClient(c, true)).join('; ')}`);
    }
  }
  out.push(...recommendation(results, ours, opsRatio));

  const cluster = results.cluster;
  const ourCluster = cluster?.steady.find((r) => r.client === 'cluster');
  if (cluster && ourCluster) {
    const fo = cluster.failover?.rows.find((r) => r.client === 'cluster');
    out.push(
      `  Redis Cluster: routers.cluster ${ourCluster.opsRatio ?? '–'}× ioredis Cluster's ops/s at ${cluster.options.concurrency} in flight` +
        (fo
          ? `; shard failover: ${count(fo.lostOnFailed + fo.lostOnOthers)} acknowledged writes lost, ${count(fo.hung)} hung, ${fo.backAfterPromotionMs === null ? 'not back before the load stopped' : `back ${ms(fo.backAfterPromotionMs)} after the promotion`}`
          : ''),
    );
  }
  const near = results.near;
  if (near) {
    const hot = (client: string) =>
      near.hot.find((r) => r.client === client && r.valueBytes === 100 && r.concurrency === 1)?.opsPerSec;
    const [withNear, without] = [hot('pooled + nearCache'), hot('pooled')];
    const delay = near.delay.find((d) => d.client === 'pooled + nearCache');
    out.push(
      `  near cache: hot 100 B gets ${withNear && without ? times(withNear / without) : '–'} the network path's rate (one in flight)` +
        (delay ? `, invalidation seen ${ms(delay.p99Ms)} after a write (p99)` : '') +
        (near.failover
          ? `, ${count(near.failover.staleReadsAfterWrite)} stale reads through a failover`
          : ''),
    );
  }

  out.push(
    '',
    `Report: ${files.report}`,
    `  (every table and chart; raw numbers in results.json, the run's log in ${files.log})`,
  );
  const also = alsoRun(results);
  if (also.length > 0) out.push('', 'Also run:', ...also.map((line) => `  ${line}`));
  out.push('');
  return out.join('\n');
}

/**
 * The router these numbers point to: of our Sentinel routers that came through every fault
 * clean, the one with the most ops/s; without a failover run, by ops/s alone, saying so.
 */
function recommendation(results: BenchResults, ours: string[], opsRatio: Map<string, number>): string[] {
  const opsOf = (c: string) => opsRatio.get(c) ?? 0;
  const byOps = (a: string, b: string) => opsOf(b) - opsOf(a);
  const ran = ours.filter(
    (c) => opsRatio.has(c) || results.failover.some((f) => f.clients.some((x) => x.client === c)),
  );
  if (ran.length === 0) return [];
  const use = (c: string) => (ROUTER_USE[c] ? ` (${ROUTER_USE[c]})` : '');
  if (results.failover.length === 0) {
    const best = [...ran].sort(byOps)[0] as string;
    return [
      `  → ${best}${use(best)} by ops/s alone; run the failover scenario to see which clients keep acknowledged writes`,
    ];
  }
  const clean = ran.filter((c) => cleanThroughFailovers(c, results.failover));
  if (clean.length === 0) {
    return [
      `  → none of ${ran.join(', ')} came through every fault without a lost write or an operation over 1 s in this run: read the failover section of the report before choosing`,
    ];
  }
  const [best, ...others] = [...clean].sort(byOps) as [string, ...string[]];
  const lines = [
    `  → ${best}${use(best)}: ${clean.length > 1 && opsRatio.size > 1 ? 'the most ops/s of the routers that' : 'it'} lost no acknowledged write and left no operation over 1 s`,
  ];
  for (const other of others) {
    const ratio = opsOf(best) > 0 && opsOf(other) > 0 ? opsOf(other) / opsOf(best) : null;
    lines.push(
      `  → ${other}${use(other)}: as safe through the failover${ratio === null ? '' : `, at ${times(ratio)} ${best}'s ops/s`}`,
    );
  }
  return lines;
}

/** The scenarios this run left out, as the commands that run them. */
function alsoRun(results: BenchResults): string[] {
  const { scenarios, failover } = results.meta.options;
  const commands: Array<[string, string]> = [];
  if (!DEFAULT_SCENARIOS.every((s) => scenarios.includes(s))) {
    commands.push(['npm run bench', 'the default run: steady state, a failover and a soak for every client']);
  }
  if (!scenarios.includes('near')) {
    commands.push([
      'npm run bench -- --scenario near',
      'the near cache: hot-key gets, invalidation delay, stale reads through a failover',
    ]);
  }
  if (!scenarios.includes('cluster')) {
    commands.push([
      'npm run bench -- --scenario cluster',
      'Redis Cluster: routers.cluster vs ioredis Cluster and node-redis',
    ]);
  }
  if (scenarios.includes('failover') && failover.faults.length < FAULTS.length) {
    commands.push(['npm run bench -- --fault all', 'the kill and SENTINEL FAILOVER faults too']);
  }
  const width = Math.max(0, ...commands.map(([command]) => command.length)) + 3;
  return commands.map(([command, what]) => `${command.padEnd(width)}${what}`);
}
