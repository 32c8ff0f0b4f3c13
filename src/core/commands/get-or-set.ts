import type { ValueCodec } from '../codec.js';
import { type Executor, isIgnorable } from '../executor.js';
import { FillChannel, routedSubscriber } from '../get-or-set/fill-channel.js';
import { MigratingSlots } from '../get-or-set/fill-lock.js';
import { type Factory, type GetOrSetContext, getOrSet as runGetOrSet } from '../get-or-set/get-or-set.js';
import type { GetOrSetOptions } from '../get-or-set/options.js';
import { toNamedError } from '../redis-errors.js';
import { type CommandContext, redisKeyOf } from './context.js';

/**
 * getOrSet: the cached value, or the factory's — grace, timeouts, cross-process single flight
 * and tags live in core/get-or-set/ (see get-or-set.ts there); this is its command entry.
 */
export async function getOrSet<T>(
  ctx: CommandContext,
  key: string,
  factory: Factory<T>,
  options?: GetOrSetOptions,
): Promise<T> {
  // async: a bad key is a rejected promise like every other method's, never a synchronous throw.
  return runGetOrSet(ctx.fills, key, redisKeyOf(ctx, key, options), factory, options);
}

/** What getOrSet shares across a cache and its views: flights, the fill channel, the policy. */
export function fillContext(options: {
  executor: Executor;
  codec: ValueCodec;
  prefix: string;
  defaultTtl: number | null;
  ignoreErrors: boolean;
}): GetOrSetContext {
  const { executor, codec } = options;
  const router = executor.router;
  return {
    codec,
    events: executor.events,
    prefix: options.prefix,
    defaultTtl: options.defaultTtl,
    ignoreErrors: options.ignoreErrors,
    flights: new Map(),
    channel: new FillChannel(
      routedSubscriber((intent, fn) => router.execute(intent, fn)),
      // The subscriber is this cache's own connection: its failure is reported like the router's.
      (error) => executor.events.emit('error', { error, operation: 'getOrSet' }),
    ),
    run: (intent, operation, key, fn) => executor.run(intent, operation, key, null, fn),
    write: (operation, key, touched, fn) => executor.write(operation, key, null, touched, fn),
    near: executor.near,
    canCombine: (keys) => executor.canCombine(keys),
    sharded: executor.sharded,
    migrating: new MigratingSlots((a, b) => executor.canCombine([a, b])),
    isIgnorable,
    ignored: (error, key) => {
      executor.counters.ignoredErrors++;
      executor.events.emit('error', { error: toNamedError(error), operation: 'getOrSet', key });
    },
    hit: (key, fromMemory) => executor.hit(key, fromMemory),
    miss: (key, fromMemory) => executor.miss(key, fromMemory),
  };
}
