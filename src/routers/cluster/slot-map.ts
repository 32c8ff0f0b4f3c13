import calculateSlot from 'cluster-key-slot';
import type { NodeAddress } from '../types.js';

export const SLOT_COUNT = 16_384;

/** The hash slot of `key` (CRC16 of the key, or of its `{hash tag}` when it has one). */
export function slotOf(key: string | Buffer): number {
  return calculateSlot(key);
}

/** `host:port` → address (IPv6 hosts keep their colons: the port is after the last one). */
export function parseNodeKey(key: string): NodeAddress {
  const i = key.lastIndexOf(':');
  return { host: key.slice(0, i), port: Number(key.slice(i + 1)) };
}

/** A master change for a contiguous range of slots, found by comparing two slot maps. */
export interface SlotMove {
  from: string | undefined;
  to: string;
  firstSlot: number;
  lastSlot: number;
}

/** The master (`host:port`) of every slot, from ioredis' `cluster.slots` (element 0 of each entry). */
export function mastersBySlot(slots: readonly (readonly string[] | undefined)[]): (string | undefined)[] {
  const out = new Array<string | undefined>(SLOT_COUNT);
  for (let slot = 0; slot < SLOT_COUNT; slot++) out[slot] = slots[slot]?.[0];
  return out;
}

/** Contiguous slot ranges whose master differs between `before` and `after` (unassigned slots skipped). */
export function slotMoves(
  before: readonly (string | undefined)[],
  after: readonly (string | undefined)[],
): SlotMove[] {
  const moves: SlotMove[] = [];
  let current: SlotMove | undefined;
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const from = before[slot];
    const to = after[slot];
    if (to === undefined || from === to) {
      current = undefined;
      continue;
    }
    if (current && current.from === from && current.to === to && current.lastSlot === slot - 1) {
      current.lastSlot = slot;
    } else {
      current = { from, to, firstSlot: slot, lastSlot: slot };
      moves.push(current);
    }
  }
  return moves;
}

/** What one node's CLUSTER NODES reply says about the slots (addresses as `host:port`). */
export interface SlotView {
  /** The master of each slot, as this node knows it. */
  owners: (string | undefined)[];
  /** The slots this node is migrating (`[slot->-node id]` on its own line), with the node each moves to. */
  migrating: { slot: number; to: string }[];
}

/**
 * Read a CLUSTER NODES reply. `address` turns the address a line announces (`ip:port`) into the
 * name the caller uses for the node (natMap).
 */
export function slotView(clusterNodes: string, address: (announced: string) => string): SlotView {
  const lines = clusterNodes
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((fields) => fields.length >= 8);
  const addressOf = new Map(lines.map((fields) => [fields[0], address(fields[1]?.split('@')[0] ?? '')]));
  const owners = new Array<string | undefined>(SLOT_COUNT);
  const migrating: SlotView['migrating'] = [];
  for (const fields of lines) {
    const flags = fields[2]?.split(',') ?? [];
    if (!flags.includes('master')) continue;
    const node = addressOf.get(fields[0]);
    for (const field of fields.slice(8)) {
      const range = /^(\d+)(?:-(\d+))?$/.exec(field);
      if (range !== null) {
        const last = Number(range[2] ?? range[1]);
        for (let slot = Number(range[1]); slot <= last; slot++) owners[slot] = node;
        continue;
      }
      const marker = flags.includes('myself') ? /^\[(\d+)->-([0-9a-f]+)\]$/.exec(field) : null;
      const to = marker === null ? undefined : addressOf.get(marker[2]);
      if (marker !== null && to !== undefined) migrating.push({ slot: Number(marker[1]), to });
    }
  }
  return { owners, migrating };
}
