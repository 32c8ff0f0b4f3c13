import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../../core/errors.js';
import { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS } from '../node-clients.js';
import type { NodeAddress, ReadFrom } from '../types.js';

/** Options of `routers.cluster({...})`. */
export interface ClusterRouterOptions {
  /** Seed nodes: any nodes of the cluster (one that answers is enough); the rest is discovered. */
  nodes: NodeAddress[];
  username?: string;
  password?: string;
  /** node:tls options for every node, or true for defaults (verification on). */
  tls?: ConnectionOptions | true;
  /** Rewrite the addresses the cluster announces (NAT, Docker port mapping). */
  natMap?: Record<string, NodeAddress> | ((address: NodeAddress) => NodeAddress);
  /**
   * 'master' (default): every command on the slot's master. 'replica' / 'replica-preferred':
   * read-only commands on a replica of the slot, the master when the slot has none.
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
}

const KNOWN = new Set<string>([
  'nodes',
  'username',
  'password',
  'tls',
  'natMap',
  'readFrom',
  'commandTimeoutMs',
  'connectTimeoutMs',
  'slotsRefreshIntervalMs',
  'slotsRefreshTimeoutMs',
  'failoverRefreshMs',
  'failoverWatchMs',
]);

const READ_FROM: readonly ReadFrom[] = ['master', 'replica', 'replica-preferred'];

function fail(message: string): never {
  throw new ConfigError(`routers.cluster: ${message}`);
}

function positiveMs(o: Record<string, unknown>, name: string, fallback: number): number {
  const value = o[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(`'${name}' must be a positive number of ms; got ${String(value)}`);
  }
  return value;
}

function address(value: unknown, where: string): NodeAddress {
  const a = value as Partial<NodeAddress> | null;
  if (typeof a !== 'object' || a === null || typeof a.host !== 'string' || a.host === '') {
    fail(`${where} must be { host, port } with a non-empty host`);
  }
  if (!Number.isInteger(a.port) || (a.port as number) < 1 || (a.port as number) > 65535) {
    fail(`${where}.port must be an integer 1..65535; got ${String(a.port)}`);
  }
  return { host: a.host, port: a.port as number };
}

/** Validates `routers.cluster` options: unknown keys and wrong types are refused with ConfigError. */
export function resolveClusterOptions(options: unknown): ResolvedClusterOptions {
  if (typeof options !== 'object' || options === null) {
    fail('options must be an object ({ nodes: [{ host, port }, ...] })');
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) fail(`unknown option '${key}' (known: ${[...KNOWN].join(', ')})`);
  }
  if (!Array.isArray(o.nodes) || o.nodes.length === 0) {
    fail("'nodes' must be a non-empty array of seed nodes [{ host, port }, ...]");
  }
  const nodes = o.nodes.map((n, i) => address(n, `nodes[${i}]`));
  const readFrom = (o.readFrom ?? 'master') as ReadFrom;
  if (!READ_FROM.includes(readFrom)) fail(`'readFrom' must be one of ${READ_FROM.join(', ')}`);
  for (const name of ['username', 'password'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'string') fail(`'${name}' must be a string`);
  }
  if (o.tls !== undefined && o.tls !== true && (typeof o.tls !== 'object' || o.tls === null)) {
    fail("'tls' must be true or node:tls connection options");
  }
  let natMap: ResolvedClusterOptions['natMap'];
  if (typeof o.natMap === 'function') natMap = o.natMap as (a: NodeAddress) => NodeAddress;
  else if (o.natMap !== undefined) {
    if (typeof o.natMap !== 'object' || o.natMap === null) {
      fail("'natMap' must be { 'host:port': { host, port } } or a function");
    }
    natMap = Object.fromEntries(
      Object.entries(o.natMap).map(([from, to]) => [from, address(to, `natMap['${from}']`)]),
    );
  }
  const commandTimeoutMs = positiveMs(o, 'commandTimeoutMs', DEFAULT_COMMAND_TIMEOUT_MS);
  const resolved: ResolvedClusterOptions = {
    nodes,
    readFrom,
    commandTimeoutMs,
    connectTimeoutMs: positiveMs(o, 'connectTimeoutMs', DEFAULT_CONNECT_TIMEOUT_MS),
    slotsRefreshIntervalMs: positiveMs(o, 'slotsRefreshIntervalMs', 1000),
    slotsRefreshTimeoutMs: positiveMs(o, 'slotsRefreshTimeoutMs', Math.min(100, commandTimeoutMs)),
    failoverRefreshMs: positiveMs(o, 'failoverRefreshMs', 25),
    failoverWatchMs: positiveMs(o, 'failoverWatchMs', 15_000),
  };
  if (typeof o.username === 'string') resolved.username = o.username;
  if (typeof o.password === 'string') resolved.password = o.password;
  if (o.tls !== undefined) resolved.tls = o.tls === true ? {} : (o.tls as ConnectionOptions);
  if (natMap !== undefined) resolved.natMap = natMap;
  return resolved;
}
