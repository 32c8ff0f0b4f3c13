/**
 * Wake-ups for callers waiting on another process's factory: one pub/sub connection per cache,
 * one channel per key being filled (subscribed only while someone in this process waits on
 * it). The lock holder publishes the encoded value it stored (or an empty message when it gave
 * up), so a waiter gets the value without another round trip.
 *
 * Pub/sub is a wake-up, never the only way out: a message can be lost (the subscriber's node
 * died, a failover moved the master), so every wait is also bounded by a timer and the waiter
 * then looks at Redis itself. When the subscriber connection drops it is discarded and the next
 * wait opens a new one through the router (so it follows the current master).
 */
import type { Redis } from 'ioredis';

/** Opens a dedicated connection for SUBSCRIBE (e.g. a duplicate of a routed client). */
export type ConnectSubscriber = () => Promise<Redis>;

/**
 * A ConnectSubscriber that duplicates the client the router hands out for a write (so the
 * subscriber is on the current master, with the router's credentials and TLS), connected
 * before use and never reconnected: when it drops it is replaced through the router.
 */
export function routedSubscriber(
  execute: <T>(intent: 'write', fn: (client: Redis) => Promise<T>) => Promise<T>,
): ConnectSubscriber {
  return () =>
    execute('write', async (client) => {
      const subscriber = client.duplicate({
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        autoResubscribe: false,
        enableAutoPipelining: false,
      });
      subscriber.on('error', () => {}); // it is dropped on 'end' and reopened on the next wait
      try {
        await subscriber.connect();
      } catch (error) {
        subscriber.disconnect();
        throw error;
      }
      return subscriber;
    });
}

/** Longest a SUBSCRIBE may take before the waiter goes on with timers only. */
const SUBSCRIBE_BUDGET_MS = 1_000;

type Wake = (message: Buffer | undefined) => void;

/** One waiter's view of a channel: the messages published on it since it started listening. */
export class FillListener {
  readonly #queue: Buffer[] = [];
  #wake: Wake | undefined;
  #closed = false;
  #lost = false;

  constructor(private readonly onClose: (listener: FillListener) => void) {}

  /** @internal a message arrived (or `undefined`: the subscription is gone, look at Redis). */
  deliver(message: Buffer | undefined): void {
    if (this.#closed) return;
    const wake = this.#wake;
    if (wake !== undefined) {
      this.#wake = undefined;
      wake(message);
    } else if (message !== undefined) {
      this.#queue.push(message);
    }
  }

  /** The subscription behind this listener is gone (connection dropped): listen again. */
  get lost(): boolean {
    return this.#lost;
  }

  /** @internal the subscriber connection dropped: wake the waiter so it looks at Redis and re-listens. */
  lose(): void {
    this.#lost = true;
    this.deliver(undefined);
  }

  /** The next message, or undefined after `ms` (or when the subscription was lost). */
  next(ms: number): Promise<Buffer | undefined> {
    const queued = this.#queue.shift();
    if (queued !== undefined || this.#closed) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.#wake = undefined;
          resolve(undefined);
        },
        Math.max(0, ms),
      );
      this.#wake = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.deliver(undefined);
    this.onClose(this);
  }
}

export class FillChannel {
  #subscriber: Promise<Redis> | undefined;
  readonly #listeners = new Map<string, Set<FillListener>>();
  #closed = false;

  constructor(private readonly connect: ConnectSubscriber) {}

  /**
   * Start listening on `channel`. Resolves once the subscription is active, or after a short
   * budget without it (the waiter then relies on its timers): never hangs on a dead node.
   */
  async listen(channel: string): Promise<FillListener> {
    const listener = new FillListener((l) => this.#remove(channel, l));
    let set = this.#listeners.get(channel);
    const first = set === undefined;
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(channel, set);
    }
    set.add(listener);
    if (first && !this.#closed) {
      const subscribed = this.#client().then((client) => client.subscribe(channel));
      subscribed.catch(() => this.#drop());
      await withinBudget(subscribed, SUBSCRIBE_BUDGET_MS);
    }
    return listener;
  }

  /**
   * The topology changed (a failover): the subscriber may sit on a node that no longer hears
   * the master's messages. Drop it and wake every waiter to look at Redis and listen again.
   */
  reset(): void {
    this.#drop();
  }

  /** Close the subscriber connection; waiters fall back to their timers. */
  close(): void {
    this.#closed = true;
    this.#drop();
  }

  #remove(channel: string, listener: FillListener): void {
    const set = this.#listeners.get(channel);
    if (set === undefined || !set.delete(listener) || set.size > 0) return;
    this.#listeners.delete(channel);
    this.#subscriber?.then((client) => client.unsubscribe(channel)).catch(() => {});
  }

  #client(): Promise<Redis> {
    if (this.#subscriber !== undefined) return this.#subscriber;
    const subscriber = this.connect().then((client) => {
      client.on('error', () => {}); // the router's own connections report failures; here: drop and reopen
      client.on('end', () => {
        if (this.#subscriber === subscriber) this.#drop();
      });
      client.on('messageBuffer', (channel: Buffer, message: Buffer) => {
        const set = this.#listeners.get(channel.toString());
        if (set !== undefined) for (const listener of set) listener.deliver(message);
      });
      if (this.#closed) client.disconnect();
      return client;
    });
    subscriber.catch(() => {
      if (this.#subscriber === subscriber) this.#subscriber = undefined;
    });
    this.#subscriber = subscriber;
    return subscriber;
  }

  /** Forget the subscriber (lost or closed) and wake every waiter to look at Redis itself. */
  #drop(): void {
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    subscriber?.then((client) => client.disconnect()).catch(() => {});
    for (const set of this.#listeners.values()) for (const listener of set) listener.lose();
    // Channels are resubscribed by the next listen() on a new connection; current waiters poll.
    this.#listeners.clear();
  }
}

function withinBudget(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}
