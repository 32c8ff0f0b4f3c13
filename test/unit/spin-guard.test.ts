import { describe, expect, it } from 'vitest';
import { SpinGuard } from '../../src/core/spin-guard.js';

/** Whether `p` settles in the microtask queue, i.e. without the event loop turning. */
async function settlesWithoutTurn(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return settled;
}

describe('SpinGuard', () => {
  it('answers at once while the event loop turns between answers', async () => {
    const guard = new SpinGuard(1);
    guard.check(0);
    guard.check(5); // the run is older than 1 ms, but this is its first look at the loop
    expect(guard.starving).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(guard.starving).toBe(false);
    expect(await settlesWithoutTurn(guard.resolve('v'))).toBe(true);
    expect(await settlesWithoutTurn(guard.reject(new Error('x')))).toBe(true);
  });

  it('a run older than maxSpinMs without a turn settles answers and failures after a turn', async () => {
    const guard = new SpinGuard(1);
    guard.check(100);
    guard.check(100.5);
    expect(guard.starving).toBe(false);
    guard.check(101.5);
    expect(guard.starving).toBe(true);
    const answer = guard.resolve('v');
    const failure = guard.reject(new Error('down'));
    // Both wait for the turn that also ends the run.
    expect(await settlesWithoutTurn(answer)).toBe(false);
    await expect(answer).resolves.toBe('v');
    await expect(failure).rejects.toThrow('down');
    expect(guard.starving).toBe(false);
  });
});
