import type { Redis } from 'ioredis';
import { type CorkableSocket, corkableSocketOf, repliesAwaited } from '../core/ioredis-internals.js';

/**
 * Coalesce the commands issued on one client in the same tick into one socket write.
 *
 * Why not ioredis' `enableAutoPipelining`: a Pipeline object per batch, and the next batch only
 * once the previous one is answered (docs/design.md#write-coalescing).
 *
 * How: a command issued while the connection already has IMMEDIATE_WRITES commands awaiting
 * replies corks the socket (Writable.cork) and a nextTick uncorks it, so every command written
 * in between leaves in one writev. Commands are written in issue order and get their replies
 * exactly as without corking (same connection, same order, same command timeouts).
 * Stateless: `writableCorked` says whether this tick already corked the socket.
 *
 * Why the first IMMEDIATE_WRITES go out at once: corking from the first command makes one
 * connection's traffic a convoy (client and server take turns instead of working at the same
 * time); writing the first few at once gives the server work while the client resumes the rest
 * of its callers (docs/design.md#write-coalescing).
 */
/** Commands awaiting replies on a connection before the next ones are coalesced. */
export const IMMEDIATE_WRITES = 8;

/**
 * `immediateWrites`: how many commands may await replies before the next are coalesced.
 * routers.cluster passes 1 (coalesce whenever a command awaits a reply): its connections, one
 * per master, already overlap each other's turns (docs/design.md#write-coalescing).
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
 * batch leave in one write instead of one system call each (docs/design.md#discovery-read-path).
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
