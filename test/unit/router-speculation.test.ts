import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { createCache } from '../../src/index.js';
import { routers } from '../../src/routers/index.js';
import { judgeSpeculation, type SpeculationFacts } from '../../src/routers/sentinel/speculation.js';

const base: SpeculationFacts = {
  target: '10.0.0.1:6379',
  named: ['10.0.0.1:6379'],
  sentEpoch: 3,
  currentEpoch: 3,
  connectionHolds: true,
};

describe('judgeSpeculation (speculative discovery reads)', () => {
  it('accepts the reply when the fresh answer names the node, in the same epoch, on a connection that still holds', () => {
    expect(judgeSpeculation(base)).toBe('accept');
    expect(judgeSpeculation({ ...base, named: ['10.0.0.2:6379', '10.0.0.1:6379'] })).toBe('accept');
  });

  it('rejects it when the fresh answer names another node, or none', () => {
    expect(judgeSpeculation({ ...base, named: ['10.0.0.2:6379'] })).toBe('not-named');
    expect(judgeSpeculation({ ...base, named: [] })).toBe('not-named');
    // Same host, other port: another node.
    expect(judgeSpeculation({ ...base, named: ['10.0.0.1:6380'] })).toBe('not-named');
  });

  it('rejects it when sentinel news arrived while the read was in flight', () => {
    expect(judgeSpeculation({ ...base, currentEpoch: 4 })).toBe('epoch-changed');
  });

  it('rejects it when the connection was dropped or its ROLE no longer fits', () => {
    expect(judgeSpeculation({ ...base, connectionHolds: false })).toBe('connection-changed');
  });

  it('a node that is not named is rejected whatever else holds', () => {
    expect(
      judgeSpeculation({ ...base, named: ['10.0.0.2:6379'], currentEpoch: 4, connectionHolds: false }),
    ).toBe('not-named');
  });
});

describe('speculativeReads option', () => {
  const opts = { sentinels: [{ host: '127.0.0.1', port: 1 }], service: 'svc' };

  it('is a boolean, validated by name and type', () => {
    expect(() => routers.discovery({ ...opts, speculativeReads: 'yes' as unknown as boolean })).toThrow(
      ConfigError,
    );
    expect(() => routers.discovery({ ...opts, speculativeReads: 'yes' as unknown as boolean })).toThrow(
      /speculativeReads/,
    );
    expect(() => routers.discovery({ ...opts, speculativeRead: true } as never)).toThrow(/speculativeReads/);
  });

  it('defaults to on (stats().speculation present) and can be turned off', async () => {
    const on = routers.discovery(opts);
    const off = routers.discovery({ ...opts, speculativeReads: false });
    expect(on.stats().speculation).toEqual({ sent: 0, hits: 0, misses: 0, reruns: 0, discardedErrors: 0 });
    expect(off.stats().speculation).toBeUndefined();
    await Promise.all([on.close(), off.close()]);
  });

  it('shows in cache.stats()', async () => {
    const cache = createCache({ router: routers.discovery(opts) });
    expect(cache.stats().speculation).toEqual({ sent: 0, hits: 0, misses: 0, reruns: 0, discardedErrors: 0 });
    await cache.close();
  });

  it('is not an option of routers.pooled', () => {
    expect(() => routers.pooled({ ...opts, speculativeReads: true } as never)).toThrow(ConfigError);
  });
});
