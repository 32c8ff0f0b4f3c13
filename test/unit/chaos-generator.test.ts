/**
 * The chaos generator: a seed fixes each cache's operations and the nemesis' schedule (what
 * `--seed` / `--replay` promise), writes stay on the writer's own keys (what the checker relies
 * on), and configuration names parse as docs/chaos.md lists them.
 */
import { describe, expect, it } from 'vitest';
import { ALL_CONFIGS, faultKinds, faultSchedule, opChunk, parseConfig } from '../../chaos/generator.js';

describe('chaos generator', () => {
  it('replays the same operations and schedule from the same seed', () => {
    expect(opChunk(42, 1, 0, 2, 2, 3)).toEqual(opChunk(42, 1, 0, 2, 2, 3));
    expect(faultSchedule(42, 'pooled', 120_000)).toEqual(faultSchedule(42, 'pooled', 120_000));
    expect(opChunk(42, 1, 0, 2, 2, 3)).not.toEqual(opChunk(43, 1, 0, 2, 2, 3));
    expect(opChunk(42, 1, 0, 2, 2, 3)).not.toEqual(opChunk(42, 1, 1, 2, 2, 3));
    expect(faultSchedule(42, 'pooled', 120_000)).not.toEqual(faultSchedule(43, 'pooled', 120_000));
  });

  it('plans faults of the topology kinds within the duration, with quiet gaps', () => {
    const schedule = faultSchedule(7, 'cluster', 60_000);
    expect(schedule.length).toBeGreaterThan(3);
    let end = 0;
    for (const f of schedule) {
      expect(faultKinds('cluster')).toContain(f.kind);
      expect(f.atMs).toBeGreaterThanOrEqual(end + 2000);
      end = f.atMs + f.holdMs;
      expect(end).toBeLessThanOrEqual(60_000);
    }
    expect(
      faultSchedule(7, 'standalone', 60_000, undefined, ['client-kill']).every(
        (f) => f.kind === 'client-kill',
      ),
    ).toBe(true);
  });

  it('writes only the cache’s own keys', () => {
    const ops = opChunk(1, 0, 1, 2, 2, 0, 2000);
    const writes = ops.filter((o) => ['set', 'delete', 'setMany', 'deleteMany', 'incr'].includes(o.op));
    expect(writes.length).toBeGreaterThan(100);
    for (const w of writes) {
      for (const key of (w as { keys: string[] }).keys) expect(key).toMatch(/^[kn]:p0c1:/);
    }
    expect(new Set(ops.map((o) => o.op))).toEqual(
      new Set([
        'get',
        'getMany',
        'set',
        'delete',
        'setMany',
        'deleteMany',
        'incr',
        'getOrSet',
        'invalidateTags',
        'lock',
      ]),
    );
  });

  it('names 14 configurations and parses them back', () => {
    expect(ALL_CONFIGS).toHaveLength(14);
    for (const c of ALL_CONFIGS) expect(parseConfig(c.name)).toEqual(c);
    expect(parseConfig('discovery-master-near')).toMatchObject({
      name: 'discovery-near',
      readFrom: 'master',
      near: true,
    });
    expect(() => parseConfig('standalone-replica')).toThrow(/no replica/);
    expect(() => parseConfig('redis-near')).toThrow(/unknown router/);
  });
});
