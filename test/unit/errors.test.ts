/**
 * What core says about errors, router-independent: a cluster refusal that did not run the
 * command (core/redis-errors.ts), and how each named error is classified (core/errors.ts).
 */
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  BusyError,
  CacheClosedError,
  CircuitOpenError,
  CommandTimeoutError,
  ConnectionInterruptedError,
  DecodeError,
  LoadingError,
  MasterDownError,
  NoReplicasError,
  OutOfMemoryError,
  ServerError,
  WritesRefusedError,
} from '../../src/core/errors.js';
import { isSlotRefusal } from '../../src/core/redis-errors.js';

describe('isSlotRefusal: a cluster node did not run the command (its slot is elsewhere or moving)', () => {
  it('recognises MOVED, ASK and TRYAGAIN, as replies and as the last error ioredis gave up on', () => {
    for (const message of [
      'MOVED 3999 127.0.0.1:7001',
      'ASK 3999 127.0.0.1:7001',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'Too many Cluster redirections. Last error: ReplyError: TRYAGAIN Multiple keys request during rehashing of slot',
      'Too many Cluster redirections. Last error: ReplyError: MOVED 3999 127.0.0.1:7001',
    ]) {
      expect(isSlotRefusal(new ReplyError(message)), message).toBe(true);
    }
  });

  it('leaves every other failure alone (they may have run)', () => {
    for (const message of [
      'Too many Cluster redirections. Last error: Error: Connection is closed.',
      'CLUSTERDOWN The cluster is down',
      'ERR MOVED is not a command',
      'Command timed out',
      'ASKING',
    ]) {
      expect(isSlotRefusal(new ReplyError(message)), message).toBe(false);
    }
    expect(isSlotRefusal('MOVED 1 a:1')).toBe(false);
  });
});

describe('classification on CacheError', () => {
  it.each([
    [new ConnectionInterruptedError('x'), true, true],
    [new CommandTimeoutError('x', 500), true, true],
    [new CircuitOpenError('x'), true, false],
    [new OutOfMemoryError('x'), true, false],
    [new WritesRefusedError('x'), true, false],
    [new LoadingError('x'), true, false],
    [new MasterDownError('x'), true, false],
    [new BusyError('x'), true, true],
    [new NoReplicasError('x'), true, false],
    [new ServerError('ERR x'), false, false],
    [new AuthenticationError('x'), false, true],
    [new DecodeError('x'), false, false],
    [new CacheClosedError(), false, false],
  ])('%s: transient %s, nodeFailure %s', (err, transient, nodeFailure) => {
    expect(err.transient).toBe(transient);
    expect(err.nodeFailure).toBe(nodeFailure);
  });
});
