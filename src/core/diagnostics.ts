/**
 * Every cache operation is published on the `node:diagnostics_channel` TracingChannel
 * `sentinel-cache:command` (start / end / asyncStart / asyncEnd / error), the way undici and
 * node:http publish theirs, so APM agents and `sentinel-cache/telemetry` observe operations
 * without wrapping the cache. With no subscriber, an operation pays one property read.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import type { Redis } from 'ioredis';

/** The name of the TracingChannel every cache operation is published on. */
export const COMMAND_CHANNEL = 'sentinel-cache:command';

/** The Redis node that served an operation, as its connection reaches it. */
export interface ServerAddress {
  /** The host or IP address the connection was opened to (after natMap). */
  address: string;
  /** The port of the node. */
  port: number;
  /** The database index (SELECT) of the connection. */
  database: number;
}

/** The context object each event of one operation carries (the same object throughout). */
export interface CommandMessage {
  /** The Cache method: 'get', 'set', 'getMany', 'incr', ... */
  operation: string;
  /** Whether the router ran it as a read or a write. */
  intent: 'read' | 'write';
  /** The user's key (not the Redis key) for single-key operations. */
  key: string | undefined;
  /** Identifies the cache (shared by a cache and its withVersion() views). */
  cacheId: number;
  /**
   * The node that served the operation (the last one it ran on), set once the router lent it a
   * connection: undefined when it never reached one, and on routers.cluster (whose client
   * picks a node per command).
   */
  server?: ServerAddress;
  /** The failure `ignoreErrors` turned into this operation's answer (the operation resolved). */
  ignoredError?: unknown;
  /** Set by the channel: the operation's result, or the error it rejected with. */
  result?: unknown;
  /** Set by the channel: the error the operation rejected with. */
  error?: unknown;
}

export const commandChannel = tracingChannel<unknown, CommandMessage>(COMMAND_CHANNEL);

/** One ServerAddress per connection (null: it has none), so tracing allocates none per operation. */
const servers = new WeakMap<Redis, ServerAddress | null>();

/** The node `client` (a connection lent by a router) reaches; undefined for a cluster client. */
export function serverOf(client: Redis): ServerAddress | undefined {
  let server = servers.get(client);
  if (server === undefined) {
    const { host, port, db } = client.options ?? {};
    const cluster = (client as { isCluster?: boolean }).isCluster === true;
    server =
      cluster || typeof host !== 'string' || typeof port !== 'number'
        ? null
        : { address: host, port, database: db ?? 0 };
    servers.set(client, server);
  }
  return server ?? undefined;
}

let nextCacheId = 1;

/** A new id for a cache's shared state. */
export function newCacheId(): number {
  return nextCacheId++;
}

/** Where a Cache exposes its id to this package's own modules (telemetry). */
export const CACHE_ID: unique symbol = Symbol('sentinel-cache.cacheId');
