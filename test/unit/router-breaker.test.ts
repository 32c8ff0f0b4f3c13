import type { Redis } from 'ioredis';
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  BusyError,
  CircuitOpenError,
  CommandTimeoutError,
  ConfigError,
  ConnectionInterruptedError,
  DecodeError,
  LoadingError,
  MasterNotFoundError,
  OutOfMemoryError,
  SentinelUnavailableError,
  ServerError,
} from '../../src/core/errors.js';
import { rollingWindowOf } from '../../src/core/ioredis-internals.js';
import { RoleBreaker, tripsBreaker } from '../../src/routers/breaker.js';
import { translateError } from '../../src/routers/errors.js';
import { type NodeHandle, RouteRunner } from '../../src/routers/route-runner.js';
import { NodeStats, RouterEvents } from '../../src/routers/sentinel/router-events.js';

describe('tripsBreaker: only infrastructure failures count', () => {
  it.each([
    ['ConnectionInterruptedError', new ConnectionInterruptedError('x'), true],
    ['CommandTimeoutError', new CommandTimeoutError('x', 500), true],
    ['MasterNotFoundError', new MasterNotFoundError('x'), true],
    ['SentinelUnavailableError', new SentinelUnavailableError('x'), true],
    [
      'translated ECONNREFUSED',
      translateError(
        Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        undefined,
        500,
      ),
      true,
    ],
    ['BusyError (a script holds the node)', new BusyError('BUSY'), true],
    ['OutOfMemoryError (the node answers)', new OutOfMemoryError('OOM'), false],
    ['LoadingError (routing skips the node)', new LoadingError('LOADING'), false],
    ['ServerError', new ServerError('ERR x'), false],
    ['DecodeError (codec)', new DecodeError('bad', 'k'), false],
    ['ConfigError', new ConfigError('x'), false],
    [
      'WRONGTYPE reply',
      new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'),
      false,
    ],
    ['Lua error reply', new ReplyError('ERR user_script:1: boom'), false],
  ])('%s -> %s', (_name, err, trips) => {
    expect(tripsBreaker(err)).toBe(trips);
  });
});

describe('RoleBreaker (opossum)', () => {
  const fail = (err: Error) => () => Promise.reject(err);

  it('opens on repeated infrastructure failures and then fails fast with CircuitOpenError', async () => {
    const events: string[] = [];
    const b = new RoleBreaker(
      'master',
      { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
      {
        open: () => events.push('open'),
        halfOpen: () => events.push('half-open'),
        close: () => events.push('close'),
      },
    );
    try {
      // volumeThreshold 3: the third failure (100% failing) opens it
      for (let i = 0; i < 3; i++) {
        await expect(b.run(fail(new ConnectionInterruptedError('down')))).rejects.toBeInstanceOf(
          ConnectionInterruptedError,
        );
      }
      expect(b.state).toBe('open');
      let called = false;
      await expect(
        b.run(async () => {
          called = true;
        }),
      ).rejects.toBeInstanceOf(CircuitOpenError);
      expect(called).toBe(false);
      expect(events).toEqual(['open']);
      b.reset();
      expect(b.state).toBe('closed');
      expect(await b.run(async () => 5)).toBe(5);
      expect(events).toEqual(['open', 'close']);
    } finally {
      b.shutdown();
    }
  });

  it('reply errors and codec errors pass through without tripping it', async () => {
    const b = new RoleBreaker('replica', { volumeThreshold: 1 }, { open() {}, halfOpen() {}, close() {} });
    try {
      for (let i = 0; i < 20; i++) {
        await expect(b.run(fail(new ReplyError('WRONGTYPE x')))).rejects.toThrow('WRONGTYPE');
        await expect(b.run(fail(new DecodeError('bad', 'k')))).rejects.toBeInstanceOf(DecodeError);
      }
      expect(b.state).toBe('closed');
    } finally {
      b.shutdown();
    }
  });

  it('half-opens after resetTimeout; one success closes it', async () => {
    const events: string[] = [];
    const b = new RoleBreaker(
      'master',
      { volumeThreshold: 1, resetTimeoutMs: 50 },
      {
        open: () => events.push('open'),
        halfOpen: () => events.push('half-open'),
        close: () => events.push('close'),
      },
    );
    try {
      await expect(b.run(fail(new CommandTimeoutError('t', 500)))).rejects.toBeInstanceOf(
        CommandTimeoutError,
      );
      expect(b.state).toBe('open');
      await new Promise((r) => setTimeout(r, 120));
      expect(b.state).toBe('half-open');
      expect(await b.run(async () => 'ok')).toBe('ok');
      expect(b.state).toBe('closed');
      expect(events).toEqual(['open', 'half-open', 'close']);
    } finally {
      b.shutdown();
    }
  });
});

describe('RoleBreaker: only operations admitted in the current state count', () => {
  /** A breaker that opens on any infrastructure failure and half-opens after 50 ms. */
  function breaker(events: string[]) {
    return new RoleBreaker(
      'master',
      { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 50 },
      {
        open: () => events.push('open'),
        halfOpen: () => events.push('half-open'),
        close: () => events.push('close'),
      },
    );
  }

  /** An operation that stays in flight until the test settles it. */
  function inFlight() {
    let fail: (err: Error) => void = () => {};
    const promise = new Promise<never>((_, reject) => {
      fail = reject;
    });
    return { task: () => promise, fail };
  }

  async function untilState(b: RoleBreaker, state: RoleBreaker['state']): Promise<void> {
    for (let i = 0; i < 200 && b.state !== state; i++) await new Promise((r) => setTimeout(r, 10));
    expect(b.state).toBe(state);
  }

  it('a failure reported after the breaker opened, by an operation admitted while closed, does not take the half-open trial', async () => {
    const events: string[] = [];
    const b = breaker(events);
    try {
      const late = inFlight();
      const admittedClosed = b.run(late.task);
      admittedClosed.catch(() => {});
      await expect(b.run(fail(new CommandTimeoutError('t', 500)))).rejects.toBeInstanceOf(
        CommandTimeoutError,
      );
      await untilState(b, 'half-open');
      // pooled's half-open hook drops the old connections: the operation still on one fails now
      late.fail(new ConnectionInterruptedError('dropped by the half-open hook'));
      await expect(admittedClosed).rejects.toBeInstanceOf(ConnectionInterruptedError);
      expect(b.state).toBe('half-open');
      // the next operation is the trial, and its success closes the breaker
      expect(await b.run(async () => 'trial')).toBe('trial');
      expect(b.state).toBe('closed');
      expect(events).toEqual(['open', 'half-open', 'close']);
    } finally {
      b.shutdown();
    }
  });

  it('the same through the route runner (the pooled router counts in its promise step)', async () => {
    const events: string[] = [];
    const b = breaker(events);
    const p = new RouteRunner(new RouterEvents(), new NodeStats(), 500);
    const client = { commandQueue: { length: 0 }, status: 'ready' } as unknown as Redis;
    const node: NodeHandle = {
      address: { host: '127.0.0.1', port: 1 },
      key: '127.0.0.1:1',
      acquire: () => client,
      release: () => {},
      evict: () => {},
    };
    try {
      const late = inFlight();
      expect(b.passing).toBe(true);
      const admittedClosed = p.run(node, 'master', late.task, undefined, b.counter);
      admittedClosed.catch(() => {});
      await expect(b.run(fail(new CommandTimeoutError('t', 500)))).rejects.toBeInstanceOf(
        CommandTimeoutError,
      );
      await untilState(b, 'half-open');
      late.fail(new Error('Connection is closed.'));
      await expect(admittedClosed).rejects.toBeInstanceOf(ConnectionInterruptedError);
      expect(b.state).toBe('half-open');
      expect(await b.run(async () => 'trial')).toBe('trial');
      expect(events).toEqual(['open', 'half-open', 'close']);
    } finally {
      b.shutdown();
    }
  });

  it('a late failure of an operation admitted before an open/half-open/close cycle is not counted in the new window', async () => {
    const events: string[] = [];
    const b = breaker(events);
    try {
      const late = inFlight();
      const admittedClosed = b.run(late.task);
      admittedClosed.catch(() => {});
      await expect(b.run(fail(new CommandTimeoutError('t', 500)))).rejects.toBeInstanceOf(
        CommandTimeoutError,
      );
      await untilState(b, 'half-open');
      expect(await b.run(async () => 'trial')).toBe('trial');
      expect(b.state).toBe('closed');
      // errorThresholdPercentage 1, volumeThreshold 1: one counted failure would open it again
      late.fail(new ConnectionInterruptedError('late'));
      await expect(admittedClosed).rejects.toBeInstanceOf(ConnectionInterruptedError);
      expect(b.state).toBe('closed');
      expect(events).toEqual(['open', 'half-open', 'close']);
    } finally {
      b.shutdown();
    }
  });
});

describe("RoleBreaker fast path (counts in opossum's rolling window without fire())", () => {
  it('20 successes + 5 failures keep it closed; failures alone open it', async () => {
    const b = new RoleBreaker(
      'master',
      {
        volumeThreshold: 5, // uncounted successes would leave 5 of 5 failing: open
        errorThresholdPercentage: 50,
        resetTimeoutMs: 60_000,
        rollingCountTimeoutMs: 10_000,
      },
      { open() {}, halfOpen() {}, close() {} },
    );
    try {
      for (let i = 0; i < 20; i++) expect(await b.run(async () => i)).toBe(i);
      for (let i = 0; i < 5; i++) {
        await expect(b.run(fail(new ConnectionInterruptedError('down')))).rejects.toBeInstanceOf(
          ConnectionInterruptedError,
        );
      }
      // 5 of 25 failed (20%): below the threshold because the 20 successes were counted.
      expect(b.state).toBe('closed');
      for (let i = 0; i < 30 && b.state === 'closed'; i++) {
        await b.run(fail(new ConnectionInterruptedError('down'))).catch(() => {});
      }
      // Failures keep counting: past 50% it opens.
      expect(b.state).toBe('open');
    } finally {
      b.shutdown();
    }
  });

  it('feature-detects the rolling window and warns once without it', () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const window = { increment() {} };
      expect(rollingWindowOf(window)).toBe(window);
      expect(rollingWindowOf({})).toBeUndefined();
      expect(rollingWindowOf(undefined)).toBeUndefined();
    } finally {
      // emitWarning is delivered on the next tick; checked below.
      setImmediate(() => process.off('warning', onWarning));
    }
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        expect(warnings.filter((w) => w.includes('status.increment'))).toHaveLength(1);
        resolve();
      }),
    );
  });

  it('a success on the fast path leaves no latency sample behind (no per-operation garbage kept for 1 s)', async () => {
    const b = new RoleBreaker('master', {}, { open() {}, halfOpen() {}, close() {} });
    try {
      for (let i = 0; i < 50; i++) await b.run(async () => i);
      for (let i = 0; i < 50; i++) {
        expect(b.passing).toBe(true);
        await b.counter.track(Promise.resolve(i));
        b.counter.succeeded();
      }
      // opossum's 'successes' counter pushes one latencyTimes entry per call: the fast path
      // must not use it (those arrays were promoted by every scavenge: GC pauses at p99.9).
      const cb = (
        b as unknown as { cb: { status: { window: Array<{ fires: number; latencyTimes: number[] }> } } }
      ).cb;
      const window = cb.status.window;
      expect(window.reduce((n, bucket) => n + bucket.latencyTimes.length, 0)).toBe(0);
      expect(window.reduce((n, bucket) => n + bucket.fires, 0)).toBe(150);
    } finally {
      b.shutdown();
    }
  });

  it('matches the installed opossum: the breaker uses the fast path', async () => {
    const b = new RoleBreaker('master', {}, { open() {}, halfOpen() {}, close() {} });
    try {
      expect((b as unknown as { window: unknown }).window).toBeDefined();
    } finally {
      b.shutdown();
    }
  });
});

const fail = (err: Error) => () => Promise.reject(err);
