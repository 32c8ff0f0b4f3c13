/**
 * Every public method that takes an options object checks it (issue 26): an unknown name is a
 * ConfigError with a "did you mean", a value of the wrong type names the option, and a number
 * or string where the object belongs shows the right form. Valid options still reach Redis.
 * The router never talks to Redis: a call that passed the check fails with its rejection.
 */
import { describe, expect, it } from 'vitest';
import { KeyvSentinelStore } from '../../src/adapters/keyv.js';
import type { Cache } from '../../src/core/cache.js';
import { ConfigError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import type { Router } from '../../src/routers/types.js';

class Offline extends Error {}

/** Every command fails with Offline: reaching it means the options were accepted. */
const router: Router = {
  kind: 'offline',
  execute: () => Promise.reject(new Offline('offline')),
  close: async () => {},
  on: () => {},
  off: () => {},
  stats: () => ({ kind: 'offline', nodes: {}, failovers: 0 }),
};

const cache: Cache = createCache({ router, keyPrefix: 'opts' });
const factory = async () => 1;

/** What a call threw or rejected with (sync throws and rejections alike). */
async function outcome(call: () => unknown): Promise<unknown> {
  try {
    const result = call();
    if (result instanceof Promise) await result;
    else if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
      await (result as unknown as AsyncIterator<unknown>).next();
    }
    return undefined;
  } catch (error) {
    return error;
  }
}

type Case = [
  method: string,
  call: (options: unknown) => unknown,
  valid: Record<string, unknown>,
  typo: Record<string, unknown>,
  suggestion: string,
];

const CASES: Case[] = [
  ['get', (o) => cache.get('k', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['set', (o) => cache.set('k', 1, o as never), { ttl: '1m', nx: true }, { tll: 60 }, 'ttl'],
  ['add', (o) => cache.add('k', 1, o as never), { ttl: 60_000 }, { ttls: 60 }, 'ttl'],
  ['getOrSet', (o) => cache.getOrSet('k', factory, o as never), { ttl: '1m' }, { grase: '1h' }, 'grace'],
  ['getMany', (o) => cache.getMany(['k'], o as never), { version: 2 }, { verison: 2 }, 'version'],
  ['setMany', (o) => cache.setMany({ k: 1 }, o as never), { ttl: '1m' }, { tl: 60 }, 'ttl'],
  ['deleteMany', (o) => cache.deleteMany(['k'], o as never), { version: 2 }, { versio: 2 }, 'version'],
  ['delete', (o) => cache.delete('k', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['has', (o) => cache.has('k', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['ttl', (o) => cache.ttl('k', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['expire', (o) => cache.expire('k', '1m', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['touch', (o) => cache.touch('k', '1m', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  [
    'expireAt',
    (o) => cache.expireAt('k', Date.now() + 60_000, o as never),
    { version: 2 },
    { versoin: 2 },
    'version',
  ],
  ['persist', (o) => cache.persist('k', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['keys', (o) => cache.keys('*', o as never), { scanCount: 10 }, { scancount: 10 }, 'scanCount'],
  ['iterKeys', (o) => cache.iterKeys('*', o as never), { scanCount: 10 }, { scanCout: 10 }, 'scanCount'],
  [
    'deletePattern',
    (o) => cache.deletePattern('*', o as never),
    { scanCount: 10 },
    { count: 10 },
    'scanCount',
  ],
  [
    'incr',
    (o) => cache.incr('k', 1, o as never),
    { ignoreKeyCheck: true },
    { ignoreKeycheck: true },
    'ignoreKeyCheck',
  ],
  [
    'decr',
    (o) => cache.decr('k', 1, o as never),
    { ignoreKeyCheck: true },
    { ignoreKey: true },
    'ignoreKeyCheck',
  ],
  ['incrVersion', (o) => cache.incrVersion('k', 1, o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['decrVersion', (o) => cache.decrVersion('k', 1, o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['smembers', (o) => cache.smembers('k', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['sismember', (o) => cache.sismember('k', 'm', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['scard', (o) => cache.scard('k', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['spop', (o) => cache.spop('k', undefined, o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['srandmember', (o) => cache.srandmember('k', 2, o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['smove', (o) => cache.smove('a', 'b', 'm', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['sscan', (o) => cache.sscan('k', o as never), { match: 'a*', scanCount: 10 }, { mach: 'a*' }, 'match'],
  ['hset (one field)', (o) => cache.hset('k', 'f', 1, o as never), { version: 2 }, { versoin: 2 }, 'version'],
  [
    'hset (many fields)',
    (o) => cache.hset('k', { f: 1 }, o as never),
    { version: 2 },
    { versoin: 2 },
    'version',
  ],
  ['hget', (o) => cache.hget('k', 'f', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['hgetall', (o) => cache.hgetall('k', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['hdel', (o) => cache.hdel('k', 'f', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['hlen', (o) => cache.hlen('k', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['hkeys', (o) => cache.hkeys('k', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['hexists', (o) => cache.hexists('k', 'f', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['zadd', (o) => cache.zadd('k', { a: 1 }, o as never), { nx: true, ch: true }, { nxx: true }, 'nx'],
  [
    'zrange',
    (o) => cache.zrange('k', 0, -1, o as never),
    { withScores: true },
    { withscores: true },
    'withScores',
  ],
  [
    'zrevrange',
    (o) => cache.zrevrange('k', 0, -1, o as never),
    { withScores: true },
    { withScore: true },
    'withScores',
  ],
  [
    'zrangebyscore',
    (o) => cache.zrangebyscore('k', 0, 1, o as never),
    { withScores: true, offset: 0, count: 5 },
    { ofset: 1 },
    'offset',
  ],
  ['zscore', (o) => cache.zscore('k', 'm', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['zrank', (o) => cache.zrank('k', 'm', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['zincrby', (o) => cache.zincrby('k', 1, 'm', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['zcard', (o) => cache.zcard('k', o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['zcount', (o) => cache.zcount('k', 0, 1, o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['zpopmin', (o) => cache.zpopmin('k', 1, o as never), { version: 2 }, { versoin: 2 }, 'version'],
  ['zpopmax', (o) => cache.zpopmax('k', 1, o as never), { version: 2 }, { versoin: 2 }, 'version'],
  [
    'lock',
    (o) => cache.lock('job', o as never),
    { ttl: '30s', blocking: false },
    { blockingTimout: '5s' },
    'blockingTimeout',
  ],
  [
    'lock.acquire',
    (o) => cache.lock('job', { ttl: '30s' }).acquire(o as never),
    { blocking: false },
    { blockingTimout: '5s' },
    'blockingTimeout',
  ],
  [
    'withVersion(2).get',
    (o) => cache.withVersion(2).get('k', o as never),
    { version: 3 },
    { versoin: 3 },
    'version',
  ],
];

describe.each(CASES)('%s', (method, call, valid, typo, suggestion) => {
  it('refuses an unknown option, suggesting the known one', async () => {
    const error = await outcome(() => call(typo));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`(did you mean '${suggestion}'?)`);
    expect((error as Error).message).toContain(`unknown option '${Object.keys(typo)[0]}'`);
  });

  it('refuses a number or a string where the options object belongs, showing the right form', async () => {
    for (const wrong of [60, '60s']) {
      const error = await outcome(() => call(wrong));
      expect(error, `${method}(…, ${JSON.stringify(wrong)})`).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(
        /takes an options object, such as \{ .+\}.*; got (number|string)/,
      );
    }
  });

  it('refuses a known option of the wrong type, naming it', async () => {
    const [name] = Object.keys(valid) as [string];
    const error = await outcome(() => call({ [name]: [] }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`option '${name}'`);
  });

  it('lets valid options through to Redis', async () => {
    const error = await outcome(() => {
      const result = call(valid);
      // cache.lock() only builds the lock: take it to reach Redis.
      return method === 'lock' ? (result as { acquire(): Promise<boolean> }).acquire() : result;
    });
    expect(error).toBeInstanceOf(Offline);
  });
});

describe('what the issue reported', () => {
  it('set(k, v, 60) and set(k, v, { expire: 10 }) are refused, saying how to write a TTL', async () => {
    await expect(cache.set('k', 'v', 60 as never)).rejects.toThrow(
      "cache.set() takes an options object, such as { ttl: '60s' } (a number ttl is milliseconds); got number 60",
    );
    await expect(cache.set('k', 'v', { expire: 10 } as never)).rejects.toThrow(
      "unknown option 'expire' for cache.set() (did you mean 'ttl'?)",
    );
  });

  it("lock.acquire({ blocking: true, blockingTimout: '5s' }) is refused instead of waiting forever", async () => {
    const lock = cache.lock('job');
    await expect(lock.acquire({ blocking: true, blockingTimout: '5s' } as never)).rejects.toThrow(
      "unknown option 'blockingTimout' for lock.acquire() (did you mean 'blockingTimeout'?)",
    );
  });

  it('a count where it is not a count (options one place early) is refused', async () => {
    await expect(cache.spop('k', { version: 2 } as never)).rejects.toThrow(
      /cache\.spop\(\): count must be an integer; got an object \(options come after the count/,
    );
    await expect(cache.zpopmin('k', '2' as never)).rejects.toBeInstanceOf(ConfigError);
  });

  it('a mutated options object is checked again on its next use (no caching per object)', async () => {
    const options: Record<string, unknown> = { ttl: '1m' };
    await expect(cache.set('k', 1, options)).rejects.toBeInstanceOf(Offline);
    options.tll = 5;
    await expect(cache.set('k', 1, options)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('the keyv adapter', () => {
  it('takes a Cache, not the options of one', () => {
    expect(() => new KeyvSentinelStore({ router } as never)).toThrow(
      /new KeyvSentinelStore\(cache\) takes a Cache, such as new KeyvSentinelStore\(createCache\(\{ router \}\)\); got an object/,
    );
  });

  it('refuses a ttl that is not milliseconds instead of using the default TTL', async () => {
    const store = new KeyvSentinelStore(cache);
    await expect(store.set('k', 'v', '5m' as never)).rejects.toThrow(/ttl is milliseconds, a number/);
    await expect(store.setMany([{ key: 'k', value: 'v', ttl: '5m' as never }])).rejects.toBeInstanceOf(
      ConfigError,
    );
    await expect(store.set('k', 'v', 60_000)).rejects.toBeInstanceOf(Offline);
  });
});
