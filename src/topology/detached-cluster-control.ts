import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeAddress } from '../core/address.js';
import { addressKey, sameAddress } from '../core/address.js';
import { claimedMasterOf, type NodeView, readNodeViews, shardSlotRanges } from './cluster-views.js';
import { withConnection } from './control.js';
import { stateCredentials } from './detached-control.js';
import type { ProcessTopologyState } from './process-topology.js';

/**
 * Faults on a detached Redis Cluster (`topology up --cluster --detach`), driven from its state
 * file: the CLI's `pause <shard>`, `kill <shard>` and `failover <shard>`, the same faults as
 * ClusterTopology's `pauseMaster(shard)`, `killMaster(shard)` and `failover(shard)`. Shards are
 * numbered as there: by slot range (shard 0 holds slot 0), through failovers. The nodes' own
 * `CLUSTER NODES` say who serves a shard now; a node that does not answer within a second (paused,
 * killed) is left out.
 */

const CONTROL_TIMEOUT_MS = 1000;

/** A shard of a detached cluster: its number, slot ranges and current master. */
export interface DetachedShard {
  shard: number;
  slots: [number, number][];
  master: NodeAddress;
}

/** Every answering node's view of the cluster. */
function views(state: ProcessTopologyState): Promise<NodeView[]> {
  return readNodeViews(state.nodes, stateCredentials(state).data, CONTROL_TIMEOUT_MS);
}

/** The slot ranges of each shard, from the first answering node's view. */
function shardSlots(views: NodeView[]): [number, number][][] {
  const first = views[0];
  if (first === undefined) throw new Error('no node of the cluster answers');
  return shardSlotRanges(first.entries);
}

function checkShard(state: ProcessTopologyState, shard: number | undefined): number {
  const count = state.cluster?.shards ?? 0;
  if (shard === undefined || !Number.isInteger(shard) || shard < 0 || shard >= count) {
    throw new Error(`name a shard of this cluster: an integer from 0 to ${count - 1}`);
  }
  return shard;
}

/** Shard `shard` now: its slots and the node serving them. */
export async function clusterShard(state: ProcessTopologyState, shard: number): Promise<DetachedShard> {
  checkShard(state, shard);
  const seen = await views(state);
  const slots = shardSlots(seen)[shard];
  if (slots?.[0] === undefined) throw new Error(`shard ${shard} serves no slots`);
  const master = claimedMasterOf(seen, slots[0][0]);
  if (master === undefined) throw new Error(`no answering node serves shard ${shard} (slot ${slots[0][0]})`);
  return { shard, slots, master: master.address };
}

function dataPid(state: ProcessTopologyState, address: NodeAddress): number {
  const proc = state.processes.find((p) => sameAddress(p, address));
  if (proc?.pid === null || proc?.pid === undefined) {
    throw new Error(`${addressKey(address)} is not a running node of this cluster`);
  }
  return proc.pid;
}

/** SIGSTOP the master of `shard`; the cluster fails it over after cluster-node-timeout. */
export async function pauseShardMaster(state: ProcessTopologyState, shard: number): Promise<DetachedShard> {
  const now = await clusterShard(state, checkShard(state, shard));
  process.kill(dataPid(state, now.master), 'SIGSTOP');
  return now;
}

/** SIGKILL the master of `shard`: it does not come back (`topology down` still cleans up). */
export async function killShardMaster(state: ProcessTopologyState, shard: number): Promise<DetachedShard> {
  const now = await clusterShard(state, checkShard(state, shard));
  process.kill(dataPid(state, now.master), 'SIGKILL');
  return now;
}

/** `CLUSTER FAILOVER` on an answering replica of the master of `shard` (a coordinated switch). */
export async function failoverShard(state: ProcessTopologyState, shard: number): Promise<DetachedShard> {
  checkShard(state, shard);
  const seen = await views(state);
  const now = await clusterShard(state, shard);
  const replica = seen.find(
    (v) =>
      v.myself.flags.includes('slave') &&
      v.entries.some((e) => e.id === v.myself.masterId && sameAddress(e.address, now.master)),
  );
  if (replica === undefined) throw new Error(`shard ${shard} has no answering replica to fail over to`);
  await withConnection(
    replica.node,
    stateCredentials(state).data,
    (c) => c.call('CLUSTER', 'FAILOVER'),
    CONTROL_TIMEOUT_MS,
  );
  return now;
}

/** Polls until an answering node other than `old` claims the slots of `shard` as master. */
export async function waitForShardMaster(
  state: ProcessTopologyState,
  shard: number,
  old: NodeAddress,
  timeoutMs: number,
): Promise<NodeAddress> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await clusterShard(state, shard).catch(() => undefined);
    if (now !== undefined && !sameAddress(now.master, old)) return now.master;
    if (Date.now() > deadline) {
      throw new Error(`no new master for shard ${shard} within ${timeoutMs} ms (still ${addressKey(old)})`);
    }
    await sleep(200);
  }
}
