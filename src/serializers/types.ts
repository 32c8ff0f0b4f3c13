/**
 * A serializer turns a value into bytes and back. It must refuse (SerializationError) any
 * value it cannot round-trip exactly, rather than store something that reads back different.
 */
export interface Serializer {
  /** Registry name, e.g. 'json'. */
  readonly name: string;
  /** Wire id written into the value header (1..255, unique per registry). */
  readonly id: number;
  serialize(value: unknown): Buffer;
  deserialize(bytes: Buffer): unknown;
}
