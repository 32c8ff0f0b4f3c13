import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { NearCache } from '../../src/near/near-cache.js';
import { NEAR_CACHE_DEFAULTS, resolveNearCacheOptions } from '../../src/near/options.js';
import { ReadGuard } from '../../src/near/read-guard.js';
import { NearStore } from '../../src/near/store.js';

describe('resolveNearCacheOptions', () => {
  it('off by default, defaults with true, values checked', () => {
    expect(resolveNearCacheOptions(undefined)).toBeUndefined();
    expect(resolveNearCacheOptions(false)).toBeUndefined();
    expect(resolveNearCacheOptions(true)).toEqual(NEAR_CACHE_DEFAULTS);
    expect(resolveNearCacheOptions({ maxEntries: 5, maxBytes: 100, ttl: '2s', mode: 'broadcast' })).toEqual({
      maxEntries: 5,
      maxBytes: 100,
      ttlMs: 2000,
      mode: 'broadcast',
    });
    for (const bad of [
      { maxEntries: 1.5 },
      { maxBytes: -1 },
      { ttl: 0 },
      { ttl: null },
      { mode: 'x' },
      'on',
      [],
    ]) {
      expect(() => resolveNearCacheOptions(bad)).toThrow(ConfigError);
    }
    expect(() => resolveNearCacheOptions({ max: 1 })).toThrow(/nearCache.max/);
  });
});

describe('NearStore', () => {
  it('never returns an entry past its deadline', () => {
    const store = new NearStore({ maxEntries: 10, maxBytes: 1000 });
    store.set('a', { value: Buffer.from('x'), expiresAt: 100 });
    expect(store.get('a', 99)?.value?.toString()).toBe('x');
    expect(store.get('a', 100)).toBeUndefined();
    expect(store.entries).toBe(0);
  });

  it('is bounded by entries and by bytes (value + key)', () => {
    const byEntries = new NearStore({ maxEntries: 3, maxBytes: 1e9 });
    for (let i = 0; i < 10; i++) byEntries.set(`k${i}`, { value: null, expiresAt: Infinity });
    expect(byEntries.entries).toBe(3);
    const byBytes = new NearStore({ maxEntries: 1000, maxBytes: 1000 });
    for (let i = 0; i < 100; i++) byBytes.set(`k${i}`, { value: Buffer.alloc(96), expiresAt: Infinity });
    expect(byBytes.bytes).toBeLessThanOrEqual(1000);
    expect(byBytes.entries).toBe(Math.floor(1000 / (96 + 2 * 3)));
    // An entry larger than the whole budget is not kept.
    byBytes.set('huge', { value: Buffer.alloc(2000), expiresAt: Infinity });
    expect(byBytes.get('huge', 0)).toBeUndefined();
  });

  it('evicts the least recently used first: a get makes an entry recent, a peek does not', () => {
    const store = new NearStore({ maxEntries: 3, maxBytes: 1e9 });
    for (const key of ['a', 'b', 'c']) store.set(key, { value: null, expiresAt: Infinity });
    expect(store.get('a', 0)).toBeDefined();
    expect(store.peek('b', 0)).toBeDefined();
    store.set('d', { value: null, expiresAt: Infinity });
    expect(store.peek('b', 0)).toBeUndefined();
    store.set('e', { value: null, expiresAt: Infinity });
    expect(store.peek('c', 0)).toBeUndefined();
    expect(['a', 'd', 'e'].map((key) => store.peek(key, 0) !== undefined)).toEqual([true, true, true]);
  });

  it('counts a replaced entry once, and forgets deleted and cleared ones', () => {
    const store = new NearStore({ maxEntries: 10, maxBytes: 1000 });
    store.set('a', { value: Buffer.alloc(10), expiresAt: Infinity });
    store.set('a', { value: Buffer.alloc(20), expiresAt: Infinity });
    expect([store.entries, store.bytes]).toEqual([1, 22]);
    // A replacement too large to hold drops the older entry.
    store.set('a', { value: Buffer.alloc(2000), expiresAt: Infinity });
    expect([store.entries, store.bytes]).toEqual([0, 0]);
    store.set('b', { value: Buffer.alloc(10), expiresAt: Infinity });
    store.set('c', { value: Buffer.alloc(10), expiresAt: Infinity });
    expect(store.delete('b')).toBe(true);
    expect(store.delete('b')).toBe(false);
    expect([store.entries, store.bytes]).toEqual([1, 12]);
    store.clear();
    expect([store.entries, store.bytes, store.get('c', 0)]).toEqual([0, 0, undefined]);
    store.set('d', { value: null, expiresAt: Infinity });
    expect(store.get('d', 0)).toBeDefined();
  });
});

describe('ReadGuard', () => {
  it('an invalidation while a read is in flight spoils that read only', () => {
    const guard = new ReadGuard();
    const a = guard.begin('a');
    const b = guard.begin('b');
    guard.invalidate('a');
    expect(guard.end(a)).toBe(false);
    expect(guard.end(b)).toBe(true);
    expect(guard.inFlight).toBe(0);
  });

  it('a flush spoils every read in flight; later reads are fine', () => {
    const guard = new ReadGuard();
    const a = guard.begin('a');
    guard.flush();
    expect(guard.end(a)).toBe(false);
    expect(guard.end(guard.begin('a'))).toBe(true);
  });

  it('our own write spoils reads in flight and reads that start before it is answered', () => {
    const guard = new ReadGuard();
    const before = guard.begin('k');
    guard.beginWrite('k');
    const during = guard.begin('k');
    guard.endWrite('k');
    const after = guard.begin('k');
    expect(guard.end(before)).toBe(false);
    expect(guard.end(during)).toBe(false);
    expect(guard.end(after)).toBe(true);
  });
});

describe('NearCache without a router hook', () => {
  it('turns itself off with a ConfigError when the router cannot prepare connections', () => {
    const errors: Error[] = [];
    const near = new NearCache(NEAR_CACHE_DEFAULTS, '', { flushed: () => {}, error: (e) => errors.push(e) });
    near.attach({ on: () => {}, off: () => {} });
    expect(near.enabled).toBe(false);
    expect(errors[0]).toBeInstanceOf(ConfigError);
    expect(near.lookup('k')).toBeUndefined();
    expect(near.stats()).toMatchObject({ enabled: false, hits: 0, misses: 0 });
  });

  it('turns itself off with a ConfigError when a routing router cannot say which connection carried a read', () => {
    const errors: Error[] = [];
    let hooked = false;
    const near = new NearCache(NEAR_CACHE_DEFAULTS, '', { flushed: () => {}, error: (e) => errors.push(e) });
    near.attach({
      on: () => {},
      off: () => {},
      onDataConnection: () => {
        hooked = true;
        return () => {};
      },
      onRoutedCommand: () => undefined,
    });
    expect(near.enabled).toBe(false);
    expect(hooked).toBe(false);
    expect(errors[0]).toBeInstanceOf(ConfigError);
    expect(errors[0]?.message).toMatch(/which connection/);
  });
});

describe('near caches sharing one router', () => {
  /** A router that counts the hooks registered on it (and never opens a connection). */
  function countingRouter() {
    const hooks = new Set<unknown>();
    return {
      hooks,
      on: () => {},
      off: () => {},
      onDataConnection: (hook: unknown) => {
        hooks.add(hook);
        return () => {
          hooks.delete(hook);
        };
      },
    };
  }
  const sink = { flushed: () => {}, error: () => {} };

  it('share one tracking registration: one hook, removed when the last near cache closes', () => {
    const router = countingRouter();
    const a = new NearCache(NEAR_CACHE_DEFAULTS, 'a:', sink);
    const b = new NearCache(NEAR_CACHE_DEFAULTS, 'b:', sink);
    a.attach(router);
    b.attach(router);
    expect(router.hooks.size).toBe(1);
    a.close();
    expect(router.hooks.size).toBe(1);
    b.close();
    expect(router.hooks.size).toBe(0);
    // A near cache attached afterwards registers again.
    const c = new NearCache(NEAR_CACHE_DEFAULTS, 'c:', sink);
    c.attach(router);
    expect(router.hooks.size).toBe(1);
    c.close();
  });

  it("refuse a near cache whose mode differs from the router's others, saying how to share", () => {
    const router = countingRouter();
    const a = new NearCache({ ...NEAR_CACHE_DEFAULTS, mode: 'broadcast' }, 'a:', sink);
    a.attach(router);
    const b = new NearCache(NEAR_CACHE_DEFAULTS, 'b:', sink);
    expect(() => b.attach(router)).toThrow(ConfigError);
    expect(() => b.attach(router)).toThrow(/nearCache.mode 'broadcast' too, or give it a router of its own/);
    // Broadcast caches with other prefixes share it.
    const c = new NearCache({ ...NEAR_CACHE_DEFAULTS, mode: 'broadcast' }, 'c:', sink);
    c.attach(router);
    expect(router.hooks.size).toBe(1);
    a.close();
    c.close();
    expect(router.hooks.size).toBe(0);
  });
});
