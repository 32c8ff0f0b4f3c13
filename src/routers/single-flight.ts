/**
 * One in-flight call per key: concurrent callers for the same key share the first caller's
 * promise instead of each running `fn` (the pooled router resolves the master / the replica
 * set once for everyone waiting). The entry is removed as soon as the call settles, so a
 * later call runs `fn` again.
 */
export class SingleFlight {
  readonly #inFlight = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.#inFlight.get(key);
    if (existing !== undefined) return existing as Promise<T>;
    const promise = (async () => {
      try {
        return await fn();
      } finally {
        this.#inFlight.delete(key);
      }
    })();
    this.#inFlight.set(key, promise);
    return promise;
  }

  get size(): number {
    return this.#inFlight.size;
  }
}
