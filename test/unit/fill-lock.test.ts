/**
 * getOrSet's memory of slots whose fill scripts Redis refused lately (a slot migration): fills of
 * keys in such a slot go one key at a time from their start, for 5 s after the refusal.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MigratingSlots } from '../../src/core/get-or-set/fill-lock.js';

/** "Slot" = the first letter of the key. */
const sameSlot = (a: string, b: string) => a[0] === b[0];

describe('MigratingSlots', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('knows the slots refused within the last 5 s, by any key of them', () => {
    const slots = new MigratingSlots(sameSlot);
    expect(slots.has('a1')).toBe(false);
    slots.refused('a1');
    expect(slots.has('a2')).toBe(true);
    expect(slots.has('b1')).toBe(false);
    vi.advanceTimersByTime(4999);
    expect(slots.has('a3')).toBe(true);
    vi.advanceTimersByTime(2);
    expect(slots.has('a3')).toBe(false);
  });

  it('counts from the latest refusal of the slot', () => {
    const slots = new MigratingSlots(sameSlot);
    slots.refused('a1');
    vi.advanceTimersByTime(4000);
    slots.refused('a2');
    vi.advanceTimersByTime(4000);
    expect(slots.has('a1')).toBe(true);
  });

  it('keeps one entry per slot and at most 16 slots, the oldest dropped first', () => {
    const slots = new MigratingSlots(sameSlot);
    const letters = 'abcdefghijklmnopq'; // 17 slots
    for (const letter of letters) slots.refused(`${letter}1`);
    expect(slots.has('a1')).toBe(false);
    for (const letter of letters.slice(1)) expect(slots.has(`${letter}2`), letter).toBe(true);

    const again = new MigratingSlots(sameSlot);
    again.refused('a1');
    again.refused('a2'); // the same slot: still one entry
    for (const letter of letters.slice(1, 16)) again.refused(`${letter}1`);
    expect(again.has('a3')).toBe(true);
  });
});
