import type { Redis, RedisOptions } from 'ioredis';
import { commandBoundOf } from './connection-hook.js';
import { debug, debugEnabled } from './debug.js';
import { isBusy, unrefReconnectTimer, unrefSocket } from './ioredis-internals.js';

/**
 * What keeps the process alive: the one rule for every connection the routers, the near cache
 * and getOrSet's fill channel open (routers.cluster's ioredis Cluster excepted: its node
 * connections are ioredis' own).
 *
 * Every such connection's socket and reconnect timer are unref'd. A router with `unref: true`
 * stops there: its connections never keep the process alive. Otherwise the connection is
 * *held* from 'connect' to 'end', and while any is held this module keeps the process alive
 * with one ref'd timer of its own — armed at 'beforeExit', the moment nothing else would keep
 * the process running. So an open cache keeps a process alive as an open socket would, and
 * that moment is also exactly when a forgotten `close()` shows: once per process, a warning
 * (code SENTINEL_CACHE_OPEN) says that only open cache connections keep it running.
 *
 * A command in flight keeps the process alive by its own (ref'd) timeout timer, so the moment
 * can come while a held connection is still busy (its handshake, a reply on its way): then no
 * warning, and the question is asked again a little later.
 */

/** The code of the process warning for a process kept alive only by open caches. */
export const OPEN_CACHE_WARNING_CODE = 'SENTINEL_CACHE_OPEN';

/** How long to keep the process alive before asking again while a held connection is busy. */
const BUSY_RECHECK_MS = 200;
/** The period of the timer that keeps the process alive (it does nothing when it fires). */
const KEEP_ALIVE_PERIOD_MS = 2 ** 30;

/** The `unref` of each connection brought under the rule (duplicates follow their template). */
const owned = new WeakMap<Redis, boolean>();
const held = new Set<Redis>();
let keepAlive: NodeJS.Timeout | undefined;
let listening = false;
let warned = false;
/** Router closes in progress (whileClosing). */
let closes = 0;

/**
 * Bring `client` under the rule: its socket (once connected) and reconnect timer are unref'd;
 * unless `unref`, it keeps the process alive from 'connect' until 'end' through this module.
 * ioredis has no unref option, so it is applied on its events: 'connect' (a new socket each
 * time), 'reconnecting' (emitted on the next tick after the reconnect timer is set).
 */
export function ownConnection(client: Redis, unref: boolean): void {
  owned.set(client, unref);
  // The socket and the reconnect timer are ioredis internals (ioredis-internals.ts).
  client.on('connect', () => {
    unrefSocket(client);
    if (!unref) hold(client);
  });
  client.on('reconnecting', () => {
    unrefReconnectTimer(client);
  });
  if (!unref) client.on('end', () => release(client));
}

/**
 * `template.duplicate(options)` (a connection of its own to the same node, with its address,
 * credentials and TLS), under the same rule as `template` when the template is under it, and
 * with the bound on its commands (commandBoundOf): a template whose router watches it with a
 * stall watchdog has no `commandTimeout` option for the duplicate to copy, and a duplicate
 * without a bound would wait forever on a paused node. `options.commandTimeout` overrides it.
 */
export function duplicateConnection(template: Redis, options: Partial<RedisOptions>): Redis {
  const commandTimeout = options.commandTimeout ?? commandBoundOf(template);
  const client = template.duplicate(commandTimeout === undefined ? options : { ...options, commandTimeout });
  const unref = owned.get(template);
  if (unref !== undefined) ownConnection(client, unref);
  return client;
}

/**
 * `closing`, a router's close, as something of ours still happening: while it runs, a process
 * with nothing else to do is kept alive without the warning (a close may wait on timers that
 * do not hold the process by themselves).
 */
export function whileClosing(closing: Promise<void>): Promise<void> {
  closes++;
  const settled = () => {
    closes--;
  };
  closing.then(settled, settled);
  return closing;
}

function hold(client: Redis): void {
  held.add(client);
  if (!listening) {
    listening = true;
    process.on('beforeExit', onBeforeExit);
  }
}

function release(client: Redis): void {
  if (!held.delete(client) || held.size > 0 || keepAlive === undefined) return;
  clearTimeout(keepAlive);
  keepAlive = undefined;
}

/** The event loop has nothing left to run: keep the process alive for the held connections. */
function onBeforeExit(): void {
  if (held.size === 0 || keepAlive !== undefined) return;
  if (closes > 0 || [...held].some(busy)) {
    // Cleared when it fires, so the loop runs dry again and 'beforeExit' asks again.
    keepAlive = setTimeout(() => {
      keepAlive = undefined;
    }, BUSY_RECHECK_MS);
    return;
  }
  keepAlive = setInterval(() => {}, KEEP_ALIVE_PERIOD_MS);
  if (debugEnabled) debug('keep-alive: only %d open cache connection(s) keep the process running', held.size);
  if (warned) return;
  warned = true;
  process.emitWarning(
    `Only ${held.size} open Redis connection(s) of a cache that was never closed keep this process running. ` +
      'Call `await cache.close()` when done, or create the router with `unref: true` so that open connections do not hold the process. ' +
      `A process meant to stay up for its cache alone can silence this with --disable-warning=${OPEN_CACHE_WARNING_CODE}.`,
    { type: 'SentinelCacheWarning', code: OPEN_CACHE_WARNING_CODE },
  );
}

/**
 * A command of `client` waits (for its reply, or for the connection), or the connection is
 * closing: it is not idle, something of ours is still happening.
 */
function busy(client: Redis): boolean {
  return isBusy(client);
}
