import type { Redis } from 'ioredis';
import type { ValueCodec } from '../codec.js';
import type { Executor } from '../executor.js';
import type { GetOrSetContext } from '../get-or-set/get-or-set.js';
import { type KeyBuilder, versionOf } from '../keys.js';
import { parseTtl, type Ttl } from '../ttl.js';

/**
 * What every command needs, and nothing else: how to run (executor), how to name keys, how to
 * encode values, and the defaults of this cache view. The command families are functions over
 * it; `Cache` is a facade that holds one.
 */
export interface CommandContext {
  readonly executor: Executor;
  readonly keys: KeyBuilder;
  readonly codec: ValueCodec;
  /** getOrSet's shared state (flights, fill channel) and policy; one per cache, shared by its views. */
  readonly fills: GetOrSetContext;
  readonly defaultTtl: number | null;
  /** The default version of this cache view (`withVersion()` makes another view). */
  readonly version: number;
}

/** The options every key-taking method accepts. */
export interface KeyOptions {
  /** Key version; default: the cache's `version` option. */
  version?: number;
}

/** The Redis key of `key`, at the version of `options` or the view's. */
export function redisKeyOf(ctx: CommandContext, key: unknown, options: KeyOptions | undefined): string {
  return ctx.keys.build(key, versionOf(options, ctx.version));
}

/** A TTL option in ms (null: no expiry); the cache's defaultTtl when omitted. */
export function ttlOf(ctx: CommandContext, ttl: Ttl | undefined): number | null {
  return ttl === undefined ? ctx.defaultTtl : parseTtl(ttl);
}

export function decode<T>(ctx: CommandContext, raw: Buffer, key: string): T {
  return ctx.codec.decode(raw, key) as T;
}

export function encodeAll(ctx: CommandContext, values: readonly unknown[]): Array<Buffer | string> {
  const out: Array<Buffer | string> = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = ctx.codec.encode(values[i]);
  return out;
}

export function decodeSet<T>(ctx: CommandContext, raws: Buffer[], key: string): Set<T> {
  const out = new Set<T>();
  for (const raw of raws) out.add(decode<T>(ctx, raw, key));
  return out;
}

/**
 * ioredis' typed overloads cannot express argument lists built at run time (ZADD flags, optional
 * WITHSCORES/LIMIT, SCAN's MATCH). Its generic `call`/`callBuffer` would do, but under
 * auto-pipelining they drop the command name (ioredis 5 bug), so call the named methods
 * through a loose view instead.
 */
export function loose(client: Redis): Record<string, (...args: unknown[]) => Promise<unknown>> {
  return client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
}
