/**
 * The stall watchdog's decisions (src/routers/stall-watchdog.ts) on a fake connection and fake
 * timers: when a connection counts as stuck, what fails then, what never fails, and when it
 * holds a timer. Behaviour only, whatever clock it reads (every clock is faked here); the real
 * server case is test/integration/stall-watchdog.test.ts.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bytesArrivedBeforeTimeout, watchForStalls } from '../../src/routers/stall-watchdog.js';

const TIMEOUT_MS = 800;

interface Pending {
  command: { name: string; reject: (err: Error) => void; error?: Error };
}

/** A deque with what the watchdog reads of ioredis' (denque): length, peekFront, toArray. */
class Queue {
  items: Pending[] = [];
  get length(): number {
    return this.items.length;
  }
  peekFront(): Pending | undefined {
    return this.items[0];
  }
  toArray(): Pending[] {
    return [...this.items];
  }
}

/** Just enough of an ioredis client: its two queues, sendCommand, disconnect, 'end', the socket's bytes. */
class FakeConnection extends EventEmitter {
  commandQueue = new Queue();
  offlineQueue = new Queue();
  stream = { bytesRead: 0 };
  disconnected = false;
  online = true;

  sendCommand(command: Pending['command']): void {
    (this.online ? this.commandQueue : this.offlineQueue).items.push({ command });
  }

  disconnect(): void {
    this.disconnected = true;
  }

  /** Sends a command through whatever the watchdog installed; returns what it was failed with, if ever. */
  send(name: string): Pending['command'] {
    const command: Pending['command'] = {
      name,
      reject: (err) => {
        command.error = err;
      },
    };
    (this as unknown as Redis).sendCommand(command as never);
    return command;
  }

  /** The server answers the command at the head. */
  answer(): void {
    this.commandQueue.items.shift();
  }
}

function watched(): FakeConnection {
  const c = new FakeConnection();
  expect(watchForStalls(c as unknown as Redis, TIMEOUT_MS)).toBe(true);
  return c;
}

beforeEach(() => {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance', 'hrtime'],
  });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('watchForStalls', () => {
  it('installs nothing on a client without the command queues (the caller keeps per-command timers)', () => {
    const plain = new EventEmitter() as unknown as Redis;
    const send = (plain as unknown as { sendCommand: unknown }).sendCommand;
    expect(watchForStalls(plain, TIMEOUT_MS)).toBe(false);
    expect((plain as unknown as { sendCommand: unknown }).sendCommand).toBe(send);
  });

  it('a head unanswered for the timeout fails with every command behind it, not before; the connection is closed', () => {
    const c = watched();
    const head = c.send('get');
    const behind = [c.send('set'), c.send('get')];
    c.online = false;
    const offline = c.send('ping'); // waiting for the connection: bounded too
    vi.advanceTimersByTime(TIMEOUT_MS - 1);
    expect(head.error).toBeUndefined();
    expect(c.disconnected).toBe(false);
    vi.advanceTimersByTime(TIMEOUT_MS / 4 + 1);
    for (const command of [head, ...behind, offline])
      expect(command.error?.message).toBe('Command timed out');
    expect(c.disconnected).toBe(true);
  });

  it('a connection that keeps answering within the timeout is never stuck, however long its queue stays non-empty', () => {
    const c = watched();
    const commands = [c.send('cmd0'), c.send('cmd1')];
    // One answer and one new command every third of the timeout, for 10 timeouts: commands
    // wait all along, none longer than two thirds of the timeout.
    for (let i = 2; i < 32; i++) {
      vi.advanceTimersByTime(TIMEOUT_MS / 3);
      c.answer();
      commands.push(c.send(`cmd${i}`));
    }
    expect(commands.every((command) => command.error === undefined)).toBe(true);
    expect(c.disconnected).toBe(false);
  });

  it('a command sent after the connection went idle is timed from then, not from an earlier command', () => {
    const c = watched();
    c.send('first');
    vi.advanceTimersByTime(TIMEOUT_MS * 0.9);
    c.answer();
    const second = c.send('second');
    vi.advanceTimersByTime(TIMEOUT_MS * 0.9);
    expect(second.error).toBeUndefined();
    expect(c.disconnected).toBe(false);
    vi.advanceTimersByTime(TIMEOUT_MS * 0.5);
    expect(second.error?.message).toBe('Command timed out');
  });

  it('an idle connection holds no timer; the next command arms it again', () => {
    const c = watched();
    expect(vi.getTimerCount()).toBe(0);
    c.send('ping');
    expect(vi.getTimerCount()).toBe(1);
    c.answer();
    vi.advanceTimersByTime(TIMEOUT_MS);
    expect(vi.getTimerCount()).toBe(0);
    const next = c.send('ping');
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(TIMEOUT_MS * 2);
    expect(next.error?.message).toBe('Command timed out');
  });

  it("a closed connection ('end') disarms it: ioredis fails its own queues", () => {
    const c = watched();
    const command = c.send('get');
    c.emit('end');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(TIMEOUT_MS * 2);
    expect(command.error).toBeUndefined();
  });

  it("the head's error carries the bytes of its reply that arrived while it waited (a large value, not a paused node)", () => {
    const c = watched();
    c.stream.bytesRead = 100; // earlier replies
    const head = c.send('get');
    const behind = c.send('get');
    vi.advanceTimersByTime(TIMEOUT_MS / 2);
    c.stream.bytesRead += 4096;
    vi.advanceTimersByTime(TIMEOUT_MS);
    expect(bytesArrivedBeforeTimeout(head.error)).toBe(4096);
    expect(bytesArrivedBeforeTimeout(behind.error)).toBe(0);
  });
});
