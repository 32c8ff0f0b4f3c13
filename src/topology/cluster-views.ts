import type { NodeAddress } from '../core/address.js';
import { type ClusterNodeEntry, ownsSlot, parseClusterNodes } from './cluster-nodes.js';
import { type Credentials, withConnection } from './control.js';

/**
 * The cluster as its nodes see it, shared by the running topology (cluster.ts) and the CLI's
 * control of a detached one (detached-cluster-control.ts).
 */

/** What one node answered to `CLUSTER NODES`, with its own line picked out. */
export interface NodeView {
  node: NodeAddress;
  entries: ClusterNodeEntry[];
  myself: ClusterNodeEntry;
}

/** Every node's view; a node that does not answer within `timeoutMs` (paused, killed) is left out. */
export async function readNodeViews(
  nodes: readonly NodeAddress[],
  creds: Credentials,
  timeoutMs: number,
): Promise<NodeView[]> {
  const views = await Promise.all(
    nodes.map(async (node) => {
      try {
        const text = await withConnection(
          node,
          creds,
          (c) => c.call('CLUSTER', 'NODES') as Promise<string>,
          timeoutMs,
        );
        const entries = parseClusterNodes(String(text));
        const myself = entries.find((e) => e.flags.includes('myself'));
        return myself ? { node, entries, myself } : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return views.filter((v): v is NodeView => v !== undefined);
}

/**
 * The answering node that claims to be master of `slot`. Two claimants (a resumed old master
 * not yet told): the higher config epoch wins, as in the cluster itself.
 */
export function claimedMasterOf(views: readonly NodeView[], slot: number): ClusterNodeEntry | undefined {
  return views
    .map((v) => v.myself)
    .filter((me) => me.flags.includes('master') && ownsSlot(me, slot))
    .sort((a, b) => b.configEpoch - a.configEpoch)[0];
}

/** The slot ranges of each shard, shard 0 first: the masters serving slots, ordered by their lowest slot. */
export function shardSlotRanges(entries: readonly ClusterNodeEntry[]): [number, number][][] {
  return entries
    .filter((e) => e.flags.includes('master') && e.slots.length > 0)
    .map((e) => [...e.slots].sort((a, b) => a[0] - b[0]))
    .sort((a, b) => (a[0]?.[0] ?? 0) - (b[0]?.[0] ?? 0));
}
