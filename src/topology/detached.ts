import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ProcessTopologyState } from './process-topology.js';
import { terminatePid } from './redis-process.js';

/** Where `topology up --detach` records what it started, relative to the working directory. */
export const DEFAULT_STATE_FILE = '.sentinel-cache/topology.json';

export function writeState(path: string, state: ProcessTopologyState): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  // It may hold passwords: owner-only.
  writeFileSync(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export function readState(path: string): ProcessTopologyState {
  if (!existsSync(path)) {
    throw new Error(`no state file at ${path}: start one with \`sentinel-cache topology up --detach\``);
  }
  const state = JSON.parse(readFileSync(path, 'utf8')) as ProcessTopologyState;
  if (state.provider !== 'process' || !Array.isArray(state.processes)) {
    throw new Error(`${path} is not a sentinel-cache topology state file`);
  }
  return state;
}

/**
 * True if `pid` still runs redis-server. Guards against killing an unrelated process that
 * reused the pid after the topology died. Where /proc is missing we can only check liveness.
 */
export function isRedisServerPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server');
  } catch {
    return !existsSync('/proc/self');
  }
}

export function livePids(state: ProcessTopologyState): number[] {
  return state.processes.flatMap((p) => (p.pid !== null && isRedisServerPid(p.pid) ? [p.pid] : []));
}

/** Stops every process of a detached topology, removes its temp dir and the state file. */
export async function downFromState(path: string): Promise<{ stopped: number; dir: string }> {
  const state = readState(path);
  const pids = livePids(state);
  await Promise.all(pids.map((pid) => terminatePid(pid)));
  rmSync(state.dir, { recursive: true, force: true });
  rmSync(path, { force: true });
  // Remove `.sentinel-cache/` too when we were its only tenant.
  const parent = dirname(resolve(path));
  if (existsSync(parent) && readdirSync(parent).length === 0) rmdirSync(parent);
  return { stopped: pids.length, dir: state.dir };
}
