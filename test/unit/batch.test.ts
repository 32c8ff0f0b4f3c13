import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { BATCH_SIZE, chunks, eachKey, failedPart, progress, sumOverChunks } from '../../src/core/batch.js';
import { CommandTimeoutError, IncompleteError } from '../../src/core/errors.js';
import { TypedEmitter } from '../../src/core/events.js';
import { Executor, ZERO } from '../../src/core/executor.js';
import { prefixLookingVersioned } from '../../src/core/options.js';
import type { Router } from '../../src/core/router.js';
import { Counters } from '../../src/core/stats.js';

/** A router whose `execute` fails on the calls listed in `failOn` (1-based). No Redis. */
function flakyRouter(failOn: number[]): Router {
  let calls = 0;
  return {
    kind: 'flaky',
    execute: async <T>(_intent: unknown, fn: (client: Redis) => Promise<T>) => {
      calls++;
      if (failOn.includes(calls)) throw new CommandTimeoutError('Command timed out', 500);
      return fn({} as Redis);
    },
    close: async () => {},
    on: () => {},
    off: () => {},
    stats: () => ({ kind: 'flaky', nodes: {}, failovers: 0 }),
  };
}

function executor(router: Router, ignoreErrors: boolean): Executor {
  return new Executor({ router, counters: new Counters(), events: new TypedEmitter(), ignoreErrors });
}

describe('chunks', () => {
  it('splits into slices of at most BATCH_SIZE, in order, none for an empty list', () => {
    expect(chunks([])).toEqual([]);
    const items = Array.from({ length: 2 * BATCH_SIZE + 1 }, (_, i) => i);
    const parts = chunks(items);
    expect(parts.map((p) => p.length)).toEqual([BATCH_SIZE, BATCH_SIZE, 1]);
    expect(parts.flat()).toEqual(items);
    expect(chunks([1, 2, 3], 2)).toEqual([[1, 2], [3]]);
  });
});

describe('sumOverChunks and failedPart', () => {
  const items = Array.from({ length: 3 * BATCH_SIZE }, (_, i) => i);
  const send = async (_c: Redis, chunk: number[]) => chunk.length;
  const touched = () => 'k';

  it('sums the chunk replies', async () => {
    expect(await sumOverChunks(executor(flakyRouter([]), false), 'op', 'k', items, touched, send)).toBe(
      items.length,
    );
  });

  it('first chunk failing: the error (or, with ignoreErrors, the harmless answer)', async () => {
    await expect(
      sumOverChunks(executor(flakyRouter([1]), false), 'op', 'k', items, touched, send),
    ).rejects.toBeInstanceOf(CommandTimeoutError);
    expect(await sumOverChunks(executor(flakyRouter([1]), true), 'op', 'k', items, touched, send)).toBe(0);
  });

  it('a later chunk failing: IncompleteError with what was done, also with ignoreErrors', async () => {
    for (const ignoreErrors of [false, true]) {
      const error = await sumOverChunks(
        executor(flakyRouter([3]), ignoreErrors),
        'op',
        'k',
        items,
        touched,
        send,
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IncompleteError);
      expect((error as IncompleteError).completed).toBe(2 * BATCH_SIZE);
      expect((error as IncompleteError).operation).toBe('op');
      expect((error as IncompleteError).cause).toBeInstanceOf(CommandTimeoutError);
    }
  });

  it('failedPart rethrows what ignoreErrors may not absorb', () => {
    const boom = new Error('WRONGTYPE');
    expect(() => failedPart(executor(flakyRouter([]), true), boom, 'op', 'k', progress(), ZERO)).toThrow(
      boom,
    );
  });
});

describe('eachKey', () => {
  it('sends every command in this tick and answers in order', async () => {
    const sent: number[] = [];
    const replies = eachKey([2, 0, 1], (i) => {
      sent.push(i);
      return new Promise<string>((resolve) => setTimeout(() => resolve(`r${i}`), 3 - i));
    });
    expect(sent).toEqual([2, 0, 1]);
    expect(await replies).toEqual(['r2', 'r0', 'r1']);
  });

  it('fails only once every command has answered, with the first failure', async () => {
    let answered = 0;
    const first = new Error('first');
    const failing = eachKey([0, 1, 2], (i) => {
      if (i === 0) return Promise.reject(first);
      return new Promise<number>((resolve) =>
        setTimeout(() => {
          answered++;
          resolve(i);
        }, 20),
      );
    });
    await expect(failing).rejects.toBe(first);
    expect(answered).toBe(2);
  });
});

describe('prefixLookingVersioned', () => {
  it('finds an integer segment after a colon and suggests a non-numeric one', () => {
    expect(prefixLookingVersioned('e:2')).toEqual({ prefix: 'e', version: '2', suggestion: 'e:v2' });
    expect(prefixLookingVersioned('t:42:c')).toEqual({ prefix: 't', version: '42', suggestion: 't:v42:c' });
    expect(prefixLookingVersioned('a:b:-1')?.prefix).toBe('a:b');
    for (const fine of ['', 'e', '2', '2:x', 'e:v2', 'e:2x', 'app.2']) {
      expect(prefixLookingVersioned(fine)).toBeUndefined();
    }
  });
});
