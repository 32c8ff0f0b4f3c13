import { ConfigError } from '../core/errors.js';
import { LAST_ID, WireRegistry } from '../core/wire-registry.js';
import type { Serializer } from './types.js';

export { FIRST_USER_ID, LAST_ID } from '../core/wire-registry.js';

/** Serializers by wire id and by name (see WireRegistry); user entries are shape-checked first. */
export class SerializerRegistry extends WireRegistry<Serializer> {
  constructor() {
    super('Serializer', (entry) => assertSerializer(entry));
  }
}

/** Checks the shape of a serializer handed in by a user (registry or codec options). */
export function assertSerializer(value: unknown, option = 'serializer'): asserts value is Serializer {
  const s = value as Partial<Serializer> | null | undefined;
  const problem =
    typeof s !== 'object' || s === null
      ? 'it is not an object'
      : typeof s.name !== 'string' || s.name === ''
        ? "'name' must be a non-empty string"
        : typeof s.id !== 'number' || !Number.isInteger(s.id) || s.id < 1 || s.id > LAST_ID
          ? `'id' must be an integer from 1 to ${LAST_ID}`
          : typeof s.serialize !== 'function' || typeof s.deserialize !== 'function'
            ? "'serialize' and 'deserialize' must be functions"
            : undefined;
  if (problem !== undefined) {
    throw new ConfigError(
      `Option '${option}' must be a Serializer (serializers.json(), msgpack(), v8(), string() or your own): ${problem}`,
    );
  }
}
