import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProcessTopologyState } from '../../src/topology/index.js';
import { alive } from '../fixtures/child.js';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'src/cli.ts');
const work = mkdtempSync(join(tmpdir(), 'sentinel-cache-cli-'));
const stateFile = join(work, 'state', 'topology.json');

function cli(...args: string[]) {
  return exec(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, timeout: 60_000 });
}

afterAll(async () => {
  // If an assertion failed half-way, still take the detached servers down.
  if (existsSync(stateFile)) await cli('topology', 'down', '--state-file', stateFile).catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

describe('sentinel-cache topology up --detach / status / down', () => {
  it('starts detached servers, reports them, and takes everything down', async () => {
    const up = await cli(
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
    const up = await cli('topology', 'up', '--cluster', '--detach', '--state-file', stateFile);
    expect(up.stdout).toContain('Redis Cluster is up (provider: process): 3 shards, 1 replica(s) each');
    expect(up.stdout).toContain('routers.cluster({');
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

  it('--help works on every command', async () => {
    for (const args of [[], ['topology'], ['topology', 'up'], ['topology', 'down'], ['topology', 'status']]) {
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
