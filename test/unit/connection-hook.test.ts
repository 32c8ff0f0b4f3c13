/**
 * DataConnectionHooks (src/core/connection-hook.ts): hooks run in registration order, and what
 * their owners need (confirmed replies) holds exactly while such a hook is registered.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { DataConnectionHooks } from '../../src/core/connection-hook.js';

describe('DataConnectionHooks', () => {
  it('runs every hook in registration order; a removed hook no longer runs', async () => {
    const hooks = new DataConnectionHooks();
    const ran: string[] = [];
    hooks.add(async () => void ran.push('a'));
    const removeB = hooks.add(async () => void ran.push('b'));
    await hooks.run({} as Redis, { host: 'h', port: 1 });
    removeB();
    await hooks.run({} as Redis, { host: 'h', port: 1 });
    expect(ran).toEqual(['a', 'b', 'a']);
    expect(hooks.empty).toBe(false);
  });

  it('needs confirmed replies only while a hook that asked for them is registered', () => {
    const hooks = new DataConnectionHooks();
    const plain = hooks.add(async () => {});
    expect(hooks.needConfirmedReplies).toBe(false); // a hook alone does not turn speculation off
    const near = async () => {};
    const removeNear = hooks.add(near, { confirmedReplies: true });
    hooks.add(near, { confirmedReplies: true }); // the same hook twice counts once
    expect(hooks.needConfirmedReplies).toBe(true);
    removeNear();
    removeNear();
    expect(hooks.needConfirmedReplies).toBe(false);
    plain();
    expect(hooks.empty).toBe(true);
  });
});
