/**
 * NodePool (src/routers/sentinel/node-pool.ts) on fake connections: lanes shared by concurrent
 * operations, a second lane only when the first is busy, never more than `max`, and killing
 * (a failed connect, a broken idle lane, an eviction) that is final, immediate and reported once.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CommandTimeoutError,
  ConnectionInterruptedError,
  MasterNotFoundError,
} from '../../src/core/errors.js';

/** What connectVerified hands out here: a client that is 'ready' until told otherwise. */
class FakeClient extends EventEmitter {
  status = 'ready';
  disconnect = vi.fn(() => {
    this.status = 'end';
  });
}

const connect = vi.hoisted(() => ({
  /** Each call of connectVerified takes the next behaviour (default: a ready fake client). */
  next: [] as Array<() => Promise<unknown>>,
  made: [] as unknown[],
}));

vi.mock('../../src/routers/node-clients.js', async (original) => ({
  ...(await original<object>()),
  connectVerified: vi.fn(async () => {
    const step = connect.next.shift();
    if (step) return { client: await step() };
    const client = new FakeClient();
    connect.made.push(client);
    return { client };
  }),
}));

const { LANE_CONCURRENCY, NodePool } = await import('../../src/routers/sentinel/node-pool.js');

const address = { host: '127.0.0.1', port: 1 };
const node = { commandTimeoutMs: 500 };
const pools: InstanceType<typeof NodePool>[] = [];

function pool(
  options: Partial<{ min: number; max: number; acquireTimeoutMs: number }> = {},
  onDeath?: (e: Error) => void,
) {
  const p = new NodePool(
    address,
    'master',
    node,
    { min: 0, max: 2, acquireTimeoutMs: 5000, ...options },
    onDeath,
  );
  pools.push(p);
  return p;
}

beforeEach(() => {
  connect.next = [];
  connect.made = [];
});

afterEach(() => {
  for (const p of pools.splice(0)) p.kill(new Error('test over'));
});

/** Lets a borrow in progress finish (the fake connects at once). */
async function settled(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

describe('NodePool lanes', () => {
  it('the first acquire borrows a client; later ones share it synchronously', async () => {
    const p = pool();
    const first = p.acquire();
    expect(first).toBeInstanceOf(Promise);
    const client = await first;
    const second = p.acquire();
    expect(second).toBe(client); // no promise: the hot path is synchronous
    p.release(client);
    p.release(client);
    expect(connect.made).toHaveLength(1);
  });

  it(`opens a second lane only when every lane carries ${LANE_CONCURRENCY} operations, and never more than max`, async () => {
    const p = pool({ max: 2 });
    const first = (await p.acquire()) as Redis;
    for (let i = 1; i < LANE_CONCURRENCY; i++) expect(p.acquire()).toBe(first);
    expect(connect.made).toHaveLength(1);
    // The lane is full: this operation still goes on it, and a second lane is borrowed behind.
    expect(p.acquire()).toBe(first);
    await settled();
    expect(connect.made).toHaveLength(2);
    // The next operation takes the least busy lane: the new one.
    const second = p.acquire();
    expect(second).toBe(connect.made[1]);
    // Both lanes full: max is reached, no third client.
    for (let i = 0; i < 2 * LANE_CONCURRENCY; i++) p.acquire();
    await settled();
    expect(connect.made).toHaveLength(2);
  });

  it('release makes a lane the least busy again', async () => {
    const p = pool({ max: 2 });
    const first = (await p.acquire()) as Redis;
    for (let i = 0; i < LANE_CONCURRENCY; i++) p.acquire();
    await settled();
    expect(connect.made).toHaveLength(2);
    for (let i = 0; i < LANE_CONCURRENCY + 1; i++) p.release(first);
    expect(p.acquire()).toBe(first);
  });

  it('min clients are connected ahead of use', async () => {
    pool({ min: 1 });
    await vi.waitFor(() => expect(connect.made).toHaveLength(1));
  });
});

describe('NodePool death', () => {
  it('kill: borrowed clients are disconnected, later acquires rejected with the cause, onDeath called once', async () => {
    const deaths: Error[] = [];
    const p = pool({}, (e) => deaths.push(e));
    const client = (await p.acquire()) as unknown as FakeClient;
    const cause = new MasterNotFoundError('moved');
    p.kill(cause);
    p.kill(new Error('again'));
    expect(p.alive).toBe(false);
    expect(client.disconnect).toHaveBeenCalled();
    await expect(p.acquire()).rejects.toBe(cause);
    expect(deaths).toEqual([cause]);
  });

  it('an acquire waiting for its client is rejected by a kill at once', async () => {
    let connected: (c: unknown) => void = () => {};
    connect.next.push(() => new Promise((r) => (connected = r)));
    const p = pool();
    const waiting = p.acquire();
    const cause = new ConnectionInterruptedError('evicted');
    p.evict(cause);
    await expect(waiting).rejects.toBe(cause);
    // The client that arrives after the kill is not kept.
    const late = new FakeClient();
    connected(late);
    await vi.waitFor(() => expect(late.disconnect).toHaveBeenCalled());
  });

  it('a failed connect (refused, wrong ROLE) kills the pool: waiters fail with that error, not at the acquire timeout', async () => {
    const refused = new MasterNotFoundError('127.0.0.1:1 is not a master (ROLE says slave)');
    connect.next.push(() => Promise.reject(refused));
    const deaths: Error[] = [];
    const p = pool({ acquireTimeoutMs: 60_000 }, (e) => deaths.push(e));
    await expect(p.acquire()).rejects.toBe(refused);
    expect(p.alive).toBe(false);
    expect(deaths).toEqual([refused]);
  });

  it('a lane whose connection broke while idle: the next acquire kills the pool with ConnectionInterruptedError', async () => {
    const p = pool();
    const client = (await p.acquire()) as unknown as FakeClient;
    p.release(client as unknown as Redis);
    client.status = 'reconnecting';
    await expect(p.acquire()).rejects.toBeInstanceOf(ConnectionInterruptedError);
    expect(p.alive).toBe(false);
  });

  it('no client within acquireTimeoutMs: CommandTimeoutError naming the node', async () => {
    connect.next.push(() => new Promise(() => {}));
    const p = pool({ acquireTimeoutMs: 50 });
    const error = await (p.acquire() as Promise<Redis>).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandTimeoutError);
    expect((error as Error).message).toMatch(/127\.0\.0\.1:1 within 50 ms/);
  });
});
