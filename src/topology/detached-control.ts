import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeAddress } from '../core/address.js';
import { addressKey, sameAddress } from '../core/address.js';
import { type Credentials, firstAnswer, sentinelMasterAddr, withConnection } from './control.js';
import { isRedisServerPid } from './detached.js';
import type { ProcessTopologyState } from './process-topology.js';

/**
 * Faults on a detached topology (`topology up --detach`), driven from its state file: the CLI's
 * `failover`, `pause`, `resume` and `kill`. The same faults as the library's Topology controls
 * (`failover()`, `pauseMaster()`, `resumeMaster()`, `killMaster()`), on processes this process
 * did not start: it finds them by pid in the state file and asks the sentinels who the master is.
 */

/** The data-node and sentinel credentials (and TLS files, read now) recorded in the state file. */
export function stateCredentials(state: ProcessTopologyState): { data: Credentials; sentinel: Credentials } {
  const tls = state.tls
    ? {
        ca: readFileSync(state.tls.caFile),
        cert: readFileSync(state.tls.certFile),
        key: readFileSync(state.tls.keyFile),
      }
    : undefined;
  return {
    data: { username: state.auth?.username, password: state.auth?.password, tls },
    sentinel: { username: state.auth?.sentinelUsername, password: state.auth?.sentinelPassword, tls },
  };
}

/** The master the sentinels name now. */
export async function currentMaster(state: ProcessTopologyState): Promise<NodeAddress> {
  const { sentinel } = stateCredentials(state);
  const master = await firstAnswer(
    state.sentinels,
    (s) => sentinelMasterAddr(s, sentinel, state.service),
    `who the master of "${state.service}" is`,
  );
  if (master === null) throw new Error(`the sentinels know no master for "${state.service}"`);
  return master;
}

/** The pid of the running data node at `address`, checked to still be a redis-server. */
function dataPid(state: ProcessTopologyState, address: NodeAddress): number {
  const proc = state.processes.find((p) => p.kind === 'data' && sameAddress(p, address));
  if (proc === undefined) throw new Error(`${addressKey(address)} is not a data node of this topology`);
  if (proc.pid === null || !isRedisServerPid(proc.pid)) {
    throw new Error(`${proc.name} (${addressKey(address)}) is not running`);
  }
  return proc.pid;
}

export interface FaultResult {
  /** The master when the fault was applied. */
  master: NodeAddress;
  /** The new master, when asked to wait for one. */
  newMaster?: NodeAddress;
}

/** Polls the sentinels until they name a master other than `old`, for at most `timeoutMs`. */
export async function waitForNewMaster(
  state: ProcessTopologyState,
  old: NodeAddress,
  timeoutMs: number,
): Promise<NodeAddress> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await currentMaster(state).catch(() => undefined);
    if (now !== undefined && !sameAddress(now, old)) return now;
    if (Date.now() > deadline) {
      throw new Error(`no new master within ${timeoutMs} ms (still ${addressKey(old)})`);
    }
    await sleep(200);
  }
}

/** SIGSTOP the master (like `docker pause`): the sentinels fail over after down-after-milliseconds. */
export async function pauseMaster(state: ProcessTopologyState): Promise<FaultResult> {
  const master = await currentMaster(state);
  process.kill(dataPid(state, master), 'SIGSTOP');
  return { master };
}

/** SIGCONT every data node (a paused old master comes back and is turned into a replica). */
export function resumeAll(state: ProcessTopologyState): string[] {
  const resumed: string[] = [];
  for (const p of state.processes) {
    if (p.kind !== 'data' || p.pid === null || !isRedisServerPid(p.pid)) continue;
    process.kill(p.pid, 'SIGCONT'); // a no-op for a process that was not stopped
    resumed.push(`${p.name} (${p.host}:${p.port})`);
  }
  return resumed;
}

/** SIGKILL the master: `topology down` still cleans up; it does not come back by itself. */
export async function killMaster(state: ProcessTopologyState): Promise<FaultResult> {
  const master = await currentMaster(state);
  process.kill(dataPid(state, master), 'SIGKILL');
  return { master };
}

/** `SENTINEL FAILOVER <service>` on the first sentinel that accepts it. */
export async function failover(state: ProcessTopologyState): Promise<FaultResult> {
  const master = await currentMaster(state);
  const { sentinel } = stateCredentials(state);
  await firstAnswer(
    state.sentinels,
    (s) => withConnection(s, sentinel, (c) => c.call('SENTINEL', 'FAILOVER', state.service)),
    `SENTINEL FAILOVER ${state.service}`,
  );
  return { master };
}
