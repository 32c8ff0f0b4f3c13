import type { Redis } from 'ioredis';
import { duplicateConnection } from '../core/process-liveness.js';

/** The channel Redis publishes invalidations on for REDIRECT tracking (RESP2 form). */
export const INVALIDATE_CHANNEL = '__redis__:invalidate';
/**
 * How often the channel is pinged. A channel that stopped answering (a paused node, a
 * half-open socket) would silently stop delivering invalidations; the ping turns that into
 * a lost channel (and a flush) within about this long plus the command timeout.
 */
export const CHANNEL_PING_MS = 1000;

export interface ChannelListener {
  /** Redis invalidated these keys. */
  keys(keys: Buffer[]): void;
  /** A null invalidation: FLUSHDB / FLUSHALL (everything this node sent may be gone). */
  flushed(): void;
  /** The channel is gone (closed, failed a ping): invalidations may have been missed. Called once. */
  lost(reason: string): void;
}

/**
 * One invalidation connection to one data node: a RESP2 connection (ioredis 5 speaks only
 * RESP2, which is the form Redis needs to send invalidations as pub/sub messages) that ran
 * `CLIENT ID` and `SUBSCRIBE __redis__:invalidate`. Data connections of the same node track
 * with `CLIENT TRACKING ON REDIRECT <id>`. It never reconnects: a new connection would have
 * a new id, so the owner opens a new channel and re-tracks instead.
 */
export class InvalidationChannel {
  readonly id: number;
  readonly #client: Redis;
  readonly #listener: ChannelListener;
  readonly #ping: NodeJS.Timeout;
  #lost = false;

  private constructor(client: Redis, id: number, listener: ChannelListener) {
    this.#client = client;
    this.id = id;
    this.#listener = listener;
    client.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() !== INVALIDATE_CHANNEL) return;
      if (Array.isArray(message)) listener.keys(message as Buffer[]);
      else listener.flushed();
    });
    client.on('close', () => this.#lose('invalidation connection closed'));
    this.#ping = setInterval(() => {
      client.ping().catch(() => this.#lose('invalidation connection did not answer a ping'));
    }, CHANNEL_PING_MS);
    this.#ping.unref();
  }

  /**
   * Open a channel to the node `template` is connected to, with `template`'s address,
   * credentials, TLS and timeouts. Each command (CLIENT ID, SUBSCRIBE, the pings) is bounded
   * by `commandTimeoutMs` (DataConnectionInfo), else by `template`'s own `commandTimeout`: a
   * channel to a paused node must fail its ping, not wait forever. Rejects with the server's
   * reply when CLIENT is refused.
   */
  static async open(
    template: Redis,
    commandTimeoutMs: number | undefined,
    listener: ChannelListener,
  ): Promise<InvalidationChannel> {
    // Under the router's rule for what keeps the process alive (its `unref`), as its own connections.
    const client = duplicateConnection(template, {
      commandTimeout: commandTimeoutMs ?? template.options.commandTimeout,
      lazyConnect: true,
      enableOfflineQueue: true,
      enableReadyCheck: false,
      enableAutoPipelining: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      reconnectOnError: () => false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      connectionName: undefined,
    });
    // Failures reach us through the commands below and 'close'; an 'error' event with no
    // listener would crash the process.
    client.on('error', () => {});
    try {
      await client.connect();
      const id = Number(await client.call('CLIENT', 'ID'));
      await client.subscribe(INVALIDATE_CHANNEL);
      if (client.status !== 'ready') throw new Error('invalidation connection closed while subscribing');
      return new InvalidationChannel(client, id, listener);
    } catch (err) {
      client.disconnect();
      throw err;
    }
  }

  get alive(): boolean {
    return !this.#lost;
  }

  close(): void {
    this.#lost = true;
    clearInterval(this.#ping);
    this.#client.disconnect();
  }

  #lose(reason: string): void {
    if (this.#lost) return;
    this.#lost = true;
    clearInterval(this.#ping);
    this.#client.disconnect();
    this.#listener.lost(reason);
  }
}
