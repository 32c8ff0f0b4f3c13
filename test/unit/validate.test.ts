import { describe, expect, it } from 'vitest';
import { closest, validateOptions } from '../../src/core/validate.js';
import { routers } from '../../src/routers/index.js';
import { resolveOptions as resolveTopologyOptions } from '../../src/topology/options.js';
import { startStandalone } from '../../src/topology/standalone.js';
import { configError } from '../fixtures/options.js';

const sentinelOptions = { sentinels: [{ host: '127.0.0.1', port: 1 }], service: 'mymaster' };

describe('validateOptions', () => {
  const schema = {
    commandTimeoutMs: 'positive number',
    pool: { shape: { max: 'positive integer' } },
  } as const;

  it('names an unknown option and suggests the closest known one', () => {
    expect(configError(() => validateOptions('x', { comandTimeoutMs: 5 }, schema)).message).toBe(
      "unknown option 'comandTimeoutMs' for x (did you mean 'commandTimeoutMs'?)",
    );
  });

  it('lists the known options when nothing is close', () => {
    expect(configError(() => validateOptions('x', { zzz: 1 }, schema)).message).toBe(
      "unknown option 'zzz' for x; known options: commandTimeoutMs, pool",
    );
  });

  it('names the option, what it accepts and what it got', () => {
    expect(configError(() => validateOptions('x', { commandTimeoutMs: '5' }, schema)).message).toBe(
      `option 'commandTimeoutMs' for x must be a positive number; got string "5"`,
    );
  });

  it('checks nested objects with dotted names', () => {
    expect(configError(() => validateOptions('x', { pool: { maxx: 1 } }, schema)).message).toBe(
      "unknown option 'pool.maxx' for x (did you mean 'pool.max'?)",
    );
    expect(configError(() => validateOptions('x', { pool: { max: 0 } }, schema)).message).toMatch(
      /option 'pool.max' for x must be a positive integer; got number 0/,
    );
    expect(configError(() => validateOptions('x', { pool: 3 }, schema)).message).toMatch(/'pool'.*an object/);
  });

  it('never echoes a secret value', () => {
    const message = configError(() =>
      validateOptions('x', { password: 42 }, { password: { anyOf: ['string'], secret: true } }),
    ).message;
    expect(message).toMatch(/'password'/);
    expect(message).not.toContain('42');
  });

  it('accepts what the schema allows, including left-out options', () => {
    const options = { commandTimeoutMs: 5, pool: { max: 2 } };
    expect(validateOptions('x', options, schema)).toBe(options);
    expect(validateOptions('x', {}, schema)).toEqual({});
  });

  it('closest() also finds the known name a typed one was cut from', () => {
    expect(closest('ignoreKey', ['version', 'ignoreKeyCheck'])).toBe('ignoreKeyCheck');
    expect(closest('ver', ['version'])).toBeUndefined();
  });

  it('closest() ignores names too far away to be typos', () => {
    expect(closest('ttl', ['commandTimeoutMs'])).toBeUndefined();
    expect(closest('readfrom', ['readFrom', 'natMap'])).toBe('readFrom');
  });
});

describe('every options object goes through it', () => {
  it.each([
    [
      'routers.standalone',
      () => routers.standalone({ comandTimeoutMs: 5 } as never),
      /unknown option 'comandTimeoutMs' for routers.standalone \(did you mean 'commandTimeoutMs'\?\)/,
    ],
    [
      'routers.standalone',
      () => routers.standalone({ coalesceWrites: 'yes' } as never),
      /option 'coalesceWrites' for routers.standalone must be true or false/,
    ],
    [
      'routers.standalone',
      () => routers.standalone({ autoPipelining: false } as never),
      /unknown option 'autoPipelining' for routers.standalone/,
    ],
    [
      'routers.discovery',
      () => routers.discovery({ ...sentinelOptions, sentinels: [] }),
      /option 'sentinels' for routers.discovery must list at least one sentinel/,
    ],
    [
      'routers.pooled',
      () => routers.pooled({ ...sentinelOptions, sentinels: [{ host: 'h', port: '26379' }] } as never),
      /option 'sentinels\[0\]\.port' for routers.pooled must be an integer 1\.\.65535/,
    ],
    [
      'routers.pooled',
      () => routers.pooled({ sentinels: sentinelOptions.sentinels } as never),
      /option 'service' for routers.pooled is required/,
    ],
    [
      'routers.pooled',
      () => routers.pooled({ ...sentinelOptions, pool: { min: 4, max: 2 } }),
      /option 'pool.min' for routers.pooled must not exceed 'pool.max' \(2\); got 4/,
    ],
    [
      'routers.discovery',
      () => routers.discovery({ ...sentinelOptions, readfrom: 'replica' } as never),
      /unknown option 'readfrom' for routers.discovery \(did you mean 'readFrom'\?\)/,
    ],
    [
      'routers.discovery',
      () => routers.discovery({ ...sentinelOptions, readFrom: 'slave' } as never),
      /option 'readFrom' for routers.discovery must be one of "master", "replica", "replica-preferred"/,
    ],
    [
      'routers.discovery',
      () => routers.discovery({ ...sentinelOptions, sentinelTimeoutMs: '1s' } as never),
      /'sentinelTimeoutMs' for routers.discovery must be a positive number/,
    ],
    [
      'routers.pooled',
      () => routers.pooled({ ...sentinelOptions, comandTimeoutMs: 5 } as never),
      /unknown option 'comandTimeoutMs' for routers.pooled \(did you mean 'commandTimeoutMs'\?\)/,
    ],
    [
      'routers.pooled',
      () => routers.pooled({ ...sentinelOptions, pool: { maxSize: 4 } } as never),
      /unknown option 'pool.maxSize' for routers.pooled/,
    ],
    [
      'routers.pooled',
      () => routers.pooled({ ...sentinelOptions, pool: { max: 1.5 } }),
      /option 'pool.max' for routers.pooled must be a positive integer/,
    ],
    [
      'routers.pooled',
      () => routers.pooled({ ...sentinelOptions, breaker: { resetTimeout: 5 } } as never),
      /unknown option 'breaker.resetTimeout' for routers.pooled \(did you mean 'breaker.resetTimeoutMs'\?\)/,
    ],
    [
      'routers.pooled',
      () => routers.pooled({ ...sentinelOptions, breaker: { errorThresholdPercentage: 150 } }),
      /option 'breaker.errorThresholdPercentage' for routers.pooled must be a number from 0 to 100/,
    ],
    [
      'routers.pooled',
      () => routers.pooled({ ...sentinelOptions, tls: 'yes' } as never),
      /option 'tls' for routers.pooled must be node:tls options or true/,
    ],
    [
      'startTopology',
      () => resolveTopologyOptions({ replica: 1 } as never),
      /unknown option 'replica' for startTopology \(did you mean 'replicas'\?\)/,
    ],
    [
      'startTopology',
      () => resolveTopologyOptions({ downAfterMs: '1s' } as never),
      /option 'downAfterMs' for startTopology must be a positive integer/,
    ],
    [
      'startTopology',
      () => resolveTopologyOptions({ auth: { pasword: 'x' } } as never),
      /unknown option 'auth.pasword' for startTopology/,
    ],
  ])('%s: %s', (_where, fn, message) => {
    expect(configError(fn).message).toMatch(message);
  });

  it('startStandalone refuses a typo before starting anything', async () => {
    await expect(startStandalone({ pasword: 'x' } as never)).rejects.toThrow(
      /unknown option 'pasword' for startStandalone \(did you mean 'password'\?\)/,
    );
  });
});
