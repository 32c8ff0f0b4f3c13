/** A listener of one event, taking that event's payload. */
export type Listener<P> = (payload: P) => void;

/**
 * A minimal typed emitter. Unlike node:events it gives 'error' no special meaning (an 'error'
 * with no listener is simply dropped, never thrown), and `has()` lets hot paths skip building
 * payloads nobody listens to. A throwing listener does not break the operation that emitted.
 */
export class TypedEmitter<M extends object> {
  readonly #listeners = new Map<keyof M, Set<Listener<never>>>();

  on<E extends keyof M>(event: E, fn: Listener<M[E]>): void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(fn as Listener<never>);
  }

  off<E extends keyof M>(event: E, fn: Listener<M[E]>): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    set.delete(fn as Listener<never>);
    if (set.size === 0) this.#listeners.delete(event);
  }

  has(event: keyof M): boolean {
    return this.#listeners.has(event);
  }

  emit<E extends keyof M>(event: E, payload: M[E]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const fn of set) {
      try {
        (fn as Listener<M[E]>)(payload);
      } catch {
        // A listener's bug must not turn a successful cache operation into a failure.
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
