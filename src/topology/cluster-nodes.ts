import type { NodeAddress } from '../core/address.js';

/** One line of `CLUSTER NODES`, as seen by the node that answered. */
export interface ClusterNodeEntry {
  id: string;
  address: NodeAddress;
  /** `myself`, `master`, `slave`, `fail?` (pfail), `fail`, `handshake`, `noaddr`, ... */
  flags: string[];
  /** For a replica: the id of its master; `-` for a master. */
  masterId: string;
  configEpoch: number;
  linkState: 'connected' | 'disconnected';
  /** Inclusive slot ranges served (masters only; importing/migrating markers are skipped). */
  slots: [number, number][];
}

/**
 * Parses `CLUSTER NODES`:
 * `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...`
 */
export function parseClusterNodes(text: string): ClusterNodeEntry[] {
  const entries: ClusterNodeEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    const [id, addr, flags, masterId, , , epoch, link, ...slotFields] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      ...string[],
    ];
    const hostPort = addr.split('@')[0] ?? '';
    const colon = hostPort.lastIndexOf(':');
    const slots: [number, number][] = [];
    for (const s of slotFields) {
      if (s.startsWith('[')) continue;
      const [from, to] = s.split('-');
      slots.push([Number(from), Number(to ?? from)]);
    }
    entries.push({
      id,
      address: { host: hostPort.slice(0, colon), port: Number(hostPort.slice(colon + 1)) },
      flags: flags.split(','),
      masterId,
      configEpoch: Number(epoch),
      linkState: link === 'connected' ? 'connected' : 'disconnected',
      slots,
    });
  }
  return entries;
}

export function ownsSlot(entry: ClusterNodeEntry, slot: number): boolean {
  return entry.slots.some(([from, to]) => slot >= from && slot <= to);
}

export function isFailing(entry: ClusterNodeEntry): boolean {
  return entry.flags.includes('fail') || entry.flags.includes('fail?');
}
