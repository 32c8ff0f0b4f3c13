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

/**
 * The slots the node that gave this CLUSTER NODES reply is migrating (`[slot->-node id]` on its
 * own line), each with the address (`host:port`, as the cluster announces it) of the node its
 * keys move to.
 */
export function migratingSlots(clusterNodes: string): { slot: number; to: string }[] {
  const lines = clusterNodes
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((fields) => fields.length >= 8);
  const myself = lines.find((fields) => fields[2]?.split(',').includes('myself'));
  if (myself === undefined) return [];
  const addressOf = new Map(lines.map((fields) => [fields[0], fields[1]?.split('@')[0]]));
  const out: { slot: number; to: string }[] = [];
  for (const field of myself.slice(8)) {
    const marker = /^\[(\d+)->-([0-9a-f]+)\]$/.exec(field);
    const to = marker === null ? undefined : addressOf.get(marker[2]);
    if (marker !== null && to !== undefined) out.push({ slot: Number(marker[1]), to });
  }
  return out;
}
