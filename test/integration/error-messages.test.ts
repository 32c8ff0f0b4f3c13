/**
 * Messages for the usual first-hour mistakes name the mistake and the fix (issue 17, item 5;
 * issue 26, item 8): a data port given as a sentinel and a sentinel port given as a data
 * node, a refused sentinel, an unknown service, cluster seeds that never answer, a value too
 * large for the command timeout, options passed as a delta, no router, an operation cut off
 * by the pooled breaker's half-open reconnect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CommandTimeoutError,
  ConfigError,
  ConnectionInterruptedError,
  MasterNotFoundError,
  SentinelUnavailableError,
} from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { halfOpenInterruption } from '../../src/routers/sentinel/pooled.js';
import type { Router } from '../../src/routers/types.js';
import { startTopology } from '../../src/topology/index.js';
import { freePort } from '../../src/topology/ports.js';
import { startStandalone } from '../../src/topology/standalone.js';
import type { Standalone, Topology } from '../../src/topology/types.js';
import { closedPort, throttlingProxy } from '../fixtures/reliability.js';

let data: Standalone;
let topology: Topology;

beforeAll(async () => {
  [data, topology] = await Promise.all([
    startStandalone(),
    startTopology({ provider: 'process', replicas: 0, sentinels: 1, quorum: 1 }),
  ]);
});

afterAll(async () => {
  await Promise.all([data?.stop(), topology?.stop()]);
});

async function errorOf(router: Router, op: (r: Router) => Promise<unknown>): Promise<unknown> {
  try {
    await op(router);
  } catch (err) {
    return err;
  } finally {
    await router.close();
  }
  throw new Error('expected the operation to fail');
}

describe.each(['discovery', 'pooled'] as const)('%s router, sentinel mistakes', (kind) => {
  it('a data port given as a sentinel: ConfigError saying it is not a sentinel', async () => {
    const router = routers[kind]({
      sentinels: [{ host: data.host, port: data.port }],
      service: 'mymaster',
      commandTimeoutMs: 2000,
      sentinelTimeoutMs: 2000,
    });
    const err = await errorOf(router, (r) => r.execute('write', (c) => c.set('k', 'v')));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      new RegExp(`127\\.0\\.0\\.1:${data.port} is not a sentinel .*data port.*sentinels' ports`),
    );
  });

  it('a refused sentinel: "refused", not "no answer within"', async () => {
    const port = await freePort();
    const router = routers[kind]({
      sentinels: [{ host: '127.0.0.1', port }],
      service: 'mymaster',
      sentinelTimeoutMs: 2000,
    });
    const err = await errorOf(router, (r) => r.execute('read', (c) => c.get('k')));
    expect(err).toBeInstanceOf(SentinelUnavailableError);
    expect((err as Error).message).toBe(
      `None of 1 sentinels answered: 127.0.0.1:${port} refused the connection (ECONNREFUSED: nothing listens there)`,
    );
  });
});

describe.each(['discovery', 'pooled'] as const)('%s router, on a Sentinel topology', (kind) => {
  it('an unknown service: MasterNotFoundError listing the services the sentinels monitor', async () => {
    for (const readFrom of ['master', 'replica'] as const) {
      const router = routers[kind]({
        ...topology.routerOptions(),
        service: 'mymastr',
        readFrom,
        commandTimeoutMs: 2000,
        sentinelTimeoutMs: 2000,
      });
      const err = await errorOf(router, (r) => r.execute('read', (c) => c.get('k')));
      expect(err, readFrom).toBeInstanceOf(MasterNotFoundError);
      expect((err as Error).message, readFrom).toMatch(
        /^No sentinel knows (a master for )?(the )?service "mymastr"; the sentinels monitor "mymaster" \(check the 'service' option\)$/,
      );
    }
  });

  it('a reply still arriving at the timeout (a 50 MB value): says how much arrived and names commandTimeoutMs', async () => {
    const master = await topology.currentMaster();
    const writer = createCache({
      router: routers.standalone({ host: master.host, port: master.port, commandTimeoutMs: 30_000 }),
    });
    // Replies arrive at 4 MB/s: the value's reply is still arriving at the timeout on any machine.
    const proxy = await throttlingProxy(master, 4 * 1024 * 1024);
    try {
      await writer.set('big', 'x'.repeat(50 * 1024 * 1024));
      const router = routers[kind]({
        ...topology.routerOptions(),
        natMap: { [`${master.host}:${master.port}`]: proxy.address },
        commandTimeoutMs: 1000,
      });
      const err = await errorOf(router, (r) => r.execute('read', (c) => c.get(':1:big')));
      expect(err).toBeInstanceOf(CommandTimeoutError);
      const message = (err as Error).message;
      const arrived = new RegExp(
        `^Command timed out after 1000 ms on 127\\.0\\.0\\.1:${proxy.address.port} while its reply was still arriving \\((\\d+\\.\\d) MB had arrived: the value is at least that large\\); raise commandTimeoutMs for values this large, or make them smaller \\(a compressor, or split the value\\)$`,
      ).exec(message);
      expect(arrived, message).not.toBeNull();
      // At most what the proxy let through in the time; at least a few ticks' worth.
      expect(Number(arrived?.[1])).toBeGreaterThanOrEqual(0.5);
      expect(Number(arrived?.[1])).toBeLessThan(50);
    } finally {
      await writer.delete('big');
      await writer.close();
      await proxy.close();
    }
  });
});

describe('a node of the wrong kind', () => {
  it('a sentinel port given to routers.standalone: ConfigError naming routers.pooled and routers.discovery', async () => {
    const sentinel = topology.sentinels[0] as { host: string; port: number };
    const cache = createCache({
      router: routers.standalone({ host: sentinel.host, port: sentinel.port, commandTimeoutMs: 2000 }),
    });
    try {
      for (const op of [() => cache.get('k'), () => cache.set('k', 1)]) {
        const err = await op().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).toBe(
          `127.0.0.1:${sentinel.port} is a Redis Sentinel (it monitors "mymaster"), not a data node: routers.standalone needs the port of a Redis server; through Sentinel, use routers.pooled({ sentinels: [{ host: '127.0.0.1', port: ${sentinel.port} }], service: 'mymaster' }) (or routers.discovery with the same options)`,
        );
      }
    } finally {
      await cache.close();
    }
  });

  it('routers.cluster whose seeds never give a slot map: names each seed and why it failed', async () => {
    const refused = await closedPort();
    const router = routers.cluster({
      nodes: [
        { host: '127.0.0.1', port: refused },
        { host: data.host, port: data.port },
      ],
      connectTimeoutMs: 500,
      commandTimeoutMs: 500,
    });
    const err = await errorOf(router, (r) => r.execute('read', (c) => c.get('k')));
    expect(err).toBeInstanceOf(ConnectionInterruptedError);
    expect((err as Error).message).toBe(
      `Cluster not ready after 1000 ms, no seed gave the slot map: 127.0.0.1:${refused} refused the connection (ECONNREFUSED: nothing listens there); 127.0.0.1:${data.port} is not a cluster node (it answered "ERR This instance has cluster support disabled": routers.standalone is for one server, routers.pooled for Sentinel)`,
    );
  });
});

describe('cache argument mistakes', () => {
  it('incrVersion(key, { version }) names the misuse and the right call', async () => {
    const cache = createCache({ router: routers.standalone({ url: data.url }) });
    try {
      await cache.set('k', 1);
      for (const method of ['incrVersion', 'decrVersion', 'incr', 'decr'] as const) {
        const err = await cache[method]('k', { version: 2 } as never).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).toBe(
          `${method}(key, delta, options): the second argument is the delta (an integer), got an object; pass options third: ${method}('k', 1, { version: 2 })`,
        );
      }
      await expect(cache.incr('k', 1.5)).rejects.toThrow(
        'incr: delta must be a safe integer; got number 1.5',
      );
      expect(await cache.get('k')).toBe(1); // nothing moved or changed
    } finally {
      await cache.close();
    }
  });

  it('createCache without a router says which router to build', () => {
    for (const options of [{}, { router: undefined }]) {
      expect(() => createCache(options as never)).toThrow(
        /^createCache needs a router: routers\.pooled\(\{ sentinels, service \}\).*routers\.standalone/,
      );
    }
    expect(() => createCache(undefined as never)).toThrow(ConfigError);
  });

  it("the pooled breaker's half-open reconnect says what happened and to retry", () => {
    const err = halfOpenInterruption('master');
    expect(err).toBeInstanceOf(ConnectionInterruptedError);
    expect(err.message).toMatch(/^Reconnecting to the master: .*circuit breaker half-open.*retry it$/);
    expect(err.message).not.toMatch(/half-opened/);
  });
});
