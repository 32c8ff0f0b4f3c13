/**
 * Smoke of `bench --scenario cluster --quick` end to end on a real local Redis Cluster. Asserts
 * the shape of what it writes (a row per client, the failover and getMany tables), never a timing.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResults } from '../../bench/lib/report.js';
import { runBenchCli } from '../../bench/run.js';
import { TextSink } from '../fixtures/text-sink.js';

describe('bench --scenario cluster --quick', () => {
  let outDir: string;
  let results: BenchResults;
  let report: string;
  const stdout = new TextSink();
  const stderr = new TextSink();

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'sentinel-cache-bench-cluster-'));
    await runBenchCli(['--scenario', 'cluster', '--quick', '--out', outDir], { stdout, stderr });
    results = JSON.parse(await readFile(join(outDir, 'results.json'), 'utf8')) as BenchResults;
    report = await readFile(join(outDir, 'report.md'), 'utf8');
  }, 240_000);

  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('runs only the cluster scenario', () => {
    expect(results.steady).toEqual([]);
    expect(results.failover).toEqual([]);
    expect(results.cluster).toBeDefined();
  });

  it('has a steady row with per-shard figures for every client it could create', () => {
    const cluster = results.cluster!;
    const names = cluster.clients.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['cluster', 'ioredis-cluster']));
    expect(cluster.steady.map((r) => r.client)).toEqual(names);
    for (const row of cluster.steady) {
      expect(row.opsPerSec).toBeGreaterThan(0);
      expect(row.perShardOpsPerSec).toHaveLength(3);
      expect(row.perShardOpsPerSec.every((n) => n > 0)).toBe(true);
    }
    expect(cluster.steady.find((r) => r.client === 'ioredis-cluster')?.opsRatio).toBe(1);
  });

  it('records a shard failover for every client and nothing lost on the other shards by ours', () => {
    const failover = results.cluster!.failover!;
    expect(failover.promotionAfterFaultMs).toBeGreaterThan(0);
    expect(failover.rows.map((r) => r.client)).toEqual(results.cluster!.clients.map((c) => c.name));
    const ours = failover.rows.find((r) => r.client === 'cluster')!;
    expect(ours.acked).toBeGreaterThan(0);
    expect(ours.lostOnOthers).toBe(0);
    expect(ours.hung).toBe(0);
    expect(ours.backAfterPromotionMs).not.toBeNull();
  });

  it('compares getMany(100) with the per-key loops, and the report has the section', () => {
    expect(results.cluster!.getMany.map((g) => g.variant)).toHaveLength(3);
    for (const g of results.cluster!.getMany) expect(g.callsPerSec).toBeGreaterThan(0);
    expect(report).toContain('## Redis Cluster');
    expect(report).toContain('### Shard failover');
    expect(report).toContain('### 100 keys over all shards');
  });

  it('prints a summary of the cluster numbers and the report path, and offers the other scenarios', () => {
    const ours = results.cluster!.steady.find((r) => r.client === 'cluster')!;
    expect(stdout.text).toContain(`routers.cluster ${ours.opsRatio}× ioredis Cluster's ops/s`);
    expect(stdout.text).toContain(`Report: ${join(outDir, 'report.md')}`);
    expect(stdout.text).not.toContain('## Redis Cluster');
    expect(stdout.text).toContain('npm run bench -- --scenario near');
    expect(stderr.text).toMatch(/^cluster: (\d+)\/\1 steps done/m);
  });
});
