import type { NodeAddress } from '../core/address.js';
import { addressKey, sameAddress } from '../core/address.js';
import { type Credentials, pairsToRecord, parseInfo, withConnection } from './control.js';

export interface DataNodeStatus {
  address: NodeAddress;
  role: string;
  /** master_repl_offset (master) or slave_repl_offset (replica). */
  offset?: number;
  /** Replica: master_link_status; master: number of connected replicas. */
  link?: string;
  masterOf?: string;
  error?: string;
}

export interface SentinelStatus {
  address: NodeAddress;
  master?: string;
  masterFlags?: string;
  replicas?: { address: string; flags: string }[];
  sentinels?: { address: string; flags: string }[];
  error?: string;
}

export interface TopologyStatus {
  service: string;
  nodes: DataNodeStatus[];
  sentinels: SentinelStatus[];
}

async function dataNodeStatus(address: NodeAddress, creds: Credentials): Promise<DataNodeStatus> {
  try {
    const info = parseInfo(await withConnection(address, creds, (c) => c.info('replication'), 1000));
    if (info.role === 'master') {
      return {
        address,
        role: 'master',
        offset: Number(info.master_repl_offset),
        link: `${info.connected_slaves} replicas connected`,
      };
    }
    return {
      address,
      role: info.role ?? 'unknown',
      offset: Number(info.slave_repl_offset),
      link: info.master_link_status ?? 'unknown',
      masterOf: `${info.master_host}:${info.master_port}`,
    };
  } catch (error) {
    return { address, role: 'unreachable', error: (error as Error).message };
  }
}

async function sentinelStatus(
  address: NodeAddress,
  creds: Credentials,
  service: string,
): Promise<SentinelStatus> {
  try {
    return await withConnection(
      address,
      creds,
      async (c) => {
        const master = pairsToRecord(await c.call('SENTINEL', 'master', service));
        const list = async (what: 'replicas' | 'sentinels') =>
          ((await c.call('SENTINEL', what, service)) as unknown[]).map(pairsToRecord).map((e) => ({
            address: `${e.ip}:${e.port}`,
            flags: e.flags ?? '',
          }));
        return {
          address,
          master: `${master.ip}:${master.port}`,
          masterFlags: master.flags ?? '',
          replicas: await list('replicas'),
          sentinels: await list('sentinels'),
        };
      },
      1000,
    );
  } catch (error) {
    return { address, error: (error as Error).message };
  }
}

/**
 * Role, offset and link of every data node, and what every sentinel sees. Data nodes are the
 * given ones plus any a sentinel reports (an external deployment has no list of its own).
 */
export async function collectStatus(options: {
  service: string;
  sentinels: NodeAddress[];
  nodes?: NodeAddress[];
  dataCreds: Credentials;
  sentinelCreds: Credentials;
}): Promise<TopologyStatus> {
  const sentinels = await Promise.all(
    options.sentinels.map((s) => sentinelStatus(s, options.sentinelCreds, options.service)),
  );
  const nodes: NodeAddress[] = [...(options.nodes ?? [])];
  const add = (key: string | undefined) => {
    if (!key) return;
    const i = key.lastIndexOf(':');
    const a = { host: key.slice(0, i), port: Number(key.slice(i + 1)) };
    if (a.host && a.port && !nodes.some((n) => sameAddress(n, a))) nodes.push(a);
  };
  for (const s of sentinels) {
    add(s.master);
    for (const r of s.replicas ?? []) add(r.address);
  }
  return {
    service: options.service,
    nodes: await Promise.all(nodes.map((n) => dataNodeStatus(n, options.dataCreds))),
    sentinels,
  };
}

export function formatStatus(status: TopologyStatus): string {
  const lines = [`service ${status.service}`, '', 'data nodes:'];
  for (const n of status.nodes) {
    const parts = [addressKey(n.address).padEnd(22), n.role.padEnd(12)];
    if (n.offset !== undefined) parts.push(`offset ${n.offset}`.padEnd(18));
    if (n.masterOf) parts.push(`of ${n.masterOf}`);
    if (n.link) parts.push(`link ${n.link}`);
    if (n.error) parts.push(`(${n.error})`);
    lines.push(`  ${parts.join(' ')}`);
  }
  lines.push('', 'sentinels:');
  for (const s of status.sentinels) {
    if (s.error) {
      lines.push(`  ${addressKey(s.address).padEnd(22)} unreachable (${s.error})`);
      continue;
    }
    lines.push(`  ${addressKey(s.address).padEnd(22)} master ${s.master} [${s.masterFlags}]`);
    const list = (xs: { address: string; flags: string }[] = []) =>
      xs.map((x) => `${x.address} [${x.flags}]`).join(', ') || 'none';
    lines.push(`  ${''.padEnd(22)} replicas  ${list(s.replicas)}`);
    lines.push(`  ${''.padEnd(22)} sentinels ${list(s.sentinels)}`);
  }
  return lines.join('\n');
}
