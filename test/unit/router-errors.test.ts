import { EventEmitter } from 'node:events';
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  BusyError,
  type CacheError,
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
import { trackSocketErrors, translateError } from '../../src/routers/errors.js';

const at = { host: '127.0.0.1', port: 7000 };

describe('translateError: the one place that reads ioredis / Redis wording', () => {
  it('a connection closed after the handshake refused AUTH (ioredis 6 closes it) is an AuthenticationError', () => {
    const client = new EventEmitter();
    trackSocketErrors(client);
    client.emit('error', new ReplyError('WRONGPASS invalid username-password pair or user is disabled.'));
    const err = translateError(new Error('Connection is closed.'), at, 500, client);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(String(err)).toMatch(/WRONGPASS/);
  });

  it.each([
    ['ioredis 6', Object.assign(new Error('Unknown RESP type 72 "H". Please report this.'), {})],
    [
      'ioredis 5',
      Object.assign(new Error('Protocol error, got "H" as reply type byte'), { name: 'ParserError' }),
    ],
  ])('a peer that does not speak RESP (%s decoder error) is a ConnectionInterruptedError', (_, raw) => {
    const err = translateError(raw, at, 500);
    expect(err).toBeInstanceOf(ConnectionInterruptedError);
    expect(String(err)).toMatch(/RESP|Protocol error/);
  });

  it.each([
    ["OOM command not allowed when used memory > 'maxmemory'.", OutOfMemoryError, 'OOM'],
    ['MISCONF Redis is configured to save RDB snapshots', WritesRefusedError, 'MISCONF'],
    ['LOADING Redis is loading the dataset in memory', LoadingError, 'LOADING'],
    [
      "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
      MasterDownError,
      'MASTERDOWN',
    ],
    ['BUSY Redis is busy running a script.', BusyError, 'BUSY'],
    ['NOREPLICAS Not enough good replicas to write.', NoReplicasError, 'NOREPLICAS'],
    ['BUSYKEY Target key name already exists.', ServerError, 'SERVER_ERROR'],
    ['WRONGTYPE Operation against a key holding the wrong kind of value', ServerError, 'SERVER_ERROR'],
    ['ERR value is not an integer or out of range', ServerError, 'SERVER_ERROR'],
  ])('%s -> %s', (message, Class, code) => {
    const reply = new ReplyError(message);
    const err = translateError(reply, at, 500) as CacheError;
    expect(err).toBeInstanceOf(Class);
    expect(err.code).toBe(code);
    expect(err.message).toContain(message);
    expect(err.cause).toBe(reply);
  });

  it('keeps the server message of a ServerError exactly and names the reply', () => {
    const err = translateError(new ReplyError('WRONGTYPE Operation'), at, 500) as ServerError;
    expect(err.message).toBe('WRONGTYPE Operation');
    expect(err.reply).toBe('WRONGTYPE');
  });

  it('leaves READONLY to the routers and passes CacheErrors through', () => {
    const readonly = new ReplyError("READONLY You can't write against a read only replica.");
    expect(translateError(readonly, at, 500)).toBe(readonly);
    const decode = new DecodeError('bad', 'k');
    expect(translateError(decode, at, 500)).toBe(decode);
  });

  it('maps transport failures, timeouts and credentials', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(translateError(refused, at, 500)).toBeInstanceOf(ConnectionInterruptedError);
    expect(translateError(new Error('Command timed out'), at, 500)).toBeInstanceOf(CommandTimeoutError);
    expect(
      translateError(new ReplyError('WRONGPASS invalid username-password pair'), at, 500),
    ).toBeInstanceOf(AuthenticationError);
  });
});
