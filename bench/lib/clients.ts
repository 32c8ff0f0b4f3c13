/**
 * The clients the bench compares, as a registry of small adapters: each turns a running
 * topology into `{ get, set, close }`. Adding a client is one entry here.
 *
 * Fairness: our three (pooled, discovery, standalone) go through `createCache` with the
 * string serializer and no compressor, so the cache's real per-operation work (key
 * building, codec header, router) is measured; the peers send the same string values raw.
 * Every client reads from the master (`readFrom: 'master'` for ours; the peers' default),
 * and every client uses the same Redis key layout `bench:1:<key>` so one checker can read
 * what any of them wrote.
 */
import { Redis } from 'ioredis';
import { Redis as Redis5 } from 'ioredis5';
import { compressors } from '../../src/compressors/index.js';
import { type Cache, createCache, routers } from '../../src/index.js';
import type { Router } from '../../src/routers/types.js';
import { serializers } from '../../src/serializers/index.js';
import type { Topology } from '../../src/topology/types.js';
import { withTimeout } from './errors.js';

export interface BenchClient {
  get(key: string): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
  close(): Promise<void>;
  /** The ways this client sends many keys at once, for the explicit-pipelines table (batches.ts). */
  batches?: BatchMethod[];
}

/**
 * What reaches Redis for one batch: one multi-key command (MGET, MSET), a pipeline of
 * single-key commands, one script (EVALSHA of SET PX per key), or nothing when the near cache
 * holds every key ('memory'; a partly held batch reads the rest with one MGET).
 */
export type BatchShape = 'multi-key' | 'pipeline' | 'script' | 'memory';

/** A row the explicit-pipelines table divides a batch method's keys/s by (same run, same op and concurrency). */
export interface BatchReference {
  client: string;
  label: string;
}

/**
 * One way of reading or writing many keys in one go (a pipeline, MGET/MSET, getMany/setMany).
 * A method may do only reads or only writes (e.g. `setMany` with a TTL, near-cache reads).
 */
export interface BatchMethod {
  /** E.g. 'getMany / setMany', 'pipeline of GET / SET'. */
  label: string;
  /**
   * What reaches Redis for a batch of reads / of writes; the explicit-pipelines table compares
   * the pipeline and multi-key shapes with the redis-benchmark row of the same shape.
   */
  shape: { get?: BatchShape; set?: BatchShape };
  getMany?(keys: string[]): Promise<unknown>;
  setMany?(keys: string[], value: string): Promise<unknown>;
  /** The goal's reference row per op: the report shows this method's keys/s ÷ that row's. */
  versus?: { get?: BatchReference; set?: BatchReference };
}

/** TTL of the batch rows that write with one (ours `setMany(…, { ttl })`, ioredis `SET … PX`). */
export const BATCH_TTL_MS = 60_000;
/** Keys of a partly held near-cache batch that come from a set the near cache keeps holding. */
export const HELD_HALF = 50;

export type ClientFamily = 'ours' | 'floor' | 'peer' | 'limit';

export interface ClientAdapter {
  name: string;
  family: ClientFamily;
  /** One line for the report: what this client is and how it is configured. */
  description: string;
  create(topology: Topology): Promise<BenchClient>;
}

/** Thrown by `create` when a client cannot run here (package missing); the bench skips it with the note. */
export class ClientUnavailableError extends Error {
  override name = 'ClientUnavailableError';
}

export const KEY_PREFIX = 'bench';
/** The Redis key every client stores `key` under (our cache: `${keyPrefix}:${version}:${key}`). */
export const redisKey = (key: string): string => `${KEY_PREFIX}:1:${key}`;

/** The client every ratio in the report is relative to. */
export const BASELINE_CLIENT = 'ioredis-sentinel';

const IOREDIS_MGET: BatchReference = { client: BASELINE_CLIENT, label: 'MGET / MSET' };
const IOREDIS_SET_PX: BatchReference = { client: BASELINE_CLIENT, label: 'pipeline of SET PX' };

/** Our commandTimeoutMs default, used for the ioredis peer that has a timeout too. */
const COMMAND_TIMEOUT_MS = 500;

/**
 * Our cache as every bench scenario runs it: string serializer, no compressor, the shared key
 * layout, no expiry, errors counted by the workload (the listener keeps them from being
 * reported twice).
 */
export function benchCache(router: Router, nearCache?: { maxEntries: number }): Cache {
  const cache = createCache({
    router,
    serializer: serializers.string(),
    compressor: compressors.none(),
    keyPrefix: KEY_PREFIX,
    version: 1,
    defaultTtl: null,
    ...(nearCache !== undefined ? { nearCache } : {}),
  });
  cache.on('error', () => {});
  return cache;
}

/**
 * Our batch methods on `cache` (client `name`): getMany (one MGET) / setMany without a TTL (one
 * MSET), setMany with a TTL (one script), each compared with ioredis doing the same. With
 * `near` (pooled only), getMany through two more caches with the near cache on, compared with
 * the network getMany: one that ends up holding every key of the key space, and one bounded to
 * 2 × HELD_HALF entries whose batches are HELD_HALF keys it keeps reading (held) and the rest
 * drawn at random (rarely held: each one read evicts an older one).
 */
function cacheBatches(
  name: string,
  cache: Cache,
  near: { all: Cache; half: Cache } | undefined,
): BatchMethod[] {
  const network: BatchReference = { client: name, label: 'getMany / setMany' };
  const hot = Array.from({ length: HELD_HALF }, (_, i) => `${name}:b:${i}`);
  return [
    {
      label: 'getMany / setMany',
      // getMany: one MGET per node; setMany without a TTL: one MSET per node.
      shape: { get: 'multi-key', set: 'multi-key' },
      getMany: (keys) => cache.getMany(keys),
      setMany: (keys, value) => cache.setMany(keys.map((k) => [k, value] as const)),
      versus: { get: IOREDIS_MGET },
    },
    {
      label: `setMany, ttl ${BATCH_TTL_MS / 1000} s`,
      shape: { set: 'script' },
      setMany: (keys, value) =>
        cache.setMany(
          keys.map((k) => [k, value] as const),
          { ttl: BATCH_TTL_MS },
        ),
      versus: { set: IOREDIS_SET_PX },
    },
    ...(near === undefined
      ? []
      : [
          {
            label: 'getMany, near cache, every key held',
            shape: { get: 'memory' },
            getMany: (keys: string[]) => near.all.getMany(keys),
            versus: { get: network },
          } satisfies BatchMethod,
          {
            label: `getMany, near cache, ${HELD_HALF} keys held`,
            shape: { get: 'multi-key' },
            getMany: (keys: string[]) => near.half.getMany([...hot, ...keys.slice(HELD_HALF)]),
            versus: { get: network },
          } satisfies BatchMethod,
        ]),
  ];
}

function cacheClient(name: string, router: () => Router, withBatches = false, withNear = false): BenchClient {
  const cache = benchCache(router());
  // The near caches on a router of their own: CLIENT TRACKING on the connections the other rows
  // use would make the server record every key they read (and send invalidations for them).
  const nearRouter = withBatches && withNear ? router() : undefined;
  const near =
    nearRouter !== undefined
      ? {
          all: benchCache(nearRouter, { maxEntries: 10_000 }),
          half: benchCache(nearRouter, { maxEntries: 2 * HELD_HALF }),
        }
      : undefined;
  return {
    get: (key) => cache.get<string>(key),
    set: (key, value) => cache.set(key, value),
    close: async () => {
      await Promise.all([cache.close(), near?.all.close(), near?.half.close()]);
    },
    ...(withBatches ? { batches: cacheBatches(name, cache, near) } : {}),
  };
}

/**
 * Close an ioredis client (or Cluster) that may be talking to a paused node: quit() waits for a
 * reply, which a paused node never sends, so it gets a deadline; disconnect() afterwards also
 * closes failoverDetector's sentinel subscriptions, which quit() leaves reconnecting.
 */
export async function closeIoredis(redis: { quit(): Promise<unknown>; disconnect(): void }): Promise<void> {
  await withTimeout(redis.quit(), 1000, 'ioredis quit').catch(() => {});
  redis.disconnect();
}

/** node-redis (the optional devDependency `redis`), or ClientUnavailableError when it is not installed. */
export async function importNodeRedis<T>(): Promise<T> {
  try {
    return (await import('redis')) as unknown as T;
  } catch {
    throw new ClientUnavailableError('package `redis` (node-redis) is not installed; npm install -D redis');
  }
}

function ioredisClient(redis: Redis, withBatches = false): BenchClient {
  redis.on('error', () => {});
  return {
    get: (key) => redis.get(redisKey(key)),
    set: (key, value) => redis.set(redisKey(key), value),
    close: () => closeIoredis(redis),
    ...(withBatches
      ? {
          batches: [
            {
              label: 'pipeline of GET / SET',
              shape: { get: 'pipeline', set: 'pipeline' },
              getMany: (keys) => {
                const pipeline = redis.pipeline();
                for (const key of keys) pipeline.get(redisKey(key));
                return pipeline.exec();
              },
              setMany: (keys, value) => {
                const pipeline = redis.pipeline();
                for (const key of keys) pipeline.set(redisKey(key), value);
                return pipeline.exec();
              },
            },
            {
              label: 'pipeline of SET PX',
              shape: { set: 'pipeline' },
              setMany: (keys, value) => {
                const pipeline = redis.pipeline();
                for (const key of keys) pipeline.set(redisKey(key), value, 'PX', BATCH_TTL_MS);
                return pipeline.exec();
              },
            },
            {
              label: 'MGET / MSET',
              shape: { get: 'multi-key', set: 'multi-key' },
              getMany: (keys) => redis.mget(keys.map(redisKey)),
              setMany: (keys, value) => redis.mset(keys.flatMap((key) => [redisKey(key), value])),
            },
          ],
        }
      : {}),
  };
}

function sentinelAuth(topology: Topology) {
  const o = topology.routerOptions();
  return {
    sentinels: o.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: o.service,
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.sentinelPassword !== undefined ? { sentinelPassword: o.sentinelPassword } : {}),
    ...(o.sentinelUsername !== undefined ? { sentinelUsername: o.sentinelUsername } : {}),
  };
}

async function ready(redis: Redis): Promise<Redis> {
  await withTimeout(redis.ping(), 10_000, 'first PING');
  return redis;
}

/** Minimal shape of node-redis' sentinel client that the bench uses. */
interface NodeRedisSentinel {
  connect(): Promise<unknown>;
  on(event: 'error', fn: (error: unknown) => void): unknown;
  get(key: string): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

export const CLIENTS: ClientAdapter[] = [
  {
    name: 'pooled',
    family: 'ours',
    description:
      'createCache + routers.pooled (defaults: commandTimeoutMs 500, pool max 8, breaker), readFrom master, string serializer',
    create: async (topology) =>
      cacheClient(
        'pooled',
        () => routers.pooled({ ...topology.routerOptions(), readFrom: 'master' }),
        true,
        true,
      ),
  },
  {
    name: 'discovery',
    family: 'ours',
    description:
      'createCache + routers.discovery (asks a sentinel per operation, shared in-flight query), readFrom master, string serializer',
    create: async (topology) =>
      cacheClient(
        'discovery',
        () => routers.discovery({ ...topology.routerOptions(), readFrom: 'master' }),
        true,
      ),
  },
  {
    name: 'standalone',
    family: 'floor',
    description:
      'createCache + routers.standalone pinned to the initial master: the floor of our overhead; it does not follow a failover',
    create: async (topology) => {
      const o = topology.routerOptions();
      return cacheClient(
        'standalone',
        () =>
          routers.standalone({
            host: topology.initialMaster.host,
            port: topology.initialMaster.port,
            ...(o.password !== undefined ? { password: o.password } : {}),
            ...(o.username !== undefined ? { username: o.username } : {}),
          }),
        true,
      );
    },
  },
  {
    name: 'ioredis-sentinel',
    family: 'peer',
    description:
      'ioredis 6 `new Redis({ sentinels, name })` with defaults (RESP3, no command timeout): the baseline',
    create: async (topology) => ioredisClient(await ready(new Redis({ ...sentinelAuth(topology) })), true),
  },
  {
    name: 'ioredis5-sentinel',
    family: 'peer',
    description:
      'ioredis 5.11 (devDependency alias `ioredis5`) `new Redis({ sentinels, name })` with defaults: the previous baseline, kept for one release',
    create: async (topology) =>
      ioredisClient(await ready(new Redis5({ ...sentinelAuth(topology) }) as unknown as Redis), true),
  },
  {
    name: 'ioredis-sentinel-fd',
    family: 'peer',
    description: `ioredis 6 Sentinel with failoverDetector: true and commandTimeout: ${COMMAND_TIMEOUT_MS}`,
    create: async (topology) =>
      ioredisClient(
        await ready(
          new Redis({
            ...sentinelAuth(topology),
            failoverDetector: true,
            commandTimeout: COMMAND_TIMEOUT_MS,
          }),
        ),
      ),
  },
  {
    name: 'node-redis-sentinel',
    family: 'peer',
    description:
      'node-redis `createSentinel({ name, sentinelRootNodes })` with defaults (devDependency `redis`)',
    create: async (topology) => {
      const mod = await importNodeRedis<{ createSentinel: (options: unknown) => unknown }>();
      const o = topology.routerOptions();
      const node = {
        ...(o.password !== undefined ? { password: o.password } : {}),
        ...(o.username !== undefined ? { username: o.username } : {}),
      };
      const sentinelNode = {
        ...(o.sentinelPassword !== undefined ? { password: o.sentinelPassword } : {}),
        ...(o.sentinelUsername !== undefined ? { username: o.sentinelUsername } : {}),
      };
      const sentinel = mod.createSentinel({
        name: o.service,
        sentinelRootNodes: o.sentinels.map((s) => ({ host: s.host, port: s.port })),
        nodeClientOptions: node,
        sentinelClientOptions: sentinelNode,
      }) as NodeRedisSentinel;
      sentinel.on('error', () => {});
      await withTimeout(sentinel.connect(), 10_000, 'node-redis sentinel connect');
      return {
        get: (key) => sentinel.get(redisKey(key)),
        set: (key, value) => sentinel.set(redisKey(key), value),
        close: async () => {
          await withTimeout(sentinel.close(), 1000, 'node-redis close').catch(() => sentinel.destroy());
        },
      };
    },
  },
];

/** The registered clients, narrowed by `--only`; unknown names are an error (typos should not pass silently). */
export function selectClients(only: string[] | undefined): ClientAdapter[] {
  if (!only) return CLIENTS;
  const unknown = only.filter((n) => !CLIENTS.some((c) => c.name === n));
  if (unknown.length > 0) {
    throw new Error(
      `unknown client(s) ${unknown.join(', ')} (known: ${CLIENTS.map((c) => c.name).join(', ')})`,
    );
  }
  return CLIENTS.filter((c) => only.includes(c.name));
}

export interface CreatedClient {
  adapter: ClientAdapter;
  client: BenchClient;
}

export interface SkippedClient {
  client: string;
  scenario: string;
  reason: string;
}

/** Create every adapter's client; one that cannot be created is skipped with its reason, not fatal. */
export async function createClients(
  adapters: ClientAdapter[],
  topology: Topology,
  scenario: string,
): Promise<{ created: CreatedClient[]; skipped: SkippedClient[] }> {
  const created: CreatedClient[] = [];
  const skipped: SkippedClient[] = [];
  for (const adapter of adapters) {
    try {
      created.push({ adapter, client: await adapter.create(topology) });
    } catch (error) {
      skipped.push({
        client: adapter.name,
        scenario,
        reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    }
  }
  return { created, skipped };
}

export async function closeClients(clients: CreatedClient[]): Promise<void> {
  await Promise.all(
    clients.map(({ client }) => withTimeout(client.close(), 5000, 'client close').catch(() => {})),
  );
}
