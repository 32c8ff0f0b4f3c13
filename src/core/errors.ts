/**
 * Every failure the cache reports has a class of its own, all extending `CacheError`,
 * each with a stable machine-readable `code`. Messages never contain secrets: build them
 * from addresses and names, never from option objects or connection URLs.
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
  | 'FACTORY_TIMEOUT';

export class CacheError extends Error {
  readonly code: CacheErrorCode;
  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** No sentinel knows a master for the service, or the address it gave is not a master. */
export class MasterNotFoundError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MASTER_NOT_FOUND', message, options);
  }
}

/** `readFrom: 'replica'` and no usable replica exists. */
export class ReplicaNotFoundError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('REPLICA_NOT_FOUND', message, options);
  }
}

/** None of the configured sentinels answered in time. */
export class SentinelUnavailableError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SENTINEL_UNAVAILABLE', message, options);
  }
}

/** A command got no reply within `commandTimeoutMs` (a paused or overloaded node). */
export class CommandTimeoutError extends CacheError {
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('COMMAND_TIMEOUT', message, options);
    this.timeoutMs = timeoutMs;
  }
}

/** The router's circuit breaker is open: failing fast instead of queueing on a dead node. */
export class CircuitOpenError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CIRCUIT_OPEN', message, options);
  }
}

/** The connection failed or closed under a command (refused, reset, node killed). */
export class ConnectionInterruptedError extends CacheError {
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
  readonly key: string | undefined;
  constructor(message: string, key?: string, options?: { cause?: unknown }) {
    super('DECODE', key === undefined ? message : `${message} (key ${JSON.stringify(key)})`, options);
    this.key = key;
  }
}

/** A value is larger than `maxValueBytes` (on write, or once decompressed on read). */
export class ValueTooLargeError extends CacheError {
  readonly size: number;
  readonly limit: number;
  constructor(message: string, size: number, limit: number) {
    super('VALUE_TOO_LARGE', message);
    this.size = size;
    this.limit = limit;
  }
}

/** A node or sentinel rejected the credentials (WRONGPASS, NOAUTH, NOPERM on AUTH). */
export class AuthenticationError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('AUTHENTICATION', message, options);
  }
}

/** `incr`/`decr`/`incrVersion` on a key that does not exist. */
export class KeyNotFoundError extends CacheError {
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
  readonly operation: string;
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
