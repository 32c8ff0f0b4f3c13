import {
  AuthenticationError,
  CacheError,
  CommandTimeoutError,
  ConnectionInterruptedError,
} from '../core/errors.js';
import { isAuthError, isConnectionError, isTimeoutError, isTlsError } from '../core/redis-errors.js';
import type { NodeAddress } from '../core/router.js';

// The classification of ioredis failures lives in core (the cache's ignoreErrors needs it too).
export {
  isAuthError,
  isConnectionError,
  isReadOnlyError,
  isTimeoutError,
  isTlsError,
} from '../core/redis-errors.js';

/**
 * ioredis attaches the failed command to a reply error (`err.command = { name, args }`); for
 * AUTH and HELLO the arguments are the username and password. They are overwritten in place,
 * so every holder of this error object (a `cause` chain, an 'error' event, a log line) is
 * safe. Returns `err`.
 */
export function redactCredentials<E>(err: E): E {
  const command = (err as { command?: { name?: unknown; args?: unknown } } | null | undefined)?.command;
  if (
    command !== undefined &&
    command !== null &&
    typeof command.name === 'string' &&
    /^(auth|hello)$/i.test(command.name) &&
    Array.isArray(command.args)
  ) {
    command.args = command.args.map(() => '[redacted]');
  }
  return err;
}

export function formatAddress(address: NodeAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

const lastSocketErrors = new WeakMap<object, Error>();

/**
 * Keep the last 'error' event of an ioredis client (also the listener that stops an unheard
 * 'error' from crashing the process). ioredis rejects the commands of a failed connection
 * with a bare "Connection is closed."; `translateError(err, address, timeout, client)` then
 * says why (refused, certificate not trusted, ...).
 */
export function trackSocketErrors(client: {
  on(event: 'error' | 'ready', fn: (err?: unknown) => void): unknown;
}): void {
  client.on('error', (err) => {
    if (err instanceof Error) lastSocketErrors.set(client, redactCredentials(err));
  });
  client.on('ready', () => lastSocketErrors.delete(client));
}

/** The last socket-level error seen by `trackSocketErrors` on `client`. */
export function lastSocketError(client: object | undefined): Error | undefined {
  return client === undefined ? undefined : lastSocketErrors.get(client);
}

function describeSocketError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (isTlsError(err)) return `TLS handshake failed: ${err.message}${code ? ` (${code})` : ''}`;
  return code ?? err.message;
}

/**
 * Map an ioredis failure on `address` to the package's named errors. Reply errors that are
 * not about the connection (WRONGTYPE, a Lua error, READONLY, ...) come back unchanged so
 * callers can react to them. The message names the address, never credentials. With
 * `client` (tracked by `trackSocketErrors`), a generic "connection closed" names its cause.
 */
export function translateError(
  err: unknown,
  address: NodeAddress | undefined,
  timeoutMs: number,
  client?: object,
): unknown {
  if (err instanceof CacheError) return err;
  redactCredentials(err);
  const where = address ? ` on ${formatAddress(address)}` : '';
  if (isTimeoutError(err)) {
    return new CommandTimeoutError(`Command timed out after ${timeoutMs} ms${where}`, timeoutMs, {
      cause: err,
    });
  }
  if (isAuthError(err)) {
    const reply = (err as Error).message.split(' ')[0];
    return new AuthenticationError(`Authentication failed${where} (${reply})`, { cause: err });
  }
  if (isConnectionError(err)) {
    const socketError = lastSocketError(client);
    const reason = socketError !== undefined && socketError !== err ? socketError : (err as Error);
    return new ConnectionInterruptedError(`Connection failed${where}: ${describeSocketError(reason)}`, {
      cause: reason,
    });
  }
  return err;
}
