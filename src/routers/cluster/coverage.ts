import { SLOT_COUNT, type SlotView } from './slot-map.js';

/** A slot whose keys move from one node to another, seen after `from`'s run of round `after`. */
interface SlotMigration {
  slot: number;
  from: string;
  to: string;
  after: number;
}

/**
 * Which nodes a run on every master (eachMaster: SCAN, FLUSHDB) still owes, round after round,
 * so that every key that exists throughout the call is seen by some run:
 *
 * - a slot is covered by a run on the master that served it when the run started; when its
 *   master changes (a failover, the end of a migration), the new master runs again;
 * - a slot being migrated from A to B is split: a key may leave A before A's SCAN reaches it and
 *   reach B after B's SCAN passed its place. B must run once more, in a round after A's run (a
 *   SCAN sees every key of its node, those of a slot being migrated too): a key A's run did not
 *   find had left A by then, so it is on B when B's later run starts. Such a pair covers the
 *   slot for good. A slot counts as migrating to B while A reports it so, and also once A reports
 *   B as the master of a slot A's run covered (the migration ended; the slot map the router
 *   refreshed may not say so yet).
 *
 * Rounds run their nodes in parallel; a round starts once the previous one has ended.
 */
export class SlotCoverage {
  #round = 0;
  /** The master whose run covered each slot. */
  readonly #coveredBy = new Array<string | undefined>(SLOT_COUNT);
  /** The node whose run, after its source's, covered the slot's keys that had moved to it. */
  readonly #importedBy = new Array<string | undefined>(SLOT_COUNT);
  /** The last round each node ran in. */
  readonly #ranIn = new Map<string, number>();
  /** Migrations seen whose receiving node has not run since. */
  #owed: SlotMigration[] = [];

  /** The nodes the next round runs on: `owners` (the master of each slot now) and owed receiving nodes. */
  pending(owners: readonly (string | undefined)[]): Set<string> {
    const nodes = new Set<string>();
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const owner = owners[slot];
      if (owner !== undefined && this.#coveredBy[slot] !== owner && this.#importedBy[slot] !== owner) {
        nodes.add(owner);
      }
    }
    for (const { to } of this.#owed) nodes.add(to);
    return nodes;
  }

  /** A run on `node` in this round succeeded: it covered the slots `owners` gave it when the round began. */
  ran(node: string, owners: readonly (string | undefined)[]): void {
    this.#ranIn.set(node, this.#round);
    for (let slot = 0; slot < SLOT_COUNT; slot++) if (owners[slot] === node) this.#coveredBy[slot] = node;
  }

  /** The round is over; `views` are the masters' own accounts of the slots now (CLUSTER NODES), by node. */
  endRound(views: ReadonlyMap<string, SlotView>): void {
    for (const [node, view] of views) {
      for (const { slot, to } of view.migrating) this.#saw(slot, node, to);
      for (let slot = 0; slot < SLOT_COUNT; slot++) {
        const owner = view.owners[slot];
        if (this.#coveredBy[slot] === node && owner !== undefined && owner !== node)
          this.#saw(slot, node, owner);
      }
    }
    this.#owed = this.#owed.filter((migration) => {
      if ((this.#ranIn.get(migration.to) ?? -1) <= migration.after) return true;
      this.#importedBy[migration.slot] = migration.to;
      return false;
    });
    this.#round++;
  }

  /** `from` reports `slot` going to `to`: `to` must run after `from`'s last run. */
  #saw(slot: number, from: string, to: string): void {
    const after = this.#ranIn.get(from);
    if (after === undefined || this.#importedBy[slot] === to) return;
    if (this.#owed.some((m) => m.slot === slot && m.from === from && m.to === to)) return;
    this.#owed.push({ slot, from, to, after });
  }
}
