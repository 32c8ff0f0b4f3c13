/**
 * CI smoke of the bench suite: `bench --quick` end to end on a real local topology. Asserts the
 * shape of what it writes (a row for every client and scenario, SVGs that parse), never a timing.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResults } from '../../bench/lib/report.js';
import { runBenchCli } from '../../bench/run.js';

describe('bench --quick', () => {
  let outDir: string;
  let results: BenchResults;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'sentinel-cache-bench-'));
    await runBenchCli(['--quick', '--quiet', '--out', outDir]);
    results = JSON.parse(await readFile(join(outDir, 'results.json'), 'utf8')) as BenchResults;
  }, 240_000);

  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  // A client may only be missing when its package is not installed (node-redis is a devDependency).
  const expectedClients = () =>
    results.meta.clients
      .map((c) => c.name)
      .filter(
        (name) =>
          !results.skipped.some((s) => s.client === name && s.reason.startsWith('ClientUnavailableError')),
      );

  it('records the machine, versions and options', () => {
    expect(results.schema).toBe(1);
    expect(results.meta.machine.cpus).toBeGreaterThan(0);
    expect(results.meta.machine.node).toBe(process.version);
    expect(results.meta.machine.redis).toMatch(/^\d+\.\d+/);
    expect(results.meta.machine.packages.ioredis).toBeDefined();
    expect(results.meta.options.quick).toBe(true);
    expect(results.meta.clients.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'pooled',
        'discovery',
        'standalone',
        'ioredis-sentinel',
        'ioredis-sentinel-fd',
      ]),
    );
    // Nothing skipped for any reason other than a missing optional package.
    expect(results.skipped.filter((s) => !s.reason.startsWith('ClientUnavailableError'))).toEqual([]);
  });

  it('has a steady-state row for every client in every cell', () => {
    const { readRatios, concurrency, valueSizes } = results.meta.options.steady;
    for (const client of expectedClients()) {
      for (const readRatio of readRatios) {
        for (const c of concurrency) {
          for (const valueSize of valueSizes) {
            const row = results.steady.find(
              (r) =>
                r.client === client &&
                r.readRatio === readRatio &&
                r.concurrency === c &&
                r.valueSize === valueSize,
            );
            expect(row, `${client} ${readRatio} c=${c} ${valueSize} B`).toBeDefined();
            expect(row?.ops).toBeGreaterThan(0);
            expect(row?.latency.p99Ms).toBeGreaterThan(0);
          }
        }
      }
    }
    // Ratios are relative to the ioredis Sentinel client, which is 1 against itself.
    expect(results.steady.filter((r) => r.client === 'ioredis-sentinel').every((r) => r.opsRatio === 1)).toBe(
      true,
    );
  });

  it('has a failover timeline with every client for the fault', () => {
    expect(results.failover.map((f) => f.fault)).toEqual(results.meta.options.failover.faults);
    for (const f of results.failover) {
      expect(f.clients.map((c) => c.client).sort()).toEqual(expectedClients().sort());
      expect(f.marks.faultMs).toBeGreaterThan(0);
      for (const c of f.clients) {
        expect(c.offered).toBeGreaterThan(0);
        expect(c.buckets.successes.length).toBeGreaterThan(0);
        expect(c.buckets.errors.length).toBe(c.buckets.successes.length);
        expect(typeof c.lostWrites).toBe('number');
      }
    }
  });

  it('has soak samples for the pooled and discovery caches', () => {
    expect(results.soak.map((s) => s.client).sort()).toEqual(['discovery', 'pooled']);
    for (const s of results.soak) {
      expect(s.samples.length).toBeGreaterThan(0);
      expect(s.rssMaxMb).toBeGreaterThan(0);
    }
  });

  it('writes report.md and SVG charts that parse as XML with an <svg> root', async () => {
    const markdown = await readFile(join(outDir, 'report.md'), 'utf8');
    expect(markdown).toContain('## Steady state');
    expect(markdown).toContain('## Failover: pause');
    expect(markdown).toContain('## Soak');
    expect(results.charts).toEqual(expect.arrayContaining(['failover-pause.svg', 'soak.svg']));
    for (const chart of results.charts) {
      const svg = await readFile(join(outDir, chart), 'utf8');
      expect(XMLValidator.validate(svg), chart).toBe(true);
      const doc = new XMLParser({ ignoreAttributes: false }).parse(svg) as Record<string, unknown>;
      expect(Object.keys(doc), chart).toContain('svg');
      expect(markdown).toContain(`](${chart})`);
    }
  });
});
