import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ProcessTopology,
  startStandalone,
  startTopology,
  type Topology,
  TopologyControlUnsupportedError,
} from '../../src/topology/index.js';
import { freePort } from '../../src/topology/ports.js';
import { dataNodeConf } from '../../src/topology/redis-conf.js';
import { PortInUseError, RedisProcess } from '../../src/topology/redis-process.js';
import { alive, spawnTsx } from '../fixtures/child.js';
import { until } from '../fixtures/until.js';

const TOPOLOGY_MODULE = resolve(import.meta.dirname, '../../src/topology/index.ts');

/** Waits until none of `pids` is alive (fails naming them after `timeoutMs`). */
function allGone(pids: number[], timeoutMs = 10_000): Promise<void> {
  return until(() => !pids.some(alive), timeoutMs, `processes ${pids.join(', ')} to be gone`);
}

const started: Topology[] = [];
afterAll(async () => {
  await Promise.all(started.map((t) => t.stop()));
});

describe('stop()', () => {
  it('kills every process it started and removes its temp dir', async () => {
    const t = (await startTopology({ provider: 'process', replicas: 1, sentinels: 1 })) as ProcessTopology;
    started.push(t);
    const pids = t.pids();
    expect(pids).toHaveLength(3);
    expect(pids.every(alive)).toBe(true);
    expect(existsSync(t.dir)).toBe(true);
    await t.pauseMaster(); // a paused process must be stopped too
    await t.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(t.dir)).toBe(false);
    await t.stop(); // idempotent
  });
});

/**
 * The crash cases run in a child Node process: it starts a topology, prints its pids and
 * temp dir, then dies the way a test run can die. Nothing may survive it.
 */
describe('cleanup when the owning process dies', () => {
  const scriptDir = mkdtempSync(join(tmpdir(), 'sentinel-cache-lifecycle-'));
  afterAll(() => rmSync(scriptDir, { recursive: true, force: true }));

  async function runChild(ending: 'throw' | 'SIGTERM' | 'SIGINT' | 'SIGKILL') {
    const script = join(scriptDir, `child-${ending}.mts`);
    writeFileSync(
      script,
      [
        `import { startTopology } from ${JSON.stringify(TOPOLOGY_MODULE)};`,
        "const t = await startTopology({ provider: 'process', replicas: 1, sentinels: 1 });",
        'console.log(JSON.stringify({ pids: t.pids(), dir: t.dir }));',
        ending === 'throw'
          ? "setTimeout(() => { throw new Error('boom: a test body threw and nobody called stop()'); }, 50);"
          : 'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    const run = spawnTsx(script, [], { cwd: resolve(import.meta.dirname, '../..') });
    const { child } = run;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await until(
      () => run.stdout.includes('\n') || child.exitCode !== null,
      30_000,
      'the child to start a topology',
    );
    const line = run.stdout.split('\n')[0];
    if (!line) throw new Error(`child did not start a topology: ${run.stderr}`);
    const info = JSON.parse(line) as { pids: number[]; dir: string };
    expect(info.pids).toHaveLength(3);
    expect(info.pids.every(alive)).toBe(true);
    if (ending !== 'throw') child.kill(ending);
    const code = await exited;
    return { ...info, code, stderr: run.stderr };
  }

  it('an uncaught error: the exit handler kills everything and removes the dir', async () => {
    const r = await runChild('throw');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('boom');
    await allGone(r.pids);
    expect(existsSync(r.dir)).toBe(false);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s: the signal handler cleans up', async (signal) => {
    const r = await runChild(signal);
    await allGone(r.pids);
    expect(existsSync(r.dir)).toBe(false);
  });

  it('SIGKILL (no handler can run): the watchdog kills everything and removes the dir', async () => {
    const r = await runChild('SIGKILL');
    await allGone(r.pids);
    await until(() => !existsSync(r.dir), 5000, 'the watchdog to remove the dir');
  });
});

describe('two topologies at once', () => {
  it('start concurrently on distinct ports and stay independent', async () => {
    const [a, b] = (await Promise.all([
      startTopology({ provider: 'process' }),
      startTopology({ provider: 'process', service: 'other' }),
    ])) as [ProcessTopology, ProcessTopology];
    started.push(a, b);
    const ports = [...a.nodes, ...a.sentinels, ...b.nodes, ...b.sentinels].map((n) => n.port);
    expect(new Set(ports).size).toBe(12);
    expect(a.dir).not.toBe(b.dir);
    // Each sentinel set knows only its own master (a shared hello channel would mix them).
    expect(await a.currentMaster()).toEqual(a.initialMaster);
    expect(await b.currentMaster()).toEqual(b.initialMaster);
    await Promise.all([a.waitForHealthy(), b.waitForHealthy()]);
    const killed = await a.killMaster();
    await a.waitForNewMaster(30_000, killed);
    expect(await b.currentMaster()).toEqual(b.initialMaster);
    await Promise.all([a.stop(), b.stop()]);
    expect([...a.pids(), ...b.pids()]).toEqual([]);
  });
});

describe('startStandalone()', () => {
  it('runs one Redis with a working URL; pause/resume/stop', async () => {
    const s = await startStandalone();
    try {
      expect(s.url).toBe(`redis://127.0.0.1:${s.port}`);
      const c = new Redis(s.url, { commandTimeout: 300, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      try {
        expect(await c.call('ROLE')).toEqual(['master', 0, []]);
        await s.pause();
        await expect(c.ping()).rejects.toThrow(/timed out/i);
        await s.resume();
        await sleep(50);
        const c2 = new Redis(s.url, { commandTimeout: 1000 });
        expect(await c2.ping()).toBe('PONG');
        c2.disconnect();
      } finally {
        c.disconnect();
      }
    } finally {
      await s.stop();
    }
    const probe = new Redis({ port: s.port, lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => {});
    await expect(probe.connect()).rejects.toThrow();
  });
});

describe('external provider', () => {
  it('auto picks the deployment named by SENTINEL_CACHE_SENTINELS; process controls are refused', async () => {
    const real = (await startTopology({
      provider: 'process',
      replicas: 1,
      sentinels: 2,
      service: 'ext',
    })) as ProcessTopology;
    started.push(real);
    const env = {
      SENTINEL_CACHE_SENTINELS: real.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      SENTINEL_CACHE_SERVICE: 'ext',
      PATH: process.env.PATH,
    };
    const t = await startTopology({}, { env, dockerReachable: async () => false });
    expect(t.provider).toBe('external');
    expect(t.sentinels).toEqual(real.sentinels);
    expect(t.nodes).toEqual(real.nodes);
    expect(await t.currentMaster()).toEqual(real.initialMaster);
    await t.waitForHealthy(10_000);
    await expect(t.pauseMaster()).rejects.toBeInstanceOf(TopologyControlUnsupportedError);
    await expect(t.killMaster()).rejects.toThrow(/needs control over the Redis processes/);
    // Sentinel commands still work on a deployment we do not own.
    await t.failover();
    const next = await t.waitForNewMaster(30_000, real.initialMaster);
    expect(next).toEqual(real.nodes[1]);
    await t.stop(); // leaves the deployment alone
    expect(await real.role(next)).toBe('master');
    await real.stop();
  });
});

describe('port races', () => {
  it('a port taken between the check and the bind is reported as PortInUseError (the caller retries)', async () => {
    const port = await freePort();
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-cache-race-'));
    try {
      const proc = new RedisProcess({ name: 'race', kind: 'data', dir, redisServerPath: 'redis-server' });
      proc.writeConf(port, dataNodeConf({ port, dir, logfile: proc.logPath, version: [7, 0] }));
      await expect(proc.start()).rejects.toBeInstanceOf(PortInUseError);
      expect(proc.isRunning).toBe(false);
    } finally {
      squatter.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
