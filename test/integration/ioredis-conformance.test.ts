/**
 * Every private part of ioredis and opossum the package touches (src/core/ioredis-internals.ts),
 * asserted on real objects: lazy ioredis clients, clients connected to a real redis-server, an
 * ioredis Cluster on a real Redis Cluster, an opossum breaker. Any fallback warning
 * (FALLBACK_WARNING_CODES) fails the file: a release that moves a shape we use is seen here,
 * not by users. `.ci/run` runs this file twice: against the ioredis and opossum package.json
 * pins, and against the newest ioredis 6 and opossum 9 on the registry, installed into a
 * temporary directory named by SENTINEL_CACHE_CONFORMANCE_DIR (vitest.config.ts resolves
 * `ioredis` and `opossum` there, for src as for this file).
 */
import { createRequire } from 'node:module';
import { Cluster, Redis } from 'ioredis';
import CircuitBreaker from 'opossum';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  announcesNodeConnections,
  bytesReadOf,
  commandQueuesOf,
  corkableSocketOf,
  FALLBACK_WARNING_CODES,
  type IoredisCommand,
  type IoredisWriteStream,
  interceptSendCommand,
  isBusy,
  nextToAnswer,
  repliesAwaited,
  rollingWindowOf,
  type SendCommand,
  standaloneConnectorClass,
  unrefReconnectTimer,
  unrefSocket,
  waitingCommands,
} from '../../src/core/ioredis-internals.js';
import { quietStreamsConnector } from '../../src/routers/cluster/quiet-streams.js';
import { createNodeClient } from '../../src/routers/node-clients.js';
import { watchForStalls } from '../../src/routers/stall-watchdog.js';
import { coalesceWrites } from '../../src/routers/write-coalescing.js';
import { type ClusterTopology, startCluster } from '../../src/topology/index.js';
import { useStandalone } from '../fixtures/reliability.js';

const FALLBACKS = new Set<string>(Object.values(FALLBACK_WARNING_CODES));
const fallbacks: string[] = [];
const onWarning = (w: Error & { code?: string }) => {
  if (w.code !== undefined && FALLBACKS.has(w.code)) fallbacks.push(`${w.code}: ${w.message}`);
};
process.on('warning', onWarning);
afterAll(async () => {
  // emitWarning delivers on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  expect(fallbacks).toEqual([]);
});

it('runs against the ioredis and opossum it was asked to (printed for the CI log)', () => {
  const require = createRequire(import.meta.url);
  const from = process.env.SENTINEL_CACHE_CONFORMANCE_DIR ?? process.cwd();
  const version = (name: string) =>
    (require(require.resolve(`${name}/package.json`, { paths: [from] })) as { version: string }).version;
  const versions = { ioredis: version('ioredis'), opossum: version('opossum') };
  console.log(`ioredis-conformance: ioredis ${versions.ioredis}, opossum ${versions.opossum}`);
  expect(versions.ioredis).toMatch(/^\d+\.\d+\.\d+/);
  // The modules src uses are those very packages.
  const loaded = require(require.resolve('ioredis', { paths: [from] })) as { Redis: unknown };
  expect(createNodeClient({ host: '127.0.0.1', port: 1 }, {})).toBeInstanceOf(loaded.Redis as typeof Redis);
  expect(require(require.resolve('opossum', { paths: [from] }))).toBe(CircuitBreaker);
});

/** A sendCommand wrapper that records each command (or its `label`) in `into`. */
function recordInto<T = IoredisCommand>(
  into: T[],
  label: (command: IoredisCommand) => T = (c) => c as T,
): (send: SendCommand) => SendCommand {
  return (send) =>
    ((command: IoredisCommand, stream?: IoredisWriteStream) => {
      into.push(label(command));
      return send(command, stream);
    }) as SendCommand;
}

describe('a lazy ioredis Redis (no socket yet)', () => {
  it('has both command queues, an empty command queue length, no socket bytes, a standalone connector', () => {
    const client = new Redis({ lazyConnect: true, protocol: 2 });
    try {
      const queues = commandQueuesOf(client);
      expect(queues).toBeDefined();
      expect(queues?.commandQueue.length).toBe(0);
      expect(queues?.offlineQueue.length).toBe(0);
      expect(repliesAwaited(client)).toBe(0);
      expect(bytesReadOf(client)).toBe(0);
      expect(isBusy(client)).toBe(false);
      const Connector = standaloneConnectorClass();
      expect(typeof Connector).toBe('function');
      expect(typeof Connector?.prototype.connect).toBe('function');
    } finally {
      client.disconnect();
    }
  });

  it('queues a command issued before the connection in the offline queue, where nextToAnswer sees it', async () => {
    const client = new Redis({ lazyConnect: true, protocol: 2, port: 1, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      const seen: IoredisCommand[] = [];
      expect(interceptSendCommand(client, recordInto(seen))).toBe(true);
      const pending = client.get('k').catch((err: unknown) => err);
      const queues = commandQueuesOf(client);
      expect(seen.map((c) => c.name)).toEqual(['get']);
      expect(queues?.offlineQueue.length).toBe(1);
      expect(nextToAnswer(queues as NonNullable<typeof queues>)).toBe(seen[0]);
      expect(waitingCommands(queues as NonNullable<typeof queues>).map((q) => q.command)).toEqual(seen);
      expect(isBusy(client)).toBe(true);
      client.disconnect();
      expect(await pending).toBeInstanceOf(Error);
    } finally {
      client.disconnect();
    }
  });
});

describe('an ioredis Redis connected to a real server', () => {
  const env = useStandalone();

  it('writes through the replaced sendCommand; the command queue holds it until its reply; the socket corks and counts bytes', async () => {
    const client = new Redis({
      host: env.server.host,
      port: env.server.port,
      protocol: 2,
      lazyConnect: true,
    });
    try {
      await client.connect();
      const seen: IoredisCommand[] = [];
      interceptSendCommand(client, recordInto(seen));
      const before = bytesReadOf(client);
      const reply = client.set('conformance', 'v');
      const queues = commandQueuesOf(client);
      expect(queues?.commandQueue.length).toBe(1);
      expect(repliesAwaited(client)).toBe(1);
      expect(nextToAnswer(queues as NonNullable<typeof queues>)).toBe(seen[0]);
      expect(isBusy(client)).toBe(true);
      expect(await reply).toBe('OK');
      expect(repliesAwaited(client)).toBe(0);
      expect(isBusy(client)).toBe(false);
      expect(bytesReadOf(client)).toBeGreaterThan(before);
      // A pipeline's commands pass through sendCommand too.
      await client.pipeline().get('conformance').get('conformance').exec();
      expect(seen.map((c) => c.name)).toEqual(['set', 'get', 'get']);

      const socket = corkableSocketOf(client);
      expect(socket).toBeDefined();
      socket?.cork();
      expect(socket?.writableCorked).toBe(1);
      socket?.uncork();
      unrefSocket(client);
    } finally {
      client.disconnect();
    }
  });

  it('disconnect() marks the connection as closing (busy) until it ends', async () => {
    const client = new Redis({
      host: env.server.host,
      port: env.server.port,
      protocol: 2,
      lazyConnect: true,
    });
    await client.connect();
    const ended = new Promise((resolve) => client.once('end', resolve));
    client.quit().catch(() => {});
    expect(isBusy(client)).toBe(true);
    await ended;
  });

  it('has a reconnect timer to unref when it emits reconnecting', async () => {
    const client = new Redis({
      host: env.server.host,
      port: env.server.port,
      protocol: 2,
      lazyConnect: true,
      retryStrategy: () => 50,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      const id = await client.client('ID');
      const reconnecting = new Promise<boolean>((resolve) =>
        client.once('reconnecting', () => resolve(unrefReconnectTimer(client))),
      );
      await env.raw.call('CLIENT', 'KILL', 'ID', String(id));
      expect(await reconnecting).toBe(true);
    } finally {
      client.disconnect();
    }
  });

  it("the routers' node client installs the stall watchdog and coalesces writes, on RESP2", async () => {
    const client = createNodeClient(env.server, { commandTimeoutMs: 2000 });
    try {
      expect(client.options.protocol).toBe(2);
      // The watchdog replaced ioredis' per-command timer.
      expect(client.options.commandTimeout).toBeUndefined();
      expect(Object.hasOwn(client, 'sendCommand')).toBe(true);
      await client.connect();
      const replies = Array.from({ length: 20 }, (_, i) => {
        coalesceWrites(client);
        return client.set(`c${i}`, String(i));
      });
      expect(await Promise.all(replies)).toEqual(replies.map(() => 'OK'));
      // A second watchdog installs as well (the shape is there).
      expect(watchForStalls(client, 2000)).toBe(true);
    } finally {
      client.disconnect();
    }
  });
});

describe('an ioredis Cluster on a real Redis Cluster', () => {
  let topo: ClusterTopology;
  beforeAll(async () => {
    topo = await startCluster({ shards: 3, replicasPerShard: 0, nodeTimeoutMs: 1000 });
  });
  afterAll(async () => {
    await topo?.stop();
  });

  it("announces each node connection as '+node' before it carries a command, and sends every command (pipelines too) through its sendCommand", async () => {
    const socketErrors: string[] = [];
    const Connector = quietStreamsConnector((address) => socketErrors.push(address));
    expect(Connector).toBeDefined();
    const cluster = new Cluster(topo.nodes, {
      lazyConnect: true,
      redisOptions: { protocol: 2, Connector: Connector as never },
    });
    try {
      expect(announcesNodeConnections(cluster)).toBe(true);
      const routed: string[] = [];
      const announced: Redis[] = [];
      cluster.on('+node', (redis: Redis) => {
        announced.push(redis);
        expect(repliesAwaited(redis)).toBe(0);
        interceptSendCommand(
          redis,
          recordInto(routed, (c) => `${c.name} ${String(c.args[0])}`),
        );
      });
      await cluster.connect();
      const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
      for (const key of keys) await cluster.set(key, key);
      const got = await cluster.pipeline().get('a').exec();
      expect(got).toEqual([[null, 'a']]);
      expect(announced.length).toBeGreaterThanOrEqual(3);
      for (const key of keys) expect(routed).toContain(`set ${key}`);
      expect(routed).toContain('get a');
      for (const node of cluster.nodes('master')) {
        expect(announced).toContain(node);
        expect(corkableSocketOf(node)).toBeDefined();
      }
      expect(socketErrors).toEqual([]);
    } finally {
      cluster.disconnect();
    }
  });
});

describe('opossum', () => {
  it("has the rolling window whose increment('fires') the breaker's fast path calls", () => {
    const breaker = new CircuitBreaker(async () => 1, { timeout: false, enableSnapshots: false });
    try {
      const window = rollingWindowOf(breaker.status);
      expect(window).toBeDefined();
      const before = breaker.stats.fires;
      window?.increment('fires');
      expect(breaker.stats.fires).toBe(before + 1);
    } finally {
      breaker.shutdown();
    }
  });
});
