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
 * `send(item)` for every item, all issued in this tick; their replies in order once every one has
 * answered, else the first failure (thrown only then: a write still in flight must not outlive
 * the operation that reported it failed). How a batch sends single-key commands on a router with
 * several nodes (`groupKeys`): the router's client routes each command, and on a cluster follows
 * MOVED, ASK and TRYAGAIN for that command alone, while the commands issued in one tick to one
 * node still leave in one socket write (write coalescing), one round trip as with a pipeline.
 * An ioredis Cluster pipeline instead re-sends all its commands where one of them was redirected:
 * after an ASK the keys of the slot not migrated yet read as missing on the importing node.
 */
export async function eachKey<I, T>(items: readonly I[], send: (item: I) => Promise<T>): Promise<T[]> {
  const settled = await Promise.allSettled(items.map((item) => send(item)));
  const replies = new Array<T>(settled.length);
  for (let j = 0; j < settled.length; j++) {
    const outcome = settled[j] as PromiseSettledResult<T>;
    if (outcome.status === 'rejected') throw outcome.reason;
    replies[j] = outcome.value;
  }
  return replies;
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
