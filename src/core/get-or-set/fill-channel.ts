/**
 * Wake-ups for callers waiting on another process's factory: one pub/sub connection per cache,
 * one channel per key being filled (subscribed only while someone in this process waits on
 * it). The lock holder publishes its token and the encoded value it stored (its token alone when
 * it gave up: fill-lock.ts), so a waiter gets the value without another round trip.
 *
 * Pub/sub is a wake-up, never the only way out: a message can be lost (the subscriber's node
 * died, a failover moved the master), so every wait is also bounded by a timer and the waiter
 * then looks at Redis itself. When the subscriber connection drops, or one of its commands
 * fails (a paused node answers nothing: its SUBSCRIBE times out like any data command), it is
 * discarded, the failure is reported, and the next wait opens a new one through the router
 * (so it follows the current master).
 */
import type { Redis } from 'ioredis';
import { commandBoundOf } from '../connection-hook.js';
import { type CacheError, CommandTimeoutError } from '../errors.js';
import { duplicateConnection } from '../process-liveness.js';
import { isTimeoutError, toNamedError } from '../redis-errors.js';

/** Opens a dedicated connection for SUBSCRIBE (e.g. a duplicate of a routed client). */
export type ConnectSubscriber = () => Promise<Redis>;

/**
 * A ConnectSubscriber that duplicates the client the router hands out for a write (so the
 * subscriber is on the current master, with the router's credentials and TLS), connected
 * before use and never reconnected: when it drops it is replaced through the router. Its
 * commands are bounded like the router's (commandBoundOf), else by SUBSCRIBE_BUDGET_MS; it keeps
 * the process alive as the router's own connections do (`unref`, core/process-liveness.ts).
 * (routers.cluster lends an ioredis Cluster, whose duplicate() takes startup nodes first and
 * keeps the cluster's own options: its node connections carry the router's commandTimeout.)
 */
export function routedSubscriber(
  execute: <T>(intent: 'write', fn: (client: Redis) => Promise<T>) => Promise<T>,
): ConnectSubscriber {
  return () =>
    execute('write', async (client) => {
      const subscriber = duplicateConnection(client, {
        commandTimeout: commandBoundOf(client) ?? SUBSCRIBE_BUDGET_MS,
        // SUBSCRIBE needs no INFO ready check (it is answered while a node loads, too).
        enableReadyCheck: false,
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

  /** `failed`: a subscriber could not be opened or one of its commands failed (it was dropped). */
  constructor(
    private readonly connect: ConnectSubscriber,
    private readonly failed: (error: CacheError) => void,
  ) {}

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
      const subscriber = this.#client();
      const subscribed = subscriber.then((client) => command(client, 'SUBSCRIBE', client.subscribe(channel)));
      subscribed.catch((error: unknown) => this.#fail(subscriber, error));
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
    const subscriber = this.#subscriber;
    subscriber
      ?.then((client) => command(client, 'UNSUBSCRIBE', client.unsubscribe(channel)))
      .catch((error: unknown) => this.#fail(subscriber, error));
  }

  /** `subscriber` failed (could not connect, or a command got no answer): drop it, report once. */
  #fail(subscriber: Promise<Redis>, error: unknown): void {
    // Already dropped (reset, close, an earlier failure of the same connection): nothing to say.
    if (this.#subscriber !== subscriber) return;
    this.#drop();
    this.failed(toNamedError(error));
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
    subscriber.catch(() => {}); // reported and dropped by the command that awaited it (#fail)
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

/**
 * A subscriber command's failure, named: a timeout says which command, on which node and what
 * the bound was (ioredis only says "Command timed out").
 */
async function command<T>(client: Redis, name: string, sent: Promise<T>): Promise<T> {
  try {
    return await sent;
  } catch (error) {
    const ms = client.options.commandTimeout;
    if (!isTimeoutError(error) || ms === undefined) throw error;
    throw new CommandTimeoutError(
      `getOrSet's fill channel: ${name} to ${client.options.host}:${client.options.port} got no reply within ${ms} ms (node paused or overloaded); the connection is dropped and reopened on the next wait`,
      ms,
      { cause: error },
    );
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
