import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  CacheClosedError,
  CircuitOpenError,
  CommandTimeoutError,
  ConnectionInterruptedError,
  DecodeError,
  MasterNotFoundError,
  OutOfMemoryError,
  ServerError,
} from '../../src/core/errors.js';
import { type CacheEventMap, TypedEmitter } from '../../src/core/events.js';
import { Executor, isIgnorable, NULL } from '../../src/core/executor.js';
import type { Router } from '../../src/core/router.js';
import { mergedBatches, scanAll, scanArgs, scanBatches, scanCount } from '../../src/core/scan.js';
import { Counters } from '../../src/core/stats.js';

/** A router that runs `fn` on a fake client or fails with `failure` (unit test: no Redis). */
function fakeRouter(failure?: unknown): Router & { closes: number } {
  return {
    kind: 'fake',
    closes: 0,
    execute: async <T>(_intent: unknown, fn: (client: Redis) => Promise<T>) => {
      if (failure !== undefined) throw failure;
      return fn({} as Redis);
    },
    async close() {
      this.closes++;
    },
    on: () => {},
    off: () => {},
    stats: () => ({ kind: 'fake', nodes: {}, failovers: 0 }),
  };
}

function executor(router: Router, ignoreErrors: boolean) {
  const events = new TypedEmitter<CacheEventMap>();
  const counters = new Counters();
  const seen: Array<CacheEventMap['error']> = [];
  events.on('error', (e) => seen.push(e));
  return { exec: new Executor({ router, counters, events, ignoreErrors }), counters, seen };
}

describe('Executor', () => {
  it('with ignoreErrors, a connection-level failure becomes the fallback and an error event', async () => {
    const failure = new CommandTimeoutError('timed out', 500);
    const { exec, counters, seen } = executor(fakeRouter(failure), true);
    expect(await exec.run('read', 'get', 'k', NULL, async () => 'never')).toBeNull();
    expect(counters.errors).toBe(1);
    expect(counters.ignoredErrors).toBe(1);
    expect(seen).toEqual([{ error: failure, operation: 'get', key: 'k' }]);
  });

  it('rethrows what ignoreErrors may not swallow: other errors, and operations without a fallback', async () => {
    const decode = new DecodeError('bad bytes', 'k');
    await expect(
      executor(fakeRouter(decode), true).exec.run('read', 'get', 'k', NULL, async () => 1),
    ).rejects.toBe(decode);
    const timeout = new CommandTimeoutError('timed out', 500);
    await expect(
      executor(fakeRouter(timeout), true).exec.run('write', 'incr', 'k', null, async () => 1),
    ).rejects.toBe(timeout);
    await expect(
      executor(fakeRouter(timeout), false).exec.run('read', 'get', 'k', NULL, async () => 1),
    ).rejects.toBe(timeout);
  });

  it("runThen: andThen maps the answer and an ignored failure's fallback; what it throws is not counted", async () => {
    const timeout = new CommandTimeoutError('timed out', 500);
    const ignoring = executor(fakeRouter(timeout), true);
    const seen: unknown[] = [];
    const mapped = await ignoring.exec.runThen(
      'read',
      'get',
      'k',
      NULL,
      async () => 'never',
      (v) => {
        seen.push(v);
        return 'mapped';
      },
    );
    expect(mapped).toBe('mapped');
    expect(seen).toEqual([null]);
    expect(ignoring.counters.errors).toBe(1);

    const ok = executor(fakeRouter(), true);
    const decode = new DecodeError('bad bytes', 'k');
    await expect(
      ok.exec.runThen(
        'read',
        'get',
        'k',
        NULL,
        async () => 'raw',
        () => {
          throw decode;
        },
      ),
    ).rejects.toBe(decode);
    expect(ok.counters.errors).toBe(0);
    expect(ok.seen).toEqual([]);
    expect(
      await ok.exec.runThen(
        'read',
        'get',
        'k',
        NULL,
        async () => 2,
        (v) => (v as number) * 3,
      ),
    ).toBe(6);

    const strict = executor(fakeRouter(timeout), false);
    await expect(
      strict.exec.writeThen(
        'set',
        'k',
        NULL,
        'k',
        async () => 'OK',
        () => true,
      ),
    ).rejects.toBe(timeout);
    expect(strict.counters.errors).toBe(1);
  });

  it('closes the router once and refuses every later operation', async () => {
    const router = fakeRouter();
    const { exec } = executor(router, false);
    expect(await exec.run('read', 'get', 'k', NULL, async () => 'v')).toBe('v');
    await Promise.all([exec.close(), exec.close()]);
    expect(router.closes).toBe(1);
    expect(exec.closed).toBe(true);
    await expect(exec.run('read', 'get', 'k', NULL, async () => 'v')).rejects.toBeInstanceOf(
      CacheClosedError,
    );
  });

  it('isIgnorable: transient failures only (the classification on the error, not its message)', () => {
    expect(isIgnorable(new ConnectionInterruptedError('reset'))).toBe(true);
    expect(isIgnorable(new CircuitOpenError('open'))).toBe(true);
    expect(isIgnorable(new MasterNotFoundError('none'))).toBe(true);
    expect(isIgnorable(new OutOfMemoryError('OOM command not allowed'))).toBe(true);
    // A router that does not translate: its raw connection failures are still recognised.
    expect(isIgnorable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(
      true,
    );
    expect(isIgnorable(new RangeError('Maximum call stack size exceeded'))).toBe(false);
    expect(
      isIgnorable(new ServerError('WRONGTYPE Operation against a key holding the wrong kind of value')),
    ).toBe(false);
    expect(isIgnorable(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(
      false,
    );
    expect(isIgnorable(new DecodeError('bad', 'k'))).toBe(false);
  });
});

describe('Executor on a router with several masters (optional router members)', () => {
  it('runOnEveryMaster uses eachMaster when the router has it, else one execute', async () => {
    const single = executor(fakeRouter(), false).exec;
    expect(await single.runOnEveryMaster('keys', undefined, null, async () => 'one')).toEqual(['one']);
    expect(single.groupKeys(['a', 'b'])).toBeUndefined();
    expect(single.canCombine(['a', 'b'])).toBe(true);
    expect(single.sharded).toBe(false);

    const many: Router = {
      ...fakeRouter(),
      eachMaster: async <T>(fn: (client: Redis, node: { host: string; port: number }) => Promise<T>) =>
        Promise.all([fn({} as Redis, { host: 'a', port: 1 }), fn({} as Redis, { host: 'b', port: 2 })]),
      groupKeys: (keys) => keys.map((_, i) => [i]),
      canCombine: (keys) => keys.length < 2,
    };
    const { exec } = executor(many, false);
    expect(await exec.runOnEveryMaster('keys', undefined, null, async () => 'n')).toEqual(['n', 'n']);
    expect(exec.groupKeys(['a', 'b'])).toEqual([[0], [1]]);
    expect(exec.canCombine(['a', 'b'])).toBe(false);
    expect(exec.sharded).toBe(true);
  });

  it('runOnEveryMaster applies ignoreErrors like run', async () => {
    const failure = new ConnectionInterruptedError('reset');
    const router: Router = { ...fakeRouter(), eachMaster: async () => Promise.reject(failure) };
    const { exec, counters, seen } = executor(router, true);
    expect(
      await exec.runOnEveryMaster(
        'clear',
        undefined,
        () => [],
        async () => 1,
      ),
    ).toEqual([]);
    expect(counters.ignoredErrors).toBe(1);
    expect(seen).toEqual([{ error: failure, operation: 'clear', key: undefined }]);
  });
});

describe('mergedBatches', () => {
  it('yields the batches of concurrent producers as they come, each producer one batch ahead at most', async () => {
    const log: string[] = [];
    const got: number[][] = [];
    for await (const batch of mergedBatches<number>(async (push) => {
      await Promise.all(
        [0, 10].map(async (base) => {
          for (let i = 0; i < 3; i++) {
            log.push(`push ${base + i}`);
            expect(await push([base + i])).toBe(true);
          }
        }),
      );
    })) {
      got.push(batch);
    }
    expect(got.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 10, 11, 12]);
    expect(log).toHaveLength(6);
  });

  it('tells the producers to stop when the consumer stops, without an error', async () => {
    let pushes = 0;
    let stoppedEarly = false;
    for await (const batch of mergedBatches<number>(async (push) => {
      for (let i = 0; i < 1000; i++) {
        pushes++;
        if (!(await push([i]))) {
          stoppedEarly = true;
          return;
        }
      }
    })) {
      if (batch[0] === 2) break;
    }
    expect(stoppedEarly).toBe(true);
    expect(pushes).toBeLessThan(10);
  });

  it("ends with the producers' error", async () => {
    const failure = new ConnectionInterruptedError('reset');
    const consume = async () => {
      for await (const _ of mergedBatches<number>(async (push) => {
        await push([1]);
        throw failure;
      })) {
        // consume
      }
    };
    await expect(consume()).rejects.toBe(failure);
  });
});

describe('scan helper', () => {
  it('follows the cursor until Redis hands back 0, one batch per round trip', async () => {
    const replies: Record<string, [string, number[]]> = {
      '0': ['7', [1, 2]],
      '7': ['3', []],
      '3': ['0', [3]],
    };
    const cursors: string[] = [];
    const step = async (cursor: string) => {
      cursors.push(cursor);
      return replies[cursor] as [string, number[]];
    };
    const batches: number[][] = [];
    for await (const batch of scanBatches(step)) batches.push(batch);
    expect(batches).toEqual([[1, 2], [], [3]]);
    expect(cursors).toEqual(['0', '7', '3']);
    expect(await scanAll(step)).toEqual([1, 2, 3]);
  });

  it('accepts Buffer cursors (the *Buffer commands reply with one)', async () => {
    const found = await scanAll(async (cursor) =>
      cursor === '0' ? [Buffer.from('5'), ['a']] : [Buffer.from('0'), ['b']],
    );
    expect(found).toEqual(['a', 'b']);
  });

  it('builds MATCH/COUNT and refuses a bad COUNT hint', () => {
    expect(scanArgs(undefined, 10)).toEqual(['COUNT', 10]);
    expect(scanArgs('a*', 10)).toEqual(['MATCH', 'a*', 'COUNT', 10]);
    expect(scanCount(undefined, 'scanCount')).toBe(1000);
    expect(() => scanCount(0, 'scanCount')).toThrow(/scanCount must be a positive integer/);
    expect(() => scanCount(1.5, 'scanCount')).toThrow(/scanCount/);
  });
});
