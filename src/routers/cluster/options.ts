import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../../core/errors.js';
import { type Schema, validateOptions } from '../../core/validate.js';
import { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS } from '../node-clients.js';
import { TLS_RULE } from '../options.js';
import type { NodeAddress, ReadFrom } from '../types.js';

/** Options of `routers.cluster({...})`. */
export interface ClusterRouterOptions {
  /** Seed nodes: any nodes of the cluster (one that answers is enough); the rest is discovered. */
  nodes: NodeAddress[];
  /** ACL user for every node (with `password`). */
  username?: string;
  /** Password for every node; never echoed in messages. */
  password?: string;
  /** node:tls options for every node, or true for defaults (verification on). */
  tls?: ConnectionOptions | true;
  /** Rewrite the addresses the cluster announces (NAT, Docker port mapping). */
  natMap?: Record<string, NodeAddress> | ((address: NodeAddress) => NodeAddress);
  /**
   * 'master' (default): every command on the slot's master. 'replica': the read-only commands
   * of read operations on a replica of the slot; ReplicaNotFoundError when the slot has no
   * usable replica. 'replica-preferred': as 'replica', the master when the slot has none.
   */
  readFrom?: ReadFrom;
  /** A command with no reply after this long fails with CommandTimeoutError. Default 500. */
  commandTimeoutMs?: number;
  /** TCP (and TLS) connect timeout per node. Default 1000. */
  connectTimeoutMs?: number;
  /** Slot map refresh on a timer, besides the refreshes on errors. Default 1000. */
  slotsRefreshIntervalMs?: number;
  /** How long one node may take to answer CLUSTER SLOTS before the next is asked. Default 100. */
  slotsRefreshTimeoutMs?: number;
  /**
   * After a connection error or timeout, the slot map is refreshed every this many ms (for
   * `failoverWatchMs`) so a promoted replica is used as soon as the cluster announces it. Default 25.
   */
  failoverRefreshMs?: number;
  /** How long the fast refresh goes on after the last connection error or timeout. Default 15000. */
  failoverWatchMs?: number;
  /** Commands issued in the same tick to one node share one socket write. Default true. */
  coalesceWrites?: boolean;
}

export interface ResolvedClusterOptions {
  nodes: NodeAddress[];
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
  natMap?: Record<string, NodeAddress> | ((address: NodeAddress) => NodeAddress);
  readFrom: ReadFrom;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  slotsRefreshIntervalMs: number;
  slotsRefreshTimeoutMs: number;
  failoverRefreshMs: number;
  failoverWatchMs: number;
  coalesceWrites: boolean;
}

const CLUSTER_SCHEMA: Schema = {
  nodes: { anyOf: ['array'], required: true },
  username: 'string',
  password: { anyOf: ['string'], secret: true },
  tls: TLS_RULE,
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

const ADDRESS: Schema = {
  host: { anyOf: ['non-empty string'], required: true },
  port: { anyOf: ['port'], required: true },
};

function fail(message: string): never {
  throw new ConfigError(`${message} for routers.cluster`);
}

function address(value: unknown, where: string): NodeAddress {
  validateOptions('routers.cluster', value, ADDRESS, `${where}.`);
  return { host: (value as NodeAddress).host, port: (value as NodeAddress).port };
}

/**
 * The one place routers.cluster's options are checked, then filled with defaults: names and
 * types (core/validate.ts), then what a schema cannot say: the seed list and the NAT map
 * entries are addresses, `nodes` is not empty.
 */
export function resolveClusterOptions(o: ClusterRouterOptions): ResolvedClusterOptions {
  validateOptions('routers.cluster', o, CLUSTER_SCHEMA);
  if (!Array.isArray(o.nodes) || o.nodes.length === 0) {
    fail("option 'nodes' must be a non-empty array of seed nodes [{ host, port }, ...]");
  }
  const nodes = o.nodes.map((n, i) => address(n, `nodes[${i}]`));
  let natMap: ResolvedClusterOptions['natMap'];
  if (typeof o.natMap === 'function') natMap = o.natMap;
  else if (o.natMap !== undefined) {
    natMap = Object.fromEntries(
      Object.entries(o.natMap).map(([from, to]) => [from, address(to, `natMap['${from}']`)]),
    );
  }
  const commandTimeoutMs = o.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const resolved: ResolvedClusterOptions = {
    nodes,
    readFrom: o.readFrom ?? 'master',
    commandTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    slotsRefreshIntervalMs: o.slotsRefreshIntervalMs ?? 1000,
    slotsRefreshTimeoutMs: o.slotsRefreshTimeoutMs ?? Math.min(100, commandTimeoutMs),
    failoverRefreshMs: o.failoverRefreshMs ?? 25,
    failoverWatchMs: o.failoverWatchMs ?? 15_000,
    coalesceWrites: o.coalesceWrites ?? true,
  };
  if (o.username !== undefined) resolved.username = o.username;
  if (o.password !== undefined) resolved.password = o.password;
  if (o.tls !== undefined) resolved.tls = o.tls === true ? {} : o.tls;
  if (natMap !== undefined) resolved.natMap = natMap;
  return resolved;
}
