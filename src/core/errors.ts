/**
 * Every failure the cache reports has a class of its own, all extending `CacheError`,
 * each with a stable machine-readable `code`. Messages never contain secrets: build them
 * from addresses and names, never from option objects or connection URLs.
 *
 * Each class also carries its classification, decided once here instead of by matching
 * messages wherever a decision is made:
 * - `transient`: the deployment cannot serve this operation *now* (a node down, paused,
 *   loading, full, failing over); it may succeed later or on another node. `ignoreErrors`
 *   turns exactly these into misses / no-ops, and a replica read may go elsewhere.
 * - `nodeFailure`: the node (or the way to it) is unhealthy; the circuit breaker counts it.
 *   A server that answers promptly with a refusal (OOM, MISCONF, LOADING...) is not
 *   unhealthy in that sense: opening the breaker would also stop the operations it still
 *   serves.
 * Errors that are not transient (bad input, a codec problem, a wrong type, bad credentials)
 * always reach the caller.
 */

export type CacheErrorCode =
  | 'MASTER_NOT_FOUND'
  | 'REPLICA_NOT_FOUND'
  | 'SENTINEL_UNAVAILABLE'
  | 'COMMAND_TIMEOUT'
  | 'CIRCUIT_OPEN'
  | 'CONNECTION_INTERRUPTED'
  | 'SERIALIZATION'
  | 'DECODE'
  | 'VALUE_TOO_LARGE'
  | 'AUTHENTICATION'
  | 'KEY_NOT_FOUND'
  | 'NOT_AN_INTEGER'
  | 'CONFIG'
  | 'LOCK'
  | 'INCOMPLETE'
  | 'CACHE_CLOSED'
  | 'FACTORY_TIMEOUT'
  | 'OOM'
  | 'MISCONF'
  | 'LOADING'
  | 'MASTERDOWN'
  | 'BUSY'
  | 'NOREPLICAS'
  | 'SLOT_MIGRATING'
  | 'SERVER_ERROR';

/** The base class of every error the cache reports: `code` is stable, and `transient` / `nodeFailure` say how it is handled. */
export class CacheError extends Error {
  /** The stable, machine-readable name of the failure (switch on it, not on the message). */
  readonly code: CacheErrorCode;
  /** May succeed later or on another node: `ignoreErrors` absorbs it (see the file comment). */
  readonly transient: boolean = false;
  /** Says the node or the path to it is unhealthy: the circuit breaker counts it. */
  readonly nodeFailure: boolean = false;
  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The classification of any thrown value (false/false for what is not a CacheError). */
export function isTransient(err: unknown): boolean {
  return err instanceof CacheError && err.transient;
}

/** True for a `CacheError` that says the node or the path to it is unhealthy (what the circuit breaker counts). */
export function isNodeFailure(err: unknown): boolean {
  return err instanceof CacheError && err.nodeFailure;
}

/** No sentinel knows a master for the service, or the address it gave is not a master. */
export class MasterNotFoundError extends CacheError {
  override readonly transient = true;
  override readonly nodeFailure = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('MASTER_NOT_FOUND', message, options);
  }
}

/** `readFrom: 'replica'` and no usable replica exists. */
export class ReplicaNotFoundError extends CacheError {
  override readonly transient = true;
  override readonly nodeFailure = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('REPLICA_NOT_FOUND', message, options);
  }
}

/** None of the configured sentinels answered in time. */
export class SentinelUnavailableError extends CacheError {
  override readonly transient = true;
  override readonly nodeFailure = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('SENTINEL_UNAVAILABLE', message, options);
  }
}

/** A command got no reply within `commandTimeoutMs` (a paused or overloaded node). */
export class CommandTimeoutError extends CacheError {
  override readonly transient = true;
  override readonly nodeFailure = true;
  /** The timeout that passed, in ms. */
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('COMMAND_TIMEOUT', message, options);
    this.timeoutMs = timeoutMs;
  }
}

/** The router's circuit breaker is open: failing fast instead of queueing on a dead node. */
export class CircuitOpenError extends CacheError {
  override readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('CIRCUIT_OPEN', message, options);
  }
}

/** The connection failed or closed under a command (refused, reset, node killed). */
export class ConnectionInterruptedError extends CacheError {
  override readonly transient = true;
  override readonly nodeFailure = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONNECTION_INTERRUPTED', message, options);
  }
}

/** The serializer refused a value (it would not round-trip exactly). Nothing was written. */
export class SerializationError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SERIALIZATION', message, options);
  }
}

/** Stored bytes are not a valid header + payload. Names the key. */
export class DecodeError extends CacheError {
  /** The user key whose stored bytes could not be read, when known. */
  readonly key: string | undefined;
  constructor(message: string, key?: string, options?: { cause?: unknown }) {
    super('DECODE', key === undefined ? message : `${message} (key ${JSON.stringify(key)})`, options);
    this.key = key;
  }
}

/** A value is larger than `maxValueBytes` (on write, or once decompressed on read). */
export class ValueTooLargeError extends CacheError {
  /** The value's size in bytes (on read: at least this much once decompressed). */
  readonly size: number;
  /** The `maxValueBytes` bound it passed. */
  readonly limit: number;
  constructor(message: string, size: number, limit: number) {
    super('VALUE_TOO_LARGE', message);
    this.size = size;
    this.limit = limit;
  }
}

/** A node or sentinel rejected the credentials (WRONGPASS, NOAUTH, NOPERM on AUTH). */
export class AuthenticationError extends CacheError {
  override readonly nodeFailure = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('AUTHENTICATION', message, options);
  }
}

/** `incr`/`decr`/`incrVersion` on a key that does not exist. */
export class KeyNotFoundError extends CacheError {
  /** The user key that does not exist. */
  readonly key: string;
  constructor(key: string) {
    super('KEY_NOT_FOUND', `Key ${JSON.stringify(key)} not found`);
    this.key = key;
  }
}

/**
 * `incr`/`decr` on a value that is not an integer, or whose result would leave the range
 * of exact JavaScript integers (±(2^53 − 1)); the stored value is then left unchanged.
 */
export class NotAnIntegerError extends CacheError {
  /** The user key whose value is not an integer (or would leave the range). */
  readonly key: string;
  constructor(key: string, options?: { cause?: unknown; reason?: string }) {
    super(
      'NOT_AN_INTEGER',
      `Value of key ${JSON.stringify(key)} ${options?.reason ?? 'is not an integer'}`,
      options,
    );
    this.key = key;
  }
}

/** An option is missing or invalid. Says which option and what is allowed. */
export class ConfigError extends CacheError {
  constructor(message: string) {
    super('CONFIG', message);
  }
}

/**
 * A lock could not be acquired in time (a blocking acquire past its `blockingTimeout`; `cause`
 * is the last transient failure, if any), not acknowledged by `waitReplicas` replicas, or was
 * released/extended by a non-owner.
 */
export class LockError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LOCK', message, options);
  }
}

/**
 * A multi-step operation (deletePattern, clear, keys, iterKeys, a batch split into chunks)
 * failed after part of its work was done. `completed` says how much was done (keys deleted,
 * listed, yielded or written); `cause` is the failure. Thrown even with ignoreErrors: a
 * partial result must never pass for a complete one.
 */
export class IncompleteError extends CacheError {
  /** The operation that failed part way (`deletePattern`, `clear`, `keys`, `setMany`, ...). */
  readonly operation: string;
  /** How much it did before failing: keys deleted, listed, yielded or written. */
  readonly completed: number;
  constructor(operation: string, completed: number, options: { cause: unknown }) {
    const why = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    super('INCOMPLETE', `${operation} failed after ${completed} keys were done${why}`, options);
    this.operation = operation;
    this.completed = completed;
  }
}

/** The cache (or router) was used after `close()`. */
export class CacheClosedError extends CacheError {
  constructor(message = 'Cache is closed') {
    super('CACHE_CLOSED', message);
  }
}

/** getOrSet's factory did not finish within `hardTimeout` and no stale value was within grace. */
export class FactoryTimeoutError extends CacheError {
  constructor(
    message: string,
    /** The user key whose factory was too slow. */
    readonly key: string,
    /** The hardTimeout that passed, in ms. */
    readonly timeoutMs: number,
  ) {
    super('FACTORY_TIMEOUT', message);
  }
}

// ------------------------------------------------------------------ server states
// The server's own refusals. Each keeps the server's reply as its message (after a prefix
// naming the node) and the original reply error as `cause`.

/** `OOM`: maxmemory reached with a policy that refuses writes (noeviction). */
export class OutOfMemoryError extends CacheError {
  override readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('OOM', message, options);
  }
}

/** `MISCONF`: the server refuses writes after a failed RDB save (stop-writes-on-bgsave-error). */
export class WritesRefusedError extends CacheError {
  override readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('MISCONF', message, options);
  }
}

/** `LOADING`: the node is loading its dataset into memory (restart, full resync). */
export class LoadingError extends CacheError {
  override readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('LOADING', message, options);
  }
}

/** `MASTERDOWN`: a replica lost its master and is configured not to serve stale data. */
export class MasterDownError extends CacheError {
  override readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('MASTERDOWN', message, options);
  }
}

/**
 * `BUSY`: a script or module command is running past busy-reply-threshold (lua-time-limit);
 * the node answers nothing else until it ends or is killed. Counted by the breaker: every
 * retry would only meet the same reply.
 */
export class BusyError extends CacheError {
  override readonly transient = true;
  override readonly nodeFailure = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('BUSY', message, options);
  }
}

/** `NOREPLICAS`: fewer replicas than min-replicas-to-write are connected; writes refused. */
export class NoReplicasError extends CacheError {
  override readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOREPLICAS', message, options);
  }
}

/**
 * `TRYAGAIN` (Redis Cluster): the command's hash slot is being migrated between two masters and
 * Redis runs a command over several keys of it only where all of them exist; a key that exists
 * nowhere (a destination, a lock) keeps the command refused until the migration ends. Also
 * ioredis giving up after following a command's redirections 8 times (the slot kept moving).
 * Nothing was run.
 */
export class SlotMigratingError extends CacheError {
  override readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('SLOT_MIGRATING', message, options);
  }
}

/**
 * Any other error reply of the server (ERR, WRONGTYPE, a Lua error, ...). The message is
 * the server's own; `reply` is its first word (`ERR`, `WRONGTYPE`, ...). Not transient:
 * retrying the same command gets the same answer.
 */
export class ServerError extends CacheError {
  /** The first word of the server's reply (`ERR`, `WRONGTYPE`, ...). */
  readonly reply: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super('SERVER_ERROR', message, options);
    this.reply = message.split(' ', 1)[0] ?? '';
  }
}
