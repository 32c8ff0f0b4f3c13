import type { NodeAddress } from '../core/address.js';
import type { TopologyAuth } from './types.js';

/** Paths of the PEM files a TLS node loads. */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** `[major, minor]` of the redis-server binary: a few directives only exist in newer versions. */
export type RedisVersion = readonly [number, number];

const atLeast = (v: RedisVersion, major: number, minor: number) =>
  v[0] > major || (v[0] === major && v[1] >= minor);

/** Quote a value for redis.conf (sdssplitargs: double quotes with backslash escapes). */
export function quote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

interface CommonConfig {
  /**
   * Interface to listen on. Default 127.0.0.1 (local processes). Containers use 0.0.0.0 with
   * protected mode off, because published Docker ports arrive on the container's interface.
   */
  bind?: string;
  port: number;
  dir: string;
  logfile: string;
  version: RedisVersion;
  tls?: TlsFiles;
}

function listenLines(c: CommonConfig): string[] {
  const bind = c.bind ?? '127.0.0.1';
  const lines = [`bind ${bind}`, 'daemonize no', `dir ${quote(c.dir)}`, `logfile ${quote(c.logfile)}`];
  if (bind !== '127.0.0.1') lines.push('protected-mode no');
  if (c.tls) {
    // TLS only: the plain port is closed so nothing can bypass TLS by accident.
    lines.push(
      'port 0',
      `tls-port ${c.port}`,
      `tls-cert-file ${quote(c.tls.certFile)}`,
      `tls-key-file ${quote(c.tls.keyFile)}`,
      `tls-ca-cert-file ${quote(c.tls.caFile)}`,
      // Clients may present a certificate (it is then verified) but need not.
      'tls-auth-clients optional',
      'tls-replication yes',
    );
  } else {
    lines.push(`port ${c.port}`);
  }
  return lines;
}

function aclUserLine(username: string, password: string): string {
  return `user ${quote(username)} on ${quote(`>${password}`)} ~* &* +@all`;
}

export interface DataNodeConfig extends CommonConfig {
  replicaOf?: NodeAddress;
  auth?: TopologyAuth;
}

export function dataNodeConf(c: DataNodeConfig): string {
  const lines = [
    ...listenLines(c),
    `dbfilename ${quote(`dump-${c.port}.rdb`)}`,
    // Test timings: no persistence, replicas sync over the socket at once.
    'save ""',
    'appendonly no',
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    'replica-announce-ip 127.0.0.1',
  ];
  if (atLeast(c.version, 7, 0)) {
    // Redis 7 waits up to 10 s for lagging replicas on SIGTERM; a test topology must stop at once.
    lines.push('shutdown-on-sigterm nosave now', 'shutdown-on-sigint nosave now', 'shutdown-timeout 0');
    // DEBUG (RELOAD, SLEEP) from 127.0.0.1 only: tests put nodes into states such as LOADING.
    lines.push('enable-debug-command local');
  }
  if (c.auth) {
    lines.push(`requirepass ${quote(c.auth.password)}`, `masterauth ${quote(c.auth.password)}`);
    if (c.auth.username) {
      lines.push(aclUserLine(c.auth.username, c.auth.password), `masteruser ${quote(c.auth.username)}`);
    }
  }
  if (c.replicaOf) lines.push(`replicaof ${c.replicaOf.host} ${c.replicaOf.port}`);
  return `${lines.join('\n')}\n`;
}

export interface SentinelConfig extends CommonConfig {
  service: string;
  master: NodeAddress;
  quorum: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
  auth?: TopologyAuth;
}

export function sentinelConf(c: SentinelConfig): string {
  const s = c.service;
  const lines = [...listenLines(c), 'sentinel announce-ip 127.0.0.1', `sentinel announce-port ${c.port}`];
  if (atLeast(c.version, 6, 2)) lines.push('sentinel resolve-hostnames no', 'sentinel announce-hostnames no');
  const sentinelPassword = c.auth?.sentinelPassword;
  if (sentinelPassword) {
    lines.push(`requirepass ${quote(sentinelPassword)}`);
    // Sentinels talk to each other with these credentials.
    lines.push(`sentinel sentinel-pass ${quote(sentinelPassword)}`);
    if (c.auth?.sentinelUsername) {
      lines.push(aclUserLine(c.auth.sentinelUsername, sentinelPassword));
      lines.push(`sentinel sentinel-user ${quote(c.auth.sentinelUsername)}`);
    }
  }
  lines.push(
    `sentinel monitor ${quote(s)} ${c.master.host} ${c.master.port} ${c.quorum}`,
    `sentinel down-after-milliseconds ${quote(s)} ${c.downAfterMs}`,
    `sentinel failover-timeout ${quote(s)} ${c.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${quote(s)} 1`,
  );
  if (c.auth) {
    lines.push(`sentinel auth-pass ${quote(s)} ${quote(c.auth.password)}`);
    if (c.auth.username) lines.push(`sentinel auth-user ${quote(s)} ${quote(c.auth.username)}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface ClusterNodeConfig extends CommonConfig {
  /** `cluster-node-timeout`: how long a node may be unreachable before the others fail it over. */
  nodeTimeoutMs: number;
  auth?: TopologyAuth;
}

/**
 * A data node with `cluster-enabled yes`. The cluster bus listens on port + 10000. Every node
 * announces 127.0.0.1 so the addresses in MOVED replies and CLUSTER SLOTS are reachable from
 * the host. `cluster-require-full-coverage no`: a failed shard must not take the others down
 * with it (a cache prefers serving two thirds of its keys to serving none).
 * `cluster-replica-validity-factor 0`: a replica may always take over, however long its link was
 * down (a test topology must fail over every time; data loss is what we measure).
 */
export function clusterNodeConf(c: ClusterNodeConfig): string {
  const lines = [
    'cluster-enabled yes',
    `cluster-config-file ${quote(`nodes-${c.port}.conf`)}`,
    `cluster-node-timeout ${c.nodeTimeoutMs}`,
    'cluster-announce-ip 127.0.0.1',
    'cluster-require-full-coverage no',
    'cluster-replica-validity-factor 0',
  ];
  // TLS on the cluster bus too (node-to-node gossip and failover votes), like replication.
  if (c.tls) lines.push('tls-cluster yes');
  return `${dataNodeConf(c)}${lines.join('\n')}\n`;
}
