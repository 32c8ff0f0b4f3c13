import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { resolveGetOrSetOptions, validateTags } from '../../src/core/get-or-set/options.js';
import { waitWithTimeouts } from '../../src/core/get-or-set/timeouts.js';
import { thrown } from '../fixtures/thrown.js';

function configError(fn: () => unknown, option: string): void {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toContain(`'${option}'`);
}

describe('getOrSet options', () => {
  it('defaults: cache ttl, no grace, no timeouts, distributed lock, 5 s lock timeout, no tags', () => {
    expect(resolveGetOrSetOptions(undefined, 300_000)).toEqual({
      ttl: 300_000,
      grace: 0,
      timeout: undefined,
      hardTimeout: undefined,
      lock: 'distributed',
      lockTimeout: 5_000,
      tags: [],
    });
  });

  it('parses durations and deduplicates tags', () => {
    const o = resolveGetOrSetOptions(
      {
        ttl: '5m',
        grace: '1h',
        timeout: '200ms',
        hardTimeout: '2s',
        lock: 'local',
        lockTimeout: 100,
        tags: ['a', 'b', 'a'],
      },
      null,
    );
    expect(o).toMatchObject({
      ttl: 300_000,
      grace: 3_600_000,
      timeout: 200,
      hardTimeout: 2_000,
      lock: 'local',
    });
    expect(o.tags).toEqual(['a', 'b']);
  });

  it.each([
    ['grace', { grace: -1 }],
    ['grace', { grace: '-5s' }],
    ['grace', { grace: 'soon' }],
    ['timeout', { timeout: -1 }],
    ['hardTimeout', { hardTimeout: null }],
    ['timeout', { timeout: '2s', hardTimeout: '1s' }],
    ['lock', { lock: 'redlock' }],
    ['lockTimeout', { lockTimeout: 0 }],
    ['tags', { tags: 'user:1' }],
    ['tags', { tags: [1] }],
    ['tags', { tags: [''] }],
    ['ttl', { ttl: 'forever' }],
  ])('refuses a bad %s', (option, options) => {
    configError(() => resolveGetOrSetOptions(options as never, null), option);
  });

  it('validateTags names the option it checks', () => {
    configError(() => validateTags(['ok', {}], 'invalidateTags'), 'invalidateTags');
    expect(validateTags(undefined, 'tags')).toEqual([]);
  });
});

describe('waitWithTimeouts', () => {
  it('returns the value when the work finishes first', async () => {
    expect(await waitWithTimeouts(Promise.resolve(7), 1_000, 2_000)).toEqual({ kind: 'value', value: 7 });
  });

  it('the soft timeout passes first, then the work still completes', async () => {
    let finished = false;
    const work = sleep(1_500).then(() => {
      finished = true;
      return 1;
    });
    expect(await waitWithTimeouts(work, 20, 10_000)).toEqual({ kind: 'soft-timeout' });
    expect(finished).toBe(false);
    expect(await work).toBe(1);
  });

  it('the hard timeout passes when no soft timeout is armed', async () => {
    expect(await waitWithTimeouts(sleep(1_500), undefined, 20)).toEqual({ kind: 'hard-timeout' });
  });

  it('a rejection before any timeout propagates unchanged', async () => {
    const boom = new Error('boom');
    await expect(waitWithTimeouts(Promise.reject(boom), 1_000, 2_000)).rejects.toBe(boom);
  });
});

describe('getOrSet option names', () => {
  it('refuses a typo with a suggestion', () => {
    const error = thrown(() => resolveGetOrSetOptions({ graec: '1h' } as never, null));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /unknown option 'graec' for getOrSet \(did you mean 'grace'\?\)/,
    );
  });

  it('refuses options that are not an object', () => {
    expect(thrown(() => resolveGetOrSetOptions('5m' as never, null))).toBeInstanceOf(ConfigError);
  });
});
