import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { parseTtl } from '../../src/core/ttl.js';

describe('parseTtl', () => {
  it.each([
    [1500, 1500],
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5s', 1500],
    [' 2 m ', 120_000],
    ['0.5ms', 1],
  ])('%j -> %j ms', (input, expected) => {
    expect(parseTtl(input)).toBe(expected);
  });

  it('null means no expiry', () => {
    expect(parseTtl(null)).toBeNull();
  });

  it('keeps 0 and negatives as "expire now"', () => {
    expect(parseTtl(0)).toBe(0);
    expect(parseTtl(-1)).toBe(-1);
    expect(parseTtl('-5s')).toBe(-5000);
  });

  it('rounds a tiny positive TTL up to 1 ms so it never becomes a delete', () => {
    expect(parseTtl(0.00001)).toBe(1);
    expect(parseTtl(1.2)).toBe(2);
  });

  it.each([
    ['5 minutes'],
    ['1h30m'],
    ['1e3s'],
    ['10'],
    [''],
    ['s'],
    ['5w'],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [undefined],
    [true],
    [{}],
    [Number.MAX_VALUE],
  ])('refuses %j with a ConfigError naming the option', (input) => {
    expect(() => parseTtl(input, 'defaultTtl')).toThrow(ConfigError);
    expect(() => parseTtl(input, 'defaultTtl')).toThrow(/defaultTtl/);
  });
});
