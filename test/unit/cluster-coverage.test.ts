/**
 * Which nodes a run on every master of a cluster owes, round after round (coverage.ts), and the
 * slot migrations read from CLUSTER NODES.
 */
import { describe, expect, it } from 'vitest';
import { SlotCoverage } from '../../src/routers/cluster/coverage.js';
import { SLOT_COUNT, type SlotView, slotView } from '../../src/routers/cluster/slot-map.js';

/** Slots 0-8191 on a:1, the rest on b:1, with `changes` applied. */
function owners(changes: Record<number, string> = {}): (string | undefined)[] {
  const out: (string | undefined)[] = Array.from({ length: SLOT_COUNT }, (_, slot) =>
    slot < 8192 ? 'a:1' : 'b:1',
  );
  for (const [slot, owner] of Object.entries(changes)) out[Number(slot)] = owner;
  return out;
}

/**
 * The masters' accounts after a round: each knows `map` (or `reported`, the masters' view when
 * it differs from the router's), and the master of each migrating slot reports its migration.
 */
function views(
  map: (string | undefined)[],
  migrations: { slot: number; to: string }[],
  reported = map,
): Map<string, SlotView> {
  const out = new Map<string, SlotView>();
  for (const node of new Set(map.filter((n): n is string => n !== undefined))) {
    const migrating = migrations.filter(({ slot }) => map[slot] === node);
    out.set(node, { owners: reported, migrating });
  }
  return out;
}

/** One round: run every pending node (all succeed), then end it with the masters' accounts. */
function round(
  coverage: SlotCoverage,
  map: (string | undefined)[],
  migrations: { slot: number; to: string }[] = [],
  reported = map,
) {
  const pending = [...coverage.pending(map)].sort();
  for (const node of pending) coverage.ran(node, map);
  coverage.endRound(views(map, migrations, reported));
  return pending;
}

describe('SlotCoverage', () => {
  it('runs every master once when nothing moves', () => {
    const coverage = new SlotCoverage();
    expect(round(coverage, owners())).toEqual(['a:1', 'b:1']);
    expect(coverage.pending(owners())).toEqual(new Set());
  });

  it('runs a new master of a slot again (a failover, a migration that ended)', () => {
    const coverage = new SlotCoverage();
    round(coverage, owners());
    expect(round(coverage, owners({ 100: 'c:1' }))).toEqual(['c:1']);
    expect(coverage.pending(owners({ 100: 'c:1' }))).toEqual(new Set());
  });

  it('runs the node a slot migrates to once more, in a round after the run that covered the slot', () => {
    const coverage = new SlotCoverage();
    // Round 0: a:1 (migrating slot 100 to b:1) and b:1 run in parallel: b:1's run does not count.
    expect(round(coverage, owners(), [{ slot: 100, to: 'b:1' }])).toEqual(['a:1', 'b:1']);
    expect(round(coverage, owners(), [{ slot: 100, to: 'b:1' }])).toEqual(['b:1']);
    // Covered for good: neither the migration still going on nor its end runs anything again.
    expect(round(coverage, owners(), [{ slot: 100, to: 'b:1' }])).toEqual([]);
    expect(coverage.pending(owners({ 100: 'b:1' }))).toEqual(new Set());
  });

  it('owes a migration seen once even when the next look no longer reports it', () => {
    const coverage = new SlotCoverage();
    round(coverage, owners(), [{ slot: 100, to: 'c:1' }]);
    // The source no longer reports it (the migration ended), the slot map still names the source.
    expect(round(coverage, owners(), [])).toEqual(['c:1']);
    expect(coverage.pending(owners())).toEqual(new Set());
  });

  it('ends once the node a slot migrated to has covered it as its new master', () => {
    const coverage = new SlotCoverage();
    expect(round(coverage, owners(), [{ slot: 100, to: 'c:1' }])).toEqual(['a:1', 'b:1']);
    // The migration ended: the slot map names c:1, the old master reports c:1 too.
    const after = owners({ 100: 'c:1' });
    expect(round(coverage, after, [], after)).toEqual(['c:1']);
    expect(coverage.pending(after)).toEqual(new Set());
  });

  it('runs the new master of a slot that its old master reports gone, before the slot map says so', () => {
    const coverage = new SlotCoverage();
    // The migration to c:1 started and ended during round 0; a:1 already names c:1.
    expect(round(coverage, owners(), [], owners({ 100: 'c:1' }))).toEqual(['a:1', 'b:1']);
    expect(round(coverage, owners(), [], owners({ 100: 'c:1' }))).toEqual(['c:1']);
    expect(coverage.pending(owners({ 100: 'c:1' }))).toEqual(new Set());
  });

  it('a slot that moved on and is migrating back: each node runs again after the other', () => {
    const coverage = new SlotCoverage();
    const map = owners();
    for (const node of coverage.pending(map)) coverage.ran(node, map);
    // During round 0 slot 100 moved from a:1 to b:1, and b:1 started to migrate it back.
    const moved = owners({ 100: 'b:1' });
    coverage.endRound(
      new Map([
        ['a:1', { owners: moved, migrating: [] }],
        ['b:1', { owners: moved, migrating: [{ slot: 100, to: 'a:1' }] }],
      ]),
    );
    expect(coverage.pending(map)).toEqual(new Set(['a:1', 'b:1']));
    for (const node of coverage.pending(map)) coverage.ran(node, map);
    coverage.endRound(new Map([['b:1', { owners: moved, migrating: [{ slot: 100, to: 'a:1' }] }]]));
    expect(coverage.pending(map)).toEqual(new Set());
  });

  it('counts a later run of the importing node for a migration that started after it', () => {
    const coverage = new SlotCoverage();
    round(coverage, owners(), [{ slot: 100, to: 'b:1' }]);
    round(coverage, owners(), [{ slot: 200, to: 'b:1' }]);
    // b:1 ran in round 1, after a:1's run of round 0 covered slot 200: nothing owed.
    expect(coverage.pending(owners())).toEqual(new Set());
  });

  it('waits for the slot to be covered before running the importing node', () => {
    const coverage = new SlotCoverage();
    const map = owners();
    map[100] = undefined;
    round(coverage, map, [{ slot: 100, to: 'b:1' }]);
    // Slot 100 has no master yet: b:1 already ran, nothing to add until someone covers it.
    expect(coverage.pending(map)).toEqual(new Set());
    expect(round(coverage, owners(), [{ slot: 100, to: 'b:1' }])).toEqual(['a:1']);
    expect(round(coverage, owners(), [{ slot: 100, to: 'b:1' }])).toEqual(['b:1']);
  });
});

describe('slotView (CLUSTER NODES)', () => {
  const nodes = [
    '07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host-a slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected',
    '67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922 16000',
    'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [93->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1] [77-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]',
    '',
  ].join('\n');
  const view = slotView(nodes, (announced) => `nat-${announced}`);

  it('names the master of each slot, through the address mapping', () => {
    expect(view.owners[0]).toBe('nat-127.0.0.1:30001');
    expect(view.owners[5460]).toBe('nat-127.0.0.1:30001');
    expect(view.owners[5461]).toBe('nat-127.0.0.1:30002');
    expect(view.owners[16000]).toBe('nat-127.0.0.1:30002');
    expect(view.owners[16001]).toBeUndefined();
  });

  it('lists the slots its own node migrates, with the node they go to', () => {
    expect(view.migrating).toEqual([{ slot: 93, to: 'nat-127.0.0.1:30002' }]);
    expect(slotView(nodes.replace(/ \[93->-[0-9a-f]+\]/, ''), (a) => a).migrating).toEqual([]);
    expect(slotView(nodes.replace('myself,', ''), (a) => a).migrating).toEqual([]);
  });
});
