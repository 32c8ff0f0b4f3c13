import type { Redis } from 'ioredis';
import { type CorkableSocket, corkableSocketOf, repliesAwaited } from '../core/ioredis-internals.js';

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
 * How: a command issued while the connection already has IMMEDIATE_WRITES commands awaiting
 * replies corks the socket (Writable.cork) and a nextTick uncorks it, so every command written
 * in between leaves in one writev. Commands are written in issue order and get their replies
 * exactly as without corking (same connection, same order, same command timeouts).
 * Stateless: `writableCorked` says whether this tick already corked the socket.
 *
 * Why the first IMMEDIATE_WRITES go out at once: corking from the first command makes one
 * connection's traffic a convoy. The server answers a batch in one write, the client reads it,
 * resumes every caller, and only then sends the next batch in one write: client and server
 * take turns instead of working at the same time. Writing the first few commands at once gives
 * the server work while the client is still resuming the rest of its callers. Measured (90/10
 * GET/SET of 100 B, pooled router, one lane up to 64 in flight, interleaved with ioredis'
 * Sentinel client in one process, 3 runs): corking from the first command 0.64–0.68x ioredis'
 * ops/s at 16 in flight (p99.9 1.7–2.4x), 0.93–1.00x at 64, 1.21–1.28x at 256; from the 9th
 * (IMMEDIATE_WRITES 8) 0.91–0.96x (p99.9 0.97–1.18x), 1.04–1.15x and 1.10–1.16x. At 256 in
 * flight the operations are spread over several connections, which overlap each other's turns;
 * there the extra writes cost ~10 %. Thresholds 4, 16 and 32 and a chunked cork (flush every 4,
 * 8 or 16 corked commands) each did worse at one of 16, 64 or 256 in flight.
 */
/** Commands awaiting replies on a connection before the next ones are coalesced. */
export const IMMEDIATE_WRITES = 8;

/**
 * `immediateWrites`: how many commands may await replies before the next are coalesced.
 * routers.cluster passes 1 (coalesce whenever a command awaits a reply): its operations are
 * spread over one connection per master, which overlap each other's turns as the pooled
 * router's lanes do at 256 in flight. Measured with `bench --scenario cluster` (90/10, 64 in
 * flight, vs ioredis Cluster, two runs each, same VM): 1.31× and 1.48× with 1, 1.26× and 1.23×
 * with 8.
 */
export function coalesceWrites(client: Redis, immediateWrites = IMMEDIATE_WRITES): void {
  // The command queue and the socket are ioredis internals (core/ioredis-internals.ts);
  // checked on every call because they are cheap property reads and a client without them
  // must keep working, just uncoalesced.
  const awaited = repliesAwaited(client);
  if (awaited === undefined) return;
  // Few commands awaiting replies (a lone sequential caller has none): this one goes out at
  // once, keeping the server busy (see above); deferring it would only add latency. (Before
  // the first connect the socket does not exist yet: commands wait in the offline queue.)
  if (awaited < immediateWrites || client.status !== 'ready') return;
  cork(client, 'tick');
}

/**
 * Hold `client`'s writes until this event-loop iteration's setImmediate callbacks, for a
 * command whose answer is only used together with something sent then: discovery's
 * speculative read waits for its batch's sentinel query, which FreshQuery sends by
 * setImmediate. Writing the read earlier gains nothing, and holding it lets every read of the
 * batch leave in one write. Without it, at 16 operations in flight most reads left one by one
 * (a system call each: the data connection has few commands awaiting replies while the
 * operations wait for the sentinel, so coalesceWrites writes them at once). Measured,
 * discovery / pooled ops/s in interleaved runs (90/10 GET/SET, 100 B): 0.59 → 0.65× at 16 in
 * flight, 0.83 → 0.90× at 64, no change at 1.
 */
export function coalesceUntilImmediate(client: Redis): void {
  if (client.status !== 'ready') return;
  cork(client, 'immediate');
}

/**
 * Cork `client`'s socket until the end of this tick (process.nextTick) or until this
 * iteration's setImmediate callbacks. Already corked (this tick or this iteration): the
 * command joins that write.
 */
function cork(client: Redis, until: 'tick' | 'immediate'): void {
  const stream = corkableSocketOf(client);
  if (stream === undefined) return;
  if (stream.writableCorked !== 0) return;
  stream.cork();
  if (until === 'tick') process.nextTick(uncork, stream);
  else setImmediate(uncork, stream);
}

function uncork(stream: CorkableSocket): void {
  stream.uncork();
}
