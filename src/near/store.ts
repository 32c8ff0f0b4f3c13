import type { NearEntry } from '../core/near.js';

export interface NearStoreLimits {
  maxEntries: number;
  maxBytes: number;
}

/** Key bytes are counted as UTF-16 code units times two: what a JS string costs in memory. */
function sizeOf(entry: NearEntry, key: string): number {
  return (entry.value === null ? 0 : entry.value.length) + key.length * 2;
}

/** One held key: a link of the recency list (least recent at the head). */
interface Slot {
  readonly key: string;
  entry: NearEntry;
  size: number;
  prev: Slot | undefined;
  next: Slot | undefined;
}

/**
 * The bounded map behind the near cache: an LRU bounded by entries and by bytes (encoded value
 * + key). Entries carry their own deadline, checked on every read, so an entry is never served
 * past min(near-cache ttl, the key's Redis TTL) however the LRU is used.
 *
 * A Map of slots linked in recency order, not lru-cache: a hit is the near cache's whole point
 * and a batch of 100 held keys is 100 of them, so a hit does one Map lookup and relinks one slot,
 * nothing else (lru-cache's `get` also weighs fetch, TTL and status options per call: about 3×
 * a Map lookup in a micro-benchmark on the 2-core VM).
 */
export class NearStore {
  readonly #slots = new Map<string, Slot>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #bytes = 0;
  /** Least recently used. */
  #head: Slot | undefined;
  /** Most recently used. */
  #tail: Slot | undefined;

  constructor(limits: NearStoreLimits) {
    this.#maxEntries = limits.maxEntries;
    this.#maxBytes = limits.maxBytes;
  }

  /** The live entry for `key`, or undefined (an expired one is dropped on the way). */
  get(key: string, now: number): NearEntry | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.entry.expiresAt <= now) {
      this.#remove(slot);
      return undefined;
    }
    if (slot !== this.#tail) {
      this.#unlink(slot);
      this.#append(slot);
    }
    return slot.entry;
  }

  /** Held and live, without touching the LRU order. */
  peek(key: string, now: number): NearEntry | undefined {
    const entry = this.#slots.get(key)?.entry;
    return entry !== undefined && entry.expiresAt > now ? entry : undefined;
  }

  /** Holds `entry` as the most recently used; one larger than maxBytes is refused (and drops any older one). */
  set(key: string, entry: NearEntry): void {
    const size = sizeOf(entry, key);
    const old = this.#slots.get(key);
    if (old !== undefined) this.#remove(old);
    if (size > this.#maxBytes) return;
    const slot: Slot = { key, entry, size, prev: undefined, next: undefined };
    this.#slots.set(key, slot);
    this.#bytes += size;
    this.#append(slot);
    while (this.#slots.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      this.#remove(this.#head as Slot);
    }
  }

  delete(key: string): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    this.#remove(slot);
    return true;
  }

  clear(): void {
    this.#slots.clear();
    this.#head = undefined;
    this.#tail = undefined;
    this.#bytes = 0;
  }

  get entries(): number {
    return this.#slots.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  #remove(slot: Slot): void {
    this.#slots.delete(slot.key);
    this.#bytes -= slot.size;
    this.#unlink(slot);
  }

  #unlink(slot: Slot): void {
    if (slot.prev === undefined) this.#head = slot.next;
    else slot.prev.next = slot.next;
    if (slot.next === undefined) this.#tail = slot.prev;
    else slot.next.prev = slot.prev;
    slot.prev = undefined;
    slot.next = undefined;
  }

  #append(slot: Slot): void {
    slot.prev = this.#tail;
    if (this.#tail === undefined) this.#head = slot;
    else this.#tail.next = slot;
    this.#tail = slot;
  }
}
