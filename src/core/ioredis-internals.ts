import type { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';

/**
 * Every private part of ioredis (and of opossum) this package touches, in one place.
 *
 * Why private parts at all: the speed and failover behaviour rest on a few things neither
 * library offers as API — a connection's command queues (the stall watchdog, write
 * coalescing, whether a connection is busy), its socket (corking, `unref`, bytes received),
 * its reconnect timer (`unref`), replacing a client's `sendCommand` (the watchdog, the cluster
 * router's per-node hooks), ioredis' standalone connector class (the cluster router's socket
 * error guard), and opossum's rolling window (the breaker's fast path). docs/design.md,
 * "What is internal and why", says what each buys.
 *
 * The rules: nothing outside this file reads those properties; every access is
 * feature-detected, and where the shape is missing the caller gets a documented fallback
 * (slower, or a feature off — never wrong results) and the process gets one warning per
 * kind, with a `SENTINEL_CACHE_*` code (FALLBACK_WARNING_CODES). No code reads a function's
 * source text. test/integration/ioredis-conformance.test.ts builds real ioredis clients and a
 * real cluster and asserts every shape used here; `.ci/run` runs it against the pinned
 * ioredis and the newest 6.x on the registry, so a release that moves one is seen in CI.
 */

/** The `code` of each fallback's process warning (one warning per code per process). */
export const FALLBACK_WARNING_CODES = {
  /** No command queues: the Sentinel routers bound commands with ioredis' per-command timer. */
  noStallWatchdog: 'SENTINEL_CACHE_NO_STALL_WATCHDOG',
  /** No command queue / corkable socket: commands are written one by one. */
  noWriteCoalescing: 'SENTINEL_CACHE_NO_WRITE_COALESCING',
  /** No socket or reconnect timer to unref, or no queues to see a busy connection. */
  noProcessLiveness: 'SENTINEL_CACHE_NO_PROCESS_LIVENESS',
  /** The Cluster does not announce its node connections: no near cache on routers.cluster. */
  noClusterNearCache: 'SENTINEL_CACHE_NO_CLUSTER_NEAR_CACHE',
  /** No standalone connector class: cluster sockets keep ioredis' own error handling. */
  noQuietStreams: 'SENTINEL_CACHE_NO_QUIET_STREAMS',
  /** opossum without status.increment(): every breaker operation goes through fire(). */
  breakerSlowPath: 'SENTINEL_CACHE_BREAKER_SLOW_PATH',
} as const;

export type FallbackWarningCode = (typeof FALLBACK_WARNING_CODES)[keyof typeof FALLBACK_WARNING_CODES];

const warned = new Set<FallbackWarningCode>();

/** One process warning per fallback kind. */
function fallBack(code: FallbackWarningCode, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { type: 'SentinelCacheWarning', code });
}

// ---------------------------------------------------------------------------------------------
// ioredis Redis: command queues

/** One entry of ioredis' command queues: `command` is the ioredis Command. */
export interface QueuedCommand {
  command?: { reject?: (err: Error) => void };
}

/** ioredis' queues (denque): commands written and awaiting replies, and those waiting for the connection. */
export interface CommandDeque {
  readonly length: number;
  peekFront(): QueuedCommand | undefined;
  toArray(): QueuedCommand[];
}

export interface CommandQueues {
  /** Commands written, awaiting their replies, in reply order. */
  commandQueue: CommandDeque;
  /** Commands waiting for the connection (when the offline queue is on), in issue order. */
  offlineQueue: CommandDeque;
}

function isDeque(q: unknown): q is CommandDeque {
  const d = q as Partial<CommandDeque> | null | undefined;
  return (
    typeof d?.peekFront === 'function' && typeof d.toArray === 'function' && typeof d.length === 'number'
  );
}

/**
 * `client`'s two command queues (ioredis' `commandQueue` and `offlineQueue`), or undefined
 * (with the stall watchdog's fallback warning) when this ioredis has not got them.
 */
export function commandQueuesOf(client: Redis): CommandQueues | undefined {
  const c = client as unknown as Partial<CommandQueues>;
  if (isDeque(c.commandQueue) && isDeque(c.offlineQueue)) return c as CommandQueues;
  fallBack(
    FALLBACK_WARNING_CODES.noStallWatchdog,
    "ioredis client has no commandQueue/offlineQueue of the expected shape: commands are bounded by ioredis' per-command timer instead of the stall watchdog",
  );
  return undefined;
}

/**
 * The command answered next: the head of the command queue, else of the offline queue.
 * (ioredis' Command, compared by identity: a command that waited in the offline queue gets a
 * new entry in the command queue once the connection is up.)
 */
export function nextToAnswer(queues: CommandQueues): QueuedCommand['command'] {
  return (queues.commandQueue.peekFront() ?? queues.offlineQueue.peekFront())?.command;
}

/** Every command waiting on the connection, in the order they would be answered. */
export function waitingCommands(queues: CommandQueues): QueuedCommand[] {
  return [...queues.commandQueue.toArray(), ...queues.offlineQueue.toArray()];
}

/**
 * How many commands await replies on `client` (ioredis' `commandQueue.length`), read on
 * every command by write coalescing; undefined (with its fallback warning) without it.
 */
export function repliesAwaited(client: Redis): number | undefined {
  const length = (client as unknown as { commandQueue?: { length?: unknown } }).commandQueue?.length;
  if (typeof length === 'number') return length;
  warnNoCoalescing();
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// ioredis Redis: the socket

/** The part of a connection's socket write coalescing uses (a net/tls socket is one). */
export interface CorkableSocket {
  readonly writableCorked: number;
  cork(): void;
  uncork(): void;
}

/** True when `stream` is a Writable we can cork (the shape write coalescing relies on). */
export function isCorkable(stream: unknown): stream is CorkableSocket {
  const s = stream as { cork?: unknown; uncork?: unknown; writableCorked?: unknown } | null | undefined;
  return (
    typeof s?.cork === 'function' && typeof s.uncork === 'function' && typeof s.writableCorked === 'number'
  );
}

/** `client`'s socket, to cork; undefined (with write coalescing's fallback warning) when it is not corkable. */
export function corkableSocketOf(client: Redis): CorkableSocket | undefined {
  const stream = (client as unknown as { stream?: unknown }).stream;
  if (isCorkable(stream)) return stream;
  warnNoCoalescing();
  return undefined;
}

function warnNoCoalescing(): void {
  fallBack(
    FALLBACK_WARNING_CODES.noWriteCoalescing,
    'ioredis client has no commandQueue/stream of the expected shape: write coalescing is off (commands are written one by one)',
  );
}

/** Bytes `client`'s socket has received (0 before it has one, or without `bytesRead`). */
export function bytesReadOf(client: Redis): number {
  const bytes = (client as unknown as { stream?: { bytesRead?: unknown } }).stream?.bytesRead;
  return typeof bytes === 'number' ? bytes : 0;
}

// ---------------------------------------------------------------------------------------------
// ioredis Redis: what keeps the process alive (core/process-liveness.ts)

/** Unref `client`'s current socket (on 'connect'); warns once when there is none to unref. */
export function unrefSocket(client: Redis): void {
  const stream = (client as unknown as { stream?: { unref?: unknown } }).stream;
  if (typeof stream?.unref === 'function') {
    (stream as { unref(): void }).unref();
    return;
  }
  warnNoLiveness();
}

/**
 * Unref `client`'s reconnect timer (ioredis' `reconnectTimeout`, set just before it emits
 * 'reconnecting'); true when there was one. No timer (the reconnect already began) is not an
 * error; a timer without `unref` is (the fallback warning).
 */
export function unrefReconnectTimer(client: Redis): boolean {
  const timer = (client as unknown as { reconnectTimeout?: unknown }).reconnectTimeout;
  if (timer === undefined || timer === null) return false;
  if (typeof (timer as { unref?: unknown }).unref === 'function') {
    (timer as NodeJS.Timeout).unref();
    return true;
  }
  warnNoLiveness();
  return false;
}

/**
 * A command of `client` waits (for its reply, or for the connection), or the connection is
 * closing (ioredis' `manuallyClosing`, set by disconnect() and quit()). Without the queues this
 * answers false (idle): the process-exit warning may then come while a reply is on its way.
 */
export function isBusy(client: Redis): boolean {
  const c = client as unknown as {
    commandQueue?: { length?: unknown };
    offlineQueue?: { length?: unknown };
    manuallyClosing?: unknown;
  };
  const waiting = c.commandQueue?.length;
  const offline = c.offlineQueue?.length;
  if (typeof waiting !== 'number' || typeof offline !== 'number') {
    warnNoLiveness();
    return c.manuallyClosing === true;
  }
  return c.manuallyClosing === true || waiting > 0 || offline > 0;
}

function warnNoLiveness(): void {
  fallBack(
    FALLBACK_WARNING_CODES.noProcessLiveness,
    'ioredis client has no stream/reconnectTimeout/commandQueue of the expected shape: open caches may keep the process alive without the SENTINEL_CACHE_OPEN hint, or not keep it alive while a reply is on its way',
  );
}

// ---------------------------------------------------------------------------------------------
// ioredis Redis: sendCommand

/** ioredis' `sendCommand(command, stream)`: every command of a client passes through it. */
export type SendCommand = Redis['sendCommand'];
/** The Command `sendCommand` takes (public: `new Redis.Command(...)`). */
export type IoredisCommand = Parameters<SendCommand>[0];
/** The write stream `sendCommand` takes (a pipeline's buffer, or none). */
export type IoredisWriteStream = Parameters<SendCommand>[1];

/**
 * Put `wrap(send)` in place of `client.sendCommand` on this one client (an own property that
 * shadows the prototype's): ioredis calls `this.sendCommand` for every command it writes —
 * the caller's, its handshake's, a pipeline's and, on a cluster node connection, the
 * Cluster's. `send` is the original, bound to `client`. False (nothing replaced) when the
 * client has no `sendCommand` function.
 */
export function interceptSendCommand(client: Redis, wrap: (send: SendCommand) => SendCommand): boolean {
  const original = (client as { sendCommand?: unknown }).sendCommand;
  if (typeof original !== 'function') return false;
  client.sendCommand = wrap((original as SendCommand).bind(client) as SendCommand);
  return true;
}

// ---------------------------------------------------------------------------------------------
// ioredis Cluster

/**
 * Whether this ioredis Cluster announces every node connection it creates as '+node' before
 * the connection carries a command (its `connectionPool` forwards the pool's '+node'), and
 * sends each command through the node connection's `sendCommand` (checked by the conformance
 * test on a real cluster; here only the shape is: the pool exists and a '+node' listener is
 * registered, and Redis has a `sendCommand`). False, with the near cache's fallback warning
 * (routers.cluster then runs without a near cache), when not.
 */
export function announcesNodeConnections(cluster: EventEmitter): boolean {
  const pool = (cluster as unknown as { connectionPool?: { listenerCount?: (e: string) => number } })
    .connectionPool;
  const ok =
    typeof pool?.listenerCount === 'function' &&
    pool.listenerCount('+node') > 0 &&
    typeof Redis.prototype.sendCommand === 'function';
  if (!ok) {
    fallBack(
      FALLBACK_WARNING_CODES.noClusterNearCache,
      'ioredis Cluster does not announce its node connections as this version expects: the near cache is off on routers.cluster',
    );
  }
  return ok;
}

/** ioredis' connector class shape (`redisOptions.Connector`). */
export type ConnectorClass = new (
  options: unknown,
) => {
  connect(...args: unknown[]): Promise<EventEmitter>;
};

let standaloneConnector: ConnectorClass | null | undefined;

/**
 * ioredis' StandaloneConnector (not exported by the package): the class of a lazy client's
 * `connector`. Undefined (with its fallback warning) when a lazy client has no connector
 * with a `connect` method.
 */
export function standaloneConnectorClass(): ConnectorClass | undefined {
  if (standaloneConnector === undefined) {
    const probe = new Redis({ lazyConnect: true }); // lazy: no socket is opened
    const connector = (probe as unknown as { connector?: { constructor?: unknown; connect?: unknown } })
      .connector;
    probe.disconnect();
    standaloneConnector =
      typeof connector?.connect === 'function' && typeof connector.constructor === 'function'
        ? (connector.constructor as ConnectorClass)
        : null;
  }
  if (standaloneConnector === null) {
    fallBack(
      FALLBACK_WARNING_CODES.noQuietStreams,
      "ioredis has no standalone connector of the expected shape: routers.cluster keeps ioredis' own socket error handling (a socket's second error may be uncaught)",
    );
    return undefined;
  }
  return standaloneConnector;
}

// ---------------------------------------------------------------------------------------------
// opossum

/** What the breaker's fast path uses of opossum's rolling window. */
export interface RollingWindow {
  increment(property: 'fires'): void;
}

/**
 * opossum's rolling window (`breaker.status`), if it has the shape the fast path relies on
 * (`status.increment(name)`, what opossum's own 'fire' listener calls; untyped in
 * @types/opossum). Without it every operation goes through `fire()`, which is correct, only
 * slower: warned once per process so the slowdown has a visible cause.
 */
export function rollingWindowOf(status: unknown): RollingWindow | undefined {
  const increment = (status as { increment?: unknown } | null | undefined)?.increment;
  if (typeof increment === 'function') return status as RollingWindow;
  fallBack(
    FALLBACK_WARNING_CODES.breakerSlowPath,
    'opossum has no status.increment(): the circuit breaker counts every operation through fire() (slower)',
  );
  return undefined;
}
