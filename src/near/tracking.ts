import type { Redis } from 'ioredis';
import type {
  DataConnectionHook,
  DataConnectionInfo,
  DataConnectionNeeds,
  RoutedCommand,
  RoutedCommandListener,
  RoutedCommands,
} from '../core/connection-hook.js';
import { ConfigError, ConnectionInterruptedError } from '../core/errors.js';
import type { FlushReason } from '../core/near.js';
import { InvalidationChannel } from './invalidation-channel.js';

/** A router that lets the near cache prepare its data connections. */
export interface TrackableRouter {
  onDataConnection?(hook: DataConnectionHook, needs?: DataConnectionNeeds): () => void;
  onRoutedCommand?(listener: RoutedCommandListener): RoutedCommands | undefined;
}

/** One near cache on the router, as the tracking tells it what happened. */
export interface TrackingListener {
  /** Redis invalidated these keys. */
  keys(keys: string[]): void;
  /** A read of `key` went through a connection that was not tracking: keep nothing it brings back. */
  spoil(key: string): void;
  /** Invalidations may have been missed, or everything changed: drop everything. */
  flush(reason: FlushReason): void;
  /** Tracking failed for a reason that may pass (a node down); near cache stays on. */
  error(error: Error): void;
  /** The server refuses CLIENT / CLIENT TRACKING: the near cache must turn itself off. */
  unsupported(error: ConfigError): void;
}

/** What one near cache needs tracked. */
export interface TrackingOptions {
  mode: 'default' | 'broadcast';
  /** Broadcast mode: the key prefix Redis must broadcast invalidations for ('' = every key). */
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

/** The keys of a read whose reply the near cache keeps (NearCache.read / readMany: GET, MGET, PTTL). */
function readKeys(command: RoutedCommand): string[] | undefined {
  const name = command.name.toLowerCase();
  if (name !== 'get' && name !== 'pttl' && name !== 'mget') return undefined;
  const keys: string[] = [];
  for (const arg of command.args) {
    if (typeof arg === 'string') keys.push(arg);
    else if (Buffer.isBuffer(arg)) keys.push(arg.toString());
  }
  return keys;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Every router's tracking, shared by the near caches on it (Tracking.join). */
const byRouter = new WeakMap<TrackableRouter, Tracking>();

/**
 * Server-assisted invalidation on RESP2 (REDIRECT mode), one per router, shared by every near
 * cache on it: for every data node, one InvalidationChannel; for every data connection the
 * router opens (through the hook), `CLIENT TRACKING ON REDIRECT <channel id>` before it carries
 * a read whose reply is kept. Redis keeps one tracking registration per connection, so two
 * registrations (one per cache) would take the connection from each other: one registration
 * serves every cache, and what it hears goes to each (`TrackingListener`).
 *
 * Never serve on hope: a read's reply may be kept only if its connection was tracking into a
 * live channel when the read was sent and still is when the reply arrives (`ticket` /
 * `stillValid`). When a channel or a tracking data connection is lost, invalidations may
 * have been missed: everything is flushed and the node's connections are re-tracked into a
 * new channel.
 */
export class Tracking {
  readonly #router: TrackableRouter;
  readonly #mode: 'default' | 'broadcast';
  /** Broadcast mode: the prefixes registered, none covering another (Redis refuses overlaps). */
  #prefixes: string[];
  readonly #listeners = new Set<TrackingListener>();
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
  /** Why this router cannot have a near cache (set once; every cache on it runs without one). */
  #unusable: ConfigError | undefined;
  #detach: (() => void) | undefined;
  #closed = false;

  /**
   * The tracking of `router`, which `listener` (one near cache) now hears: the router's
   * existing one, or a new one registered on its connections. Throws ConfigError when `options`
   * cannot be served by the registration the router's other near caches use (another mode).
   * Check `unusable` afterwards.
   */
  static join(router: TrackableRouter, options: TrackingOptions, listener: TrackingListener): Tracking {
    let tracking = byRouter.get(router);
    if (tracking === undefined) {
      tracking = new Tracking(router, options);
      byRouter.set(router, tracking);
    } else {
      tracking.#admit(options);
    }
    tracking.#listeners.add(listener);
    return tracking;
  }

  private constructor(router: TrackableRouter, options: TrackingOptions) {
    this.#router = router;
    this.#mode = options.mode;
    this.#prefixes = [options.prefix];
    this.#attach();
  }

  /** Why the near cache cannot run on this router (the server or the router refused), if so. */
  get unusable(): ConfigError | undefined {
    return this.#unusable;
  }

  /** `listener`'s cache closed or turned itself off; the last one out stops tracking. */
  leave(listener: TrackingListener): void {
    if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
    this.#close();
    if (byRouter.get(this.#router) === this) byRouter.delete(this.#router);
  }

  #attach(): void {
    const router = this.#router;
    if (typeof router.onDataConnection !== 'function') {
      this.#unusable = new ConfigError(
        'Near cache disabled: this router cannot prepare its connections for CLIENT TRACKING (it has no onDataConnection); the cache runs without a near cache',
      );
      return;
    }
    // A router lending a client that routes each command itself (cluster) says which node
    // connection carried each read; one that cannot say gets no near cache.
    let routed: RoutedCommands | undefined;
    if (typeof router.onRoutedCommand === 'function') {
      routed = router.onRoutedCommand(this.routedCommand);
      if (routed === undefined) {
        this.#unusable = new ConfigError(
          'Near cache disabled: this router cannot tell which connection carries each read (its client library offers no hook for that); the cache runs without a near cache',
        );
        return;
      }
      this.#lent.add(routed.lent);
    }
    // Invalidations are acted on as replies arrive: no reply may be one the router drops.
    const removeHook = router.onDataConnection(this.hook, { confirmedReplies: true });
    this.#detach = () => {
      routed?.remove();
      removeHook();
    };
  }

  /**
   * Another near cache joins. One registration serves both exactly: in default mode Redis
   * invalidates every key read through the connection, whichever cache read it; in broadcast
   * mode the registration gets the new cache's prefix too (Redis takes several). The two modes
   * cannot share one (a connection is in one mode or the other): refused.
   */
  #admit(options: TrackingOptions): void {
    if (options.mode !== this.#mode) {
      throw new ConfigError(
        `Option 'nearCache.mode' is '${options.mode}', but a near cache in '${this.#mode}' mode already uses this router. ` +
          `The near caches of one router share one CLIENT TRACKING registration per connection, and a connection tracks in one mode only: ` +
          `give this cache nearCache.mode '${this.#mode}' too, or give it a router of its own.`,
      );
    }
    if (this.#mode !== 'broadcast' || this.#prefixes.some((p) => options.prefix.startsWith(p))) return;
    const covered = this.#prefixes.filter((p) => p.startsWith(options.prefix));
    this.#prefixes = [...this.#prefixes.filter((p) => !covered.includes(p)), options.prefix];
    if (covered.length === 0) {
      for (const node of this.#nodes.values()) {
        for (const client of node.clients) void this.#widen(client, options.prefix);
      }
      return;
    }
    // The new prefix covers registered ones, and Redis refuses overlapping prefixes: each
    // connection tracks again from scratch (OFF, then ON with the new set). Between the two
    // the old prefixes are not watched: what was read under them may be stale now.
    for (const node of this.#nodes.values()) {
      for (const client of node.clients) {
        const state = this.#clients.get(client);
        if (state !== undefined && client.status === 'ready') this.#track(client, state).catch(() => {});
      }
    }
    this.#flush('disconnect');
  }

  /** Register this on the router: it runs on every data connection, each time it is ready. */
  readonly hook: DataConnectionHook = async (client, info) => {
    if (this.#unusable !== undefined || this.#closed) return;
    const state = this.#stateOf(client, info);
    // The node may have been dropped while it had no connection: join its current record.
    if (this.#nodes.get(state.node.key) !== state.node) state.node = this.#node(info);
    state.node.clients.add(client);
    clearTimeout(state.node.idleTimer);
    state.node.idleTimer = undefined;
    await this.#track(client, state);
  };

  /**
   * A routing client handed `command` to `connection`. If that connection is not tracking
   * into a live channel right now, the reply to a read it carries is not watched by Redis:
   * spoil the near caches' reads of its keys in flight. A tracking connection that stops
   * tracking later always flushes (close, lost channel), which spoils every read in flight.
   */
  readonly routedCommand: RoutedCommandListener = (connection, command) => {
    if (this.#unusable !== undefined || this.#closed) return;
    if (this.#clients.get(connection)?.active === true) return;
    const keys = readKeys(command);
    if (keys === undefined) return;
    for (const listener of this.#listeners) for (const key of keys) listener.spoil(key);
  };

  /** A number to hand back to stillValid() when the reply arrives, or -1: do not keep the reply. */
  ticket(client: Redis): number {
    if (this.#unusable !== undefined) return -1;
    const state = this.#clients.get(client);
    if (state !== undefined) return state.active ? state.generation : -1;
    return this.#lent.has(client) ? this.#lentGeneration : -1;
  }

  stillValid(client: Redis, ticket: number): boolean {
    if (ticket < 0 || this.#unusable !== undefined) return false;
    const state = this.#clients.get(client);
    if (state !== undefined) return state.active && state.generation === ticket;
    return this.#lent.has(client) && this.#lentGeneration === ticket;
  }

  /** Stop tracking for good: close every channel (data connections belong to the router). */
  #close(): void {
    this.#closed = true;
    this.#detach?.();
    this.#detach = undefined;
    for (const node of this.#nodes.values()) this.#dropNode(node);
    this.#nodes.clear();
  }

  #flush(reason: FlushReason): void {
    for (const listener of this.#listeners) listener.flush(reason);
  }

  #stopped(state: TrackedClient): void {
    if (state.active) this.#lentGeneration++;
    state.active = false;
    state.generation++;
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
        this.#stopped(tracked);
        if (wasTracking && !this.#closed) this.#flush('disconnect');
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
    this.#stopped(state);
    const generation = state.generation;
    const node = state.node;
    try {
      const channel = await this.#channel(node, client);
      const args: Array<string | number> = ['TRACKING', 'ON', 'REDIRECT', channel.id];
      if (this.#mode === 'broadcast') {
        args.push('BCAST');
        for (const prefix of this.#prefixes) if (prefix !== '') args.push('PREFIX', prefix);
      }
      // OFF first: re-tracking a connection (new channel id) in broadcast mode with the same
      // prefix is refused otherwise ("prefix overlaps"). Both leave in one write, in order.
      const off = client.call('CLIENT', 'TRACKING', 'OFF');
      const on = client.call('CLIENT', ...args);
      await Promise.all([off, on]);
      this.#confirmed(state, generation, channel);
    } catch (err) {
      this.#failed(err, node);
    }
  }

  /**
   * Broadcast mode, a tracking connection: add `prefix` to its registration (Redis adds to the
   * prefixes it has; the others stay watched throughout). Reads sent before it is confirmed
   * are not kept: the new prefix was not watched for them.
   */
  async #widen(client: Redis, prefix: string): Promise<void> {
    const state = this.#clients.get(client);
    if (state === undefined) return;
    const channel = state.node.channel;
    if (!state.active || channel === undefined || !channel.alive) {
      // Not tracking (yet): a full re-track registers every prefix.
      if (client.status === 'ready') this.#track(client, state).catch(() => {});
      return;
    }
    this.#stopped(state);
    const generation = state.generation;
    try {
      await client.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', channel.id, 'BCAST', 'PREFIX', prefix);
      this.#confirmed(state, generation, channel);
    } catch (err) {
      this.#failed(err, state.node);
    }
  }

  #confirmed(state: TrackedClient, generation: number, channel: InvalidationChannel): void {
    if (state.generation === generation && channel.alive && state.node.channel === channel && !this.#closed) {
      state.active = true;
      state.node.retryDelayMs = RETRY_MIN_MS;
    }
  }

  #failed(err: unknown, node: NodeTracking): void {
    if (this.#closed || this.#unusable !== undefined) return;
    if (isUnsupported(err)) {
      this.#disable(err);
      return;
    }
    const error = new ConnectionInterruptedError(
      `Near cache: could not track reads on ${node.key} (${asError(err).message}); reads through that connection are not held until it is retried`,
      { cause: err },
    );
    for (const listener of this.#listeners) listener.error(error);
    // The connection may outlive the failure (a node restarting, a channel lost while
    // opening): try again while it is open.
    this.#scheduleRetrack(node);
  }

  #channel(node: NodeTracking, template: Redis): Promise<InvalidationChannel> {
    if (node.channel?.alive) return Promise.resolve(node.channel);
    if (node.opening !== undefined) return node.opening;
    const opening = InvalidationChannel.open(template, node.commandTimeoutMs, {
      keys: (keys) => {
        if (node.channel !== channel()) return;
        const names = keys.map((key) => key.toString());
        for (const listener of this.#listeners) listener.keys(names);
      },
      flushed: () => this.#flush('flushdb'),
      lost: () => this.#onChannelLost(node, channel()),
    }).then(
      (ch) => {
        node.opening = undefined;
        if (this.#closed || this.#unusable !== undefined) {
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
      if (state !== undefined) this.#stopped(state);
    }
    this.#flush('disconnect');
    this.#scheduleRetrack(node);
  }

  /** Re-track every open connection of the node into a (new) channel, with capped backoff. */
  #scheduleRetrack(node: NodeTracking): void {
    if (node.retryTimer !== undefined || this.#closed || this.#unusable !== undefined) return;
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

  /** The server refuses CLIENT TRACKING: no near cache on this router. */
  #disable(err: unknown): void {
    this.#unusable = new ConfigError(
      `Near cache disabled: the server refuses CLIENT TRACKING (${asError(err).message}). ` +
        'It needs Redis >= 6 with the CLIENT command allowed for this user; the cache runs without a near cache.',
    );
    for (const node of this.#nodes.values()) this.#dropNode(node);
    this.#nodes.clear();
    for (const listener of [...this.#listeners]) listener.unsupported(this.#unusable);
  }

  #dropWhenIdle(node: NodeTracking): void {
    if (node.idleTimer !== undefined || this.#closed || this.#unusable !== undefined) return;
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
