import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  CacheError,
  CommandTimeoutError,
  ConnectionInterruptedError,
} from '../../src/core/errors.js';
import type { ErrorEvent } from '../../src/core/events.js';
import { toNamedError } from '../../src/core/redis-errors.js';
import { createCache } from '../../src/create-cache.js';
import type { Router, RouterEventMap } from '../../src/routers/types.js';

const STREAM = "Stream isn't writeable and enableOfflineQueue options is false";

/** A router whose every command fails with `failure`, and that can emit router events. */
function failingRouter(failure: unknown) {
  const listeners = new Map<string, Array<(payload: unknown) => void>>();
  const router: Router = {
    kind: 'fake',
    execute: () => Promise.reject(failure),
    close: async () => {},
    on: (event, fn) => listeners.set(event, [...(listeners.get(event) ?? []), fn as never]),
    off: () => {},
    stats: () => ({ kind: 'fake', nodes: {}, failovers: 0 }),
  };
  const emit = <E extends keyof RouterEventMap>(event: E, payload: RouterEventMap[E]) => {
    for (const fn of listeners.get(event) ?? []) fn(payload);
  };
  return { router, emit };
}

describe('the error event carries named errors only', () => {
  it('toNamedError keeps CacheErrors and translates ioredis internals, keeping them as cause', () => {
    const named = new CommandTimeoutError('x', 500);
    expect(toNamedError(named)).toBe(named);

    const raw = new Error(STREAM);
    const translated = toNamedError(raw);
    expect(translated).toBeInstanceOf(ConnectionInterruptedError);
    expect(translated.code).toBe('CONNECTION_INTERRUPTED');
    expect(translated.message).not.toContain('Stream');
    expect(translated.cause).toBe(raw);

    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(toNamedError(reset).message).toMatch(/^Connection to Redis interrupted \(ECONNRESET\)/);
    expect(toNamedError(new Error('WRONGPASS invalid username-password pair'))).toBeInstanceOf(
      AuthenticationError,
    );
    expect(toNamedError('a string')).toBeInstanceOf(CacheError);
  });

  it('ignoreErrors: the swallowed failure is reported as a named error with operation and key', async () => {
    const { router } = failingRouter(new Error(STREAM));
    const cache = createCache({ router, ignoreErrors: true });
    const seen: ErrorEvent[] = [];
    cache.on('error', (event) => seen.push(event));
    expect(await cache.get('k')).toBeUndefined();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.error).toBeInstanceOf(ConnectionInterruptedError);
    expect(seen[0]?.error.message).not.toContain('Stream');
    expect(seen[0]).toMatchObject({ operation: 'get', key: 'k' });
    await cache.close();
  });

  it("a router's raw error event reaches listeners as a named error", async () => {
    const { router, emit } = failingRouter(new Error('unused'));
    const cache = createCache({ router });
    const seen: ErrorEvent[] = [];
    cache.on('error', (event) => seen.push(event));
    emit('error', { error: new Error(STREAM) });
    const named = new ConnectionInterruptedError('already named');
    emit('error', { error: named });
    expect(seen.map((e) => (e.error as CacheError).code)).toEqual([
      'CONNECTION_INTERRUPTED',
      'CONNECTION_INTERRUPTED',
    ]);
    expect(seen[0]?.error.message).not.toContain('Stream');
    expect(seen[1]?.error).toBe(named);
    expect(seen[0]?.operation).toBeUndefined();
    await cache.close();
  });
});
