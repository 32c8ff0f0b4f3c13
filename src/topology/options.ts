import { type Schema, validateOptions } from '../core/validate.js';
import type { StandaloneOptions, TopologyAuth, TopologyOptions } from './types.js';

const AUTH: Schema = {
  password: { anyOf: ['string'], secret: true },
  username: 'string',
  sentinelPassword: { anyOf: ['string'], secret: true },
  sentinelUsername: 'string',
};

const TOPOLOGY: Schema = {
  provider: { oneOf: ['auto', 'process', 'testcontainers', 'external'] },
  replicas: 'non-negative integer',
  sentinels: 'positive integer',
  service: 'non-empty string',
  quorum: 'positive integer',
  downAfterMs: 'positive integer',
  failoverTimeoutMs: 'positive integer',
  auth: { shape: AUTH },
  tls: 'boolean',
  redisServerPath: 'non-empty string',
  basePort: 'port',
  log: 'function',
};

const STANDALONE: Schema = {
  password: { anyOf: ['string'], secret: true },
  username: 'string',
  tls: 'boolean',
  redisServerPath: 'non-empty string',
  log: 'function',
};

/** Names and types of startStandalone() options (ConfigError, as everywhere). */
export function validateStandaloneOptions(options: StandaloneOptions): StandaloneOptions {
  return validateOptions('startStandalone', options, STANDALONE);
}

/** TopologyOptions with every default filled in. */
export interface ResolvedTopologyOptions {
  replicas: number;
  sentinels: number;
  service: string;
  quorum: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
  auth?: TopologyAuth;
  tls: boolean;
  /** Fixed consecutive ports from here (master, replicas, sentinels); undefined = free ports. */
  basePort?: number;
  log: (line: string) => void;
}

export function resolveOptions(options: TopologyOptions): ResolvedTopologyOptions {
  validateOptions('startTopology', options, TOPOLOGY);
  const sentinels = options.sentinels ?? 3;
  const resolved: ResolvedTopologyOptions = {
    replicas: options.replicas ?? 2,
    sentinels,
    service: options.service ?? 'mymaster',
    quorum: options.quorum ?? Math.floor(sentinels / 2) + 1,
    downAfterMs: options.downAfterMs ?? 1000,
    failoverTimeoutMs: options.failoverTimeoutMs ?? 5000,
    tls: options.tls ?? false,
    log: options.log ?? (() => {}),
  };
  if (options.auth) resolved.auth = options.auth;
  if (options.basePort !== undefined) {
    const last = options.basePort + resolved.replicas + sentinels;
    if (last > 65_535) {
      throw new RangeError(
        `basePort ${options.basePort} leaves no room for ${resolved.replicas + 1 + sentinels} consecutive ports (the last would be ${last})`,
      );
    }
    resolved.basePort = options.basePort;
  }
  if (!/^[A-Za-z0-9._-]+$/.test(resolved.service)) {
    throw new RangeError('service must be made of letters, digits, ".", "_" and "-"');
  }
  if (resolved.quorum < 1 || resolved.quorum > sentinels)
    throw new RangeError('quorum must be between 1 and sentinels');
  return resolved;
}
