/**
 * TLS with real redis-server processes listening on TLS only (certificates made by openssl
 * in the topology): every router works when given the CA; verification is on by default
 * (`tls: true` without the CA is refused, the self-signed chain is not trusted); a wrong CA
 * and a plain-text client on a TLS port fail with a clear, named error within the budget.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import {
  CircuitOpenError,
  CommandTimeoutError,
  ConnectionInterruptedError,
  SentinelUnavailableError,
} from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import type { Router, SentinelRouterOptions } from '../../src/routers/types.js';
import { serializers } from '../../src/serializers/index.js';
import { startStandalone, startTopology, type Topology } from '../../src/topology/index.js';
import { generateTlsFiles } from '../../src/topology/tls-certs.js';
import type { Standalone, TopologyTls } from '../../src/topology/types.js';
import {
  errorName,
  rejectionWithin,
  SENTINEL_KINDS,
  type SentinelKind,
  sentinelRouter,
} from '../fixtures/reliability.js';

const COMMAND_TIMEOUT_MS = 300;
const CONNECT_TIMEOUT_MS = 500;
const SENTINEL_TIMEOUT_MS = 300;
const BUDGET_MS = 2 * SENTINEL_TIMEOUT_MS + CONNECT_TIMEOUT_MS + 2 * COMMAND_TIMEOUT_MS + 2000;
const timeouts = { commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS };

/** A certificate problem must say so: the message (or its cause's) names the verification failure. */
const CERT_PROBLEM = /certificate|self[- ]signed|UNABLE_TO_VERIFY|CERT_|issuer/i;

let otherCa: TopologyTls;
let otherDir: string;

beforeAll(() => {
  // A second, unrelated CA: "the wrong CA".
  otherDir = mkdtempSync(join(tmpdir(), 'sentinel-cache-other-ca-'));
  otherCa = generateTlsFiles(otherDir).pem;
});

afterAll(() => {
  rmSync(otherDir, { recursive: true, force: true });
});

function cacheOn(router: Router): Cache {
  return createCache({ router, serializer: serializers.msgpack(), keyPrefix: 'tls', defaultTtl: null });
}

async function expectWorks(cache: Cache): Promise<void> {
  try {
    expect(await cache.set('k', { secure: true })).toBe(true);
    expect(await cache.get('k')).toEqual({ secure: true });
  } finally {
    await cache.close();
  }
}

/** Fails within the budget with a named error whose message or cause says what is wrong. */
async function expectFails(
  cache: Cache,
  classes: Array<abstract new (...a: never[]) => Error>,
  detail: RegExp,
  what: string,
) {
  try {
    for (const op of [() => cache.get('k'), () => cache.set('k', 1)]) {
      const error = await rejectionWithin(op(), BUDGET_MS);
      expect(
        classes.some((c) => error instanceof c),
        `${what}: ${errorName(error)}: ${String(error)}`,
      ).toBe(true);
      const chain: string[] = [];
      for (let e: unknown = error; e instanceof Error && chain.length < 5; e = e.cause) {
        chain.push(`${e.message} ${(e as NodeJS.ErrnoException).code ?? ''}`);
      }
      expect(chain.join(' | '), what).toMatch(detail);
    }
  } finally {
    await cache.close();
  }
}

describe('standalone over TLS', () => {
  let server: Standalone;
  beforeAll(async () => {
    server = await startStandalone({ tls: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('works with the CA (rediss:// URL, and host/port with tls options)', async () => {
    const ca = (server.tls as TopologyTls).ca;
    expect(server.url.startsWith('rediss://')).toBe(true);
    await expectWorks(cacheOn(routers.standalone({ url: server.url, tls: { ca }, ...timeouts })));
    await expectWorks(
      cacheOn(routers.standalone({ host: server.host, port: server.port, tls: { ca }, ...timeouts })),
    );
  });

  it('verification is on by default: tls: true without the CA is refused with a certificate error', async () => {
    await expectFails(
      cacheOn(routers.standalone({ host: server.host, port: server.port, tls: true, ...timeouts })),
      [ConnectionInterruptedError],
      CERT_PROBLEM,
      'default verification',
    );
  });

  it('a wrong CA is refused with a certificate error', async () => {
    await expectFails(
      cacheOn(
        routers.standalone({ host: server.host, port: server.port, tls: { ca: otherCa.ca }, ...timeouts }),
      ),
      [ConnectionInterruptedError],
      CERT_PROBLEM,
      'wrong CA',
    );
  });

  it('a plain-text client on the TLS port fails within the budget (no hang)', async () => {
    await expectFails(
      cacheOn(routers.standalone({ host: server.host, port: server.port, ...timeouts })),
      [ConnectionInterruptedError, CommandTimeoutError],
      /./,
      'plain text on TLS',
    );
  });
});

describe('sentinel topology over TLS (data nodes and sentinels)', () => {
  let topology: Topology;
  beforeAll(async () => {
    topology = await startTopology({ provider: 'process', replicas: 1, sentinels: 2, quorum: 1, tls: true });
  });
  afterAll(async () => {
    await topology?.stop();
  });

  function router(kind: SentinelKind, overrides: Partial<SentinelRouterOptions> = {}): Router {
    return sentinelRouter(kind, topology, {
      ...timeouts,
      sentinelTimeoutMs: SENTINEL_TIMEOUT_MS,
      ...overrides,
    });
  }

  describe.each(SENTINEL_KINDS)('%s', (kind) => {
    it('works with the CA for data nodes and sentinels', async () => {
      const options = topology.routerOptions();
      expect(options.tls?.ca).toBeDefined();
      expect(options.sentinelTls?.ca).toBeDefined();
      await expectWorks(cacheOn(router(kind)));
    });

    it('sentinels with verification on by default (sentinelTls: true, no CA): refused', async () => {
      await expectFails(
        cacheOn(router(kind, { sentinelTls: true })),
        [SentinelUnavailableError, CircuitOpenError],
        CERT_PROBLEM,
        'sentinel default verification',
      );
    });

    it('sentinels with a wrong CA: refused with a certificate error', async () => {
      await expectFails(
        cacheOn(router(kind, { sentinelTls: { ca: otherCa.ca } })),
        [SentinelUnavailableError, CircuitOpenError],
        CERT_PROBLEM,
        'sentinel wrong CA',
      );
    });

    it('data nodes with a wrong CA: refused with a certificate error', async () => {
      await expectFails(
        cacheOn(router(kind, { tls: { ca: otherCa.ca } })),
        [ConnectionInterruptedError, CircuitOpenError],
        CERT_PROBLEM,
        'data wrong CA',
      );
    });

    it('data nodes without TLS (plain text to a TLS port): fails within the budget', async () => {
      const { tls: _drop, ...plain } = topology.routerOptions();
      const options: SentinelRouterOptions = {
        ...plain,
        ...timeouts,
        sentinelTimeoutMs: SENTINEL_TIMEOUT_MS,
      };
      await expectFails(
        cacheOn(kind === 'pooled' ? routers.pooled(options) : routers.discovery(options)),
        [ConnectionInterruptedError, CommandTimeoutError, CircuitOpenError],
        /./,
        'plain data',
      );
    });
  });
});
