import type { Redis } from 'ioredis';
import { IncompleteError } from './errors.js';
import { type Executor, type Fallback, ZERO } from './executor.js';

/**
 * Bounded batches. Redis runs one command at a time, so one command with 100,000 arguments (or
 * one pipeline of 60,000 commands) holds up every other client, and its replies arrive long
 * after the per-command timeout started. Spreading that many arguments into a call also
 * overflows V8's stack (RangeError). So every many-key operation is sent in chunks of at most
 * BATCH_SIZE keys/members per command (or commands per pipeline), one chunk at a time, each
 * with its own timeout: other operations interleave between chunks.
 */
export const BATCH_SIZE = 1000;

/** `items` in consecutive slices of at most `size` (one slice for a short list, none for an empty one). */
export function chunks<T>(items: readonly T[], size = BATCH_SIZE): T[][] {
  const out: T[][] = [];
  for (let from = 0; from < items.length; from += size) out.push(items.slice(from, from + size));
  return out;
}

/**
 * How far a multi-step operation got: `steps` round trips succeeded, `completed` keys were
 * done (deleted, listed, written). Updated by the operation as it goes, read when it fails.
 */
export interface Progress {
  steps: number;
  completed: number;
}

export function progress(): Progress {
  return { steps: 0, completed: 0 };
}

/**
 * The outcome of a multi-step operation that failed with `err` (already counted by the
 * executor). Nothing done yet: the error is the operation's only news, so ignoreErrors may
 * turn it into `fallback` as for a single command. Some work done: IncompleteError saying how
 * much, even with ignoreErrors — a partial result must never pass for a complete one.
 */
export function failedPart<F>(
  executor: Executor,
  err: unknown,
  operation: string,
  key: string | undefined,
  done: Progress,
  fallback: Fallback<F>,
): F {
  if (done.steps === 0) return executor.recover(err, operation, key, fallback);
  throw new IncompleteError(operation, done.completed, { cause: err });
}

/**
 * A write of many items as one command per chunk (SADD, SREM, ZREM, HDEL, DEL, ...), chunks
 * sent one after the other; returns the sum of the replies (what the single command would
 * have answered). `touched` names the Redis keys a chunk changes (for the near cache). Not atomic across chunks: another client may see the first chunks applied
 * before the last ones.
 */
export async function sumOverChunks<T>(
  executor: Executor,
  operation: string,
  key: string | undefined,
  items: readonly T[],
  touched: (chunk: T[]) => string | readonly string[],
  send: (client: Redis, chunk: T[]) => Promise<number>,
): Promise<number> {
  const done = progress();
  try {
    for (const chunk of chunks(items)) {
      done.completed += await executor.write(operation, key, null, touched(chunk), (client) =>
        send(client, chunk),
      );
      done.steps++;
    }
    return done.completed;
  } catch (err) {
    return failedPart(executor, err, operation, key, done, ZERO);
  }
}
