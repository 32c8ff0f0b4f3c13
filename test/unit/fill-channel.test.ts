/**
 * getOrSet's wake-up channel over a stub subscriber (no Redis): messages reach the listeners of
 * their channel, a dropped connection wakes every waiter and marks it lost, a SUBSCRIBE that
 * never answers does not hang the waiter, the last listener unsubscribes.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { FillChannel } from '../../src/core/get-or-set/fill-channel.js';

class StubSubscriber extends EventEmitter {
  subscribed: string[] = [];
  unsubscribed: string[] = [];
  disconnected = false;
  constructor(private readonly answer = true) {
    super();
  }
  subscribe(channel: string): Promise<number> {
    this.subscribed.push(channel);
    return this.answer ? Promise.resolve(1) : new Promise(() => {});
  }
  unsubscribe(channel: string): Promise<number> {
    this.unsubscribed.push(channel);
    return Promise.resolve(0);
  }
  disconnect(): void {
    this.disconnected = true;
  }
  publish(channel: string, message: string): void {
    this.emit('messageBuffer', Buffer.from(channel), Buffer.from(message));
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function channelOver(...subscribers: StubSubscriber[]) {
  let opened = 0;
  const channel = new FillChannel(async () => {
    const next = subscribers[opened++];
    if (next === undefined) throw new Error('no more subscribers');
    return next as unknown as Redis;
  });
  return { channel, opened: () => opened };
}

describe('FillChannel', () => {
  it('delivers a message published on a channel to its listeners only', async () => {
    const sub = new StubSubscriber();
    const { channel } = channelOver(sub);
    const a = await channel.listen('fill:a');
    const b = await channel.listen('fill:b');
    expect(sub.subscribed).toEqual(['fill:a', 'fill:b']);
    sub.publish('fill:a', 'value-a');
    expect((await a.next(5_000))?.toString()).toBe('value-a');
    expect(await b.next(10)).toBeUndefined();
    a.close();
    b.close();
    await tick();
    expect(sub.unsubscribed).toEqual(['fill:a', 'fill:b']);
    channel.close();
  });

  it('a message that arrives before next() is queued, not lost', async () => {
    const sub = new StubSubscriber();
    const { channel } = channelOver(sub);
    const listener = await channel.listen('fill:q');
    sub.publish('fill:q', 'early');
    expect((await listener.next(5_000))?.toString()).toBe('early');
    channel.close();
  });

  it('a dropped connection wakes every waiter, marks it lost, and the next listen opens a new one', async () => {
    const first = new StubSubscriber();
    const second = new StubSubscriber();
    const { channel, opened } = channelOver(first, second);
    const listener = await channel.listen('fill:x');
    const waiting = listener.next(60_000);
    first.emit('end');
    expect(await waiting).toBeUndefined();
    expect(listener.lost).toBe(true);
    const again = await channel.listen('fill:x');
    expect(opened()).toBe(2);
    second.publish('fill:x', 'after');
    expect((await again.next(5_000))?.toString()).toBe('after');
    channel.close();
    await tick();
    expect(second.disconnected).toBe(true);
  });

  it('reset() (a failover) drops the subscriber and wakes the waiters', async () => {
    const sub = new StubSubscriber();
    const { channel } = channelOver(sub, new StubSubscriber());
    const listener = await channel.listen('fill:r');
    const waiting = listener.next(60_000);
    channel.reset();
    expect(await waiting).toBeUndefined();
    expect(listener.lost).toBe(true);
    await tick();
    expect(sub.disconnected).toBe(true);
    channel.close();
  });

  it('a SUBSCRIBE that never answers does not hang listen()', async () => {
    const { channel } = channelOver(new StubSubscriber(false));
    const started = Date.now();
    const listener = await channel.listen('fill:hung');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await listener.next(10)).toBeUndefined();
    channel.close();
  });

  it('a subscriber that cannot be opened leaves the waiter on its timers', async () => {
    const { channel } = channelOver();
    const listener = await channel.listen('fill:none');
    expect(await listener.next(10)).toBeUndefined();
    channel.close();
  });
});
