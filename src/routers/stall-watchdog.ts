import type { Redis } from 'ioredis';

/**
 * One watchdog per connection in place of ioredis' per-command timer (`commandTimeout`).
 *
 * Why: a `setTimeout` armed and cleared per command is per-command work and garbage that one
 * timer per connection does not need (docs/design.md#stall-watchdog).
 *
 * What it checks: Redis answers a connection's commands in order, so a connection is stuck
 * when the command at the head of its queue has waited `timeoutMs` without an answer. The
 * watchdog looks at the head every `timeoutMs / 8`; when the same command has been at the
 * head for `timeoutMs`, every command waiting on the connection fails with ioredis' own
 * "Command timed out" error (CommandTimeoutError once translated) and the connection is
 * closed. The routers that use it already evicted a node's connections after one command
 * timed out, failing the commands behind it with ConnectionInterruptedError at that moment;
 * now those fail with CommandTimeoutError at the same moment. A command fails no earlier than
 * `timeoutMs` after it reached the head (after the commands before it were answered), and at
 * most `timeoutMs / 4` later than that; a connection that keeps answering is never stuck.
 *
 * A stuck head whose reply was still arriving (a value too large for the timeout, not a paused
 * node) is told apart by the bytes the socket received while it was at the head: its error
 * carries them (`bytesArrivedBeforeTimeout`), so the message can say so. They are counted from
 * when the watchdog saw it at the head (armed by it, or at the first check after): no byte of
 * another reply is in the count, a few of its own may be missing.
 *
 * Cost: nothing per command but the check that the watchdog is armed. The interval runs only
 * while commands wait (it stops at the first check that finds the queues empty, and the next
 * command arms it again), so an idle connection has no timer, and while it runs it keeps the
 * process alive, as the per-command timers did (the `unref` option releases only sockets).
 *
 * `commandQueue` (commands written, awaiting replies) and `offlineQueue` (commands waiting
 * for the connection, when the offline queue is on) are ioredis internals, stable through
 * 5.x. Returns false, installing nothing, when the client does not have them: the caller then
 * keeps ioredis' per-command timer.
 */
export function watchForStalls(client: Redis, timeoutMs: number): boolean {
  const queues = client as unknown as StallQueues;
  if (!isQueue(queues.commandQueue) || !isQueue(queues.offlineQueue)) return false;
  const periodMs = Math.max(1, Math.ceil(timeoutMs / 8));
  const send = client.sendCommand;
  let timer: NodeJS.Timeout | undefined;
  let head: unknown;
  let since = 0;
  /** Bytes the socket had received when the head was first seen. */
  let bytesAtHead = 0;

  const disarm = (): void => {
    clearInterval(timer);
    timer = undefined;
    head = undefined;
  };
  const check = (): void => {
    const front = headCommand(queues);
    if (front === undefined) {
      disarm();
      return;
    }
    const now = Date.now();
    if (front !== head) {
      head = front;
      since = now;
      bytesAtHead = bytesRead(client);
    } else if (now - since >= timeoutMs) {
      disarm();
      failStuck(client, queues, bytesRead(client) - bytesAtHead);
    }
  };

  // Named parameters, not `...args`: a rest array would be one more allocation per command.
  client.sendCommand = function sendWatched(this: Redis, command: Command, stream?: WriteStream) {
    const result = send.call(this, command, stream);
    if (timer === undefined) {
      timer = setInterval(check, periodMs);
      // Usually this command is now the head: time it from here rather than from the
      // first check.
      head = headCommand(queues);
      since = Date.now();
      bytesAtHead = bytesRead(client);
    }
    return result;
  } as Redis['sendCommand'];
  // A closed connection fails its commands itself (ioredis flushes both queues).
  client.on('end', disarm);
  return true;
}

/** The two command queues of an ioredis client (see watchForStalls). */
interface StallQueues {
  commandQueue: CommandDeque;
  offlineQueue: CommandDeque;
}

interface QueuedCommand {
  command?: { reject?: (err: Error) => void };
}

interface CommandDeque {
  peekFront(): QueuedCommand | undefined;
  toArray(): QueuedCommand[];
}

/**
 * The command answered next. Compared by the command, not by its queue entry: a command
 * that waited in the offline queue gets a new entry in the command queue once the
 * connection is up, and its wait continues.
 */
function headCommand(queues: StallQueues): unknown {
  return (queues.commandQueue.peekFront() ?? queues.offlineQueue.peekFront())?.command;
}

function isQueue(q: unknown): q is CommandDeque {
  const d = q as Partial<CommandDeque> | null | undefined;
  return typeof d?.peekFront === 'function' && typeof d.toArray === 'function';
}

/**
 * Fail everything waiting on a stuck connection, then close it. The message is ioredis' own
 * for a command timeout, so translateError() gives CommandTimeoutError exactly as before.
 * Rejecting first matters: closing alone would fail them with "Connection is closed.".
 * The head's error carries the bytes of its reply that had arrived.
 */
function failStuck(client: Redis, queues: StallQueues, headBytes: number): void {
  const items = [...queues.commandQueue.toArray(), ...queues.offlineQueue.toArray()];
  items.forEach((item, i) => {
    const error = new Error(COMMAND_TIMED_OUT);
    if (i === 0 && headBytes > 0) arrivedBytes.set(error, headBytes);
    item.command?.reject?.(error);
  });
  client.disconnect();
}

const arrivedBytes = new WeakMap<Error, number>();

/** For a timeout of the watchdog: the bytes of the command's reply that had arrived (0: none). */
export function bytesArrivedBeforeTimeout(err: unknown): number {
  return err instanceof Error ? (arrivedBytes.get(err) ?? 0) : 0;
}

/** Bytes the client's socket has received (0 before it has one). */
function bytesRead(client: Redis): number {
  return (client as unknown as { stream?: { bytesRead?: number } }).stream?.bytesRead ?? 0;
}

const COMMAND_TIMED_OUT = 'Command timed out';

type Command = Parameters<Redis['sendCommand']>[0];
type WriteStream = Parameters<Redis['sendCommand']>[1];
