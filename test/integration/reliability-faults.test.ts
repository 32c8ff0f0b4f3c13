/**
 * Dead and hung servers, for the standalone, discovery and pooled routers, with real
 * redis-server processes: connection refused, unknown host, a paused node (SIGSTOP), a node
 * killed under a large pipeline, unreachable sentinels, an unknown service. Each must end in
 * a named error within the configured budget (commandTimeoutMs, connectTimeoutMs,
 * sentinelTimeoutMs) plus a margin — never a hang. Then ignoreErrors: connection-level
 * failures become misses / no-ops with an 'error' event, programming errors still throw.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import {
  CircuitOpenError,
  CommandTimeoutError,
  ConfigError,
  ConnectionInterruptedError,
  IncompleteError,
  MasterNotFoundError,
  SentinelUnavailableError,
  SerializationError,
} from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import type { NodeAddress, Router } from '../../src/routers/types.js';
import { serializers } from '../../src/serializers/index.js';
import { startStandalone, startTopology, type Topology } from '../../src/topology/index.js';
import type { Standalone } from '../../src/topology/types.js';
import { closedPort, errorName, fakeServer, rejectionWithin, settleWithin } from '../fixtures/reliability.js';
import { until } from '../fixtures/until.js';

const COMMAND_TIMEOUT_MS = 300;
const CONNECT_TIMEOUT_MS = 500;
const SENTINEL_TIMEOUT_MS = 250;
/** Scheduling slack on a shared 2-core machine; the point is "bounded", not "fast". */
const MARGIN_MS = 2000;
/** Worst case of one operation: a sentinel round, a connect and a command. */
const BUDGET_MS = 2 * SENTINEL_TIMEOUT_MS + CONNECT_TIMEOUT_MS + 2 * COMMAND_TIMEOUT_MS + MARGIN_MS;

type ErrorClass = abstract new (...args: never[]) => Error;
const CONNECTION_LEVEL: ErrorClass[] = [ConnectionInterruptedError, CommandTimeoutError];

/**
 * A batch killed part-way: the connection-level error itself when no chunk had been written
 * yet, else IncompleteError (some chunks were written) whose cause is one of `causes`.
 */
function expectKilledMidBatch(error: unknown, causes: ErrorClass[]): void {
  if (error instanceof IncompleteError) {
    expect(error.completed).toBeGreaterThan(0);
    expectOneOf(error.cause, causes, 'cause of IncompleteError');
  } else {
    expectOneOf(error, CONNECTION_LEVEL, 'killed mid-batch');
  }
}

function expectOneOf(error: unknown, classes: ErrorClass[], what: string): void {
  expect(
    classes.some((c) => error instanceof c),
    `${what}: got ${errorName(error)}: ${String(error)}; expected one of ${classes.map((c) => c.name).join(', ')}`,
  ).toBe(true);
}

function cacheOn(router: Router, extra: { ignoreErrors?: boolean } = {}): Cache {
  return createCache({
    router,
    serializer: serializers.msgpack(),
    keyPrefix: 'faults',
    defaultTtl: null,
    ...extra,
  });
}

const timeouts = { commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS };

/** Several operations of different kinds: each must fail with one of `classes` within the budget. */
async function expectEveryOperationFails(cache: Cache, classes: ErrorClass[], what: string): Promise<void> {
  const operations: Array<[string, () => Promise<unknown>]> = [
    ['get', () => cache.get('k')],
    ['set', () => cache.set('k', { v: 1 })],
    ['getMany', () => cache.getMany(['a', 'b'])],
    ['incr', () => cache.incr('n', 1, { ignoreKeyCheck: true })],
    ['keys', () => cache.keys('*')],
  ];
  for (const [name, op] of operations) {
    const error = await rejectionWithin(op(), BUDGET_MS);
    expectOneOf(error, classes, `${what} / ${name}`);
  }
}

/** A cache on `router` whose every operation must fail with one of `classes`; closed afterwards. */
async function expectRouterFails(router: Router, classes: ErrorClass[], what: string): Promise<void> {
  const cache = cacheOn(router);
  try {
    await expectEveryOperationFails(cache, classes, what);
  } finally {
    await cache.close();
  }
}

describe('standalone router', () => {
  let server: Standalone;
  beforeAll(async () => {
    server = await startStandalone();
  });
  afterAll(async () => {
    await server?.resume().catch(() => {});
    await server?.stop();
  });

  it('connection refused (nothing listening): named error within the budget, then fails fast', async () => {
    const cache = cacheOn(routers.standalone({ host: '127.0.0.1', port: await closedPort(), ...timeouts }));
    try {
      await expectEveryOperationFails(cache, CONNECTION_LEVEL, 'refused');
      // Once the connection is known to be down, commands are refused without waiting.
      const error = await rejectionWithin(cache.get('k'), COMMAND_TIMEOUT_MS + MARGIN_MS);
      expect(error).toBeInstanceOf(ConnectionInterruptedError);
    } finally {
      await cache.close();
    }
  });

  it('unknown host (nonexistent.invalid): named error within the budget', async () => {
    await expectRouterFails(
      routers.standalone({ host: 'nonexistent.invalid', port: 6390, ...timeouts }),
      CONNECTION_LEVEL,
      'unknown host',
    );
  });

  it.each(['blackhole', 'garbage'] as const)(
    'a %s server (accepts TCP, never speaks Redis): named error within the budget',
    async (mode) => {
      const fake = await fakeServer(mode);
      try {
        await expectRouterFails(
          routers.standalone({ host: '127.0.0.1', port: fake.port, ...timeouts }),
          CONNECTION_LEVEL,
          mode,
        );
      } finally {
        await fake.close();
      }
    },
  );

  it('paused server (SIGSTOP): CommandTimeoutError within commandTimeoutMs + margin; works again after SIGCONT', async () => {
    const cache = cacheOn(routers.standalone({ url: server.url, ...timeouts }));
    try {
      expect(await cache.set('k', 1)).toBe(true);
      await server.pause();
      try {
        await expectEveryOperationFails(cache, [CommandTimeoutError], 'paused');
      } finally {
        await server.resume();
      }
      // A write that timed out may still be applied once the server runs again (it was in
      // the socket already): CommandTimeoutError means "unknown", not "not written".
      let value: unknown;
      for (let i = 0; i < 20 && value !== 2; i++) {
        value = await cache
          .set('after', 2)
          .then(() => cache.get('after'))
          .catch(() => undefined);
      }
      expect(value).toBe(2);
    } finally {
      await cache.close();
    }
  });

  it('server killed under a large batch (setMany): named error within the budget, never a hang', async () => {
    const victim = await startStandalone();
    const cache = cacheOn(routers.standalone({ url: victim.url, ...timeouts }));
    try {
      await cache.set('warm', 1);
      const entries = new Map<string, unknown>();
      for (let i = 0; i < 100_000; i++) entries.set(`bulk-${i}`, { i, pad: 'x'.repeat(100) });
      const pending = cache.setMany(entries);
      pending.catch(() => {}); // may reject while the kill is in progress; checked below
      await new Promise((r) => setTimeout(r, 5));
      await victim.kill();
      const error = await rejectionWithin(pending, BUDGET_MS);
      expectKilledMidBatch(error, CONNECTION_LEVEL);
      await expectEveryOperationFails(cache, CONNECTION_LEVEL, 'after kill');
    } finally {
      await cache.close();
      await victim.stop();
    }
  });
});

describe('sentinel routers', () => {
  let topology: Topology;
  beforeAll(async () => {
    // downAfterMs well above every pause below: these tests are about the client, not failover.
    topology = await startTopology({
      provider: 'process',
      replicas: 1,
      sentinels: 2,
      quorum: 1,
      downAfterMs: 5000,
    });
  });
  afterAll(async () => {
    await topology?.resumeMaster().catch(() => {});
    await topology?.stop();
  });

  const KINDS = ['discovery', 'pooled'] as const;
  type Kind = (typeof KINDS)[number];

  function router(kind: Kind, overrides: Partial<Parameters<typeof routers.discovery>[0]> = {}): Router {
    const options = {
      ...topology.routerOptions(),
      ...timeouts,
      sentinelTimeoutMs: SENTINEL_TIMEOUT_MS,
      ...overrides,
    };
    return kind === 'pooled'
      ? routers.pooled({ ...options, pool: { acquireTimeoutMs: CONNECT_TIMEOUT_MS } })
      : routers.discovery(options);
  }

  describe.each(KINDS)('%s', (kind) => {
    it('every sentinel refuses connections: SentinelUnavailableError within the budget', async () => {
      const sentinels: NodeAddress[] = [
        { host: '127.0.0.1', port: await closedPort() },
        { host: '127.0.0.1', port: await closedPort() },
      ];
      await expectRouterFails(
        router(kind, { sentinels }),
        [SentinelUnavailableError, CircuitOpenError],
        'sentinels refused',
      );
    });

    it('sentinel host does not resolve: SentinelUnavailableError within the budget', async () => {
      await expectRouterFails(
        router(kind, { sentinels: [{ host: 'nonexistent.invalid', port: 26379 }] }),
        [SentinelUnavailableError, CircuitOpenError],
        'sentinel unknown host',
      );
    });

    it.each(['blackhole', 'garbage'] as const)(
      'every sentinel is a %s server: SentinelUnavailableError within the budget',
      async (mode) => {
        const fakes = [await fakeServer(mode), await fakeServer(mode)];
        const sentinels = fakes.map((f) => ({ host: '127.0.0.1', port: f.port }));
        try {
          await expectRouterFails(
            router(kind, { sentinels }),
            [SentinelUnavailableError, CircuitOpenError],
            `sentinels ${mode}`,
          );
        } finally {
          await Promise.all(fakes.map((f) => f.close()));
        }
      },
    );

    it.each(['blackhole', 'garbage'] as const)(
      'the master address is a %s server (natMap): named error within the budget',
      async (mode) => {
        const master = await topology.currentMaster();
        const fake = await fakeServer(mode);
        try {
          await expectRouterFails(
            router(kind, {
              natMap: { [`${master.host}:${master.port}`]: { host: '127.0.0.1', port: fake.port } },
            }),
            [...CONNECTION_LEVEL, CircuitOpenError],
            `master ${mode}`,
          );
        } finally {
          await fake.close();
        }
      },
    );

    it('unknown service: MasterNotFoundError within the budget', async () => {
      await expectRouterFails(
        router(kind, { service: 'no-such-service' }),
        [MasterNotFoundError, CircuitOpenError],
        'unknown service',
      );
    });

    it('the master address refuses connections (natMap to a closed port): ConnectionInterruptedError', async () => {
      const master = await topology.currentMaster();
      const dead = { host: '127.0.0.1', port: await closedPort() };
      await expectRouterFails(
        router(kind, { natMap: { [`${master.host}:${master.port}`]: dead } }),
        [ConnectionInterruptedError, CircuitOpenError],
        'master refused',
      );
    });

    it('the master address does not resolve (natMap to nonexistent.invalid): named error', async () => {
      const master = await topology.currentMaster();
      await expectRouterFails(
        router(kind, {
          natMap: { [`${master.host}:${master.port}`]: { host: 'nonexistent.invalid', port: master.port } },
        }),
        [...CONNECTION_LEVEL, CircuitOpenError],
        'master unknown host',
      );
    });

    it('paused master (SIGSTOP): CommandTimeoutError within the budget; works again after SIGCONT', async () => {
      const cache = cacheOn(router(kind));
      try {
        expect(await cache.set('k', 1)).toBe(true);
        await topology.pauseMaster();
        try {
          await expectEveryOperationFails(cache, [CommandTimeoutError, CircuitOpenError], 'paused master');
        } finally {
          await topology.resumeMaster();
        }
        await until(async () => (await cache.get('k')) === 1, 10_000, 'reads after SIGCONT', 200);
      } finally {
        await cache.close();
      }
    });

    it('master killed under a large batch (setMany): named error within the budget', async () => {
      const cache = cacheOn(router(kind));
      let killed: NodeAddress | undefined;
      try {
        await cache.set('warm', 1);
        const entries = new Map<string, unknown>();
        for (let i = 0; i < 100_000; i++) entries.set(`bulk-${i}`, { i, pad: 'x'.repeat(100) });
        const pending = cache.setMany(entries);
        pending.catch(() => {}); // may reject while the kill is in progress; checked below
        await new Promise((r) => setTimeout(r, 5));
        killed = await topology.killMaster();
        const error = await rejectionWithin(pending, BUDGET_MS);
        // Later chunks may find no master at all (the breaker open, the sentinels still voting).
        expectKilledMidBatch(error, [...CONNECTION_LEVEL, CircuitOpenError, MasterNotFoundError]);
        // The next operations connect again and find nothing listening.
        await expectEveryOperationFails(cache, [...CONNECTION_LEVEL, CircuitOpenError], 'after kill');
      } finally {
        await cache.close();
        if (killed) {
          await topology.restartNode(killed);
          await topology.waitForHealthy(30_000);
        }
      }
    });
  });
});

describe('ignoreErrors: true', () => {
  let server: Standalone;
  beforeAll(async () => {
    server = await startStandalone();
  });
  afterAll(async () => {
    await server?.resume().catch(() => {});
    await server?.stop();
  });

  async function checkIgnored(cache: Cache, what: string): Promise<void> {
    const events: Error[] = [];
    cache.on('error', ({ error }) => events.push(error));
    const misses: Array<[string, () => Promise<unknown>, unknown]> = [
      ['get', () => cache.get('k'), undefined],
      ['set', () => cache.set('k', 1), false],
      ['add', () => cache.add('k', 1), false],
      ['has', () => cache.has('k'), false],
      ['delete', () => cache.delete('k'), false],
      ['deleteMany', () => cache.deleteMany(['a', 'b']), 0],
      ['setMany', () => cache.setMany({ a: 1 }), undefined],
      ['ttl', () => cache.ttl('k'), undefined],
      ['keys', () => cache.keys('*'), []],
      ['hget', () => cache.hget('h', 'f'), undefined],
      ['scard', () => cache.scard('s'), 0],
    ];
    for (const [name, op, expected] of misses) {
      const before = events.length;
      const outcome = await settleWithin(op(), BUDGET_MS);
      expect(
        outcome.status,
        `${what} / ${name}: ${outcome.status === 'rejected' ? String(outcome.error) : ''}`,
      ).toBe('resolved');
      expect(outcome.status === 'resolved' && outcome.value, `${what} / ${name}`).toEqual(expected);
      expect(events.length, `${what} / ${name}: one 'error' event`).toBeGreaterThan(before);
    }
    for (const error of events)
      expectOneOf(error, [...CONNECTION_LEVEL, CircuitOpenError, SentinelUnavailableError], what);
    // Programming errors are never swallowed.
    await expect(cache.set('k', () => 1)).rejects.toBeInstanceOf(SerializationError);
    await expect(cache.set('k', Symbol('s'))).rejects.toBeInstanceOf(SerializationError);
    await expect(cache.get(42 as unknown as string)).rejects.toBeInstanceOf(ConfigError);
    await expect(cache.set('k', 1, { ttl: 'soon' as never })).rejects.toBeInstanceOf(ConfigError);
    await expect(cache.deletePattern('*', { scanCount: -1 })).rejects.toBeInstanceOf(ConfigError);
    // Operations with no harmless answer still throw the connection error.
    const incr = await rejectionWithin(cache.incr('n'), BUDGET_MS);
    expectOneOf(incr, [...CONNECTION_LEVEL, CircuitOpenError, SentinelUnavailableError], `${what} / incr`);
    expect(() => createCache({ router: cache.router, ignoreErrors: 'yes' as unknown as boolean })).toThrow(
      ConfigError,
    );
  }

  it('connection refused', async () => {
    const cache = cacheOn(routers.standalone({ host: '127.0.0.1', port: await closedPort(), ...timeouts }), {
      ignoreErrors: true,
    });
    try {
      await checkIgnored(cache, 'refused');
    } finally {
      await cache.close();
    }
  });

  it('paused server', async () => {
    const cache = cacheOn(routers.standalone({ url: server.url, ...timeouts }), { ignoreErrors: true });
    try {
      expect(await cache.set('k', 1)).toBe(true);
      await server.pause();
      try {
        await checkIgnored(cache, 'paused');
      } finally {
        await server.resume();
      }
    } finally {
      await cache.close();
    }
  });

  it.each(['discovery', 'pooled'] as const)('%s with every sentinel unreachable', async (kind) => {
    const sentinels = [{ host: '127.0.0.1', port: await closedPort() }];
    const options = { sentinels, service: 'mymaster', ...timeouts, sentinelTimeoutMs: SENTINEL_TIMEOUT_MS };
    const cache = cacheOn(kind === 'pooled' ? routers.pooled(options) : routers.discovery(options), {
      ignoreErrors: true,
    });
    try {
      await checkIgnored(cache, kind);
    } finally {
      await cache.close();
    }
  });
});
