import { ConfigError } from '../core/errors.js';
import type { Serializer } from './types.js';

/** Ids 1..127 belong to the built-in serializers; 128..255 are for users. */
export const FIRST_USER_ID = 128;
export const LAST_ID = 255;

/**
 * Serializers by wire id and by name. The codec looks up the serializer named in a value's
 * header here, so an entry written with one serializer still decodes after the cache is
 * configured with another.
 */
export class SerializerRegistry {
  readonly #byId = new Map<number, Serializer>();
  readonly #byName = new Map<string, Serializer>();

  /** Registers a user serializer (ids 128..255). A clashing id or name is a ConfigError. */
  register(serializer: Serializer): void {
    assertSerializer(serializer);
    if (serializer.id < FIRST_USER_ID) {
      throw new ConfigError(
        `Serializer '${serializer.name}': id ${serializer.id} is reserved for built-in serializers; use ${FIRST_USER_ID}..${LAST_ID}`,
      );
    }
    this.add(serializer);
  }

  /** Internal: the built-ins (ids 1..127). */
  addBuiltIn(serializer: Serializer): void {
    this.add(serializer);
  }

  byId(id: number): Serializer | undefined {
    return this.#byId.get(id);
  }

  byName(name: string): Serializer | undefined {
    return this.#byName.get(name);
  }

  private add(serializer: Serializer): void {
    const sameId = this.#byId.get(serializer.id);
    const sameName = this.#byName.get(serializer.name);
    if (sameId === serializer && sameName === serializer) return; // registering twice is harmless
    if (sameId !== undefined) {
      throw new ConfigError(
        `Serializer '${serializer.name}': id ${serializer.id} is already used by '${sameId.name}'`,
      );
    }
    if (sameName !== undefined) {
      throw new ConfigError(`Serializer name '${serializer.name}' is already registered (id ${sameName.id})`);
    }
    this.#byId.set(serializer.id, serializer);
    this.#byName.set(serializer.name, serializer);
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
