import { describe, expect, it } from 'vitest';
import { parseBenchArgs, parseDuration, USAGE } from '../../bench/lib/options.js';

describe('bench arguments (commander, durations through core/ttl.ts)', () => {
  it('parses durations like TTLs, a plain number being seconds', () => {
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(() => parseDuration('5 minutes')).toThrow(/'500ms', '30s', '5m'/);
    expect(() => parseDuration('0s')).toThrow(/invalid duration/);
  });

  it('reads the options, with or without a leading bench word', () => {
    const options = parseBenchArgs(['bench', '--quick', '--duration', '2s', '--only', 'pooled,discovery']);
    expect(options.quick).toBe(true);
    expect(options.soak.durationMs).toBe(2000);
    expect(options.only).toEqual(['pooled', 'discovery']);
    expect(parseBenchArgs(['-h']).help).toBe(true);
  });

  it('runs the explicit-pipelines cells for half of --cell, and documents the limit rows in --help', () => {
    expect(parseBenchArgs([]).batch).toMatchObject({ size: 100, cellMs: 2000 });
    expect(parseBenchArgs(['--quick']).batch.cellMs).toBeLessThanOrEqual(500);
    const options = parseBenchArgs(['--cell', '1s']);
    expect(options.steady.cellMs).toBe(1000);
    expect(options.batch.cellMs).toBe(500);
    expect(USAGE).toContain('redis-benchmark');
    expect(USAGE).toContain('explicit-pipelines');
  });

  it('refuses unknown options and stray arguments', () => {
    expect(() => parseBenchArgs(['--nope'])).toThrow(/unknown option '--nope'/);
    expect(() => parseBenchArgs(['extra'])).toThrow(/too many arguments/);
  });
});
