import type { TopologyAuth, TopologyOptions } from './types.js';

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
  log: (line: string) => void;
}

export function resolveOptions(options: TopologyOptions): ResolvedTopologyOptions {
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
  if (!/^[A-Za-z0-9._-]+$/.test(resolved.service)) {
    throw new RangeError('service must be made of letters, digits, ".", "_" and "-"');
  }
  if (resolved.quorum < 1 || resolved.quorum > sentinels)
    throw new RangeError('quorum must be between 1 and sentinels');
  return resolved;
}
