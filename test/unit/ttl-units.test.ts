import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { resolveOptions, TTL_UNITS_WARNING_CODE } from '../../src/core/options.js';
import { parseTtl, type Ttl } from '../../src/core/ttl.js';
import { offlineRouter as router } from '../fixtures/options.js';

describe('TTL units', () => {
  it('a numeric defaultTtl below 1,000 warns once, naming milliseconds vs seconds', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      resolveOptions({ router, defaultTtl: 5_000 }); // plausible ms: no warning
      resolveOptions({ router, defaultTtl: '300ms' }); // explicit unit: no warning
      expect(warn).not.toHaveBeenCalled();

      resolveOptions({ router, defaultTtl: 300 });
      resolveOptions({ router, defaultTtl: 60 }); // once per process, not per cache
      expect(warn).toHaveBeenCalledTimes(1);
      const [message, options] = warn.mock.calls[0] as [string, { code: string }];
      expect(message).toMatch(/defaultTtl 300 is 300 milliseconds, not seconds/);
      expect(message).toContain("'300s'");
      expect(options.code).toBe(TTL_UNITS_WARNING_CODE);
    } finally {
      warn.mockRestore();
    }
  });

  it('the Ttl type accepts what the parser accepts and refuses what it refuses', () => {
    const accepted: Ttl[] = [60_000, '500ms', '30s', '5m', '1.5h', '1d', '2 m', null];
    for (const ttl of accepted) expect(() => parseTtl(ttl)).not.toThrow();

    // Each line below is a compile error (typecheck fails if one starts type-checking) and a
    // run-time ConfigError: the type and the parser agree.
    const refused = [
      // @ts-expect-error a unit word, not a unit
      '60 seconds' satisfies Ttl,
      // @ts-expect-error compound durations are not parsed
      '1h30m' satisfies Ttl,
      // @ts-expect-error no unit
      '60' satisfies Ttl,
      // @ts-expect-error not a duration
      'soon' satisfies Ttl,
    ];
    for (const ttl of refused) expect(() => parseTtl(ttl)).toThrow(ConfigError);
    expectTypeOf<'5m'>().toExtend<Ttl>();
    expectTypeOf<'5 minutes'>().not.toExtend<Ttl>();
  });
});
