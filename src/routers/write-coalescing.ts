import type { Redis } from 'ioredis';

/**
 * Coalesce the commands issued on one client in the same tick into one socket write.
 *
 * Why not ioredis' `enableAutoPipelining`: it wraps every batch in a Pipeline object (a
 * promise, a callback array, a result array, one nextTick per reply), and it sends the next
 * batch only when the previous one has been answered completely. Measured on a local
 * topology, 90/10 GET/SET of 100 B values next to ioredis' Sentinel client in the same run
 * (/tmp script, interleaved rounds): pooled with auto-pipelining 0.68x at concurrency 1 and
 * 1.03x at 16, p99.9 3.7 ms; with corking 0.94x and 1.26x, p99.9 0.87 ms. Without either
 * (one write per command) 0.92x and 0.80x: the system calls dominate under concurrency.
 *
 * How: the first command of a tick corks the socket (Writable.cork) and a nextTick uncorks
 * it, so every command written in between leaves in one writev. Commands are written in
 * issue order and get their replies exactly as without corking (same connection, same
 * order, same command timeouts); a lone sequential caller pays one nextTick, no allocation.
 * Stateless: `writableCorked` says whether this tick already corked the socket.
 */
export function coalesceWrites(client: Redis): void {
  // `commandQueue` and `stream` are ioredis internals (present and stable through 5.x, the
  // range package.json admits); checked on every call because they are cheap property
  // reads and a client without them must keep working, just uncoalesced.
  const queue = (client as Partial<Pick<Redis, 'commandQueue'>>).commandQueue;
  if (typeof queue?.length !== 'number') {
    warnUnsupported();
    return;
  }
  // Nothing awaiting a reply: a lone (sequential) caller. Its command goes out at once;
  // deferring it to the end of the tick would only add latency. (Before the first connect
  // the socket does not exist yet: commands wait in the offline queue.)
  if (queue.length === 0 || client.status !== 'ready') return;
  const stream = (client as Partial<Pick<Redis, 'stream'>>).stream;
  if (!isCorkable(stream)) {
    warnUnsupported();
    return;
  }
  if (stream.writableCorked !== 0) return;
  stream.cork();
  process.nextTick(uncork, stream);
}

/** True when `stream` is a Writable we can cork (the shape the coalescing relies on). */
export function isCorkable(stream: unknown): stream is Redis['stream'] {
  const s = stream as { cork?: unknown; uncork?: unknown; writableCorked?: unknown } | null | undefined;
  return (
    typeof s?.cork === 'function' && typeof s.uncork === 'function' && typeof s.writableCorked === 'number'
  );
}

let warned = false;
function warnUnsupported(): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    'ioredis client has no commandQueue/stream of the expected shape: write coalescing is off (commands are written one by one)',
    { code: 'SENTINEL_CACHE_NO_WRITE_COALESCING' },
  );
}

function uncork(stream: Redis['stream']): void {
  stream.uncork();
}
