/**
 * The one place that knows how ioredis and Redis word their failures: socket error codes,
 * ioredis' own messages and the server's reply prefixes become the named errors of
 * core/errors.ts (whose classes carry the transient / node-failure classification). Every
 * other module decides on those classes, never on message text.
 */
import {
  AuthenticationError,
  BusyError,
  CacheError,
  CommandTimeoutError,
  ConnectionInterruptedError,
  LoadingError,
  MasterDownError,
  NoReplicasError,
  OutOfMemoryError,
  ServerError,
  WritesRefusedError,
} from '../core/errors.js';
import type { NodeAddress } from './types.js';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

const CONNECTION_MESSAGES = [
  'Connection is closed',
  "Stream isn't writeable",
  'Reached the max retries per request limit',
  'connect ETIMEDOUT',
  'Connection lost',
  'Socket closed unexpectedly',
  // ioredis rejects commands still queued (a pipeline in flight) when the socket closes.
  'Command aborted due to connection close',
];

/** Reply errors that mean the node we reached is not (or no longer) what we wanted. */
export function isReadOnlyError(err: unknown): boolean {
  return err instanceof Error && /^READONLY\b/.test(err.message);
}

export function isAuthError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (/^(WRONGPASS|NOAUTH)\b/.test(err.message) ||
      /^ERR (invalid password|AUTH <password> called without|Client sent AUTH)/.test(err.message))
  );
}

function isTimeoutError(err: unknown): boolean {
  return err instanceof Error && err.message === 'Command timed out';
}

/**
 * TLS handshake failures (node:tls / OpenSSL codes): an untrusted or mismatched certificate,
 * a wrong CA, a plain-text server on the other end.
 */
export function isTlsError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (
    typeof code === 'string' &&
    /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET_ISSUER)|ERR_TLS_|ERR_SSL_|^EPROTO$/.test(code)
  );
}

/** True for failures of the transport (as opposed to Redis replying with an error). */
function isConnectionError(err: unknown): boolean {
  if (err instanceof ConnectionInterruptedError || err instanceof CommandTimeoutError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && CONNECTION_CODES.has(code)) return true;
  if (isTlsError(err)) return true;
  // The peer is not speaking RESP (wrong service on the port): ioredis drops the connection.
  if (err.name === 'ParserError') return true;
  return CONNECTION_MESSAGES.some((m) => err.message.includes(m));
}

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

type ServerStateError = new (message: string, options?: { cause?: unknown }) => CacheError;

/** Reply prefixes of the server's own refusals (BUSY, not BUSYKEY: `\b` ends the word). */
const SERVER_STATES: ReadonlyArray<[RegExp, ServerStateError]> = [
  [/^OOM\b/, OutOfMemoryError],
  [/^MISCONF\b/, WritesRefusedError],
  [/^LOADING\b/, LoadingError],
  [/^MASTERDOWN\b/, MasterDownError],
  [/^BUSY\b/, BusyError],
  [/^NOREPLICAS\b/, NoReplicasError],
];

/** An error reply of the server (ioredis' ReplyError, also when it comes back from a pipeline). */
function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

/**
 * `LOADING` and `MASTERDOWN` from a replica: the read may go to another node, and the
 * router skips this one until it answers again.
 */
export function isUnreadyNodeError(err: unknown): boolean {
  return err instanceof LoadingError || err instanceof MasterDownError;
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
  if (isReplyError(err) && !isReadOnlyError(err)) {
    for (const [prefix, State] of SERVER_STATES) {
      if (prefix.test(err.message)) return new State(`${err.message}${where}`, { cause: err });
    }
    return new ServerError(err.message, { cause: err });
  }
  return err;
}
