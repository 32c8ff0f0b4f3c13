/**
 * Share sentinel queries between concurrent operations without ever giving an operation
 * an answer obtained before it started.
 *
 * Operations that ask during the same event-loop turn form a batch; the batch's query is
 * sent by setImmediate, i.e. after every operation in it started, and its answer goes to
 * all of them. An operation never joins a query already sent. With many operations in
 * flight there is one query per loop turn that has new operations (not one per
 * operation); at most `maxInFlight` queries are outstanding — a batch formed while at the
 * cap is sent when one comes back. (setImmediate rather than process.nextTick: replies
 * read in one turn complete many operations, whose next operations then share a single
 * query: docs/design.md#discovery-coalescing.)
 */
export class FreshQuery<T> {
  private batch: Batch<T> | undefined;
  private inFlight = 0;

  constructor(
    private readonly run: () => Promise<T>,
    private readonly maxInFlight = 4,
  ) {}

  get(): Promise<T> {
    if (this.batch) return this.batch.promise;
    const batch = new Batch<T>();
    this.batch = batch;
    if (this.inFlight < this.maxInFlight) setImmediate(() => this.send(batch));
    return batch.promise;
  }

  /** Queries currently outstanding (for tests). */
  get outstanding(): number {
    return this.inFlight;
  }

  private send(batch: Batch<T>): void {
    if (this.batch !== batch) return; // already sent
    this.batch = undefined;
    this.inFlight++;
    let p: Promise<T>;
    try {
      p = this.run();
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(batch.resolve, batch.reject).then(() => {
      this.inFlight--;
      const waiting = this.batch;
      if (waiting && this.inFlight < this.maxInFlight) this.send(waiting);
    });
  }
}

class Batch<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (err: unknown) => void;
  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}
