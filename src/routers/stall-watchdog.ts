import type { Redis } from 'ioredis';
import {
  bytesReadOf,
  type CommandQueues,
  commandQueuesOf,
  type IoredisCommand,
  type IoredisWriteStream,
  interceptSendCommand,
  nextToAnswer,
  waitingCommands,
} from '../core/ioredis-internals.js';

/**
 * One watchdog per connection in place of ioredis' per-command timer (`commandTimeout`).
 *
 * Why: ioredis arms a `setTimeout` for every command and clears it when the reply arrives.
 * At one command in flight Node also creates and drops its timer list for that duration each
 * time. In an earlier release's interleaved runs that timer was the one measurable difference
 * left between the pooled router's p99.9 and ioredis' own at concurrency 1; on the VM this was
 * built on, its effect was within the run-to-run noise (docs/design.md, performance notes). Either way it is
 * per-command work and garbage that one timer per connection does not need.
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
 * The command queues (commands written and awaiting replies; commands waiting for the
 * connection) and `sendCommand` are ioredis internals (core/ioredis-internals.ts). Returns
 * false, installing nothing, when the client does not have them: the caller then keeps
 * ioredis' per-command timer.
 */
export function watchForStalls(client: Redis, timeoutMs: number): boolean {
  const queues = commandQueuesOf(client);
  if (queues === undefined) return false;
  const periodMs = Math.max(1, Math.ceil(timeoutMs / 8));
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
      bytesAtHead = bytesReadOf(client);
    } else if (now - since >= timeoutMs) {
      disarm();
      failStuck(client, queues, bytesReadOf(client) - bytesAtHead);
    }
  };

  // Named parameters, not `...args`: a rest array would be one more allocation per command.
  const installed = interceptSendCommand(
    client,
    (send) =>
      function sendWatched(command: IoredisCommand, stream?: IoredisWriteStream) {
        const result = send(command, stream);
        if (timer === undefined) {
          timer = setInterval(check, periodMs);
          // Usually this command is now the head: time it from here rather than from the
          // first check.
          head = headCommand(queues);
          since = Date.now();
          bytesAtHead = bytesReadOf(client);
        }
        return result;
      } as Redis['sendCommand'],
  );
  if (!installed) return false;
  // A closed connection fails its commands itself (ioredis flushes both queues).
  client.on('end', disarm);
  return true;
}

/**
 * The command answered next. Compared by the command, not by its queue entry: a command
 * that waited in the offline queue gets a new entry in the command queue once the
 * connection is up, and its wait continues.
 */
function headCommand(queues: CommandQueues): unknown {
  return nextToAnswer(queues);
}

/**
 * Fail everything waiting on a stuck connection, then close it. The message is ioredis' own
 * for a command timeout, so translateError() gives CommandTimeoutError exactly as before.
 * Rejecting first matters: closing alone would fail them with "Connection is closed.".
 * The head's error carries the bytes of its reply that had arrived.
 */
function failStuck(client: Redis, queues: CommandQueues, headBytes: number): void {
  const items = waitingCommands(queues);
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

const COMMAND_TIMED_OUT = 'Command timed out';
