/**
 * The race between a read in flight and an invalidation of its key. A reply read from Redis
 * may only be stored if nothing changed the key between the moment the read was sent and
 * the moment its reply arrived: an invalidation for that key (from Redis or from one of our
 * own writes), a write of ours to that key still in flight, or a flush. Invalidations travel
 * on another socket than the reply, so either may arrive first; both orders are covered.
 */
export interface PendingRead {
  readonly key: string;
  readonly epoch: number;
  spoiled: boolean;
}

export class ReadGuard {
  /** Bumped by every flush: a read started before it stores nothing. */
  #epoch = 0;
  readonly #reads = new Map<string, Set<PendingRead>>();
  /** Keys with a write of ours in flight (count per key). */
  readonly #writes = new Map<string, number>();

  /** Call right before sending the read. */
  begin(key: string): PendingRead {
    const read: PendingRead = { key, epoch: this.#epoch, spoiled: this.#writes.has(key) };
    let set = this.#reads.get(key);
    if (set === undefined) {
      set = new Set();
      this.#reads.set(key, set);
    }
    set.add(read);
    return read;
  }

  /** Call when the reply (or the failure) arrived: true if the reply may be stored. */
  end(read: PendingRead): boolean {
    const set = this.#reads.get(read.key);
    if (set !== undefined) {
      set.delete(read);
      if (set.size === 0) this.#reads.delete(read.key);
    }
    return !read.spoiled && read.epoch === this.#epoch;
  }

  /** The key changed: reads of it in flight must not store what they bring back. */
  invalidate(key: string): void {
    const set = this.#reads.get(key);
    if (set === undefined) return;
    for (const read of set) read.spoiled = true;
  }

  /** Everything may have changed. */
  flush(): void {
    this.#epoch++;
  }

  /** A write of ours to `key` starts: reads in flight or starting until it ends are spoiled. */
  beginWrite(key: string): void {
    this.#writes.set(key, (this.#writes.get(key) ?? 0) + 1);
    this.invalidate(key);
  }

  endWrite(key: string): void {
    const n = (this.#writes.get(key) ?? 1) - 1;
    if (n <= 0) this.#writes.delete(key);
    else this.#writes.set(key, n);
    this.invalidate(key);
  }

  /** Reads in flight (for tests and stats). */
  get inFlight(): number {
    let n = 0;
    for (const set of this.#reads.values()) n += set.size;
    return n;
  }
}
