/**
 * Messages for the usual first-hour mistakes name the mistake and the fix (issue 17, item 5):
 * a data port given as a sentinel, a refused sentinel, options passed as a delta, no router,
 * an operation cut off by the pooled breaker's half-open reconnect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ConnectionInterruptedError, SentinelUnavailableError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { halfOpenInterruption } from '../../src/routers/pooled.js';
import type { Router } from '../../src/routers/types.js';
import { freePort } from '../../src/topology/ports.js';
import { startStandalone } from '../../src/topology/standalone.js';
import type { Standalone } from '../../src/topology/types.js';

let data: Standalone;

beforeAll(async () => {
  data = await startStandalone();
});

afterAll(async () => {
  await data?.stop();
});

async function errorOf(router: Router, op: (r: Router) => Promise<unknown>): Promise<unknown> {
  try {
    await op(router);
  } catch (err) {
    return err;
  } finally {
    await router.close();
  }
  throw new Error('expected the operation to fail');
}

describe.each(['discovery', 'pooled'] as const)('%s router, sentinel mistakes', (kind) => {
  it('a data port given as a sentinel: ConfigError saying it is not a sentinel', async () => {
    const router = routers[kind]({
      sentinels: [{ host: data.host, port: data.port }],
      service: 'mymaster',
      commandTimeoutMs: 2000,
      sentinelTimeoutMs: 2000,
    });
    const err = await errorOf(router, (r) => r.execute('write', (c) => c.set('k', 'v')));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      new RegExp(`127\\.0\\.0\\.1:${data.port} is not a sentinel .*data port.*sentinels' ports`),
    );
  });

  it('a refused sentinel: "refused", not "no answer within"', async () => {
    const port = await freePort();
    const router = routers[kind]({
      sentinels: [{ host: '127.0.0.1', port }],
      service: 'mymaster',
      sentinelTimeoutMs: 2000,
    });
    const err = await errorOf(router, (r) => r.execute('read', (c) => c.get('k')));
    expect(err).toBeInstanceOf(SentinelUnavailableError);
    expect((err as Error).message).toBe(
      `None of 1 sentinels answered: 127.0.0.1:${port} refused the connection (ECONNREFUSED: nothing listens there)`,
    );
  });
});

describe('cache argument mistakes', () => {
  it('incrVersion(key, { version }) names the misuse and the right call', async () => {
    const cache = createCache({ router: routers.standalone({ url: data.url }) });
    try {
      await cache.set('k', 1);
      for (const method of ['incrVersion', 'decrVersion', 'incr', 'decr'] as const) {
        const err = await cache[method]('k', { version: 2 } as never).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).toBe(
          `${method}(key, delta, options): the second argument is the delta (an integer), got an object; pass options third: ${method}('k', 1, { version: 2 })`,
        );
      }
      await expect(cache.incr('k', 1.5)).rejects.toThrow(
        'incr: delta must be a safe integer; got number 1.5',
      );
      expect(await cache.get('k')).toBe(1); // nothing moved or changed
    } finally {
      await cache.close();
    }
  });

  it('createCache without a router says which router to build', () => {
    for (const options of [{}, { router: undefined }]) {
      expect(() => createCache(options as never)).toThrow(
        /^createCache needs a router: routers\.pooled\(\{ sentinels, service \}\).*routers\.standalone/,
      );
    }
    expect(() => createCache(undefined as never)).toThrow(ConfigError);
  });

  it("the pooled breaker's half-open reconnect says what happened and to retry", () => {
    const err = halfOpenInterruption('master');
    expect(err).toBeInstanceOf(ConnectionInterruptedError);
    expect(err.message).toMatch(/^Reconnecting to the master: .*circuit breaker half-open.*retry it$/);
    expect(err.message).not.toMatch(/half-opened/);
  });
});
