import { LRUCache } from 'lru-cache';
import type { NearEntry } from '../core/near.js';

export interface NearStoreLimits {
  maxEntries: number;
  maxBytes: number;
}

/** Key bytes are counted as UTF-16 code units times two: what a JS string costs in memory. */
function sizeOf(entry: NearEntry, key: string): number {
  return (entry.value === null ? 0 : entry.value.length) + key.length * 2;
}

/**
 * The bounded map behind the near cache: an LRU (lru-cache) bounded by entries and by bytes
 * (encoded value + key). Entries carry their own deadline, checked on every read, so an entry
 * is never served past min(near-cache ttl, the key's Redis TTL) however the LRU is used.
 */
export class NearStore {
  readonly #lru: LRUCache<string, NearEntry>;

  constructor(limits: NearStoreLimits) {
    this.#lru = new LRUCache<string, NearEntry>({
      max: limits.maxEntries,
      maxSize: limits.maxBytes,
      sizeCalculation: sizeOf,
    });
  }

  /** The live entry for `key`, or undefined (an expired one is dropped on the way). */
  get(key: string, now: number): NearEntry | undefined {
    const entry = this.#lru.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.#lru.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Held and live, without touching the LRU order. */
  peek(key: string, now: number): NearEntry | undefined {
    const entry = this.#lru.peek(key);
    return entry !== undefined && entry.expiresAt > now ? entry : undefined;
  }

  set(key: string, entry: NearEntry): void {
    // lru-cache refuses (and drops any older entry for the key) when one entry exceeds maxSize.
    this.#lru.set(key, entry);
  }

  delete(key: string): boolean {
    return this.#lru.delete(key);
  }

  clear(): void {
    this.#lru.clear();
  }

  get entries(): number {
    return this.#lru.size;
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }
}
