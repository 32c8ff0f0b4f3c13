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
 * Why: ioredis arms a `setTimeout` for every command and clears it when the reply arrives:
 * per-command work and garbage that one timer per connection does not need (docs/design.md,
 * "commandTimeoutMs").
 *
 * What it bounds — the meaning of `commandTimeoutMs` on every router: a command that has had
 * no reply `timeoutMs` after it was issued fails with ioredis' own "Command timed out" error
 * (CommandTimeoutError once translated). Redis answers a connection's commands in order, so
 * such a command is at the head of the connection's queue and everything behind it waits on
 * it: the connection is stalled. Every command waiting on it fails with the same error and the
 * connection is closed (the routers that use the watchdog evict such a node's connections).
 *
 * How: each command is stamped with the watchdog's clock when it is issued (a number on the
 * command; a command that waited in the offline queue keeps its first stamp). The clock is
 * `performance.now()` read when the watchdog is armed and at each check (every
 * `timeoutMs / 8`): monotonic (a wall-clock step cannot fail a healthy connection), and no
 * clock read per command. A stamp is therefore up to one period earlier than the issue, so
 * the head fails once `timeoutMs` plus one period have passed since its stamp: never earlier
 * than `timeoutMs` after it was issued, at most `timeoutMs / 4` later (plus timer lateness). A
 * check that runs more than two periods late (the event loop was blocked: the replies that
 * arrived meanwhile are not read yet, timers run first) decides nothing and leaves it to the
 * next check, once in a row: a stalled process does not fail commands whose replies are waiting
 * in its socket, and a process that stays starved still fails a stalled connection.
 *
 * A stuck head whose reply was still arriving (a value too large for the timeout, not a paused
 * node) is told apart by the bytes the socket received while it was at the head: its error
 * carries them (`bytesArrivedBeforeTimeout`), so the message can say so. They are counted from
 * when the watchdog saw it at the head (armed by it, or at the first check after): no byte of
 * another reply is in the count, a few of its own may be missing.
 *
 * Cost: a property write per command. The interval runs only while commands wait (it stops at
 * the first check that finds the queues empty, and the next command arms it again), so an
 * idle connection has no timer, and while it runs it keeps the process alive, as the
 * per-command timers did (the `unref` option releases only sockets).
 *
 * The command queues (commands written and awaiting replies; commands waiting for the
 * connection) and `sendCommand` are ioredis internals (core/ioredis-internals.ts). Returns
 * false, installing nothing, when the client does not have them: the caller then keeps
 * ioredis' per-command timer, which has the same meaning for the command (not the close).
 */
export function watchForStalls(client: Redis, timeoutMs: number): boolean {
  const queues = commandQueuesOf(client);
  if (queues === undefined) return false;
  const periodMs = Math.max(1, Math.ceil(timeoutMs / 8));
  /** A stamp is at most one period early (see above). */
  const limitMs = timeoutMs + periodMs;
  let timer: NodeJS.Timeout | undefined;
  /** The watchdog's clock: performance.now() when armed and at each check. */
  let clock = 0;
  /** The previous check ran late and decided nothing. */
  let deferred = false;
  let head: unknown;
  /** When the head was first seen: its age for a command without a stamp. */
  let since = 0;
  /** Bytes the socket had received when the head was first seen. */
  let bytesAtHead = 0;

  const disarm = (): void => {
    clearInterval(timer);
    timer = undefined;
    head = undefined;
  };
  const check = (): void => {
    const front = nextToAnswer(queues);
    if (front === undefined) {
      disarm();
      return;
    }
    const previous = clock;
    clock = performance.now();
    if (front !== head) {
      head = front;
      since = clock;
      bytesAtHead = bytesReadOf(client);
    }
    // A check that runs late had the event loop blocked before it (a long task, a starved
    // process): timers run before the socket is read, so replies that arrived meanwhile are
    // still unread. Once in a row, such a check leaves the decision to the next one.
    if (clock - previous > 2 * periodMs && !deferred) {
      deferred = true;
      return;
    }
    deferred = false;
    const issued = (front as Stamped)[ISSUED];
    if (issued !== undefined ? clock - issued >= limitMs : clock - since >= timeoutMs) {
      disarm();
      failStuck(client, queues, bytesReadOf(client) - bytesAtHead);
    }
  };

  // Named parameters, not `...args`: a rest array would be one more allocation per command.
  const installed = interceptSendCommand(
    client,
    (send) =>
      function sendWatched(command: IoredisCommand, stream?: IoredisWriteStream) {
        if (timer === undefined) {
          timer = setInterval(check, periodMs);
          clock = performance.now();
        }
        // A command flushed from the offline queue comes through again: its wait began earlier.
        if ((command as Stamped)[ISSUED] === undefined) (command as Stamped)[ISSUED] = clock;
        const result = send(command, stream);
        if (head === undefined) {
          // Usually this command is now the head.
          head = nextToAnswer(queues);
          since = clock;
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

/** The watchdog's stamp on a command: its clock when the command was issued. */
const ISSUED = Symbol('sentinel-cache.issuedAt');
interface Stamped {
  [ISSUED]?: number;
}
