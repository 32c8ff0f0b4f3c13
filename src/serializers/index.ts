import { type Serializer, SerializerRegistry } from '../core/formats.js';
import { type JsonOptions, json } from './json.js';
import { type MsgpackOptions, msgpack } from './msgpack.js';
import { string } from './string.js';
import { type V8Options, v8 } from './v8.js';

export type { Serializer } from '../core/formats.js';
export type { JsonOptions } from './json.js';
export type { MsgpackOptions } from './msgpack.js';
export type { V8Options } from './v8.js';

const registry = new SerializerRegistry();
for (const builtIn of [json(), msgpack(), v8(), string()]) registry.addBuiltIn(builtIn);

/**
 * Serializer factories plus the process-wide registry the codec decodes with.
 * Wire ids: json 1, msgpack 2, v8 3, string 4; 128..255 for your own.
 */
export const serializers = {
  /** JSON: refuses (SerializationError) what JSON would not read back exactly. */
  json: (options?: JsonOptions): Serializer => json(options),
  /** msgpack (msgpackr), the default: compact, round-trips Date, Map, Set, Buffer, BigInt. */
  msgpack: (options?: MsgpackOptions): Serializer => msgpack(options),
  /** Trusted data only: see the v8 serializer's documentation. */
  v8: (options?: V8Options): Serializer => v8(options),
  /** Strings and Buffers stored as they are; anything else is refused. */
  string: (): Serializer => string(),
  /** Makes a serializer of your own (id 128..255) decodable by every cache in the process. */
  register: (serializer: Serializer): void => registry.register(serializer),
  /** The registered serializer with this wire id, if any. */
  byId: (id: number): Serializer | undefined => registry.byId(id),
  /** The registered serializer with this name, if any. */
  byName: (name: string): Serializer | undefined => registry.byName(name),
};
