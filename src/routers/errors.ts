/**
 * Translation: every failure of ioredis becomes one of the named errors of core/errors.ts
 * (whose classes carry the transient / node-failure classification). The wording it reads
 * (socket error codes, ioredis' messages, the server's reply prefixes) is matched in one
 * module, core/redis-errors.ts; every other module decides on the error classes.
 */
import {
  AuthenticationError,
  CacheError,
  CommandTimeoutError,
  ConnectionInterruptedError,
  LoadingError,
  MasterDownError,
  ServerError,
} from '../core/errors.js';
import {
  isAuthError,
  isConnectionError,
  isReadOnlyError,
  isReplyError,
  isTimeoutError,
  isTlsError,
  serverStateOf,
} from '../core/redis-errors.js';
import type { NodeAddress } from '../core/router.js';
import { bytesArrivedBeforeTimeout } from './stall-watchdog.js';

// The wording of ioredis and Redis failures lives in core/redis-errors.ts; this module
// turns it into the named errors. Re-exported for the routers' own checks.
export { isAuthError, isReadOnlyError, isTlsError } from '../core/redis-errors.js';

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

/**
 * Why a server refused our credentials, in words, naming the options that set them: "(WRONGPASS):
 * wrong username or password (options 'username' / 'password')", or NOAUTH when none was given.
 */
export function credentialsRefused(
  reply: Error,
  who: { required: string; username: string; password: string },
): string {
  if (/^NOAUTH\b/.test(reply.message)) {
    return `(NOAUTH): ${who.required} and none was given (option '${who.password}', and '${who.username}' for an ACL user)`;
  }
  return `(WRONGPASS): wrong username or password (options '${who.username}' / '${who.password}')`;
}

const DATA_NODE_CREDENTIALS = {
  required: 'the server requires a password',
  username: 'username',
  password: 'password',
};

/**
 * The refusal to report for an auth error: ioredis sends AUTH first and reports its refusal
 * (WRONGPASS) as an 'error' event, and the command after it gets NOAUTH; the refusal, kept
 * by trackSocketErrors, is what names the mistake.
 */
export function authRefusal(err: Error, client: object | undefined): Error {
  const refusal = lastSocketError(client);
  return refusal !== undefined && isAuthError(refusal) ? refusal : err;
}

/** Why a node or sentinel gave no answer, in words: refused, timed out, TLS, or the socket's code. */
export function describeFailure(err: unknown, timeoutMs: number): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'refused the connection (ECONNREFUSED: nothing listens there)';
  if (isTlsError(err)) return `TLS handshake failed: ${err.message}${code ? ` (${code})` : ''}`;
  if (/timed out|^timeout$/i.test(err.message) || code === 'ETIMEDOUT')
    return `no answer within ${timeoutMs} ms`;
  return code ?? err.message;
}

function describeSocketError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (isTlsError(err)) return `TLS handshake failed: ${err.message}${code ? ` (${code})` : ''}`;
  return code ?? err.message;
}

/**
 * `LOADING` and `MASTERDOWN` from a replica: the read may go to another node, and the
 * router skips this one until it answers again.
 */
export function isUnreadyNodeError(err: unknown): boolean {
  return err instanceof LoadingError || err instanceof MasterDownError;
}

/** Below this, bytes of a reply that stopped arriving say nothing about the value's size. */
const LARGE_REPLY_BYTES = 64 * 1024;

function formatBytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.round(bytes / 1024)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Map an ioredis failure on `address` to the package's named errors: connection problems,
 * timeouts and bad credentials, the server's state refusals (OOM, MISCONF, LOADING, ...),
 * and every other error reply as ServerError with the server's own message. READONLY is
 * left to the routers (they evict and retry) and is returned unchanged. The message names
 * the address, never credentials. With `client` (tracked by `trackSocketErrors`), a generic
 * "connection closed" names its cause.
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
    // Its reply was arriving: not a paused node but a value too large for the timeout.
    const arrived = bytesArrivedBeforeTimeout(err);
    const large =
      arrived >= LARGE_REPLY_BYTES
        ? ` while its reply was still arriving (${formatBytes(arrived)} had arrived: the value is at least that large); raise commandTimeoutMs for values this large, or make them smaller (a compressor, or split the value)`
        : '';
    return new CommandTimeoutError(`Command timed out after ${timeoutMs} ms${where}${large}`, timeoutMs, {
      cause: err,
    });
  }
  if (isAuthError(err)) {
    const refusal = authRefusal(err as Error, client);
    return new AuthenticationError(
      `Authentication failed${where} ${credentialsRefused(refusal, DATA_NODE_CREDENTIALS)}`,
      { cause: refusal },
    );
  }
  if (isConnectionError(err)) {
    const socketError = lastSocketError(client);
    // ioredis 6 closes the connection when the handshake's AUTH is refused (5.x kept it and
    // the next command got NOAUTH): the refusal came as the client's 'error' event.
    if (socketError !== undefined && isAuthError(socketError)) {
      return new AuthenticationError(
        `Authentication failed${where} ${credentialsRefused(socketError, DATA_NODE_CREDENTIALS)}`,
        { cause: socketError },
      );
    }
    const reason = socketError !== undefined && socketError !== err ? socketError : (err as Error);
    return new ConnectionInterruptedError(`Connection failed${where}: ${describeSocketError(reason)}`, {
      cause: reason,
    });
  }
  if (isReplyError(err) && !isReadOnlyError(err)) {
    const State = serverStateOf(err);
    if (State) return new State(`${err.message}${where}`, { cause: err });
    return new ServerError(err.message, { cause: err });
  }
  return err;
}
