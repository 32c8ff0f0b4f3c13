/**
 * Cache behaviour that does not depend on Redis: closed state, ignoreErrors classification,
 * events, single-flight. The router here is a stub (allowed in test/unit only); everything
 * that talks to Redis is tested in test/integration against real servers.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  CacheClosedError,
  CacheError,
  CircuitOpenError,
  CommandTimeoutError,
  ConfigError,
  ConnectionInterruptedError,
  LoadingError,
  MasterNotFoundError,
  OutOfMemoryError,
  SerializationError,
  ServerError,
  WritesRefusedError,
} from '../../src/core/errors.js';
import type { ErrorEvent } from '../../src/core/events.js';
import { Codec, createCache } from '../../src/create-cache.js';
import type { Router, RouterEvent, RouterEventMap, RouterStats } from '../../src/routers/types.js';
import { serializers } from '../../src/serializers/index.js';

class StubRouter implements Router {
  readonly kind = 'stub';
  calls = 0;
  closed = 0;
  readonly listeners = new Map<string, Array<(p: unknown) => void>>();
  constructor(private readonly behaviour: () => Promise<unknown>) {}
  execute<T>(_intent: 'read' | 'write', _fn: (client: Redis) => Promise<T>): Promise<T> {
    this.calls++;
    return this.behaviour() as Promise<T>;
  }
  async close(): Promise<void> {
    this.closed++;
  }
  on<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void {
    const list = this.listeners.get(event) ?? [];
    list.push(fn as (p: unknown) => void);
    this.listeners.set(event, list);
  }
  off<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void {
    const list = this.listeners.get(event) ?? [];
    this.listeners.set(
      event,
      list.filter((f) => f !== fn),
    );
  }
  emit<E extends RouterEvent>(event: E, payload: RouterEventMap[E]): void {
    for (const fn of this.listeners.get(event) ?? []) fn(payload);
  }
  stats(): RouterStats {
    return { kind: 'stub', nodes: { 'n:1': { ops: this.calls, errors: 0 } }, failovers: 0 };
  }
}

const failing = (err: Error) => new StubRouter(() => Promise.reject(err));

describe('closed cache', () => {
  it('rejects every operation with CacheClosedError after close(), closing the router once', async () => {
    const router = new StubRouter(async () => null);
    const cache = createCache({ router });
    await cache.close();
    await cache.close();
    expect(router.closed).toBe(1);
    expect(cache.closed).toBe(true);
    await expect(cache.get('k')).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.set('k', 1)).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.getMany(['a'])).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.incr('k')).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.withClient('read', async () => 1)).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.withVersion(2).smembers('s')).rejects.toBeInstanceOf(CacheClosedError);
    expect(router.calls).toBe(0);
  });

  it('even with ignoreErrors, use after close is a programming error and throws', async () => {
    const cache = createCache({ router: new StubRouter(async () => null), ignoreErrors: true });
    await cache.close();
    await expect(cache.get('k')).rejects.toBeInstanceOf(CacheClosedError);
  });
});

describe('a router shared by several caches', () => {
  it('closes with the last of them; a closed one stops hearing its events', async () => {
    const router = new StubRouter(async () => null);
    const a = createCache({ router, keyPrefix: 'a' });
    const b = createCache({ router, keyPrefix: 'b' });
    const heard: string[] = [];
    a.on('failover', () => heard.push('a'));
    b.on('failover', () => heard.push('b'));
    await a.close();
    expect(router.closed).toBe(0);
    await b.get('k');
    router.emit('failover', { service: 's', to: { host: 'h', port: 1 } });
    expect(heard).toEqual(['b']);
    await b.close();
    expect(router.closed).toBe(1);
  });

  it('a createCache that throws leaves open a router another cache uses (and closes one nobody uses)', async () => {
    const router = new StubRouter(async () => null);
    const a = createCache({ router, keyPrefix: 'a' });
    expect(() => createCache({ router, keyPrefix: 'e:2' })).toThrow(ConfigError);
    expect(router.closed).toBe(0);
    await a.close();
    expect(router.closed).toBe(1);
    const unused = new StubRouter(async () => null);
    expect(() => createCache({ router: unused, keyPrefix: 'e:2' })).toThrow(ConfigError);
    await Promise.resolve();
    expect(unused.closed).toBe(1);
  });
});

describe('ignoreErrors', () => {
  it.each([
    new ConnectionInterruptedError('down'),
    new CommandTimeoutError('slow', 500),
    new CircuitOpenError('open'),
    new MasterNotFoundError('none'),
    new OutOfMemoryError("OOM command not allowed when used memory > 'maxmemory'."),
    new WritesRefusedError(
      'MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.',
    ),
    new LoadingError('LOADING Redis is loading the dataset in memory'),
  ])('turns %s into misses / no-ops and reports an error event', async (err) => {
    const cache = createCache({ router: failing(err), ignoreErrors: true });
    const events: unknown[] = [];
    cache.on('error', (e) => events.push(e));
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 1)).toBe(false);
    expect(await cache.delete('k')).toBe(false);
    expect(await cache.has('k')).toBe(false);
    expect(await cache.getMany(['a', 'b'])).toEqual(new Map());
    expect(await cache.smembers('s')).toEqual(new Set());
    expect(await cache.hgetall('h')).toEqual(new Map());
    expect(await cache.smismember('s', 'a', 'b')).toEqual([false, false]);
    expect(await cache.ttl('k')).toBeUndefined();
    expect(await cache.keys('*')).toEqual([]);
    await cache.setMany({ a: 1 });
    expect(await cache.getOrSet('k', () => 'computed')).toBe('computed');
    expect(events.length).toBeGreaterThanOrEqual(11);
    expect(events[0]).toMatchObject({ operation: 'get', key: 'k' });
    // Named errors are reported as they are; a raw ioredis error as a named one, itself the cause.
    const reported = (events[0] as ErrorEvent).error;
    if (err instanceof CacheError) expect(reported).toBe(err);
    else expect(reported).toMatchObject({ code: 'CONNECTION_INTERRUPTED', cause: err });
    const stats = cache.stats();
    expect(stats.errors).toBe(stats.ignoredErrors);
    expect(stats.misses).toBeGreaterThan(0);
  });

  it('still throws for operations with no harmless answer (incr, lock, withClient)', async () => {
    const cache = createCache({
      router: failing(new ConnectionInterruptedError('down')),
      ignoreErrors: true,
    });
    await expect(cache.incr('k')).rejects.toBeInstanceOf(ConnectionInterruptedError);
    await expect(cache.incrVersion('k')).rejects.toBeInstanceOf(ConnectionInterruptedError);
    await expect(cache.lock('l').acquire()).rejects.toBeInstanceOf(ConnectionInterruptedError);
    await expect(cache.withClient('read', async () => 1)).rejects.toBeInstanceOf(ConnectionInterruptedError);
  });

  it('still throws programming errors and reply errors', async () => {
    const wrongType = new StubRouter(() =>
      Promise.reject(new Error('WRONGTYPE Operation against a key holding the wrong kind of value')),
    );
    const cache = createCache({ router: wrongType, ignoreErrors: true, serializer: serializers.json() });
    await expect(cache.get('k')).rejects.toThrow(/WRONGTYPE/);
    const serverError = createCache({
      router: failing(new ServerError('ERR unknown command')),
      ignoreErrors: true,
    });
    await expect(serverError.get('k')).rejects.toBeInstanceOf(ServerError);
    await expect(cache.set('k', () => 1)).rejects.toBeInstanceOf(SerializationError);
    await expect(cache.set('k', undefined)).rejects.toBeInstanceOf(SerializationError);
    await expect(cache.get(5 as unknown as string)).rejects.toBeInstanceOf(ConfigError);
    await expect(cache.set('k', 1, { ttl: 'soon' as never })).rejects.toBeInstanceOf(ConfigError);
  });

  it('without ignoreErrors connection errors are thrown, counted, and not emitted twice', async () => {
    const cache = createCache({ router: failing(new ConnectionInterruptedError('down')) });
    let events = 0;
    cache.on('error', () => events++);
    await expect(cache.get('k')).rejects.toBeInstanceOf(ConnectionInterruptedError);
    expect(events).toBe(0);
    expect(cache.stats()).toMatchObject({ errors: 1, ignoredErrors: 0 });
  });
});

describe('events', () => {
  it('forwards router events and counts failovers; a throwing listener does not break anything', async () => {
    const router = new StubRouter(async () => null);
    const cache = createCache({ router });
    const seen: string[] = [];
    cache.on('failover', () => seen.push('failover'));
    cache.on('breaker-open', () => seen.push('breaker-open'));
    cache.on('topology-change', () => {
      throw new Error('listener bug');
    });
    cache.on('error', (e) => seen.push(`error:${(e.error.cause as Error).message}`));
    router.emit('failover', { service: 'm', to: { host: 'h', port: 1 } });
    router.emit('breaker-open', { role: 'master' });
    router.emit('topology-change', { reason: 'x' });
    router.emit('error', { error: new Error('bg') });
    expect(seen).toEqual(['failover', 'breaker-open', 'error:bg']);
    expect(cache.stats().failovers).toBe(1);
  });

  it('emits miss events only when someone listens, and off() stops them', async () => {
    const cache = createCache({ router: new StubRouter(async () => null) });
    const misses: string[] = [];
    const onMiss = ({ key }: { key: string }) => misses.push(key);
    cache.on('miss', onMiss);
    await cache.get('a');
    cache.off('miss', onMiss);
    await cache.get('b');
    expect(misses).toEqual(['a']);
    expect(cache.stats().misses).toBe(2);
  });
});

describe('getOrSet in one process (lock: local, a stub Redis that always misses)', () => {
  const missing = () => new StubRouter(async () => [null, []]);

  it('shares one factory call among concurrent callers and forgets it once settled', async () => {
    const cache = createCache({ router: missing() });
    let calls = 0;
    const factory = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      return calls;
    };
    const results = await Promise.all(
      Array.from({ length: 50 }, () => cache.getOrSet('k', factory, { lock: 'local' })),
    );
    expect(new Set(results)).toEqual(new Set([1]));
    expect(await cache.getOrSet('k', factory, { lock: 'local' })).toBe(2);
  });

  it('shares a failure too, and the next call retries', async () => {
    const cache = createCache({ router: missing() });
    let calls = 0;
    const factory = async () => {
      calls++;
      throw new Error(`boom ${calls}`);
    };
    const settled = await Promise.allSettled([
      cache.getOrSet('k', factory, { lock: 'local' }),
      cache.getOrSet('k', factory, { lock: 'local' }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    await expect(cache.getOrSet('k', factory, { lock: 'local' })).rejects.toThrow('boom 2');
  });

  it('keys are independent', async () => {
    const cache = createCache({ router: missing() });
    const [a, b] = await Promise.all([
      cache.getOrSet('a', async () => 'A', { lock: 'local' }),
      cache.getOrSet('b', async () => 'B', { lock: 'local' }),
    ]);
    expect([a, b]).toEqual(['A', 'B']);
  });
});

describe('getOrSet when Redis fails after the read', () => {
  const staleBytes = () =>
    new Codec({ serializer: serializers.msgpack() }).encode('old', { staleAt: Date.now() - 1_000, tags: [] });

  it('serves the stale value within grace (stale-served redis-error) and reports the error', async () => {
    const down = new ConnectionInterruptedError('down');
    let call = 0;
    const router = new StubRouter(async () => {
      call++;
      if (call === 1) return [staleBytes(), []]; // the read: GET + tag stamps
      throw down; // the fill lock, on a master that just went away
    });
    const cache = createCache({ router });
    const served: unknown[] = [];
    const errors: unknown[] = [];
    cache.on('stale-served', (e) => served.push(e));
    cache.on('error', (e) => errors.push(e.error));
    let factoryCalls = 0;
    const value = await cache.getOrSet(
      'k',
      () => {
        factoryCalls++;
        return 'new';
      },
      { grace: '1h' },
    );
    expect(value).toBe('old');
    expect(factoryCalls).toBe(0);
    expect(served).toEqual([{ key: 'k', reason: 'redis-error' }]);
    await new Promise((r) => setImmediate(r));
    expect(errors).toContain(down);
  });

  it('without grace the Redis error is thrown as is (fast, named)', async () => {
    const down = new ConnectionInterruptedError('down');
    let call = 0;
    const router = new StubRouter(async () => {
      call++;
      if (call === 1) return [staleBytes(), []];
      throw down;
    });
    const cache = createCache({ router });
    await expect(cache.getOrSet('k', () => 'new')).rejects.toBe(down);
  });
});
