/**
 * Credentials with real redis-server processes: a password and an ACL user on the data
 * nodes, separate credentials on the sentinels (topology `auth`). Correct credentials work
 * for every router; wrong ones end in AuthenticationError (data node wrong, sentinel wrong)
 * within the budget; and no secret — right or wrong — appears in any error message, stack,
 * `cause` chain, event payload, stats or console output (everything is rendered with
 * util.inspect at unlimited depth and searched).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import { AuthenticationError } from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import type { Router, SentinelRouterOptions } from '../../src/routers/types.js';
import { serializers } from '../../src/serializers/index.js';
import { startStandalone, startTopology, type Topology } from '../../src/topology/index.js';
import type { Standalone } from '../../src/topology/types.js';
import {
  closedPort,
  errorName,
  leakedSecrets,
  rawClient,
  rejectionWithin,
  SENTINEL_KINDS,
  type SentinelKind,
  sentinelRouter,
} from '../fixtures/reliability.js';

// Distinct, searchable secrets: the right ones and the wrong ones a user might mistype.
const DATA_PASSWORD = 'dataPW-7f3a9c-right';
const DATA_USER = 'cache-app';
const SENTINEL_PASSWORD = 'sentPW-41d2e8-right';
const SENTINEL_USER = 'sentinel-app';
const WRONG_PASSWORD = 'wrongPW-9b8c7d-typo';
const SECRETS = [DATA_PASSWORD, SENTINEL_PASSWORD, WRONG_PASSWORD];

const COMMAND_TIMEOUT_MS = 300;
const CONNECT_TIMEOUT_MS = 500;
const SENTINEL_TIMEOUT_MS = 250;
const BUDGET_MS = 2 * SENTINEL_TIMEOUT_MS + CONNECT_TIMEOUT_MS + 2 * COMMAND_TIMEOUT_MS + 2000;
const timeouts = { commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS };

/** Everything observable that could carry a secret: thrown errors, events, stats, console output. */
const observed: unknown[] = [];
const consoleSpies: Array<ReturnType<typeof vi.spyOn>> = [];

function observe(cache: Cache): Cache {
  for (const event of [
    'error',
    'failover',
    'topology-change',
    'breaker-open',
    'breaker-half-open',
    'breaker-close',
  ] as const) {
    cache.on(event, (payload: unknown) => observed.push({ event, payload }));
  }
  return cache;
}

function cacheOn(router: Router): Cache {
  return observe(
    createCache({ router, serializer: serializers.msgpack(), keyPrefix: 'auth', defaultTtl: null }),
  );
}

/** The error an operation ends with (recorded for the secret scan); fails on a hang or a success. */
async function failure(cache: Cache, op: (c: Cache) => Promise<unknown>): Promise<unknown> {
  const error = await rejectionWithin(op(cache), BUDGET_MS);
  observed.push(error);
  observed.push(cache.stats());
  return error;
}

/** Wrong credentials: the server's refusal (WRONGPASS), not the NOAUTH of the command after it. */
const WRONG_DATA_CREDENTIALS =
  /\(WRONGPASS\): wrong username or password \(options 'username' \/ 'password'\)$/;
const NO_DATA_PASSWORD = /\(NOAUTH\): the server requires a password and none was given \(option 'password'/;
const WRONG_SENTINEL_CREDENTIALS =
  /^Sentinels rejected the credentials for service "mymaster" \(WRONGPASS\): wrong username or password \(options 'sentinelUsername' \/ 'sentinelPassword'\)$/;
const NO_SENTINEL_PASSWORD =
  /^Sentinels rejected the credentials for service "mymaster" \(NOAUTH\): the sentinels require a password and none was given \(option 'sentinelPassword'/;

async function expectAuthFailure(cache: Cache, what: string, message: RegExp): Promise<void> {
  try {
    for (const op of [(c: Cache) => c.get('k'), (c: Cache) => c.set('k', 1)]) {
      const error = await failure(cache, op);
      expect(error, `${what}: ${errorName(error)}: ${String(error)}`).toBeInstanceOf(AuthenticationError);
      expect((error as Error).message, what).toMatch(message);
    }
  } finally {
    await cache.close();
  }
}

async function expectWorks(cache: Cache): Promise<void> {
  try {
    expect(await cache.set('k', { ok: true })).toBe(true);
    expect(await cache.get('k')).toEqual({ ok: true });
    observed.push(cache.stats());
  } finally {
    await cache.close();
  }
}

beforeAll(() => {
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    consoleSpies.push(
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        observed.push({ console: method, args });
      }),
    );
  }
});

afterAll(() => {
  for (const spy of consoleSpies) spy.mockRestore();
});

describe('standalone router with a password and an ACL user', () => {
  let server: Standalone;
  beforeAll(async () => {
    server = await startStandalone({ password: DATA_PASSWORD, username: DATA_USER });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const at = () => ({ host: server.host, port: server.port, ...timeouts });

  it('right credentials work: ACL user, default user (requirepass), and a URL with both', async () => {
    await expectWorks(cacheOn(routers.standalone({ ...at(), username: DATA_USER, password: DATA_PASSWORD })));
    await expectWorks(cacheOn(routers.standalone({ ...at(), password: DATA_PASSWORD })));
    await expectWorks(cacheOn(routers.standalone({ url: server.url, ...timeouts })));
  });

  it('wrong password, wrong user, no password: AuthenticationError within the budget', async () => {
    await expectAuthFailure(
      cacheOn(routers.standalone({ ...at(), username: DATA_USER, password: WRONG_PASSWORD })),
      'wrong password',
      WRONG_DATA_CREDENTIALS,
    );
    await expectAuthFailure(
      cacheOn(routers.standalone({ ...at(), password: WRONG_PASSWORD })),
      'wrong requirepass',
      WRONG_DATA_CREDENTIALS,
    );
    await expectAuthFailure(
      cacheOn(routers.standalone({ ...at(), username: 'nobody', password: DATA_PASSWORD })),
      'unknown user',
      WRONG_DATA_CREDENTIALS,
    );
    await expectAuthFailure(cacheOn(routers.standalone(at())), 'no password', NO_DATA_PASSWORD);
    const url = `redis://${DATA_USER}:${encodeURIComponent(WRONG_PASSWORD)}@127.0.0.1:${server.port}`;
    await expectAuthFailure(
      cacheOn(routers.standalone({ url, ...timeouts })),
      'wrong password in the URL',
      WRONG_DATA_CREDENTIALS,
    );
  });

  it('the least-privilege ACL user documented in SECURITY.md runs the cache API and nothing more', async () => {
    const admin = rawClient(server, { password: DATA_PASSWORD });
    try {
      // Keep in sync with SECURITY.md, "Credentials and ACL users".
      await admin.call(
        'ACL',
        ...`SETUSER least-app reset on >${DATA_PASSWORD} ~app:* &* -@all +@read +@write +@keyspace +@hash +@set +@sortedset +@string +@scripting +ping +role +info -flushdb -flushall -keys`.split(
          ' ',
        ),
      );
      const cache = observe(
        createCache({
          router: routers.standalone({ ...at(), username: 'least-app', password: DATA_PASSWORD }),
          keyPrefix: 'app',
          defaultTtl: '1m',
        }),
      );
      try {
        expect(await cache.set('k', { v: 1 })).toBe(true);
        expect(await cache.get('k')).toEqual({ v: 1 });
        expect(await cache.incr('n', 1, { ignoreKeyCheck: true })).toBe(1);
        expect(await cache.incr('n')).toBe(2);
        expect([...(await cache.getMany(['k', 'n'])).keys()]).toEqual(['k', 'n']);
        expect(await cache.incrVersion('k')).toBe(2);
        expect(await cache.ttl('k', { version: 2 })).toBeGreaterThan(0);
        expect(await cache.sadd('s', 'a', 'b')).toBe(2);
        expect(await cache.hset('h', 'f', 1)).toBe(1);
        expect(await cache.zadd('z', { a: 1 })).toBe(1);
        const lock = cache.lock('l', { ttl: '5s' });
        expect(await lock.acquire()).toBe(true);
        await lock.release();
        expect((await cache.keys('*')).sort()).toEqual(['h', 'n', 's', 'z']);
        expect(await cache.deletePattern('s')).toBe(1);
        expect(await cache.clear()).toBeGreaterThan(0);
        // Outside its rights: FLUSHDB, and keys outside the prefix.
        await expect(cache.flushDb()).rejects.toThrow(/NOPERM/);
        await expect(cache.withClient('write', (c) => c.set('other:key', '1'))).rejects.toThrow(/NOPERM/);
      } finally {
        await cache.close();
      }
    } finally {
      admin.disconnect();
    }
  });

  it('ignoreErrors does not turn wrong credentials into misses', async () => {
    const cache = observe(
      createCache({
        router: routers.standalone({ ...at(), username: DATA_USER, password: WRONG_PASSWORD }),
        ignoreErrors: true,
      }),
    );
    try {
      const error = await failure(cache, (c) => c.get('k'));
      expect(error).toBeInstanceOf(AuthenticationError);
    } finally {
      await cache.close();
    }
  });

  it('a URL with a password to a dead port: the error does not contain the URL', async () => {
    const url = `redis://${DATA_USER}:${encodeURIComponent(WRONG_PASSWORD)}@127.0.0.1:${await closedPort()}`;
    const cache = cacheOn(routers.standalone({ url, ...timeouts }));
    try {
      await failure(cache, (c) => c.get('k'));
    } finally {
      await cache.close();
    }
  });
});

describe('sentinel routers with separate data-node and sentinel credentials', () => {
  let topology: Topology;
  beforeAll(async () => {
    topology = await startTopology({
      provider: 'process',
      replicas: 1,
      sentinels: 2,
      quorum: 1,
      auth: {
        password: DATA_PASSWORD,
        username: DATA_USER,
        sentinelPassword: SENTINEL_PASSWORD,
        sentinelUsername: SENTINEL_USER,
      },
    });
  });
  afterAll(async () => {
    await topology?.stop();
  });

  function router(kind: SentinelKind, overrides: Partial<SentinelRouterOptions>): Router {
    return sentinelRouter(kind, topology, {
      ...timeouts,
      sentinelTimeoutMs: SENTINEL_TIMEOUT_MS,
      ...overrides,
    });
  }

  describe.each(SENTINEL_KINDS)('%s', (kind) => {
    it('right credentials work (ACL users on both, and passwords only)', async () => {
      expect(topology.routerOptions()).toMatchObject({
        username: DATA_USER,
        password: DATA_PASSWORD,
        sentinelUsername: SENTINEL_USER,
        sentinelPassword: SENTINEL_PASSWORD,
      });
      await expectWorks(cacheOn(router(kind, {})));
      await expectWorks(cacheOn(router(kind, { username: undefined, sentinelUsername: undefined })));
    });

    it('wrong data-node password: AuthenticationError', async () => {
      await expectAuthFailure(
        cacheOn(router(kind, { password: WRONG_PASSWORD })),
        'data password wrong',
        WRONG_DATA_CREDENTIALS,
      );
      await expectAuthFailure(
        cacheOn(router(kind, { password: undefined, username: undefined })),
        'data no password',
        NO_DATA_PASSWORD,
      );
    });

    it('wrong sentinel password: AuthenticationError', async () => {
      await expectAuthFailure(
        cacheOn(router(kind, { sentinelPassword: WRONG_PASSWORD })),
        'sentinel password wrong',
        WRONG_SENTINEL_CREDENTIALS,
      );
      await expectAuthFailure(
        cacheOn(router(kind, { sentinelPassword: undefined, sentinelUsername: undefined })),
        'sentinel no password',
        NO_SENTINEL_PASSWORD,
      );
    });

    it('data-node credentials given to the sentinels (mixed up): AuthenticationError', async () => {
      await expectAuthFailure(
        cacheOn(router(kind, { sentinelUsername: DATA_USER, sentinelPassword: DATA_PASSWORD })),
        'credentials swapped',
        WRONG_SENTINEL_CREDENTIALS,
      );
    });
  });
});

describe('no secret anywhere', () => {
  it('no password appears in any error, cause chain, stack, event payload, stats or console output', () => {
    // Guard: the scan found the material it is meant to search.
    expect(observed.filter((o) => o instanceof AuthenticationError).length).toBeGreaterThanOrEqual(20);
    expect(leakedSecrets(observed, SECRETS)).toEqual([]);
  });

  it('the scanner itself finds a secret hidden deep in a cause chain (the check can fail)', () => {
    const deep = new Error('outer', {
      cause: new Error('inner', { cause: { command: { args: ['user', WRONG_PASSWORD] } } }),
    });
    expect(leakedSecrets([deep], SECRETS)).toEqual([WRONG_PASSWORD]);
  });
});
