import { deserialize, serialize } from 'node:v8';
import { toSerializationError } from './refusal.js';
import type { Serializer } from './types.js';

export const V8_ID = 3;

/**
 * node:v8 `serialize` / `deserialize` — the structured clone algorithm in V8's wire format.
 *
 * FOR TRUSTED DATA ONLY. Deserializing runs V8's native parser on whatever bytes are in
 * Redis; anyone who can write to the cache's keys can hand it crafted input. Use it only
 * when every writer to this Redis is yours. The format is also Node/V8-specific: other
 * languages cannot read it (newer Node versions read what older ones wrote).
 *
 * Round-trips what structured clone does, exactly: undefined, -0, NaN, ±Infinity, BigInt,
 * Date, RegExp, Map, Set, Buffer and typed arrays, sparse arrays, boxed primitives, and shared
 * and circular references (identity preserved). Refuses (SerializationError) functions,
 * symbols and other uncloneable values. Structured-clone semantics that remain: class
 * instances read back as plain objects (prototype and methods lost) and Errors keep only
 * name, message, stack and cause. -0 at top level is stored as the integer 0 by the codec.
 */
export function v8(): Serializer {
  return {
    name: 'v8',
    id: V8_ID,
    serialize(value) {
      try {
        return serialize(value);
      } catch (error) {
        throw toSerializationError('v8', error);
      }
    },
    deserialize: (bytes) => deserialize(bytes),
  };
}
