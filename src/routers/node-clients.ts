import { Redis } from 'ioredis';
import { DataConnectionHooks, recordCommandBound } from '../core/connection-hook.js';
import { CommandTimeoutError, MasterNotFoundError, ReplicaNotFoundError } from '../core/errors.js';
import { ownConnection } from '../core/process-liveness.js';
import type { NodeAddress } from '../core/router.js';
import { formatAddress, trackSocketErrors, translateError } from './errors.js';
import { watchForStalls } from './stall-watchdog.js';
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

/**
 * Bound every command of `client` by `timeoutMs`: one stall watchdog for the connection
 * (stall-watchdog.ts), or ioredis' per-command `commandTimeout` timer where the watchdog
 * cannot be installed. Either way a command that gets no answer fails with "Command timed out".
 * The watchdog's bound is recorded (commandBoundOf): a duplicate() of the client has no watchdog,
 * and whoever opens one (getOrSet's fill subscriber) bounds it with that.
 */
export function boundCommands(client: Redis, timeoutMs: number): void {
  if (watchForStalls(client, timeoutMs)) recordCommandBound(client, timeoutMs);
  else client.options.commandTimeout = timeoutMs;
}

/**
 * An ioredis client for one data node, configured to fail fast and never replay:
 * - commands are bounded (boundCommands): a paused node fails them after commandTimeoutMs;
 * - `connectTimeout` bounds the TCP/TLS handshake;
 * - no offline queue and no reconnection: a command issued on a client that is not
 *   connected fails at once instead of waiting for a reconnect that may never come, and a
 *   command is never resent to a node that may have changed role in between. A broken
 *   client is thrown away; the routers connect again (and check ROLE again).
 */
export function createNodeClient(address: NodeAddress, opts: NodeConnectionOptions): Redis {
  const { commandTimeoutMs, connectTimeoutMs, unref } = nodeClientSettings(opts);
  const client = new Redis({
    host: address.host,
    port: address.port,
    db: opts.db ?? 0,
    username: opts.username,
    password: opts.password,
    tls: opts.tls === true ? {} : opts.tls,
    // RESP2 on every connection we open (docs/design.md, "The wire protocol").
    protocol: 2,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    disableClientInfo: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    connectTimeout: connectTimeoutMs,
    // The routers coalesce writes themselves (write-coalescing.ts).
    enableAutoPipelining: false,
  });
  // Errors reach callers through the commands they issue (an 'error' event with no listener
  // would crash the process); the last one is kept to say why a connection closed.
  trackSocketErrors(client);
  boundCommands(client, commandTimeoutMs);
  ownConnection(client, unref);
  return client;
}

/** What `ROLE` says: the role, and for a replica whether its link to the master is up. */
export interface RoleInfo {
  role: NodeRole;
  /** A replica's replication state is `connected` (masters: always true). */
  linkUp: boolean;
}

/** `ROLE` → master: `[master, offset, replicas]`; replica: `[slave, host, port, state, offset]`. */
export function parseRoleReply(reply: unknown): RoleInfo {
  const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString() : v);
  const parts = Array.isArray(reply) ? reply : [];
  const first = text(parts[0]);
  const role: NodeRole = first === 'master' || first === 'slave' || first === 'sentinel' ? first : 'unknown';
  return { role, linkUp: role !== 'slave' || text(parts[3]) === 'connected' };
}

export function roleMatches(role: NodeRole, expected: ExpectedRole): boolean {
  if (expected === 'any') return role === 'master' || role === 'slave';
  if (expected === 'master') return role === 'master';
  return role === 'slave';
}

export async function queryRoleInfo(client: Redis): Promise<RoleInfo> {
  return parseRoleReply(await client.call('ROLE'));
}

const wrongRoles = new WeakMap<Error, NodeAddress>();

export function wrongRoleError(address: NodeAddress, role: NodeRole, expected: ExpectedRole): Error {
  const msg = `${formatAddress(address)} is not a ${expected === 'master' ? 'master' : 'replica'} (ROLE says ${role})`;
  const err = expected === 'master' ? new MasterNotFoundError(msg) : new ReplicaNotFoundError(msg);
  wrongRoles.set(err, address);
  return err;
}

export function replicaLinkDownError(address: NodeAddress): Error {
  return new ReplicaNotFoundError(`${formatAddress(address)} has no link to its master (ROLE)`);
}

/** The address whose ROLE did not match, when `err` came from wrongRoleError(). */
export function wrongRoleAddress(err: unknown): NodeAddress | undefined {
  return err instanceof Error ? wrongRoles.get(err) : undefined;
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
): Promise<{ client: Redis; role: NodeRole; linkUp: boolean }> {
  const { commandTimeoutMs, connectTimeoutMs } = nodeClientSettings(opts);
  const client = createNodeClient(address, opts);
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
    const { role, linkUp } = await Promise.race([
      (async () => {
        await client.connect();
        const info = await queryRoleInfo(client);
        if (!roleMatches(info.role, expected)) throw wrongRoleError(address, info.role, expected);
        // A replica without its master link serves data that grows staler by the second.
        if (expected === 'replica' && !info.linkUp) throw replicaLinkDownError(address);
        // Before anyone uses the connection (the near cache turns on CLIENT TRACKING here),
        // and only on one that is kept.
        if (opts.hooks !== undefined && !opts.hooks.empty) {
          await opts.hooks.run(client, { host: address.host, port: address.port, commandTimeoutMs });
        }
        return info;
      })(),
      deadline,
    ]);
    return { client, role, linkUp };
  } catch (err) {
    client.disconnect();
    throw translateError(err, address, commandTimeoutMs, client);
  } finally {
    clearTimeout(timer);
  }
}
