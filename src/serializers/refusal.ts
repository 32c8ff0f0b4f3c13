import { SerializationError } from '../core/errors.js';

/**
 * Value checks throw a `Refusal` at the offending value; each container level on the way
 * out prepends its key, so the final SerializationError says where the problem is
 * (`$.user.tags[3]`) without the checks paying for path bookkeeping on the happy path.
 */
export class Refusal extends Error {
  readonly path: (string | number)[] = [];
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Rethrows `error` with `key` prepended to its path when it is a Refusal. */
export function atKey(error: unknown, key: string | number): never {
  if (error instanceof Refusal) error.path.unshift(key);
  throw error;
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = '$';
  for (const key of path) {
    out +=
      typeof key === 'number'
        ? `[${key}]`
        : /^[A-Za-z_$][\w$]*$/.test(key)
          ? `.${key}`
          : `[${JSON.stringify(key)}]`;
  }
  return out;
}

/**
 * Turns whatever a check threw into the SerializationError the caller sees. A stack overflow
 * means the value is nested deeper than the engine can walk (a cycle is caught before that).
 */
export function toSerializationError(serializer: string, error: unknown): SerializationError {
  if (error instanceof SerializationError) return error;
  if (error instanceof Refusal) {
    const where = error.path.length === 0 ? '' : ` at ${formatPath(error.path)}`;
    return new SerializationError(`The ${serializer} serializer refuses ${error.reason}${where}`);
  }
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return new SerializationError(`The ${serializer} serializer refuses a value nested too deeply to walk`, {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new SerializationError(`The ${serializer} serializer failed: ${message}`, { cause: error });
}

/** A short description of a value for refusal messages (never the value itself: it may be secret). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    case 'bigint':
      return 'a BigInt';
    case 'number':
      return Number.isNaN(value) ? 'NaN' : Number.isFinite(value) ? 'a number' : String(value);
    case 'object': {
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) return 'a plain object';
      if (proto === Array.prototype) return 'an array';
      const ctor = (proto as { constructor?: { name?: unknown } } | null)?.constructor;
      const name = typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'anonymous class';
      return `an instance of ${name}`;
    }
    default:
      return `a ${typeof value}`;
  }
}
