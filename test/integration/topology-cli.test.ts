import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { ProcessTopologyState } from '../../src/topology/index.js';
import { isPortFree } from '../../src/topology/ports.js';
import { alive } from '../fixtures/child.js';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'src/cli.ts');
const work = mkdtempSync(join(tmpdir(), 'sentinel-cache-cli-'));
const stateFile = join(work, 'state', 'topology.json');

function cli(...args: string[]) {
  return cliWith({}, ...args);
}

/** The CLI with extra environment variables (SENTINEL_CACHE_PASSWORD). */
function cliWith(env: Record<string, string>, ...args: string[]) {
  return exec(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
}

/** `topology up --detach` of a master, one replica and two sentinels, recorded in `state`. */
function upDetached(state: string, ...extra: string[]) {
  return cli(
    'topology',
    'up',
    '--detach',
    '--replicas',
    '1',
    '--sentinels',
    '2',
    ...extra,
    '--state-file',
    state,
  );
}

/** A base port with `count` free consecutive ports after it (tried at random, below the ephemeral range). */
async function consecutiveFreePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 8_000);
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isPortFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

afterAll(async () => {
  // If an assertion failed half-way, still take the detached servers down.
  if (existsSync(stateFile)) await cli('topology', 'down', '--state-file', stateFile).catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

describe('sentinel-cache topology up --detach / status / down', () => {
  it('starts detached servers, reports them, and takes everything down', async () => {
    const up = await cliWith(
      { SENTINEL_CACHE_PASSWORD: 'cli-secret' },
      'topology',
      'up',
      '--detach',
      '--replicas',
      '1',
      '--sentinels',
      '2',
      '--state-file',
      stateFile,
    );
    expect(up.stdout).toContain("Redis Sentinel topology 'mymaster' is up");
    expect(up.stdout).toContain('routers.pooled({');
    // The snippet reads the password from the variable the CLI read it from, and never prints it.
    expect(up.stdout).toContain('    password: process.env.SENTINEL_CACHE_PASSWORD,');
    expect(up.stdout).not.toContain('cli-secret');
    // The stop command it prints stops this topology, not the one in the default state file.
    expect(up.stdout).toContain(`Stop it with: sentinel-cache topology down --state-file ${stateFile}`);
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as ProcessTopologyState;
    const pids = state.processes.map((p) => p.pid!);
    expect(pids).toHaveLength(4);
    // The CLI process has exited; the servers must still be running.
    expect(pids.every(alive)).toBe(true);

    const status = await cli('topology', 'status', '--state-file', stateFile);
    const master = state.nodes[0]!;
    const replica = state.nodes[1]!;
    expect(status.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${master.port}\\s+master`));
    expect(status.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${replica.port}\\s+slave\\s+offset \\d+`));
    expect(status.stdout).toContain('link up');
    for (const s of state.sentinels) {
      expect(status.stdout).toContain(`127.0.0.1:${s.port}        master 127.0.0.1:${master.port} [master]`);
    }

    const down = await cli('topology', 'down', '--state-file', stateFile);
    expect(down.stdout).toContain('stopped 4 redis-server processes');
    for (let i = 0; i < 100 && pids.some(alive); i++) await sleep(50);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(state.dir)).toBe(false);
    expect(existsSync(stateFile)).toBe(false);
    expect(existsSync(join(work, 'state'))).toBe(false);
  });

  it('up --cluster --detach starts a Redis Cluster; status shows slots and links; down removes it', async () => {
    const up = await cliWith(
      { SENTINEL_CACHE_PASSWORD: 'cli-secret' },
      'topology',
      'up',
      '--cluster',
      '--detach',
      '--state-file',
      stateFile,
    );
    expect(up.stdout).toContain('Redis Cluster is up (provider: process): 3 shards, 1 replica(s) each');
    expect(up.stdout).toContain('routers.cluster({');
    expect(up.stdout).toContain('    password: process.env.SENTINEL_CACHE_PASSWORD,');
    expect(up.stdout).toContain(`Stop it with: sentinel-cache topology down --state-file ${stateFile}`);
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as ProcessTopologyState;
    expect(state.cluster).toEqual({ shards: 3, replicasPerShard: 1 });
    const pids = state.processes.map((p) => p.pid!);
    expect(pids).toHaveLength(6);
    expect(pids.every(alive)).toBe(true);

    const status = await cli('topology', 'status', '--state-file', stateFile);
    expect(status.stdout.match(/ master {2}slots \d+-\d+ {2}cluster_state ok/g)).toHaveLength(3);
    expect(status.stdout.match(/ slave {3}of 127\.0\.0\.1:\d+ {2}link up {2}cluster_state ok/g)).toHaveLength(
      3,
    );

    const down = await cli('topology', 'down', '--state-file', stateFile);
    expect(down.stdout).toContain('stopped 6 redis-server processes');
    for (let i = 0; i < 100 && pids.some(alive); i++) await sleep(50);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(state.dir)).toBe(false);
    expect(existsSync(stateFile)).toBe(false);
  });

  it('--base-port, then failover / pause / resume / kill drive a detached topology', {
    timeout: 180_000,
  }, async () => {
    const faultState = join(work, 'faults', 'topology.json');
    const base = await consecutiveFreePorts(4);
    try {
      await upDetached(faultState, '--base-port', String(base));
      const state = JSON.parse(readFileSync(faultState, 'utf8')) as ProcessTopologyState;
      expect(state.nodes.map((n) => n.port)).toEqual([base, base + 1]);
      expect(state.sentinels.map((n) => n.port)).toEqual([base + 2, base + 3]);
      const [a, b] = [`127.0.0.1:${base}`, `127.0.0.1:${base + 1}`];

      const failover = await cli('topology', 'failover', '--state-file', faultState);
      expect(failover.stdout).toContain(`SENTINEL FAILOVER accepted; master was ${a}`);
      expect(failover.stdout).toMatch(new RegExp(`new master ${b} after [0-9.]+ s`));

      const pause = await cli('topology', 'pause', '--wait', '--state-file', faultState);
      expect(pause.stdout).toContain(`paused (SIGSTOP) the master ${b}`);
      expect(pause.stdout).toContain(`new master ${a}`);

      const resume = await cli('topology', 'resume', '--state-file', faultState);
      expect(resume.stdout).toContain('resumed (SIGCONT) 2 data nodes');
      // The resumed old master must be a replica again before the next failover can promote it.
      await vi.waitFor(
        async () =>
          expect((await cli('topology', 'status', '--state-file', faultState)).stdout).toContain('link up'),
        { timeout: 60_000, interval: 500 },
      );

      const kill = await cli('topology', 'kill', '--wait', '--state-file', faultState);
      expect(kill.stdout).toContain(`killed (SIGKILL) the master ${a}`);
      expect(kill.stdout).toContain(`new master ${b}`);
    } finally {
      if (existsSync(faultState)) await cli('topology', 'down', '--state-file', faultState);
    }
    expect(existsSync(faultState)).toBe(false);
  });

  it('a fault command without a state file fails with a clear message', async () => {
    for (const command of ['failover', 'pause', 'resume', 'kill']) {
      const error = await cli('topology', command, '--state-file', join(work, 'missing.json')).catch(
        (e) => e,
      );
      expect(error.code).toBe(1);
      expect(error.stderr).toContain('topology up --detach');
    }
  });

  // Nine CLI processes one after the other: each takes seconds to start on a loaded machine.
  it('--help works on every command', { timeout: 180_000 }, async () => {
    for (const args of [
      [],
      ['topology'],
      ['topology', 'up'],
      ['topology', 'down'],
      ['topology', 'status'],
      ['topology', 'failover'],
      ['topology', 'pause'],
      ['topology', 'resume'],
      ['topology', 'kill'],
    ]) {
      const { stdout } = await cli(...args, '--help');
      expect(stdout).toContain('Usage: sentinel-cache');
    }
  });

  it('down without a state file fails with a clear message', async () => {
    const error = await cli('topology', 'down', '--state-file', join(work, 'missing.json')).catch((e) => e);
    expect(error.code).toBe(1);
    expect(error.stderr).toContain('topology up --detach');
  });
});
