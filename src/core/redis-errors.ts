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
  WritesRefusedError,
} from './errors.js';

/**
 * Classification of the failures ioredis reports (reply errors, socket errors, its own
 * messages). Pure functions over an error value: the routers use them to translate errors,
 * the executor to decide what ignoreErrors may swallow.
 */

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

/**
 * A cluster node refused the command because its slot is served elsewhere or is moving: MOVED
 * (another master owns it), ASK (being migrated, this key already left), TRYAGAIN (being
 * migrated, a multi-key command's keys are split between the two nodes) — as a reply, or as the
 * last error of ioredis giving up ("Too many Cluster redirections"). The node did not run it:
 * sending it again is safe, also for a write.
 */
export function isSlotRefusal(err: unknown): boolean {
  return (
    err instanceof Error &&
    /^(?:Too many Cluster redirections\. Last error: (?:ReplyError: )?)?(?:MOVED|ASK|TRYAGAIN)\b/.test(
      err.message,
    )
  );
}

/**
 * `command`'s reply, or undefined when a cluster node refused it (isSlotRefusal: it did not
 * run), for a multi-key command with another way to the same answer while its slot migrates.
 */
export function unlessSlotRefused<T>(command: Promise<T>): Promise<T | undefined> {
  return command.catch((err: unknown) => {
    if (isSlotRefusal(err)) return undefined;
    throw err;
  });
}

export function isAuthError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (/^(WRONGPASS|NOAUTH)\b/.test(err.message) ||
      /^ERR (invalid password|AUTH <password> called without|Client sent AUTH)/.test(err.message))
  );
}

export function isTimeoutError(err: unknown): boolean {
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
export function isConnectionError(err: unknown): boolean {
  if (err instanceof ConnectionInterruptedError || err instanceof CommandTimeoutError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && CONNECTION_CODES.has(code)) return true;
  if (isTlsError(err)) return true;
  // The peer is not speaking RESP (wrong service on the port): ioredis drops the connection.
  // ioredis 5 (redis-parser) names it ParserError; ioredis 6's own decoder throws a plain Error
  // "Unknown RESP type <n> "<c>". Please report this." (DataHandler.returnFatalError).
  if (err.name === 'ParserError' || err.message.startsWith('Unknown RESP type')) return true;
  return CONNECTION_MESSAGES.some((m) => err.message.includes(m));
}

/** An error reply of the server (ioredis' ReplyError, also when it comes back from a pipeline). */
export function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

/** The server does not know the command: for GET or SET, not a data node (a sentinel says so). */
export function isUnknownCommandReply(err: unknown): boolean {
  return isReplyError(err) && /^ERR unknown command\b/.test(err.message);
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

/** The named error class of a server-state reply (OOM, MISCONF, LOADING, ...), if it is one. */
export function serverStateOf(reply: Error): ServerStateError | undefined {
  for (const [prefix, State] of SERVER_STATES) if (prefix.test(reply.message)) return State;
  return undefined;
}

/**
 * The named error to report for a failure, for the `error` event: a CacheError as it is; an
 * ioredis internal ("Stream isn't writeable and enableOfflineQueue options is false", "Connection
 * is closed.", a raw ECONNRESET) becomes the CacheError a user can act on, the original kept as
 * `cause`. Events are reported in our words so listeners can switch on `error.code`.
 */
export function toNamedError(err: unknown): CacheError {
  if (err instanceof CacheError) return err;
  if (isAuthError(err)) return new AuthenticationError('Redis rejected the credentials', { cause: err });
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (isTimeoutError(err)) {
    return new ConnectionInterruptedError(
      'A command got no reply in time (node paused, overloaded or gone)',
      {
        cause: err,
      },
    );
  }
  if (isConnectionError(err)) {
    return new ConnectionInterruptedError(
      `Connection to Redis interrupted${code === undefined ? '' : ` (${code})`}: the node closed, refused or reset it, or it is reconnecting; the router reconnects on its own`,
      { cause: err },
    );
  }
  return new ConnectionInterruptedError(
    `Unexpected connection failure${code === undefined ? '' : ` (${code})`}: ${err instanceof Error ? err.name : typeof err}`,
    { cause: err },
  );
}
