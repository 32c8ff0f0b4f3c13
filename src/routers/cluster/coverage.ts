import { SLOT_COUNT, type SlotView } from './slot-map.js';

/** A slot a master is migrating, and the node (`host:port`) its keys move to. */
interface SlotMigration {
  slot: number;
  to: string;
}

/**
 * Which nodes a run on every master (eachMaster: SCAN, FLUSHDB) still owes, round after round,
 * so that every key that exists throughout the call is seen by some run:
 *
 * - a slot is covered by a run on the master that served it when the run started; when its
 *   master changes (a failover, the end of a migration), the new master runs again;
 * - a slot being migrated from A to B is split: a key may leave A before A's SCAN reaches it and
 *   reach B after B's SCAN passed its place. B must run once more, in a round after the one whose
 *   run on A covered the slot: a key not found on A had left it by then, so it is on B when B's
 *   later run starts (it only moves from A to B). Such a pair covers the slot for good. A slot
 *   counts as migrating to B while A reports it so, and also once A reports B as its master (the
 *   migration ended; the slot map the router refreshed may not say so yet).
 *
 * Rounds run their nodes in parallel; a round starts once the previous one has ended.
 */
export class SlotCoverage {
  #round = 0;
  /** The master whose run covered each slot, and the round of that run (-1: not covered). */
  readonly #coveredBy = new Array<string | undefined>(SLOT_COUNT);
  readonly #coveredIn = new Int32Array(SLOT_COUNT).fill(-1);
  /** The node whose run covered the slot's keys that had moved to it, after the run that covered it. */
  readonly #importedBy = new Array<string | undefined>(SLOT_COUNT);
  /** The last round each node ran in. */
  readonly #ranIn = new Map<string, number>();
  /** Migrations seen and not covered yet. */
  #owed: SlotMigration[] = [];

  /** The nodes the next round runs on: `owners` (the master of each slot now) and owed importing nodes. */
  pending(owners: readonly (string | undefined)[]): Set<string> {
    const nodes = new Set<string>();
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const owner = owners[slot];
      if (owner !== undefined && this.#coveredBy[slot] !== owner && this.#importedBy[slot] !== owner) {
        nodes.add(owner);
      }
    }
    for (const { slot, to } of this.#owed) if (this.#coveredRound(slot) >= 0) nodes.add(to);
    return nodes;
  }

  /** A run on `node` in this round succeeded: it covered the slots `owners` gave it when the round began. */
  ran(node: string, owners: readonly (string | undefined)[]): void {
    this.#ranIn.set(node, this.#round);
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (owners[slot] !== node) continue;
      this.#coveredBy[slot] = node;
      this.#coveredIn[slot] = this.#round;
    }
  }

  #coveredRound(slot: number): number {
    return this.#coveredIn[slot] ?? -1;
  }

  /** The round is over; `views` are the masters' own accounts of the slots now (CLUSTER NODES), by node. */
  endRound(views: ReadonlyMap<string, SlotView>): void {
    const seen = [...this.#owed];
    for (const [node, view] of views) {
      seen.push(...view.migrating);
      for (let slot = 0; slot < SLOT_COUNT; slot++) {
        const owner = view.owners[slot];
        if (this.#coveredBy[slot] === node && owner !== undefined && owner !== node)
          seen.push({ slot, to: owner });
      }
    }
    this.#owed = [];
    for (const migration of seen) {
      const { slot, to } = migration;
      if (this.#importedBy[slot] === to) continue;
      const covered = this.#coveredRound(slot);
      // Covered when `to` ran after the run that covered the slot, or covered it itself (as its
      // master now: its run came after the old master's).
      if (this.#coveredBy[slot] === to || (covered >= 0 && (this.#ranIn.get(to) ?? -1) > covered)) {
        this.#importedBy[slot] = to;
      } else if (!this.#owed.some((m) => m.slot === slot && m.to === to)) {
        this.#owed.push(migration);
      }
    }
    this.#round++;
  }
}
