/**
 * Every cache operation is published on the `node:diagnostics_channel` TracingChannel
 * `sentinel-cache:command` (start / end / asyncStart / asyncEnd / error), the way undici and
 * node:http publish theirs, so APM agents and `sentinel-cache/telemetry` observe operations
 * without wrapping the cache. With no subscriber, an operation pays one property read.
 */
import { tracingChannel } from 'node:diagnostics_channel';

export const COMMAND_CHANNEL = 'sentinel-cache:command';

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
  /** Set by the channel: the operation's result, or the error it rejected with. */
  result?: unknown;
  error?: unknown;
}

export const commandChannel = tracingChannel<unknown, CommandMessage>(COMMAND_CHANNEL);

let nextCacheId = 1;

/** A new id for a cache's shared state. */
export function newCacheId(): number {
  return nextCacheId++;
}

/** Where a Cache exposes its id to this package's own modules (telemetry). */
export const CACHE_ID: unique symbol = Symbol('sentinel-cache.cacheId');
