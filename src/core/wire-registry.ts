import { ConfigError } from './errors.js';

/** Ids 1..127 belong to the built-ins (compressor 0 is "none"); 128..255 are for users. */
export const FIRST_USER_ID = 128;
export const LAST_ID = 255;

/** What a registry needs from an entry: the name and the one-byte id written in a value's header. */
export interface WireEntry {
  readonly name: string;
  readonly id: number;
}

/**
 * Entries (serializers or compressors) by wire id and by name. The codec looks up the entry
 * named in a value's header here, so an entry written with one serializer/compressor still
 * decodes after the cache is configured with another.
 */
export class WireRegistry<T extends WireEntry> {
  readonly #byId = new Map<number, T>();
  readonly #byName = new Map<string, T>();

  /**
   * @param kind Capitalised entry kind used in error messages, e.g. 'Serializer'.
   * @param assertValid Shape check run on every user registration (throws ConfigError).
   */
  constructor(
    private readonly kind: string,
    private readonly assertValid: (entry: T) => void,
  ) {}

  /** Registers a user entry (ids 128..255). A clashing id or name is a ConfigError. */
  register(entry: T): void {
    this.assertValid(entry);
    if (entry.id < FIRST_USER_ID) {
      throw new ConfigError(
        `${this.kind} '${entry.name}': id ${entry.id} is reserved for built-in ${this.kind.toLowerCase()}s; use ${FIRST_USER_ID}..${LAST_ID}`,
      );
    }
    this.add(entry);
  }

  /** Internal: the built-ins (ids below FIRST_USER_ID). */
  addBuiltIn(entry: T): void {
    this.add(entry);
  }

  byId(id: number): T | undefined {
    return this.#byId.get(id);
  }

  byName(name: string): T | undefined {
    return this.#byName.get(name);
  }

  private add(entry: T): void {
    const sameId = this.#byId.get(entry.id);
    const sameName = this.#byName.get(entry.name);
    if (sameId === entry && sameName === entry) return; // registering twice is harmless
    if (sameId !== undefined) {
      throw new ConfigError(
        `${this.kind} '${entry.name}': id ${entry.id} is already used by '${sameId.name}'`,
      );
    }
    if (sameName !== undefined) {
      throw new ConfigError(`${this.kind} name '${entry.name}' is already registered (id ${sameName.id})`);
    }
    this.#byId.set(entry.id, entry);
    this.#byName.set(entry.name, entry);
  }
}
