/**
 * `sentinel-cache topology up --cluster --detach`, then the fault commands with a shard index
 * (`failover <shard>`, `pause <shard>`, `resume`, `kill <shard>`), `status` and `down`, through the
 * CLI in child processes, as a user runs them. Nothing is left running.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { collectClusterStatus, formatClusterStatus } from '../../src/topology/cluster-status.js';
import type { ProcessTopologyState } from '../../src/topology/index.js';
import { alive } from '../fixtures/child.js';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'src/cli.ts');
const work = mkdtempSync(join(tmpdir(), 'sentinel-cache-cli-cluster-'));
const stateFile = join(work, 'state', 'topology.json');

function cli(...args: string[]) {
  return exec(process.execPath, ['--import', 'tsx', CLI, ...args, '--state-file', stateFile], {
    cwd: ROOT,
    timeout: 90_000,
  });
}

afterAll(async () => {
  if (existsSync(stateFile)) await cli('topology', 'down').catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

/**
 * Until every shard has a master and a replica with its link up, cluster_state ok everywhere: the
 * lines `topology status` prints, collected in this process (a CLI process per poll is slow on a
 * loaded machine).
 */
async function untilHealthy(state: ProcessTopologyState): Promise<string> {
  let out = '';
  await vi.waitFor(
    async () => {
      out = formatClusterStatus(await collectClusterStatus(state.nodes, {}));
      expect(out.match(/ master {2}slots \d+-\d+ {2}cluster_state ok/g)).toHaveLength(3);
      expect(out.match(/ slave {3}of 127\.0\.0\.1:\d+ {2}link up {2}cluster_state ok/g)).toHaveLength(3);
    },
    { timeout: 60_000, interval: 500 },
  );
  return out;
}

/** The master serving `slot` in a `status` output. */
function masterServing(status: string, firstSlot: number): string {
  const line = status.split('\n').find((l) => new RegExp(` master {2}slots ${firstSlot}-`).test(l));
  const address = line?.match(/127\.0\.0\.1:\d+/)?.[0];
  if (address === undefined) throw new Error(`no master serves slot ${firstSlot} in:\n${status}`);
  return address;
}

describe('topology up --cluster --detach, then faults by shard', () => {
  it('bad shards refused; failover <shard>, pause <shard> --wait, resume, kill <shard> --wait, down', {
    timeout: 420_000,
  }, async () => {
    const up = await cli('topology', 'up', '--cluster', '--detach', '--node-timeout', '1000');
    expect(up.stdout).toContain('Redis Cluster is up');
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as ProcessTopologyState;
    const pids = state.processes.map((p) => p.pid as number);
    expect(pids).toHaveLength(6);
    try {
      // Bad shard arguments: clear messages, nothing touched.
      for (const command of ['failover', 'kill']) {
        const error = await cli('topology', command).catch((e: { stderr: string; code: number }) => e);
        expect(error).toMatchObject({ code: 1 });
        expect((error as { stderr: string }).stderr).toContain(
          `sentinel-cache: a cluster: name the shard, e.g. \`sentinel-cache topology ${command} 0\` (0 to 2)`,
        );
      }
      const error = await cli('topology', 'pause', '3').catch((e: { stderr: string }) => e);
      expect((error as { stderr: string }).stderr).toContain(
        'name a shard of this cluster: an integer from 0 to 2',
      );
      let status = await untilHealthy(state);
      // The CLI's own status prints the same lines.
      expect((await cli('topology', 'status')).stdout).toMatch(/ master {2}slots 0-\d+ {2}cluster_state ok/);
      // Shard 1 holds slots 5461-10922 with 3 shards (redis-cli --cluster create's split).
      const before1 = masterServing(status, 5461);

      const failover = await cli('topology', 'failover', '1', '--timeout', '60000');
      expect(failover.stdout).toContain(
        `CLUSTER FAILOVER accepted; master was ${before1} of shard 1 (slots 5461-10922)`,
      );
      const next1 = failover.stdout.match(/new master of shard 1: (127\.0\.0\.1:\d+) after [0-9.]+ s/)?.[1];
      expect(next1).toBeDefined();
      expect(next1).not.toBe(before1);
      status = await untilHealthy(state);
      expect(masterServing(status, 5461)).toBe(next1);

      const before2 = masterServing(status, 10923);
      const pause = await cli('topology', 'pause', '2', '--wait', '--timeout', '60000');
      expect(pause.stdout).toContain(`paused (SIGSTOP) the master ${before2} of shard 2 (slots 10923-16383)`);
      expect(pause.stdout).toMatch(/new master of shard 2: 127\.0\.0\.1:\d+ after [0-9.]+ s/);
      expect(pause.stdout).not.toContain(`new master of shard 2: ${before2} `);

      const resume = await cli('topology', 'resume');
      expect(resume.stdout).toContain('resumed (SIGCONT) 6 data nodes');
      status = await untilHealthy(state);

      const before0 = masterServing(status, 0);
      const kill = await cli('topology', 'kill', '0', '--wait', '--timeout', '60000');
      expect(kill.stdout).toContain(`killed (SIGKILL) the master ${before0} of shard 0 (slots 0-5460)`);
      expect(kill.stdout).toMatch(/new master of shard 0: 127\.0\.0\.1:\d+ after [0-9.]+ s/);
      const killedPid = state.processes.find((p) => `${p.host}:${p.port}` === before0)?.pid as number;
      for (let i = 0; i < 40 && alive(killedPid); i++) await sleep(50);
      expect(alive(killedPid)).toBe(false);
    } finally {
      const down = await cli('topology', 'down');
      expect(down.stdout).toMatch(/stopped \d redis-server processes/);
    }
    for (let i = 0; i < 100 && pids.some(alive); i++) await sleep(50);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(state.dir)).toBe(false);
    expect(existsSync(stateFile)).toBe(false);
  });
});
