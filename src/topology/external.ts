import type { NodeAddress } from '../core/address.js';
import { addressKey } from '../core/address.js';
import { SentinelTopologyBase } from './base.js';
import {
  type Credentials,
  firstAnswer,
  pairsToRecord,
  sentinelMasterAddr,
  withConnection,
} from './control.js';
import { TopologyUnavailableError } from './errors.js';
import type { TopologyAuth } from './types.js';

/** Parses `host:port,host:port` (also `[v6]:port`) from SENTINEL_CACHE_SENTINELS. */
export function parseSentinelList(value: string): NodeAddress[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(entry);
      if (!m) throw new TopologyUnavailableError(`SENTINEL_CACHE_SENTINELS: '${entry}' is not host:port`);
      return { host: m[1]!, port: Number(m[2]) };
    });
}

/** Credentials for an external deployment: explicit options win over the environment. */
export function authFromEnv(env: NodeJS.ProcessEnv): TopologyAuth | undefined {
  const password = env.SENTINEL_CACHE_PASSWORD;
  const sentinelPassword = env.SENTINEL_CACHE_SENTINEL_PASSWORD;
  if (password === undefined && sentinelPassword === undefined) return undefined;
  const auth: TopologyAuth = { password: password ?? '' };
  if (env.SENTINEL_CACHE_USERNAME) auth.username = env.SENTINEL_CACHE_USERNAME;
  if (sentinelPassword !== undefined) auth.sentinelPassword = sentinelPassword;
  if (env.SENTINEL_CACHE_SENTINEL_USERNAME) auth.sentinelUsername = env.SENTINEL_CACHE_SENTINEL_USERNAME;
  return auth;
}

/**
 * An existing deployment named by SENTINEL_CACHE_SENTINELS / SENTINEL_CACHE_SERVICE. We only
 * talk to it: queries, SENTINEL FAILOVER and waits work; process controls throw; stop() leaves it alone.
 */
export class ExternalTopology extends SentinelTopologyBase {
  protected answeringDataNodes(): NodeAddress[] {
    return this.nodes;
  }

  protected runningSentinels(): NodeAddress[] {
    return this.sentinels;
  }

  async pauseMaster(): Promise<NodeAddress> {
    this.unsupported('pauseMaster');
  }
  async resumeMaster(): Promise<void> {
    this.unsupported('resumeMaster');
  }
  async killMaster(): Promise<NodeAddress> {
    this.unsupported('killMaster');
  }
  async restartNode(_address: NodeAddress): Promise<void> {
    this.unsupported('restartNode');
  }
  async stopReplica(_i: number): Promise<NodeAddress> {
    this.unsupported('stopReplica');
  }
  async startReplica(_i: number): Promise<void> {
    this.unsupported('startReplica');
  }
  async stopSentinel(_i: number): Promise<void> {
    this.unsupported('stopSentinel');
  }
  async startSentinel(_i: number): Promise<void> {
    this.unsupported('startSentinel');
  }
  async stop(): Promise<void> {
    // Not ours to stop.
  }
}

export async function connectExternalTopology(options: {
  sentinels: NodeAddress[];
  service: string;
  auth?: TopologyAuth;
}): Promise<ExternalTopology> {
  const { sentinels, service, auth } = options;
  const sentinelCreds: Credentials = { username: auth?.sentinelUsername, password: auth?.sentinelPassword };
  const master = await firstAnswer(
    sentinels,
    async (s) => {
      const m = await sentinelMasterAddr(s, sentinelCreds, service, 1000);
      if (!m) throw new Error(`does not know service ${service}`);
      return m;
    },
    `get-master-addr-by-name ${service}`,
  ).catch((error: Error) => {
    throw new TopologyUnavailableError(
      `SENTINEL_CACHE_SENTINELS is set but no sentinel could name the master of '${service}': ${error.message}`,
    );
  });
  const replicas = await firstAnswer(
    sentinels,
    (s) => withConnection(s, sentinelCreds, (c) => c.call('SENTINEL', 'replicas', service), 1000),
    `SENTINEL replicas ${service}`,
  ).catch(() => []);
  const replicaAddresses = (replicas as unknown[])
    .map(pairsToRecord)
    .filter((r) => !/s_down|o_down|disconnected/.test(r.flags ?? ''))
    .map((r) => ({ host: r.ip ?? '', port: Number(r.port) }))
    .filter((r) => addressKey(r) !== addressKey(master));
  return new ExternalTopology({
    provider: 'external',
    service,
    sentinels,
    nodes: [master, ...replicaAddresses],
    ...(auth ? { auth } : {}),
  });
}
