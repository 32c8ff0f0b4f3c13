/**
 * Share sentinel queries between concurrent operations without ever giving an operation
 * an answer obtained before it started.
 *
 * An operation that arrives while no query is in flight starts one (sent after it
 * started). One that arrives while a query is in flight must not join it — that query
 * was sent before the operation began and may describe the world before a failover — so
 * it joins the *next* query, which is sent as soon as the current one settles. Every
 * operation arriving during a flight joins that same next query, so under load there is
 * at most one query in flight and one waiting, whatever the concurrency.
 */
export class FreshQuery<T> {
  private inFlight: Promise<T> | undefined;
  private next: Promise<T> | undefined;

  constructor(private readonly run: () => Promise<T>) {}

  get(): Promise<T> {
    if (this.next) return this.next;
    if (!this.inFlight) return this.start();
    const after = this.inFlight;
    const next: Promise<T> = after.then(
      (): Promise<T> => this.promoteNext(next),
      (): Promise<T> => this.promoteNext(next),
    );
    this.next = next;
    return next;
  }

  /** Forget queries in flight: the next `get()` sends a new one (used after a failover). */
  reset(): void {
    this.inFlight = undefined;
    this.next = undefined;
  }

  private promoteNext(next: Promise<T>): Promise<T> {
    // From now on `next` is the query in flight; later arrivals wait for the one after.
    if (this.next === next) this.next = undefined;
    return this.start();
  }

  private start(): Promise<T> {
    const p = this.run();
    this.inFlight = p;
    const clear = () => {
      if (this.inFlight === p) this.inFlight = undefined;
    };
    p.then(clear, clear);
    return p;
  }
}
