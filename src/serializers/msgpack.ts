import { addExtension, C1, type Options, Packr, Unpackr } from 'msgpackr';
import type { Serializer } from '../core/formats.js';
import { BINARY_VIEW_CLASSES } from './binary-views.js';
import { atKey, describe, Refusal, toSerializationError } from './refusal.js';

export const MSGPACK_ID = 2;

/**
 * MessagePack extension type of a JS `Map`: an array [k1, v1, k2, v2, …]. MessagePack has one
 * map type, which plain objects use (so other readers see ordinary maps); a `Map` needs a
 * mark of its own to come back as a `Map`, with its non-string keys intact.
 *
 * msgpackr's extension table is process-wide: after this module loads, every msgpackr
 * unpacker in the process decodes extension 0x6d as a Map. Packing is unaffected (only our
 * private `MapEntries` wrapper uses it).
 */
export const MAP_EXTENSION_TYPE = 0x6d;

class MapEntries {
  constructor(readonly flat: unknown[]) {}
}

addExtension({
  Class: MapEntries,
  type: MAP_EXTENSION_TYPE,
  write: (entries: MapEntries) => entries.flat,
  read(data: unknown) {
    if (!Array.isArray(data) || data.length % 2 !== 0) throw new Error('malformed Map extension');
    const map = new Map<unknown, unknown>();
    for (let i = 0; i < data.length; i += 2) map.set(data[i], data[i + 1]);
    return map;
  },
});

/** Options of `serializers.msgpack()`. */
export interface MsgpackOptions {
  /**
   * Default true: refuse (SerializationError) every value that would not read back exactly,
   * and encode `Map`s so they come back as `Map`s. false hands the value straight to msgpackr
   * (faster; functions become undefined, class instances plain objects, Maps plain objects).
   */
  strict?: boolean;
}

const packrOptions: Options = {
  useRecords: false, // plain MessagePack maps, no msgpackr-only record structures
  moreTypes: true, // Set, typed arrays, ArrayBuffer, RegExp as extensions
  useBigIntExtension: true, // BigInt beyond 64 bits
  int64AsType: 'bigint', // 64-bit integers (how BigInts within 64 bits are written) read back as BigInt
  mapsAsObjects: true, // MessagePack maps are plain objects; Maps use MAP_EXTENSION_TYPE
  variableMapSize: true, // needed for objects with more than 65535 keys without records
  copyBuffers: true, // decoded Buffers must not pin (or alias) the reply buffer they came from
};

/**
 * MessagePack via msgpackr. Standard maps, arrays, strings, binaries and the timestamp
 * extension, so any MessagePack reader decodes it; JS-only types use extensions.
 *
 * Round-trips exactly: null, undefined, booleans, numbers (NaN and ±Infinity too), BigInt (any
 * size; a BigInt stays a BigInt, a number stays a number), strings, Date (invalid Dates too),
 * Buffer, Uint8Array and the other typed arrays, ArrayBuffer, DataView, RegExp (source and
 * flags), Map (any keys), Set, arrays, plain objects, nested in any way without cycles.
 * Refuses: functions, symbols and symbol keys, strings with lone surrogates, an own
 * `__proto__` key, Errors, boxed primitives, other class instances, circular structures.
 * Documented differences: -0 reads back as 0; an array hole reads back as undefined; a
 * null-prototype object reads back as a plain object; a value reachable twice is two copies.
 */
export function msgpack(options: MsgpackOptions = {}): Serializer {
  const strict = options.strict ?? true;
  const packr = new Packr(packrOptions);
  const unpackr = new Unpackr(packrOptions);
  return {
    name: 'msgpack',
    id: MSGPACK_ID,
    serialize(value) {
      try {
        return packr.pack(strict ? prepare(value, []) : value);
      } catch (error) {
        throw toSerializationError('msgpack', error);
      }
    },
    deserialize(bytes) {
      let value: unknown;
      try {
        value = unpackr.unpack(bytes);
      } catch (error) {
        // msgpackr appends up to 100 characters of the decoded data to this message; cached
        // data must not travel into error messages and logs.
        if (error instanceof Error && error.message.startsWith('Data read, but end of buffer not reached')) {
          throw new Error('trailing bytes after the MessagePack value');
        }
        throw error;
      }
      // 0xC1 is "never used" in MessagePack; msgpackr decodes it to a marker object instead of
      // failing, which would hand the caller a wrong value. The byte never occurs in UTF-8 text,
      // so the walk runs only for the rare payloads that contain it anywhere.
      if (bytes.includes(0xc1) && containsC1(value)) throw new Error('MessagePack byte 0xC1 (never used)');
      return value;
    },
  };
}

/** True if msgpackr's 0xC1 marker occurs anywhere in a decoded value (iterative: no stack limit). */
function containsC1(value: unknown): boolean {
  const stack: unknown[] = [value];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === C1) return true;
    if (typeof v !== 'object' || v === null || seen.has(v) || ArrayBuffer.isView(v)) continue;
    seen.add(v);
    if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (v instanceof Set || Array.isArray(v)) for (const x of v) stack.push(x);
    else for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
  }
  return false;
}

const typedArrayPrototypes = new Set<unknown>(BINARY_VIEW_CLASSES.map((ctor) => ctor.prototype));

/** Types msgpackr round-trips as they are (moreTypes extensions, timestamp, bin). */
const passThroughPrototypes = new Set<unknown>([Date.prototype, RegExp.prototype, ArrayBuffer.prototype]);

/**
 * Checks `value` and returns what to hand to msgpackr: `value` itself unless it contains a
 * Map, in which case the containers on the way to each Map are copied (never mutated) and the
 * Map is replaced by its `MapEntries` wrapper.
 */
function prepare(value: unknown, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'string':
      if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) {
        throw new Refusal('a string with a lone surrogate (UTF-8 cannot carry it)');
      }
      return value;
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return value;
    case 'object': {
      if (value === null) return value;
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) return prepareObject(value, ancestors);
      if (proto === Array.prototype) return prepareArray(value as unknown[], ancestors);
      if (passThroughPrototypes.has(proto) || typedArrayPrototypes.has(proto)) return value;
      if (proto === Map.prototype) return prepareMap(value as Map<unknown, unknown>, ancestors);
      if (proto === Set.prototype) return prepareSet(value as Set<unknown>, ancestors);
      if (value instanceof Error) {
        throw new Refusal(`${describe(value)} (its stack and own properties would be lost)`);
      }
      throw new Refusal(`${describe(value)} (it would read back as a plain object)`);
    }
    default:
      throw new Refusal(`${describe(value)} (MessagePack cannot store it)`);
  }
}

function enter(value: object, ancestors: object[]): void {
  if (ancestors.includes(value)) throw new Refusal('a circular reference');
  ancestors.push(value);
}

function prepareObject(object: object, ancestors: object[]): unknown {
  if (Object.getOwnPropertySymbols(object).length > 0) {
    throw new Refusal('an object with symbol keys (MessagePack drops them)');
  }
  if (Object.hasOwn(object, '__proto__')) throw new Refusal("an own '__proto__' key (msgpackr renames it)");
  enter(object, ancestors);
  const source = object as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(source)) {
    const original = source[key];
    let prepared: unknown;
    try {
      prepared = prepare(original, ancestors);
    } catch (error) {
      atKey(error, key);
    }
    if (prepared !== original) {
      copy ??= { ...source };
      copy[key] = prepared;
    }
  }
  ancestors.pop();
  return copy ?? object;
}

function prepareArray(array: unknown[], ancestors: object[]): unknown {
  enter(array, ancestors);
  let copy: unknown[] | undefined;
  for (let i = 0; i < array.length; i++) {
    const original = array[i];
    let prepared: unknown;
    try {
      prepared = prepare(original, ancestors);
    } catch (error) {
      atKey(error, i);
    }
    if (prepared !== original) {
      copy ??= array.slice();
      copy[i] = prepared;
    }
  }
  ancestors.pop();
  return copy ?? array;
}

function prepareMap(map: Map<unknown, unknown>, ancestors: object[]): MapEntries {
  enter(map, ancestors);
  const flat: unknown[] = [];
  let i = 0;
  for (const [key, entry] of map) {
    try {
      flat.push(prepare(key, ancestors), prepare(entry, ancestors));
    } catch (error) {
      atKey(error, `<Map entry ${i}>`);
    }
    i++;
  }
  ancestors.pop();
  return new MapEntries(flat);
}

function prepareSet(set: Set<unknown>, ancestors: object[]): unknown {
  enter(set, ancestors);
  const members: unknown[] = [];
  let changed = false;
  let i = 0;
  for (const member of set) {
    let prepared: unknown;
    try {
      prepared = prepare(member, ancestors);
    } catch (error) {
      atKey(error, `<Set member ${i}>`);
    }
    if (prepared !== member) changed = true;
    members.push(prepared);
    i++;
  }
  ancestors.pop();
  return changed ? new Set(members) : set;
}
