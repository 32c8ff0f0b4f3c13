import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  CircuitOpenError,
  CommandTimeoutError,
  ConfigError,
  ConnectionInterruptedError,
  DecodeError,
  MasterNotFoundError,
  SentinelUnavailableError,
} from '../../src/core/errors.js';
import { RoleBreaker, tripsBreaker } from '../../src/routers/breaker.js';
import { parseRole, roleMatches } from '../../src/routers/node-clients.js';

describe('tripsBreaker: only infrastructure failures count', () => {
  it.each([
    ['ConnectionInterruptedError', new ConnectionInterruptedError('x'), true],
    ['CommandTimeoutError', new CommandTimeoutError('x', 500), true],
    ['MasterNotFoundError', new MasterNotFoundError('x'), true],
    ['SentinelUnavailableError', new SentinelUnavailableError('x'), true],
    ['raw ECONNREFUSED', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), true],
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

describe('ROLE replies', () => {
  it('parses the role and matches expectations', () => {
    expect(parseRole(['master', 10, []])).toBe('master');
    expect(parseRole([Buffer.from('slave'), '127.0.0.1', 6379, 'connected', 1])).toBe('slave');
    expect(parseRole(['sentinel', []])).toBe('sentinel');
    expect(parseRole('nonsense')).toBe('unknown');
    expect(roleMatches('master', 'master')).toBe(true);
    expect(roleMatches('slave', 'master')).toBe(false);
    expect(roleMatches('slave', 'replica')).toBe(true);
    expect(roleMatches('master', 'any')).toBe(true);
    expect(roleMatches('sentinel', 'any')).toBe(false);
  });
});
