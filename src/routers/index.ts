import type { Router } from '../core/router.js';
import { type Rule, type Schema, validateOptions } from '../core/validate.js';
import { type ClusterRouter, type ClusterRouterOptions, cluster } from './cluster/cluster-router.js';
import { discovery } from './sentinel/discovery.js';
import { pooled } from './sentinel/pooled.js';
import { type StandaloneOptions, standalone } from './standalone.js';
import type { DiscoveryRouterOptions, PooledRouterOptions } from './types.js';

// Names and types of every router option, checked before a router is built (core/validate.ts:
// unknown names with a "did you mean", wrong types naming the option). Rules between options
// (pool.min <= pool.max, url vs host/port) stay with each router.

const TLS: Rule = { anyOf: ['object'], oneOf: [true], describe: 'node:tls options or true' };

const NODE: Schema = {
  db: 'non-negative integer',
  username: 'string',
  password: { anyOf: ['string'], secret: true },
  tls: TLS,
  commandTimeoutMs: 'positive number',
  connectTimeoutMs: 'positive number',
  unref: 'boolean',
};

const STANDALONE: Schema = {
  ...NODE,
  url: { anyOf: ['string'], secret: true },
  host: 'non-empty string',
  port: 'port',
  coalesceWrites: 'boolean',
};

const SENTINEL: Schema = {
  ...NODE,
  sentinels: 'array',
  service: 'non-empty string',
  sentinelUsername: 'string',
  sentinelPassword: { anyOf: ['string'], secret: true },
  sentinelTls: TLS,
  sentinelTimeoutMs: 'positive number',
  readFrom: { oneOf: ['master', 'replica', 'replica-preferred'] },
  natMap: { anyOf: ['object', 'function'] },
  readYourWrites: {
    anyOf: ['boolean', 'non-negative integer'],
    describe: 'true/false or whole milliseconds',
  },
  maxReplicaLagMs: 'positive number',
};

const DISCOVERY: Schema = {
  ...SENTINEL,
  speculativeReads: 'boolean',
};

const POOLED: Schema = {
  ...SENTINEL,
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

const CLUSTER: Schema = {
  nodes: { anyOf: ['array'], required: true },
  username: 'string',
  password: { anyOf: ['string'], secret: true },
  tls: TLS,
  natMap: { anyOf: ['object', 'function'] },
  readFrom: { oneOf: ['master', 'replica', 'replica-preferred'] },
  commandTimeoutMs: 'positive number',
  connectTimeoutMs: 'positive number',
  slotsRefreshIntervalMs: 'positive number',
  slotsRefreshTimeoutMs: 'positive number',
  failoverRefreshMs: 'positive number',
  failoverWatchMs: 'positive number',
  coalesceWrites: 'boolean',
};

/** Router strategies: how the cache picks the Redis node for each operation. */
export const routers = {
  /** One Redis server, by URL or host/port: development, tests, a single Redis. */
  standalone: (options: StandaloneOptions): Router =>
    standalone(validateOptions('routers.standalone', options, STANDALONE)),
  /** Sentinel: asks a sentinel on every operation where the master (or a live replica) is, then runs there. */
  discovery: (options: DiscoveryRouterOptions): Router =>
    discovery(validateOptions('routers.discovery', options, DISCOVERY)),
  /** Sentinel: resolves master and replicas once, keeps a pool per node, evicts on failover, with a breaker per role. */
  pooled: (options: PooledRouterOptions): Router =>
    pooled(validateOptions('routers.pooled', options, POOLED)),
  /** Redis Cluster (ioredis `Cluster`): every method works across slots; a shard failover is followed. */
  cluster: (options: ClusterRouterOptions): ClusterRouter =>
    cluster(validateOptions('routers.cluster', options, CLUSTER)),
};

export type { ClusterRouterOptions } from './cluster/cluster-router.js';
export type { StandaloneOptions } from './standalone.js';
