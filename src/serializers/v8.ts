import { deserialize, serialize } from 'node:v8';
import type { Serializer } from '../core/formats.js';
import { BINARY_VIEW_CLASSES } from './binary-views.js';
import { atKey, describe, Refusal, toSerializationError } from './refusal.js';

export const V8_ID = 3;

/** Options of `serializers.v8()`. */
export interface V8Options {
  /**
   * Default true: refuse (SerializationError) class instances, which structured clone would
   * silently turn into plain objects. false hands the value straight to v8.serialize.
   */
  strict?: boolean;
}

/**
 * node:v8 `serialize` / `deserialize` — the structured clone algorithm in V8's wire format.
 *
 * FOR TRUSTED DATA ONLY. Deserializing runs V8's native parser on whatever bytes are in
 * Redis; anyone who can write to the cache's keys can hand it crafted input. Use it only
 * when every writer to this Redis is yours. The format is also Node/V8-specific: other
 * languages cannot read it (newer Node versions read what older ones wrote).
 *
 * Round-trips exactly: undefined, -0 (inside a structure; a top-level -0 is the integer 0),
 * NaN, ±Infinity, BigInt, Date, RegExp, Map, Set, Buffer, typed arrays, ArrayBuffer,
 * DataView, sparse arrays, boxed primitives, Errors (name, message, stack, cause), and shared
 * and circular references (identity preserved). Refuses (SerializationError) functions,
 * symbols, other uncloneable values (WeakMap, Promise, …) and, in strict mode, instances of
 * any other class (they would read back as plain objects). A null-prototype object reads
 * back as a plain object.
 */
export function v8(options: V8Options = {}): Serializer {
  const strict = options.strict ?? true;
  return {
    name: 'v8',
    id: V8_ID,
    serialize(value) {
      try {
        if (strict) check(value, new Set());
        return serialize(value);
      } catch (error) {
        throw toSerializationError('v8', error);
      }
    },
    deserialize: (bytes) => deserialize(bytes),
  };
}

/** Prototypes of the classes structured clone reproduces (anything else becomes a plain object). */
const cloneable = new Set<unknown>(
  [
    Date,
    RegExp,
    ArrayBuffer,
    ...BINARY_VIEW_CLASSES,
    Number,
    String,
    Boolean,
    BigInt,
    Error,
    EvalError,
    RangeError,
    ReferenceError,
    SyntaxError,
    TypeError,
    URIError,
  ].map((ctor) => ctor.prototype),
);

/** Walks containers once each (shared and circular references are fine for v8). */
function check(value: unknown, seen: Set<object>): void {
  if (typeof value !== 'object' || value === null) return; // v8 itself refuses functions and symbols
  if (seen.has(value)) return;
  seen.add(value);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null || proto === Array.prototype) {
    for (const key of Object.keys(value)) {
      try {
        check((value as Record<string, unknown>)[key], seen);
      } catch (error) {
        atKey(error, Array.isArray(value) ? Number(key) : key);
      }
    }
    return;
  }
  if (proto === Map.prototype) {
    let i = 0;
    for (const [key, entry] of value as Map<unknown, unknown>) {
      try {
        check(key, seen);
        check(entry, seen);
      } catch (error) {
        atKey(error, `<Map entry ${i}>`);
      }
      i++;
    }
    return;
  }
  if (proto === Set.prototype) {
    let i = 0;
    for (const member of value as Set<unknown>) {
      try {
        check(member, seen);
      } catch (error) {
        atKey(error, `<Set member ${i}>`);
      }
      i++;
    }
    return;
  }
  if (cloneable.has(proto)) return;
  throw new Refusal(`${describe(value)} (structured clone would read it back as a plain object)`);
}
