/**
 * CI smoke of the bench suite: `bench --quick` end to end on a real local topology. Asserts the
 * shape of what it writes (a row for every client and scenario, SVGs that parse) and what a
 * user sees (progress lines that end at their totals, a short summary and the report's path on
 * stdout, topology logs in bench.log), never a timing.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResults } from '../../bench/lib/report.js';
import { runBenchCli } from '../../bench/run.js';
import { TextSink } from '../fixtures/text-sink.js';

describe('bench --quick', () => {
  let outDir: string;
  let results: BenchResults;
  const stdout = new TextSink();
  const stderr = new TextSink();

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'sentinel-cache-bench-'));
    // Not a terminal: progress comes as lines on stderr, the summary on stdout.
    await runBenchCli(['--quick', '--out', outDir], { stdout, stderr });
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
    // Nothing skipped for any reason other than a missing optional package (or redis-benchmark).
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

  // redis-benchmark ships with redis-server; only an environment without it may skip the limit rows.
  const limitRan = () =>
    !results.skipped.some(
      (s) => s.client === 'redis-benchmark' && s.reason.startsWith('ClientUnavailableError'),
    );

  it('has the redis-benchmark limit rows in every steady-state cell, and every client ratio to them', () => {
    if (!limitRan()) return;
    expect(results.meta.limits?.map((l) => l.name)).toEqual(['redis-benchmark', 'redis-benchmark -P16']);
    const { readRatios, concurrency, valueSizes } = results.meta.options.steady;
    for (const readRatio of readRatios) {
      for (const c of concurrency) {
        for (const valueSize of valueSizes) {
          const cell = results.steady.filter(
            (r) => r.readRatio === readRatio && r.concurrency === c && r.valueSize === valueSize,
          );
          for (const name of ['redis-benchmark', 'redis-benchmark -P16']) {
            const row = cell.find((r) => r.client === name);
            expect(row, `${name} ${readRatio} c=${c} ${valueSize} B`).toBeDefined();
            expect(row?.kind).toBe('limit');
            expect(row?.opsPerSec).toBeGreaterThan(0);
            expect(row?.limit?.get.opsPerSec).toBeGreaterThan(0);
            expect(row?.limit?.set.opsPerSec).toBeGreaterThan(0);
            expect(row?.limit?.get.args).toEqual(
              expect.arrayContaining(['-c', String(c), '-d', String(valueSize)]),
            );
            expect(row?.limit?.pipeline).toBe(name === 'redis-benchmark' ? 1 : 16);
            // redis-benchmark 7 prints its latency distribution: the mix percentiles are read from it.
            expect(row?.limit?.latencyParsed).toBe(true);
            expect(row?.latency.p99Ms).toBeGreaterThan(0);
          }
          expect(cell.find((r) => r.client === 'redis-benchmark')?.limitRatio).toBe(1);
          for (const row of cell.filter((r) => r.kind !== 'limit')) {
            expect(row.limitRatio, row.client).toBeGreaterThan(0);
          }
        }
      }
    }
  });

  it('has the explicit-pipelines rows: ours getMany/setMany, ioredis pipeline and MGET/MSET, and their limits', () => {
    const batches = results.batches ?? [];
    const { concurrency } = results.meta.options.batch;
    const both = [
      ['pooled', 'getMany / setMany'],
      ['discovery', 'getMany / setMany'],
      ['standalone', 'getMany / setMany'],
      ['ioredis-sentinel', 'pipeline of GET / SET'],
      ['ioredis-sentinel', 'MGET / MSET'],
    ];
    const expected = {
      get: [
        ...both,
        ['pooled', 'getMany, near cache, every key held'],
        ['pooled', 'getMany, near cache, 50 keys held'],
      ],
      set: [
        ...both,
        ['pooled', 'setMany, ttl 60 s'],
        ['discovery', 'setMany, ttl 60 s'],
        ['standalone', 'setMany, ttl 60 s'],
        ['ioredis-sentinel', 'pipeline of SET PX'],
      ],
    };
    for (const op of ['get', 'set'] as const) {
      for (const c of concurrency) {
        for (const [client, method] of expected[op]) {
          const row = batches.find(
            (b) => b.client === client && b.method === method && b.op === op && b.concurrency === c,
          );
          expect(row, `${client} ${method} ${op} c=${c}`).toBeDefined();
          expect(row?.batches).toBeGreaterThan(0);
          expect(row?.keysPerSec).toBe(Math.round((row?.batchesPerSec ?? 0) * (row?.size ?? 0)));
          expect(row?.errors).toBe(0);
          // Rows measured against a goal row (ioredis' MGET / pipeline of SET PX, the network getMany) have its ratio.
          if (row?.versus !== undefined) expect(row.versusRatio, `${client} ${method} vs`).toBeGreaterThan(0);
        }
        if (limitRan()) {
          for (const shape of ['pipeline', 'multi-key']) {
            const limit = batches.find(
              (b) => b.kind === 'limit' && b.shape === shape && b.op === op && b.concurrency === c,
            );
            expect(limit, `redis-benchmark ${shape} ${op} c=${c}`).toBeDefined();
            expect(limit?.keysPerSec).toBeGreaterThan(0);
            expect(limit?.limitRatio).toBe(1);
          }
          const withLimit = (r: (typeof batches)[number]) =>
            r.shape === 'pipeline' || r.shape === 'multi-key';
          for (const b of batches.filter((r) => r.op === op && r.concurrency === c && withLimit(r))) {
            // A number, not null: the ratio is rounded to two decimals, so a row far below the
            // limit (a loaded machine, --quick) can read 0.
            expect(b.limitRatio, `${b.client} ${b.method}`).toBeTypeOf('number');
          }
        }
      }
    }
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

  it('prints a short summary from the run and the report path, not the report', () => {
    const out = stdout.text;
    expect(out).toContain('Which router for you, from these numbers:');
    expect(out).toContain(`Report: ${join(outDir, 'report.md')}`);
    expect(out).not.toContain('## Steady state');
    expect(out).not.toMatch(/^\|/m);
    expect(out.split('\n').length).toBeLessThan(40);
    // Computed from the run: every client that lost acknowledged writes is named with the count.
    for (const f of results.failover) {
      for (const c of f.clients.filter((c) => (c.lostWrites ?? 0) > 0)) {
        expect(out).toContain(`${c.client} ${(c.lostWrites as number).toLocaleString('en-US')} lost`);
      }
    }
    expect(out).toContain('npm run bench -- --scenario near');
    expect(out).toContain('npm run bench -- --scenario cluster');
  });

  it('shows an overall estimate, ends every progress phase at its total, and logs topology lines to bench.log', async () => {
    const lines = stderr.text.split('\n').filter(Boolean);
    const starts = lines
      .map((l) => /^(\w[\w ]*?): 0\/(\d+) (\w+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    expect(starts.map((m) => m[1])).toEqual(expect.arrayContaining(['steady', 'soak', 'failover pause']));
    // A phase's total may grow while it runs (a failover takes longer than planned); it ends full.
    for (const [, name, , unit] of starts) {
      expect(stderr.text, name).toMatch(new RegExp(`^${name}: (\\d+)/\\1 ${unit} done`, 'm'));
    }
    expect(stderr.text).toMatch(/overall \d+%, about [\dhms ]+ left/);
    expect(stderr.text).not.toMatch(/listening on|topology provider|healthy: master/);
    const log = await readFile(join(outDir, 'bench.log'), 'utf8');
    expect(log).toMatch(/listening on 127\.0\.0\.1:\d+/);
  });

  it('counts acknowledged writes that were lost as failures in the failover success rate', async () => {
    const markdown = await readFile(join(outDir, 'report.md'), 'utf8');
    expect(markdown).toContain('success rate (acked writes lost count as failed)');
    for (const f of results.failover) {
      for (const c of f.clients) {
        const row = markdown
          .split('\n')
          .find((l) => l.startsWith(`| \`${c.client}\` |`) && l.endsWith('% |'));
        const kept = c.succeeded - (c.lostWrites ?? 0);
        expect(row, c.client).toBeDefined();
        expect(row?.endsWith(`| ${((kept / c.offered) * 100).toFixed(1)}% |`), row).toBe(true);
      }
    }
  });

  it('writes report.md and SVG charts that parse as XML with an <svg> root', async () => {
    const markdown = await readFile(join(outDir, 'report.md'), 'utf8');
    expect(markdown).toContain('## Steady state');
    expect(markdown).toContain('## Failover: pause');
    expect(markdown).toContain('## Soak');
    expect(markdown).toContain('## Explicit pipelines');
    if (limitRan()) {
      expect(markdown).toContain('### Distance from the limit');
      expect(markdown).toMatch(/\| \*`redis-benchmark`\* \|/);
      expect(markdown).toMatch(/\| \*`redis-benchmark -P16`\* \|/);
      expect(markdown).toContain('vs limit');
    }
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
