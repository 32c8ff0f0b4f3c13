import type { NodeAddress } from '../core/address.js';
import { addressKey } from '../core/address.js';
import type { ClusterTopology } from './cluster.js';
import { type ClusterNodeEntry, parseClusterNodes } from './cluster-nodes.js';
import { type Credentials, parseInfo, withConnection } from './control.js';

/**
 * Human-readable addresses plus a `createCache` config to paste into an app. The password is
 * never printed: the snippet reads it from an environment variable.
 */
export function describeCluster(t: ClusterTopology, caFile?: string): string {
  const lines = [
    `Redis Cluster is up (provider: process): ${t.shardCount} shards, ${t.replicasPerShard} replica(s) each`,
  ];
  for (const n of t.nodes) lines.push(`  node ${n.host}:${n.port}`);
  const seeds = t.nodes
    .slice(0, 3)
    .map((n) => `{ host: '${n.host}', port: ${n.port} }`)
    .join(', ');
  lines.push(
    '',
    'Use it from your app:',
    '',
    "import { createCache, routers } from 'sentinel-cache';",
    '',
    'const cache = createCache({',
    '  router: routers.cluster({',
    `    nodes: [${seeds}],`,
    ...(t.auth?.username ? [`    username: '${t.auth.username}',`] : []),
    ...(t.auth ? ['    password: process.env.SENTINEL_CACHE_PASSWORD,'] : []),
    ...(t.tls ? [`    tls: { ca: readFileSync(${JSON.stringify(caFile ?? 'ca.crt')}) },`] : []),
    '  }),',
    '});',
  );
  return lines.join('\n');
}

export interface ClusterNodeStatus {
  address: NodeAddress;
  /** Null when the node did not answer. */
  myself: ClusterNodeEntry | null;
  master?: NodeAddress;
  clusterState?: string;
  linkStatus?: string;
  error?: string;
}

/** What each node says about itself: role, slots, its master and link, cluster_state. */
export async function collectClusterStatus(
  nodes: NodeAddress[],
  creds: Credentials,
): Promise<ClusterNodeStatus[]> {
  return Promise.all(
    nodes.map(async (address): Promise<ClusterNodeStatus> => {
      try {
        return await withConnection(
          address,
          creds,
          async (c) => {
            const entries = parseClusterNodes(String(await c.call('CLUSTER', 'NODES')));
            const myself = entries.find((e) => e.flags.includes('myself')) ?? null;
            const info = parseInfo(String(await c.call('CLUSTER', 'INFO')));
            const status: ClusterNodeStatus = { address, myself };
            if (info.cluster_state !== undefined) status.clusterState = info.cluster_state;
            if (myself?.flags.includes('slave')) {
              const master = entries.find((e) => e.id === myself.masterId);
              if (master) status.master = master.address;
              const repl = parseInfo(await c.info('replication'));
              if (repl.master_link_status !== undefined) status.linkStatus = repl.master_link_status;
            }
            return status;
          },
          1000,
        );
      } catch (error) {
        return { address, myself: null, error: (error as Error).message };
      }
    }),
  );
}

export function formatClusterStatus(status: ClusterNodeStatus[]): string {
  return status
    .map((s) => {
      const where = addressKey(s.address).padEnd(22);
      if (!s.myself) return `${where}unreachable (${s.error ?? 'no answer'})`;
      const state = `cluster_state ${s.clusterState ?? '?'}`;
      if (s.myself.flags.includes('master')) {
        const slots = s.myself.slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',') || 'none';
        return `${where}master  slots ${slots}  ${state}`;
      }
      const of = s.master ? addressKey(s.master) : '?';
      return `${where}slave   of ${of}  link ${s.linkStatus ?? '?'}  ${state}`;
    })
    .join('\n');
}
