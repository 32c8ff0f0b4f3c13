import type { Redis } from 'ioredis';

/**
 * The one way for something above the routers (the near cache) to prepare the data
 * connections a router opens, without knowing which router it is.
 */

/** Which node a data connection reaches, as the router knows it. */
export interface DataConnectionInfo {
  host: string;
  port: number;
  /**
   * The router's bound on one command to this node, when the connection itself does not
   * carry it in `options.commandTimeout` (the Sentinel routers bound their connections with a
   * watchdog instead). A connection the hook opens to the node (`client.duplicate()`) uses it.
   */
  commandTimeoutMs?: number;
}

/**
 * Runs on every data connection a router opens, each time it becomes ready (a router that
 * reconnects a client runs it again), before the router lends the connection to an
 * operation — except where a router documents otherwise (standalone: commands queued while
 * connecting may go first). A rejection fails the connection like a failed handshake.
 * Whoever registers a hook watches the client's own 'close' event to learn of its loss.
 */
export type DataConnectionHook = (client: Redis, info: DataConnectionInfo) => Promise<void>;

/** What the owner of a hook needs from the router's use of those connections. */
export interface DataConnectionNeeds {
  /**
   * Every reply that comes back on a data connection is one the router hands to its caller: no
   * read is sent ahead of its routing decision and then dropped (routers.discovery's speculative
   * reads stay off while such a hook is registered). The near cache needs it: it acts on a reply
   * the moment the connection receives it, before the router could drop an unconfirmed one.
   */
  confirmedReplies?: boolean;
}

/**
 * The bound on one command of a router's data connection, when its `options.commandTimeout`
 * does not carry it (the Sentinel routers bound theirs with a stall watchdog): recorded by the
 * router, read by whoever opens its own connection to the node with `client.duplicate()` (the
 * duplicate has ioredis' options, not the watchdog).
 */
const commandBounds = new WeakMap<Redis, number>();

/** A router records the bound it put on `client`'s commands outside `options.commandTimeout`. */
export function recordCommandBound(client: Redis, timeoutMs: number): void {
  commandBounds.set(client, timeoutMs);
}

/** The bound on one command of `client`: its `options.commandTimeout`, else what its router recorded. */
export function commandBoundOf(client: Redis): number | undefined {
  return client.options.commandTimeout ?? commandBounds.get(client);
}

/** The hooks registered on one router, run in registration order, and what their owners need. */
export class DataConnectionHooks {
  readonly #hooks = new Map<DataConnectionHook, DataConnectionNeeds>();
  #confirmedReplies = 0;

  /** Register `hook`; returns the function that removes it. */
  add(hook: DataConnectionHook, needs: DataConnectionNeeds = {}): () => void {
    if (this.#hooks.has(hook)) return () => this.#remove(hook);
    this.#hooks.set(hook, needs);
    if (needs.confirmedReplies === true) this.#confirmedReplies++;
    return () => this.#remove(hook);
  }

  get empty(): boolean {
    return this.#hooks.size === 0;
  }

  /** A registered hook needs confirmed replies (DataConnectionNeeds.confirmedReplies). */
  get needConfirmedReplies(): boolean {
    return this.#confirmedReplies > 0;
  }

  #remove(hook: DataConnectionHook): void {
    const needs = this.#hooks.get(hook);
    if (needs === undefined) return;
    this.#hooks.delete(hook);
    if (needs.confirmedReplies === true) this.#confirmedReplies--;
  }

  async run(client: Redis, info: DataConnectionInfo): Promise<void> {
    for (const hook of this.#hooks.keys()) await hook(client, info);
  }
}

/** A command handed to a data connection (ioredis' Command has these fields). */
export interface RoutedCommand {
  readonly name: string;
  readonly args: readonly unknown[];
}

/**
 * Called, synchronously, for every command a routing client hands to one of the router's
 * data connections (see Router.onRoutedCommand), before it is written.
 */
export type RoutedCommandListener = (connection: Redis, command: RoutedCommand) => void;

/** What Router.onRoutedCommand gives back. */
export interface RoutedCommands {
  /** The client the router lends to operations (routers.cluster: its ioredis Cluster). */
  lent: Redis;
  /** Stop calling the listener. */
  remove: () => void;
}
