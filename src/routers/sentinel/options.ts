import { ConfigError } from '../../core/errors.js';
import { type Schema, validateOptions } from '../../core/validate.js';
import { NODE_SCHEMA, TLS_RULE } from '../options.js';
import type { DiscoveryRouterOptions, PooledRouterOptions } from '../types.js';
import type { NodePoolOptions } from './node-pool.js';

/**
 * The one place the Sentinel routers' options are checked: names and types (core/validate.ts),
 * then what a schema cannot say (the sentinel list's entries, pool.min <= pool.max). Both
 * routers' constructors call theirs, however they are built.
 */

const SENTINEL_SCHEMA: Schema = {
  ...NODE_SCHEMA,
  sentinels: { anyOf: ['array'], required: true, describe: 'a non-empty array of { host, port }' },
  service: { anyOf: ['non-empty string'], required: true },
  sentinelUsername: 'string',
  sentinelPassword: { anyOf: ['string'], secret: true },
  sentinelTls: TLS_RULE,
  sentinelTimeoutMs: 'positive number',
  readFrom: { oneOf: ['master', 'replica', 'replica-preferred'] },
  natMap: { anyOf: ['object', 'function'] },
  readYourWrites: {
    anyOf: ['boolean', 'non-negative integer'],
    describe: 'true/false or whole milliseconds',
  },
  maxReplicaLagMs: 'positive number',
};

const DISCOVERY_SCHEMA: Schema = {
  ...SENTINEL_SCHEMA,
  speculativeReads: 'boolean',
};

const POOLED_SCHEMA: Schema = {
  ...SENTINEL_SCHEMA,
  pool: {
    shape: { min: 'non-negative integer', max: 'positive integer', acquireTimeoutMs: 'positive number' },
  },
  breaker: {
    shape: {
      errorThresholdPercentage: 'percentage',
      resetTimeoutMs: 'positive number',
      rollingCountTimeoutMs: 'positive number',
      volumeThreshold: 'non-negative integer',
    },
  },
};

const ADDRESS_SCHEMA: Schema = {
  host: { anyOf: ['non-empty string'], required: true },
  port: { anyOf: ['port'], required: true },
};

export const POOL_DEFAULTS: NodePoolOptions = { min: 1, max: 8, acquireTimeoutMs: 1000 };

/** `routers.discovery` options, checked. */
export function checkDiscoveryOptions(options: DiscoveryRouterOptions): DiscoveryRouterOptions {
  return checkSentinels('routers.discovery', validateOptions('routers.discovery', options, DISCOVERY_SCHEMA));
}

/** `routers.pooled` options, checked; `pool` with its defaults. */
export function checkPooledOptions(
  options: PooledRouterOptions,
): PooledRouterOptions & { pool: NodePoolOptions } {
  const o = checkSentinels('routers.pooled', validateOptions('routers.pooled', options, POOLED_SCHEMA));
  const pool: NodePoolOptions = {
    min: o.pool?.min ?? POOL_DEFAULTS.min,
    max: o.pool?.max ?? POOL_DEFAULTS.max,
    acquireTimeoutMs: o.pool?.acquireTimeoutMs ?? POOL_DEFAULTS.acquireTimeoutMs,
  };
  if (pool.min > pool.max) {
    throw new ConfigError(
      `option 'pool.min' for routers.pooled must not exceed 'pool.max' (${pool.max}); got ${pool.min}`,
    );
  }
  return { ...o, pool };
}

function checkSentinels<T extends DiscoveryRouterOptions | PooledRouterOptions>(where: string, o: T): T {
  if (o.sentinels.length === 0) {
    throw new ConfigError(`option 'sentinels' for ${where} must list at least one sentinel { host, port }`);
  }
  o.sentinels.forEach((s, i) => {
    validateOptions(where, s, ADDRESS_SCHEMA, `sentinels[${i}].`);
  });
  return o;
}
