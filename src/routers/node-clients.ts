import { Redis } from 'ioredis';
import { DataConnectionHooks } from '../core/connection-hook.js';
import { CommandTimeoutError, MasterNotFoundError, ReplicaNotFoundError } from '../core/errors.js';
import type { NodeAddress } from '../core/router.js';
import { formatAddress, trackSocketErrors, translateError } from './errors.js';
import type { NodeConnectionOptions } from './types.js';

export const DEFAULT_COMMAND_TIMEOUT_MS = 500;
export const DEFAULT_CONNECT_TIMEOUT_MS = 1000;

/** What `ROLE` said about a node. */
export type NodeRole = 'master' | 'slave' | 'sentinel' | 'unknown';

/** What the caller needs the node to be; 'any' accepts masters and replicas. */
export type ExpectedRole = 'master' | 'replica' | 'any';

/** What every data connection of one router shares, derived once from its options. */
export interface NodeClientSettings {
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  unref: boolean;
  /** Run on each new connection before it is lent out (router.onDataConnection registers them). */
  hooks: DataConnectionHooks;
}

export function nodeClientSettings(opts: NodeConnectionOptions): NodeClientSettings {
  return {
    commandTimeoutMs: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    unref: opts.unref === true,
    hooks: new DataConnectionHooks(),
  };
}

/** The parts of an ioredis client that ioredis does not type: its socket and its reconnect timer. */
interface ClientInternals {
  stream?: { unref?: () => void };
  reconnectTimeout?: NodeJS.Timeout | null;
}

/**
 * The `unref` option: the client's socket (once connected) and its reconnect timer no longer
 * keep the process alive. ioredis has no such option, so it is applied on its own events: the
 * socket is unref'd on 'connect', the reconnect timer on 'reconnecting' (emitted on the next
 * tick after the timer is set). Commands in flight keep their (ref'd) command-timeout timers.
 */
export function unrefClient(client: Redis): void {
  const internals = client as unknown as ClientInternals;
  client.on('connect', () => internals.stream?.unref?.());
  client.on('reconnecting', () => internals.reconnectTimeout?.unref());
}

/**
 * An ioredis client for one data node, configured to fail fast and never replay:
 * - `commandTimeout`: a paused node fails each command after commandTimeoutMs;
 * - `connectTimeout` bounds the TCP/TLS handshake;
 * - no offline queue and no reconnection: a command issued on a client that is not
 *   connected fails at once instead of waiting for a reconnect that may never come, and a
 *   command is never resent to a node that may have changed role in between. A broken
 *   client is thrown away; the routers connect again (and check ROLE again).
 */
export interface NodeClientTuning {
  /** Batch commands issued in the same tick into one write (for clients shared by many operations). */
  autoPipelining?: boolean;
}

export function createNodeClient(
  address: NodeAddress,
  opts: NodeConnectionOptions,
  tuning: NodeClientTuning = {},
): Redis {
  const { commandTimeoutMs, connectTimeoutMs, unref } = nodeClientSettings(opts);
  const client = new Redis({
    host: address.host,
    port: address.port,
    db: opts.db ?? 0,
    username: opts.username,
    password: opts.password,
    tls: opts.tls === true ? {} : opts.tls,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    disableClientInfo: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    enableAutoPipelining: tuning.autoPipelining ?? false,
  });
  // Errors reach callers through the commands they issue (an 'error' event with no listener
  // would crash the process); the last one is kept to say why a connection closed.
  trackSocketErrors(client);
  if (unref) unrefClient(client);
  return client;
}

/** Parse the first element of a `ROLE` reply. */
export function parseRole(reply: unknown): NodeRole {
  const first = Array.isArray(reply) ? reply[0] : undefined;
  const role = Buffer.isBuffer(first) ? first.toString() : first;
  return role === 'master' || role === 'slave' || role === 'sentinel' ? role : 'unknown';
}

export function roleMatches(role: NodeRole, expected: ExpectedRole): boolean {
  if (expected === 'any') return role === 'master' || role === 'slave';
  if (expected === 'master') return role === 'master';
  return role === 'slave';
}

/** Ask a connected client for its node's role (one round trip, bounded by commandTimeout). */
export async function queryRole(client: Redis): Promise<NodeRole> {
  return parseRole(await client.call('ROLE'));
}

export function wrongRoleError(address: NodeAddress, role: NodeRole, expected: ExpectedRole): Error {
  const msg = `${formatAddress(address)} is not a ${expected === 'master' ? 'master' : 'replica'} (ROLE says ${role})`;
  return expected === 'master' ? new MasterNotFoundError(msg) : new ReplicaNotFoundError(msg);
}

/**
 * Connect to `address`, then verify with `ROLE` that the node is what we need, then run the
 * router's data connection hooks (`opts.hooks`). The whole
 * handshake (TCP, TLS, AUTH, SELECT, ROLE, hooks) is bounded by connectTimeoutMs +
 * commandTimeoutMs: a paused node accepts TCP connections (the kernel does) but never
 * answers. Failures come back translated (ConnectionInterruptedError, CommandTimeoutError,
 * AuthenticationError, MasterNotFoundError / ReplicaNotFoundError for a wrong role); the
 * client is disconnected in every failure case.
 */
export async function connectVerified(
  address: NodeAddress,
  opts: NodeConnectionOptions & { hooks?: DataConnectionHooks },
  expected: ExpectedRole,
  tuning: NodeClientTuning = {},
): Promise<{ client: Redis; role: NodeRole }> {
  const { commandTimeoutMs, connectTimeoutMs } = nodeClientSettings(opts);
  const client = createNodeClient(address, opts, tuning);
  const budget = connectTimeoutMs + commandTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new CommandTimeoutError(
            `Connecting to ${formatAddress(address)} took longer than ${budget} ms`,
            budget,
          ),
        ),
      budget,
    );
  });
  try {
    const role = await Promise.race([
      (async () => {
        await client.connect();
        const role = await queryRole(client);
        // Before anyone uses the connection (the near cache turns on CLIENT TRACKING here).
        if (opts.hooks !== undefined && !opts.hooks.empty) await opts.hooks.run(client, address);
        return role;
      })(),
      deadline,
    ]);
    if (!roleMatches(role, expected)) throw wrongRoleError(address, role, expected);
    return { client, role };
  } catch (err) {
    client.disconnect();
    throw translateError(err, address, commandTimeoutMs, client);
  } finally {
    clearTimeout(timer);
  }
}
