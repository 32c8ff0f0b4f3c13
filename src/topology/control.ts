import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { addressKey, type NodeAddress } from '../core/address.js';

/**
 * Short-lived ioredis connections for control and health queries. Every call opens a
 * connection, runs one small job and drops the socket: nodes come and go (paused,
 * killed, restarted) and a cached client would need the same reconnect logic we are
 * trying to test elsewhere. Timeouts are short so a paused node answers "unreachable"
 * quickly instead of hanging a test.
 */

export interface Credentials {
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
}

export function controlClient(address: NodeAddress, creds: Credentials, timeoutMs: number): Redis {
  const client = new Redis({
    host: address.host,
    port: address.port,
    username: creds.username,
    password: creds.password,
    tls: creds.tls,
    protocol: 2, // as the cache's own connections (ioredis 6 defaults to RESP3)
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    enableReadyCheck: false,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    autoResubscribe: false,
    retryStrategy: () => null,
  });
  // Errors surface through the rejected commands; an unhandled 'error' event would crash us.
  client.on('error', () => {});
  return client;
}

export async function withConnection<T>(
  address: NodeAddress,
  creds: Credentials,
  job: (client: Redis) => Promise<T>,
  timeoutMs = 1000,
): Promise<T> {
  const client = controlClient(address, creds, timeoutMs);
  try {
    await client.connect();
    return await job(client);
  } finally {
    client.disconnect();
  }
}

/** Turns Redis' flat `[k1, v1, k2, v2...]` replies (SENTINEL replicas/sentinels/master) into objects. */
export function pairsToRecord(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

/** Parses `INFO` text into key/value pairs. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export async function sentinelMasterAddr(
  sentinel: NodeAddress,
  creds: Credentials,
  service: string,
  timeoutMs = 500,
): Promise<NodeAddress | null> {
  const reply = await withConnection(
    sentinel,
    creds,
    (c) => c.call('SENTINEL', 'get-master-addr-by-name', service),
    timeoutMs,
  );
  if (!Array.isArray(reply) || reply.length < 2) return null;
  return { host: String(reply[0]), port: Number(reply[1]) };
}

export interface SentinelView {
  master: Record<string, string>;
  replicas: Record<string, string>[];
  sentinels: Record<string, string>[];
}

/** What one sentinel knows about the service: master flags, replicas and other sentinels. */
export async function sentinelView(
  sentinel: NodeAddress,
  creds: Credentials,
  service: string,
  timeoutMs = 500,
): Promise<SentinelView> {
  return withConnection(
    sentinel,
    creds,
    async (c) => {
      const [master, replicas, sentinels] = await Promise.all([
        c.call('SENTINEL', 'master', service),
        c.call('SENTINEL', 'replicas', service),
        c.call('SENTINEL', 'sentinels', service),
      ]);
      return {
        master: pairsToRecord(master),
        replicas: (replicas as unknown[]).map(pairsToRecord),
        sentinels: (sentinels as unknown[]).map(pairsToRecord),
      };
    },
    timeoutMs,
  );
}

export async function nodeRole(
  address: NodeAddress,
  creds: Credentials,
  timeoutMs = 500,
): Promise<'master' | 'slave' | 'sentinel' | 'unreachable'> {
  try {
    const reply = await withConnection(address, creds, (c) => c.call('ROLE'), timeoutMs);
    const role = Array.isArray(reply) ? String(reply[0]) : '';
    return role === 'master' || role === 'slave' || role === 'sentinel' ? role : 'unreachable';
  } catch {
    return 'unreachable';
  }
}

export async function replicationInfo(
  address: NodeAddress,
  creds: Credentials,
  timeoutMs = 500,
): Promise<Record<string, string>> {
  const text = await withConnection(address, creds, (c) => c.info('replication'), timeoutMs);
  return parseInfo(text);
}

/** Tries sentinels in order; the first answer wins. */
export async function firstAnswer<T>(
  sentinels: NodeAddress[],
  query: (sentinel: NodeAddress) => Promise<T>,
  what: string,
): Promise<T> {
  const problems: string[] = [];
  for (const sentinel of sentinels) {
    try {
      return await query(sentinel);
    } catch (error) {
      problems.push(`${addressKey(sentinel)}: ${(error as Error).message}`);
    }
  }
  throw new Error(`no sentinel answered ${what} (${problems.join('; ') || 'no sentinels'})`);
}
