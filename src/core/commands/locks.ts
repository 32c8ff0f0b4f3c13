import { Lock, type LockOptions } from '../lock.js';
import { type CommandContext, redisKeyOf } from './context.js';

/** A distributed lock named `name`, stored under the cache's key for `name`. Not yet acquired. */
export function lock(ctx: CommandContext, name: string, options?: LockOptions): Lock {
  const redisKey = redisKeyOf(ctx, name, options);
  return new Lock(name, redisKey, (fn) => ctx.executor.run('write', 'lock', name, null, fn), options);
}
