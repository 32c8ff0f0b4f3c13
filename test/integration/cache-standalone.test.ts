import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import {
  CacheClosedError,
  CommandTimeoutError,
  ConfigError,
  ConnectionInterruptedError,
  DecodeError,
  SerializationError,
  ValueTooLargeError,
} from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { serializers } from '../../src/serializers/index.js';
import { startStandalone } from '../../src/topology/index.js';
import type { Standalone } from '../../src/topology/types.js';
import { runTsxSource, srcModule } from '../fixtures/child.js';
import {
  CODEC_MATRIX,
  defineCacheSuite,
  makeCompressor,
  makeSerializer,
  uniquePrefix,
} from './cache-suite.js';

let server: Standalone;

beforeAll(async () => {
  server = await startStandalone();
});

afterAll(async () => {
  await server?.stop();
});

defineCacheSuite('standalone', async () => ({
  router: routers.standalone({ url: server.url }),
  cleanup: async () => {},
}));

// ---------------------------------------------------------------------------------------------
// Standalone-only checks: interop with raw clients, refusals that write nothing, lifecycle,
// single-flight, and what a dead or hung server looks like to the caller.

describe('interop', () => {
  let cache: Cache;
  let raw: Redis;
  let prefix: string;

  beforeAll(() => {
    prefix = uniquePrefix('interop');
    cache = createCache({ router: routers.standalone({ url: server.url }), keyPrefix: prefix });
    raw = new Redis(server.url);
  });

  afterAll(async () => {
    await cache?.clear();
    await cache?.close();
    raw?.disconnect();
  });

  it('a raw client sees integers as decimals and can INCR them; the cache reads the result', async () => {
    await cache.set('n', 41);
    expect(await raw.get(`${prefix}:1:n`)).toBe('41');
    expect(await raw.incr(`${prefix}:1:n`)).toBe(42);
    expect(await cache.get('n')).toBe(42);
    await raw.set(`${prefix}:1:m`, '-7');
    expect(await cache.get('m')).toBe(-7);
    expect(await cache.incr('m', 10)).toBe(3);
  });

  it('a value written with one serializer/compressor is read by a cache configured with another', async () => {
    const writers = CODEC_MATRIX.map((c) =>
      createCache({
        router: routers.standalone({ url: server.url }),
        keyPrefix: prefix,
        serializer: makeSerializer(c.serializer),
        compressor: makeCompressor(c.compressor),
      }),
    );
    try {
      const text = 'interop '.repeat(200); // long enough to be compressed
      const object = { list: [1, 2, 3], text, nested: { ok: true } };
      for (const [i, writer] of writers.entries()) {
        const value = CODEC_MATRIX[i]?.serializer === 'string' ? text : object;
        await writer.set(`w${i}`, value);
        for (const reader of writers) expect(await reader.get(`w${i}`)).toEqual(value);
      }
    } finally {
      await Promise.all(writers.map((w) => w.close()));
    }
  });

  it('bytes that are not our format are a DecodeError naming the key', async () => {
    await raw.set(`${prefix}:1:foreign`, 'plain text from another client');
    const err = await cache.get('foreign').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).message).toContain('foreign');
  });
});

describe('custom key function', () => {
  it('keyFunction/reverseKeyFunction shape the keys; keys(), deletePattern() and clear() follow them', async () => {
    const prefix = uniquePrefix('kf');
    const cache = createCache({
      router: routers.standalone({ url: server.url }),
      keyPrefix: prefix,
      keyFunction: (key, p, version) => `${p}|v${version}|${key}`,
      reverseKeyFunction: (redisKey) => redisKey.split('|').slice(2).join('|'),
    });
    const raw = new Redis(server.url);
    try {
      await cache.set('a|b', 1);
      await cache.set('c', 2, { version: 2 });
      expect(await raw.get(`${prefix}|v1|a|b`)).toBe('1');
      expect(await cache.keys('*')).toEqual(['a|b']);
      expect(await cache.keys('*', { version: 2 })).toEqual(['c']);
      expect(await cache.deletePattern('a*')).toBe(1);
      await cache.set('d', 3);
      expect(await cache.clear()).toBe(2);
      expect(await raw.exists(`${prefix}|v2|c`, `${prefix}|v1|d`)).toBe(0);
    } finally {
      raw.disconnect();
      await cache.close();
    }
  });
});

describe('bad input: refused before anything is written', () => {
  let cache: Cache;
  let raw: Redis;
  let prefix: string;

  beforeAll(() => {
    prefix = uniquePrefix('bad');
    cache = createCache({
      router: routers.standalone({ url: server.url }),
      keyPrefix: prefix,
      serializer: serializers.json(),
      maxValueBytes: 1024,
    });
    raw = new Redis(server.url);
  });

  afterAll(async () => {
    await cache?.clear();
    await cache?.close();
    raw?.disconnect();
  });

  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const refused: Array<[string, unknown]> = [
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a Map', new Map([[1, 2]])],
    ['a Set', new Set([1])],
    ['a BigInt', 10n],
    ['a circular object', circular],
    ['an object holding undefined', { a: undefined }],
  ];

  it.each(refused)(
    'json refuses %s: SerializationError, key absent, old value intact',
    async (_name, value) => {
      await expect(cache.set('fresh', value)).rejects.toBeInstanceOf(SerializationError);
      expect(await raw.exists(`${prefix}:1:fresh`)).toBe(0);
      await cache.set('old', 'kept');
      await expect(cache.set('old', value)).rejects.toBeInstanceOf(SerializationError);
      expect(await cache.get('old')).toBe('kept');
    },
  );

  it('oversized values: ValueTooLargeError and nothing written (set, setMany, hset, sadd)', async () => {
    const big = 'x'.repeat(2000);
    await expect(cache.set('big', big)).rejects.toBeInstanceOf(ValueTooLargeError);
    expect(await raw.exists(`${prefix}:1:big`)).toBe(0);
    await expect(cache.setMany({ ok: 1, big })).rejects.toBeInstanceOf(ValueTooLargeError);
    expect(await raw.exists(`${prefix}:1:ok`, `${prefix}:1:big`)).toBe(0);
    await expect(cache.hset('h', 'f', big)).rejects.toBeInstanceOf(ValueTooLargeError);
    await expect(cache.sadd('s', 'small', big)).rejects.toBeInstanceOf(ValueTooLargeError);
    await expect(cache.zadd('z', { [big]: 1 })).rejects.toBeInstanceOf(ValueTooLargeError);
    expect(await raw.exists(`${prefix}:1:h`, `${prefix}:1:s`, `${prefix}:1:z`)).toBe(0);
  });

  it('setMany with one unserializable value writes none of them', async () => {
    await expect(cache.setMany({ a: 1, b: 'two', c: () => 3 })).rejects.toBeInstanceOf(SerializationError);
    expect(await raw.exists(`${prefix}:1:a`, `${prefix}:1:b`, `${prefix}:1:c`)).toBe(0);
  });

  it('non-string keys: ConfigError, nothing sent', async () => {
    await expect(cache.set(42 as unknown as string, 'v')).rejects.toThrow('key must be a string');
    expect(await raw.exists(`${prefix}:1:42`)).toBe(0);
  });

  it('bad per-call options are ConfigErrors', async () => {
    await expect(cache.set('k', 1, { ttl: '5 minutes' as never })).rejects.toBeInstanceOf(ConfigError);
    await expect(cache.set('k', 1, { version: 1.5 })).rejects.toBeInstanceOf(ConfigError);
    await expect(cache.deletePattern('*', { scanCount: 0 })).rejects.toBeInstanceOf(ConfigError);
    expect(await raw.exists(`${prefix}:1:k`)).toBe(0);
  });
});

describe('lifecycle and single-flight', () => {
  it('use after close is CacheClosedError; close is idempotent', async () => {
    const cache = createCache({
      router: routers.standalone({ url: server.url }),
      keyPrefix: uniquePrefix('close'),
    });
    await cache.set('k', 1);
    await cache.close();
    await cache.close();
    await expect(cache.get('k')).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.set('k', 2)).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.lock('l').acquire()).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.router.execute('read', (c) => c.ping())).rejects.toBeInstanceOf(CacheClosedError);
  });

  it('getOrSet: 50 concurrent callers, one factory call, everyone gets the value', async () => {
    const cache = createCache({
      router: routers.standalone({ url: server.url }),
      keyPrefix: uniquePrefix('sf'),
    });
    try {
      let calls = 0;
      const factory = async () => {
        calls++;
        await sleep(50);
        return { computed: calls };
      };
      const results = await Promise.all(Array.from({ length: 50 }, () => cache.getOrSet('hot', factory)));
      expect(calls).toBe(1);
      for (const r of results) expect(r).toEqual({ computed: 1 });
      expect(await cache.get('hot')).toEqual({ computed: 1 });
      // different keys are not serialized behind each other
      const other = await Promise.all([
        cache.getOrSet('a', async () => 'A'),
        cache.getOrSet('b', async () => 'B'),
      ]);
      expect(other).toEqual(['A', 'B']);
    } finally {
      await cache.clear();
      await cache.close();
    }
  });
});

describe('dead and hung servers', () => {
  const COMMAND_TIMEOUT_MS = 300;
  const BUDGET_MS = COMMAND_TIMEOUT_MS + 2000;
  let victim: Standalone | undefined;

  afterEach(async () => {
    await victim?.stop();
    victim = undefined;
  });

  /** Settles the promise, asserting it does so within `BUDGET_MS` (proves "no hang", not speed). */
  async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
    const budget = sleep(BUDGET_MS).then(() => 'hung' as const);
    const outcome = await Promise.race([
      promise.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      budget,
    ]);
    if (outcome === 'hung') throw new Error(`operation did not settle within ${BUDGET_MS} ms`);
    return outcome;
  }

  function makeCache(url: string, ignoreErrors = false) {
    return createCache({
      router: routers.standalone({ url, commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: 500 }),
      keyPrefix: uniquePrefix('dead'),
      ignoreErrors,
    });
  }

  it('killed server: a named connection error, fast, every time; close() still returns', async () => {
    victim = await startStandalone();
    const cache = makeCache(victim.url);
    await cache.set('k', 'v');
    await victim.kill();
    for (let i = 0; i < 5; i++) {
      const { error } = await settle(cache.get('k'));
      expect(error).toBeInstanceOf(ConnectionInterruptedError);
      expect((error as Error).message).toMatch(/127\.0\.0\.1:\d+/);
    }
    const { error } = await settle(cache.set('k', 'w'));
    expect(error).toBeInstanceOf(ConnectionInterruptedError);
    expect(cache.stats().errors).toBe(6);
    await settle(cache.close());
  });

  it('killed server with ignoreErrors: misses and no-ops, reported as error events', async () => {
    victim = await startStandalone();
    const cache = makeCache(victim.url, true);
    const events: Array<{ error: Error; operation?: string }> = [];
    cache.on('error', (e) => events.push(e));
    await cache.set('k', 'v');
    await victim.kill();
    expect((await settle(cache.get('k'))).value).toBeUndefined();
    expect((await settle(cache.set('k', 'w'))).value).toBe(false);
    expect((await settle(cache.getMany(['k']))).value).toEqual(new Map());
    const ops = events.filter((e) => e.operation !== undefined);
    expect(ops.map((e) => e.operation)).toEqual(['get', 'set', 'getMany']);
    for (const e of ops) expect(e.error).toBeInstanceOf(ConnectionInterruptedError);
    // programming errors still throw
    expect((await settle(cache.set('k', () => 1))).error).toBeInstanceOf(SerializationError);
    await cache.close();
  });

  it('paused server (SIGSTOP): CommandTimeoutError within the budget, then recovers on resume', async () => {
    victim = await startStandalone();
    const cache = makeCache(victim.url);
    await cache.set('k', 'v');
    await victim.pause();
    try {
      const { error } = await settle(cache.get('k'));
      expect(error).toBeInstanceOf(CommandTimeoutError);
      expect((error as CommandTimeoutError).timeoutMs).toBe(COMMAND_TIMEOUT_MS);
      const ignoring = makeCache(victim.url, true);
      let events = 0;
      ignoring.on('error', () => events++);
      expect((await settle(ignoring.get('k'))).value).toBeUndefined();
      expect(events).toBeGreaterThanOrEqual(1);
      await ignoring.close();
    } finally {
      await victim.resume();
    }
    expect(await cache.get('k')).toBe('v');
    await cache.close();
  });

  it('nothing listening: connection refused is a named error, not a hang', async () => {
    victim = await startStandalone();
    const url = victim.url;
    await victim.stop();
    victim = undefined;
    const cache = makeCache(url);
    const { error } = await settle(cache.get('k'));
    expect(error).toBeInstanceOf(ConnectionInterruptedError);
    await settle(cache.close());
  });
});

describe('load and clean shutdown', () => {
  it('10,000 concurrent operations all settle with the right values', async () => {
    const cache = createCache({
      // This proves values, not speed: on a loaded 2-core machine 5,000 queued commands can
      // take longer than the default 500 ms command timeout to drain, so give them room.
      router: routers.standalone({ url: server.url, commandTimeoutMs: 15_000 }),
      keyPrefix: uniquePrefix('load'),
    });
    try {
      const writes = await Promise.all(Array.from({ length: 5_000 }, (_, i) => cache.set(`k${i}`, { i })));
      expect(writes.every(Boolean)).toBe(true);
      const reads = await Promise.all(
        Array.from({ length: 5_000 }, (_, i) => cache.get<{ i: number }>(`k${i}`)),
      );
      expect(reads.every((r, i) => r?.i === i)).toBe(true);
    } finally {
      await cache.clear();
      await cache.close();
    }
  });

  it('after close() a process exits on its own (no socket or timer left behind)', async () => {
    const { code, hung, output } = await runTsxSource(
      `import { createCache } from ${srcModule('create-cache.ts')};
import { routers } from ${srcModule('routers/index.ts')};
const cache = createCache({ router: routers.standalone({ url: process.argv[2] }), keyPrefix: 'exit-test' });
await cache.set('k', 1);
if ((await cache.get('k')) !== 1) process.exit(3);
await cache.delete('k');
await cache.close();
console.log('closed');
`,
      [server.url],
      20_000,
    );
    expect(hung, output).toBe(false);
    expect(code, output).toBe(0);
    expect(output).toContain('closed');
  });
});
