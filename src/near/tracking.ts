import type { Redis } from 'ioredis';
import type {
  DataConnectionHook,
  DataConnectionInfo,
  RoutedCommand,
  RoutedCommandListener,
} from '../core/connection-hook.js';
import { ConfigError, ConnectionInterruptedError } from '../core/errors.js';
import type { FlushReason } from '../core/near.js';
import { InvalidationChannel } from './invalidation-channel.js';

export interface TrackingListener {
  /** Redis invalidated these keys. */
  keys(keys: Buffer[]): void;
  /** A read of `key` went through a connection that was not tracking: keep nothing it brings back. */
  spoil(key: string): void;
  /** Invalidations may have been missed, or everything changed: drop everything. */
  flush(reason: FlushReason): void;
  /** Tracking failed for a reason that may pass (a node down); near cache stays on. */
  error(error: Error): void;
  /** The server refuses CLIENT / CLIENT TRACKING: the near cache must turn itself off. */
  unsupported(error: ConfigError): void;
}

export interface TrackingOptions {
  mode: 'default' | 'broadcast';
  /** Broadcast mode: the key prefix Redis broadcasts invalidations for ('' = every key). */
  prefix: string;
}

/** A data connection as the near cache sees it. */
interface TrackedClient {
  node: NodeTracking;
  /** Bumped whenever the client stops being tracked: a read sent before that is not stored. */
  generation: number;
  /** Tracking confirmed (CLIENT TRACKING replied OK) with the node's current channel. */
  active: boolean;
}

/** One data node: its invalidation channel and the data connections tracking into it. */
interface NodeTracking {
  key: string;
  channel: InvalidationChannel | undefined;
  opening: Promise<InvalidationChannel> | undefined;
  clients: Set<Redis>;
  /** DataConnectionInfo.commandTimeoutMs, for the channel's commands (its pings). */
  commandTimeoutMs: number | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  retryDelayMs: number;
  /** Set while the node has no data connection: its channel is closed if none comes back. */
  idleTimer: NodeJS.Timeout | undefined;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 1000;
/**
 * A node with no data connection for this long loses its channel (a cluster node that left the
 * slot map); a reconnect within it (standalone, a restarting node) reuses the channel.
 */
const IDLE_CHANNEL_MS = 10_000;

/** A refusal that will not pass by retrying: the command is renamed away or denied by ACL, or too old a server. */
function isUnsupported(err: unknown): boolean {
  return (
    err instanceof Error &&
    /unknown command|unknown subcommand|NOPERM|no permissions|wrong number of arguments for 'client/i.test(
      err.message,
    )
  );
}

/** The reads whose replies the near cache keeps (NearCache.read / readMany): GET, MGET, PTTL. */
function spoilReadKeys(command: RoutedCommand, listener: TrackingListener): void {
  const name = command.name.toLowerCase();
  if (name !== 'get' && name !== 'pttl' && name !== 'mget') return;
  for (const arg of command.args) {
    if (typeof arg === 'string') listener.spoil(arg);
    else if (Buffer.isBuffer(arg)) listener.spoil(arg.toString());
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Server-assisted invalidation on RESP2 (REDIRECT mode): for every data node, one
 * InvalidationChannel; for every data connection the routers open (through the hook),
 * `CLIENT TRACKING ON REDIRECT <channel id>` before it carries a read whose reply we keep.
 *
 * Never serve on hope: a read's reply may be kept only if its connection was tracking into a
 * live channel when the read was sent and still is when the reply arrives (`ticket` /
 * `stillValid`). When a channel or a tracking data connection is lost, invalidations may
 * have been missed: everything is flushed and the node's connections are re-tracked into a
 * new channel.
 */
export class Tracking {
  readonly #options: TrackingOptions;
  readonly #listener: TrackingListener;
  readonly #clients = new WeakMap<Redis, TrackedClient>();
  readonly #nodes = new Map<string, NodeTracking>();
  /** Routing clients lent to operations (routers.cluster's ioredis Cluster); see `routedCommand`. */
  readonly #lent = new WeakSet<Redis>();
  /**
   * Bumped whenever any data connection stops tracking: a read on a lent client sent before
   * that is not stored (its connection may be the one; every such stop also flushes today, this
   * keeps the rule independent of that).
   */
  #lentGeneration = 0;
  #disabled = false;
  #closed = false;

  constructor(options: TrackingOptions, listener: TrackingListener) {
    this.#options = options;
    this.#listener = listener;
  }

  /** Register this on the router: it runs on every data connection, each time it is ready. */
  readonly hook: DataConnectionHook = async (client, info) => {
    if (this.#disabled || this.#closed) return;
    const state = this.#stateOf(client, info);
    // The node may have been dropped while it had no connection: join its current record.
    if (this.#nodes.get(state.node.key) !== state.node) state.node = this.#node(info);
    state.node.clients.add(client);
    clearTimeout(state.node.idleTimer);
    state.node.idleTimer = undefined;
    await this.#track(client, state);
  };

  /**
   * Register a routing client the router lends to operations (routers.cluster's ioredis
   * Cluster) and hand `routedCommand` to the router (Router.onRoutedCommand). Reads on it get a
   * ticket; whether the node connection that carried one was tracking is decided per command.
   */
  lend(client: Redis): void {
    this.#lent.add(client);
  }

  /**
   * A routing client handed `command` to `connection`. If that connection is not tracking
   * into a live channel right now, the reply to a read it carries is not watched by Redis:
   * spoil the near cache's reads of its keys in flight. A tracking connection that stops
   * tracking later always flushes (close, lost channel), which spoils every read in flight.
   */
  readonly routedCommand: RoutedCommandListener = (connection, command) => {
    if (this.#disabled || this.#closed) return;
    if (this.#clients.get(connection)?.active === true) return;
    spoilReadKeys(command, this.#listener);
  };

  /** A number to hand back to stillValid() when the reply arrives, or -1: do not keep the reply. */
  ticket(client: Redis): number {
    if (this.#disabled) return -1;
    const state = this.#clients.get(client);
    if (state !== undefined) return state.active ? state.generation : -1;
    return this.#lent.has(client) ? this.#lentGeneration : -1;
  }

  stillValid(client: Redis, ticket: number): boolean {
    if (ticket < 0 || this.#disabled) return false;
    const state = this.#clients.get(client);
    if (state !== undefined) return state.active && state.generation === ticket;
    return this.#lent.has(client) && this.#lentGeneration === ticket;
  }

  get disabled(): boolean {
    return this.#disabled;
  }

  /** Stop tracking for good: close every channel (data connections belong to the router). */
  close(): void {
    this.#closed = true;
    for (const node of this.#nodes.values()) this.#dropNode(node);
    this.#nodes.clear();
  }

  #stateOf(client: Redis, info: DataConnectionInfo): TrackedClient {
    let state = this.#clients.get(client);
    if (state === undefined) {
      const node = this.#node(info);
      const tracked: TrackedClient = { node, generation: 0, active: false };
      state = tracked;
      this.#clients.set(client, tracked);
      // A tracking connection that closes takes its server-side tracking state with it:
      // the keys read through it are no longer watched by anyone.
      client.on('close', () => {
        tracked.node.clients.delete(client);
        if (tracked.node.clients.size === 0) this.#dropWhenIdle(tracked.node);
        const wasTracking = tracked.active;
        if (wasTracking) this.#lentGeneration++;
        tracked.active = false;
        tracked.generation++;
        if (wasTracking && !this.#closed) this.#listener.flush('disconnect');
      });
    }
    return state;
  }

  #node(info: DataConnectionInfo): NodeTracking {
    const key = `${info.host}:${info.port}`;
    let node = this.#nodes.get(key);
    if (node === undefined) {
      node = {
        key,
        channel: undefined,
        opening: undefined,
        clients: new Set(),
        commandTimeoutMs: info.commandTimeoutMs,
        retryTimer: undefined,
        retryDelayMs: RETRY_MIN_MS,
        idleTimer: undefined,
      };
      this.#nodes.set(key, node);
    }
    return node;
  }

  async #track(client: Redis, state: TrackedClient): Promise<void> {
    if (state.active) this.#lentGeneration++;
    state.active = false;
    const generation = ++state.generation;
    const node = state.node;
    try {
      const channel = await this.#channel(node, client);
      const args: Array<string | number> = ['TRACKING', 'ON', 'REDIRECT', channel.id];
      if (this.#options.mode === 'broadcast') {
        args.push('BCAST');
        if (this.#options.prefix !== '') args.push('PREFIX', this.#options.prefix);
      }
      // OFF first: re-tracking a connection (new channel id) in broadcast mode with the same
      // prefix is refused otherwise ("prefix overlaps"). Both leave in one write, in order.
      const off = client.call('CLIENT', 'TRACKING', 'OFF');
      const on = client.call('CLIENT', ...args);
      await Promise.all([off, on]);
      if (state.generation === generation && channel.alive && node.channel === channel && !this.#closed) {
        state.active = true;
        node.retryDelayMs = RETRY_MIN_MS;
      }
    } catch (err) {
      if (this.#closed || this.#disabled) return;
      if (isUnsupported(err)) {
        this.#disable(err);
        return;
      }
      this.#listener.error(
        new ConnectionInterruptedError(
          `Near cache: could not track reads on ${node.key} (${asError(err).message}); reads through that connection are not held until it is retried`,
          { cause: err },
        ),
      );
      // The connection may outlive the failure (a node restarting, a channel lost while
      // opening): try again while it is open.
      this.#scheduleRetrack(node);
    }
  }

  #channel(node: NodeTracking, template: Redis): Promise<InvalidationChannel> {
    if (node.channel?.alive) return Promise.resolve(node.channel);
    if (node.opening !== undefined) return node.opening;
    const opening = InvalidationChannel.open(template, node.commandTimeoutMs, {
      keys: (keys) => {
        if (node.channel === channel()) this.#listener.keys(keys);
      },
      flushed: () => this.#listener.flush('flushdb'),
      lost: () => this.#onChannelLost(node, channel()),
    }).then(
      (ch) => {
        node.opening = undefined;
        if (this.#closed || this.#disabled) {
          ch.close();
          throw new Error('near cache closed');
        }
        node.channel = ch;
        opened = ch;
        return ch;
      },
      (err: unknown) => {
        node.opening = undefined;
        throw err;
      },
    );
    let opened: InvalidationChannel | undefined;
    const channel = () => opened;
    node.opening = opening;
    return opening;
  }

  #onChannelLost(node: NodeTracking, channel: InvalidationChannel | undefined): void {
    if (channel === undefined || node.channel !== channel || this.#closed) return;
    node.channel = undefined;
    // Every connection of the node now redirects to a dead id: nothing they read is watched.
    for (const client of node.clients) {
      const state = this.#clients.get(client);
      if (state !== undefined) {
        if (state.active) this.#lentGeneration++;
        state.active = false;
        state.generation++;
      }
    }
    this.#listener.flush('disconnect');
    this.#scheduleRetrack(node);
  }

  /** Re-track every open connection of the node into a (new) channel, with capped backoff. */
  #scheduleRetrack(node: NodeTracking): void {
    if (node.retryTimer !== undefined || this.#closed || this.#disabled) return;
    const delay = node.retryDelayMs;
    node.retryDelayMs = Math.min(delay * 2, RETRY_MAX_MS);
    node.retryTimer = setTimeout(() => {
      node.retryTimer = undefined;
      for (const client of node.clients) {
        const state = this.#clients.get(client);
        if (state === undefined || state.active) continue;
        if (client.status !== 'ready') continue;
        this.#track(client, state).catch(() => {});
      }
    }, delay);
    node.retryTimer.unref();
  }

  #disable(err: unknown): void {
    this.#disabled = true;
    for (const node of this.#nodes.values()) this.#dropNode(node);
    this.#nodes.clear();
    this.#listener.unsupported(
      new ConfigError(
        `Near cache disabled: the server refuses CLIENT TRACKING (${asError(err).message}). ` +
          'It needs Redis >= 6 with the CLIENT command allowed for this user; the cache runs without a near cache.',
      ),
    );
  }

  #dropWhenIdle(node: NodeTracking): void {
    if (node.idleTimer !== undefined || this.#closed || this.#disabled) return;
    node.idleTimer = setTimeout(() => {
      node.idleTimer = undefined;
      if (node.clients.size !== 0 || this.#nodes.get(node.key) !== node) return;
      this.#nodes.delete(node.key);
      this.#dropNode(node);
    }, IDLE_CHANNEL_MS);
    node.idleTimer.unref();
  }

  #dropNode(node: NodeTracking): void {
    if (node.retryTimer !== undefined) clearTimeout(node.retryTimer);
    node.retryTimer = undefined;
    clearTimeout(node.idleTimer);
    node.idleTimer = undefined;
    const channel = node.channel;
    node.channel = undefined;
    channel?.close();
    node.opening?.then((ch) => ch.close()).catch(() => {});
  }
}
