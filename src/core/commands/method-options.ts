import { ConfigError } from '../errors.js';
import { SCHEMA as GET_OR_SET_SCHEMA } from '../get-or-set/options.js';
import { CallOptions, DURATION_RULE, describeValue, type Schema, TTL_RULE } from '../validate.js';

/**
 * The options objects of the cache's methods, as the facade (core/cache.ts) checks them on
 * every call: names, types, and an example of the right form for the message. Values that need
 * more than a type (a TTL string's form, a version's range) are checked where they are used.
 */

const KEY: Schema = { version: 'integer' };
/** How a TTL is written, for the messages of the methods that take one. */
const TTL_EXAMPLE = "{ ttl: '60s' } (a number ttl is milliseconds)";
const ENVELOPE: Schema = { ...KEY, ttl: TTL_RULE, tags: 'array', grace: DURATION_RULE };
const SCAN_COUNT: Schema = { scanCount: 'positive integer' };
const RANGE: Schema = { ...KEY, withScores: 'boolean' };

/** Methods whose only option is the key version. */
export const KEY_OPTIONS = new CallOptions(KEY, '{ version: 2 }');
export const SET_OPTIONS = new CallOptions({ ...ENVELOPE, nx: 'boolean', xx: 'boolean' }, TTL_EXAMPLE);
/** `add` is `set` with `nx`: neither nx nor xx is its caller's to give. */
export const ADD_OPTIONS = new CallOptions(ENVELOPE, TTL_EXAMPLE);
export const SET_MANY_OPTIONS = new CallOptions({ ...KEY, ttl: TTL_RULE }, TTL_EXAMPLE);
export const INCR_OPTIONS = new CallOptions(
  { ...KEY, ignoreKeyCheck: 'boolean' },
  '{ ignoreKeyCheck: true }',
);
export const SCAN_OPTIONS = new CallOptions({ ...KEY, ...SCAN_COUNT }, '{ scanCount: 1000 }');
export const SSCAN_OPTIONS = new CallOptions({ ...KEY, ...SCAN_COUNT, match: 'string' }, "{ match: 'a*' }");
export const ZADD_OPTIONS = new CallOptions(
  { ...KEY, nx: 'boolean', xx: 'boolean', gt: 'boolean', lt: 'boolean', ch: 'boolean' },
  '{ nx: true }',
);
export const ZRANGE_OPTIONS = new CallOptions(RANGE, '{ withScores: true }');
export const ZRANGE_BY_SCORE_OPTIONS = new CallOptions(
  { ...RANGE, offset: 'non-negative integer', count: 'integer' },
  '{ withScores: true, offset: 0, count: 10 }',
);
export const GET_OR_SET_OPTIONS = new CallOptions(GET_OR_SET_SCHEMA, "{ ttl: '60s', grace: '1h' }");

/**
 * A rejected promise when the `count` of spop, srandmember, zpopmin or zpopmax is not an
 * integer (the usual slip: options where the count goes), else undefined.
 */
export function countRefusal(count: unknown, where: string): Promise<never> | undefined {
  if (count === undefined || Number.isSafeInteger(count)) return undefined;
  const hint =
    typeof count === 'object' && count !== null
      ? ' (options come after the count: pass undefined for the default)'
      : '';
  return Promise.reject(
    new ConfigError(`${where}: count must be an integer; got ${describeValue(count)}${hint}`),
  );
}
