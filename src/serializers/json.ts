import { isUtf8 } from 'node:buffer';
import type { Serializer } from '../core/formats.js';
import { atKey, describe, Refusal, toSerializationError } from './refusal.js';

export const JSON_ID = 1;

/** Options of `serializers.json()`. */
export interface JsonOptions {
  /**
   * Default true: refuse (SerializationError) every value JSON would not read back exactly.
   * false skips that check and behaves like plain JSON.stringify (undefined properties
   * dropped, NaN → null, Date → string, …): faster, but lossy. Top-level undefined is
   * refused either way, since there would be nothing to store.
   */
  strict?: boolean;
}

/**
 * JSON text (UTF-8). Readable by any client, and the slowest and largest option.
 *
 * Strict mode accepts exactly: null, booleans, finite numbers, strings, arrays without holes
 * and plain objects (prototype Object.prototype or null) of those, with no cycles. It refuses
 * undefined (top level, in objects, in arrays), functions, symbols and symbol keys, NaN and
 * ±Infinity, BigInt, Map, Set, Date, Buffer/typed arrays, boxed primitives and any other class
 * instance: JSON would silently drop, null out or stringify them. Known, documented
 * differences that remain: -0 reads back as 0; a null-prototype object reads back as a plain
 * object; a value reachable twice (not a cycle) reads back as two equal copies.
 */
export function json(options: JsonOptions = {}): Serializer {
  const strict = options.strict ?? true;
  return {
    name: 'json',
    id: JSON_ID,
    serialize(value) {
      let text: string | undefined;
      try {
        if (strict) check(value, []);
        text = JSON.stringify(value);
      } catch (error) {
        throw toSerializationError('json', error);
      }
      if (text === undefined) throw toSerializationError('json', new Refusal(describe(value)));
      return Buffer.from(text, 'utf8');
    },
    deserialize(bytes) {
      if (!isUtf8(bytes)) throw new Error('json payload is not valid UTF-8');
      return JSON.parse(bytes.toString('utf8'));
    },
  };
}

function check(value: unknown, ancestors: object[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new Refusal(`${describe(value)} (JSON writes null)`);
      return;
    case 'undefined':
      throw new Refusal('undefined (JSON drops it, or writes null in an array; an array hole counts too)');
    case 'object': {
      if (value === null) return;
      if (ancestors.includes(value)) throw new Refusal('a circular reference');
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === Array.prototype) {
        const array = value as unknown[];
        ancestors.push(array);
        for (let i = 0; i < array.length; i++) {
          try {
            check(array[i], ancestors);
          } catch (error) {
            atKey(error, i);
          }
        }
        ancestors.pop();
        return;
      }
      if (proto === Object.prototype || proto === null) {
        if (Object.getOwnPropertySymbols(value).length > 0) {
          throw new Refusal('an object with symbol keys (JSON drops them)');
        }
        const object = value as Record<string, unknown>;
        ancestors.push(object);
        for (const key of Object.keys(object)) {
          try {
            check(object[key], ancestors);
          } catch (error) {
            atKey(error, key);
          }
        }
        ancestors.pop();
        return;
      }
      throw new Refusal(`${describe(value)} (${hintFor(value)})`);
    }
    default:
      throw new Refusal(`${describe(value)} (JSON cannot store it)`);
  }
}

function hintFor(value: object): string {
  if (value instanceof Date)
    return 'JSON would read it back as a string: store date.toISOString(), or use msgpack';
  if (value instanceof Map || value instanceof Set) return 'JSON would write {}: use msgpack or v8';
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return 'use msgpack, v8 or string';
  return 'JSON keeps only plain objects and arrays: convert it, or use msgpack or v8';
}
