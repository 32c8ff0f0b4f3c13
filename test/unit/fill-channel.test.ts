/**
 * getOrSet's wake-up channel over a stub subscriber (no Redis): messages reach the listeners of
 * their channel, a dropped connection wakes every waiter and marks it lost, a SUBSCRIBE that
 * never answers does not hang the waiter, one that fails (timed out) drops the subscriber and is
 * reported once as a named error, the last listener unsubscribes.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type CacheError, CommandTimeoutError } from '../../src/core/errors.js';
import { FillChannel } from '../../src/core/get-or-set/fill-channel.js';

/** How a stub answers SUBSCRIBE / UNSUBSCRIBE: at once, never, or "Command timed out" (ioredis' bound). */
type Answer = 'ok' | 'never' | 'timeout';

class StubSubscriber extends EventEmitter {
  subscribed: string[] = [];
  unsubscribed: string[] = [];
  disconnected = false;
  readonly options = { host: '127.0.0.1', port: 6390, commandTimeout: 500 };
  constructor(
    private readonly answer: Answer = 'ok',
    private readonly unsubscribeAnswer: Answer = 'ok',
  ) {
    super();
  }
  subscribe(channel: string): Promise<number> {
    this.subscribed.push(channel);
    return reply(this.answer, 1);
  }
  unsubscribe(channel: string): Promise<number> {
    this.unsubscribed.push(channel);
    return reply(this.unsubscribeAnswer, 0);
  }
  disconnect(): void {
    this.disconnected = true;
  }
  publish(channel: string, message: string): void {
    this.emit('messageBuffer', Buffer.from(channel), Buffer.from(message));
  }
}

function reply(answer: Answer, value: number): Promise<number> {
  if (answer === 'ok') return Promise.resolve(value);
  if (answer === 'timeout') return Promise.reject(new Error('Command timed out'));
  return new Promise(() => {});
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function channelOver(...subscribers: StubSubscriber[]) {
  let opened = 0;
  const errors: CacheError[] = [];
  const channel = new FillChannel(
    async () => {
      const next = subscribers[opened++];
      if (next === undefined) throw new Error('no more subscribers');
      return next as unknown as Redis;
    },
    (error) => errors.push(error),
  );
  return { channel, opened: () => opened, errors };
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
    const { channel } = channelOver(new StubSubscriber('never'));
    const started = Date.now();
    const listener = await channel.listen('fill:hung');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await listener.next(10)).toBeUndefined();
    channel.close();
  });

  it('a subscriber that cannot be opened leaves the waiter on its timers', async () => {
    const { channel, errors } = channelOver();
    const listener = await channel.listen('fill:none');
    expect(await listener.next(10)).toBeUndefined();
    expect(errors).toHaveLength(1);
    channel.close();
  });

  it('a SUBSCRIBE that times out: CommandTimeoutError reported once, subscriber dropped, the next listen opens a new one', async () => {
    const paused = new StubSubscriber('timeout');
    const next = new StubSubscriber();
    const { channel, opened, errors } = channelOver(paused, next);
    const listener = await channel.listen('fill:t');
    expect(listener.lost).toBe(true);
    expect(paused.disconnected).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CommandTimeoutError);
    expect(errors[0]?.message).toMatch(/SUBSCRIBE to 127\.0\.0\.1:6390 got no reply within 500 ms/);
    const again = await channel.listen('fill:t');
    expect(opened()).toBe(2);
    next.publish('fill:t', 'after');
    expect((await again.next(5_000))?.toString()).toBe('after');
    channel.close();
  });

  it('an UNSUBSCRIBE that times out drops the subscriber too; after close() nothing more is reported', async () => {
    const paused = new StubSubscriber('ok', 'timeout');
    const { channel, errors } = channelOver(paused, new StubSubscriber());
    const listener = await channel.listen('fill:u');
    listener.close();
    await tick();
    expect(paused.disconnected).toBe(true);
    expect(errors.map((e) => e.constructor)).toEqual([CommandTimeoutError]);
    const again = await channel.listen('fill:u');
    channel.close();
    again.close();
    await tick();
    expect(errors).toHaveLength(1);
  });
});
