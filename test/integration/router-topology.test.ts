/**
 * Both Sentinel routers against topology changes other than a master failover: reads
 * per readFrom, replicas stopped, sentinels stopped (one, then all), an unknown service,
 * natMap, and a clean close. Plus the pooled router's circuit breaker during an outage.
 */
import { createServer, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheClosedError,
  CacheError,
  CircuitOpenError,
  MasterNotFoundError,
  ReplicaNotFoundError,
  SentinelUnavailableError,
} from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import type { ReadFrom, Router, RouterEvent } from '../../src/routers/types.js';
import { startTopology } from '../../src/topology/index.js';
import type { NodeAddress, Topology } from '../../src/topology/types.js';
import { runTsxSource, srcModule } from '../fixtures/child.js';
import { until } from '../fixtures/until.js';
import {
  commandCalls,
  makeRouter,
  NO_HANG_BUDGET_MS,
  nodeClient,
  ROUTER_KINDS,
  type RouterKind,
  sameNode,
  settleWithin,
  type TestRouter,
  WriteLoad,
} from './router-helpers.js';

let topo: Topology;
const open: Router[] = [];

beforeAll(async () => {
  topo = await startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 1000 });
});

afterAll(async () => {
  await topo?.stop();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

function track(kind: RouterKind, extra: Parameters<typeof makeRouter>[2] = {}): TestRouter {
  const r = makeRouter(kind, topo, extra);
  open.push(r);
  return r;
}

/** `STRLEN` calls per data node: a read command nothing else in this file uses. */
async function strlenCalls(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const n of topo.nodes)
    out.set(`${n.host}:${n.port}`, await commandCalls(topo, n, 'strlen').catch(() => 0));
  return out;
}

function delta(before: Map<string, number>, after: Map<string, number>, node: NodeAddress): number {
  const key = `${node.host}:${node.port}`;
  return (after.get(key) ?? 0) - (before.get(key) ?? 0);
}

describe.each(ROUTER_KINDS)('%s router: topology changes', (kind) => {
  it.each<[ReadFrom, 'master' | 'replicas']>([
    ['master', 'master'],
    ['replica', 'replicas'],
    ['replica-preferred', 'replicas'],
  ])('readFrom %s: reads are served by the %s (INFO commandstats)', async (readFrom, where) => {
    const r = track(kind, { readFrom });
    await r.execute('write', (c) => c.set('rf', 'value'));
    const master = await topo.currentMaster();
    const replicas = topo.nodes.filter((n) => !sameNode(n, master));
    const before = await strlenCalls();
    for (let i = 0; i < 40; i++) await r.execute('read', (c) => c.strlen('rf'));
    const after = await strlenCalls();
    const onMaster = delta(before, after, master);
    const perReplica = replicas.map((n) => delta(before, after, n));
    // discovery's speculative reads: a reply its fresh answer did not confirm was discarded and
    // the read ran again, so the node ran it twice (harmless for a read; counted as a miss).
    const reruns = r.stats().speculation?.misses ?? 0;
    if (where === 'master') {
      expect(onMaster).toBeGreaterThanOrEqual(40);
      expect(onMaster).toBeLessThanOrEqual(40 + reruns);
      expect(perReplica).toEqual([0, 0]);
    } else {
      expect(onMaster).toBe(0);
      const onReplicas = perReplica.reduce((a, b) => a + b, 0);
      expect(onReplicas).toBeGreaterThanOrEqual(40);
      expect(onReplicas).toBeLessThanOrEqual(40 + reruns);
      for (const n of perReplica) expect(n).toBeGreaterThan(0); // spread over both replicas
    }
    const nodes = r.stats().nodes;
    expect(Object.values(nodes).reduce((a, n) => a + n.ops, 0)).toBeGreaterThanOrEqual(41);
  });

  it('replicas stopped: replica-preferred reads fall back to the master, readFrom replica says ReplicaNotFound; both recover', async () => {
    const preferred = track(kind, { readFrom: 'replica-preferred' });
    const only = track(kind, { readFrom: 'replica' });
    await preferred.execute('write', (c) => c.set('fb', 'v'));
    await until(async () => (await only.execute('read', (c) => c.get('fb'))) === 'v', 5000, 'replication');
    const master = await topo.currentMaster();
    await topo.stopReplica(0);
    await topo.stopReplica(1);
    try {
      const before = await strlenCalls();
      for (let i = 0; i < 20; i++) {
        const { value, error } = await settleWithin(
          preferred.execute('read', (c) => c.strlen('fb')),
          NO_HANG_BUDGET_MS,
        );
        expect(error).toBeUndefined();
        expect(value).toBe(1);
      }
      expect(delta(before, await strlenCalls(), master)).toBe(20);
      // Once the sentinels flag the replicas down, 'replica' reads fail with ReplicaNotFoundError.
      await until(
        async () => {
          const { error } = await settleWithin(
            only.execute('read', (c) => c.get('fb')),
            NO_HANG_BUDGET_MS,
          );
          expect(error).toBeInstanceOf(CacheError);
          return error instanceof ReplicaNotFoundError;
        },
        15_000,
        'ReplicaNotFoundError',
      );
    } finally {
      await topo.startReplica(0);
      await topo.startReplica(1);
    }
    await topo.waitForHealthy(30_000);
    await until(
      async () => (await only.execute('read', (c) => c.get('fb'))) === 'v',
      15_000,
      'replica reads back',
    );
    // replica-preferred goes back to the replicas once they are usable again.
    await until(
      async () => {
        const before = await strlenCalls();
        for (let i = 0; i < 10; i++) await preferred.execute('read', (c) => c.strlen('fb'));
        return delta(before, await strlenCalls(), master) === 0;
      },
      15_000,
      'replica-preferred reads back on the replicas',
    );
  });

  it('one sentinel of three stopped: no effect on new or running routers', async () => {
    const running = track(kind, { readFrom: 'replica-preferred' });
    await running.execute('write', (c) => c.set('s1', '1'));
    await topo.stopSentinel(0);
    try {
      const fresh = track(kind, { readFrom: 'replica-preferred' });
      for (const r of [running, fresh]) {
        for (let i = 0; i < 50; i++) {
          const { error } = await settleWithin(
            r.execute('write', (c) => c.set('s1', String(i))),
            NO_HANG_BUDGET_MS,
          );
          expect(error).toBeUndefined();
          const read = await settleWithin(
            r.execute('read', (c) => c.exists('s1')),
            NO_HANG_BUDGET_MS,
          );
          expect(read.error).toBeUndefined();
        }
      }
    } finally {
      await topo.startSentinel(0);
    }
    await topo.waitForHealthy(30_000);
  });

  it('all sentinels stopped: SentinelUnavailableError fast where a resolution is needed; service resumes when they return', async () => {
    const running = track(kind);
    await running.execute('write', (c) => c.set('s0', 'before'));
    for (let i = 0; i < 3; i++) await topo.stopSentinel(i);
    try {
      const fresh = track(kind);
      const { error, ms } = await settleWithin(
        fresh.execute('write', (c) => c.set('s0', 'x')),
        NO_HANG_BUDGET_MS,
      );
      expect(error).toBeInstanceOf(SentinelUnavailableError);
      expect(ms).toBeLessThan(NO_HANG_BUDGET_MS);
      // ignoreErrors: the cache turns the outage into a miss and reports it as an event.
      const cache = createCache({ router: track(kind), keyPrefix: 'ignore-errors', ignoreErrors: true });
      const reported: unknown[] = [];
      cache.on('error', (e) => reported.push(e.error));
      const miss = await settleWithin(cache.get('k'), NO_HANG_BUDGET_MS);
      expect(miss.error).toBeUndefined();
      expect(miss.value).toBeUndefined();
      expect(reported[0]).toBeInstanceOf(SentinelUnavailableError);
      const onRunning = await settleWithin(
        running.execute('write', (c) => c.set('s0', 'during')),
        NO_HANG_BUDGET_MS,
      );
      if (kind === 'discovery') {
        // Every operation asks a sentinel: none answers, so none runs.
        expect(onRunning.error).toBeInstanceOf(SentinelUnavailableError);
      } else {
        // Defined behaviour of pooled: a resolved, healthy master keeps serving without sentinels.
        expect(onRunning.error).toBeUndefined();
      }
    } finally {
      for (let i = 0; i < 3; i++) await topo.startSentinel(i);
    }
    const after = track(kind);
    await until(
      async () => (await after.execute('write', (c) => c.set('s0', 'after'))) === 'OK',
      15_000,
      'writes after the sentinels return',
    );
    await until(
      async () => (await running.execute('write', (c) => c.set('s0', 'after'))) === 'OK',
      15_000,
      'the running router to resume',
    );
    await topo.waitForHealthy(30_000);
  });

  it('configured with one sentinel: learns the others (SENTINEL sentinels) and follows a failover after that one stops', async () => {
    const first = topo.sentinels[0] as NodeAddress;
    const r = track(kind, { sentinels: [first] });
    const refreshed: string[] = [];
    r.on('topology-change', (e) => refreshed.push(e.reason));
    const failovers: NodeAddress[] = [];
    r.on('failover', (e) => failovers.push(e.to));
    await r.execute('write', (c) => c.set('one', '1'));
    await until(() => refreshed.includes('sentinel list refreshed'), 5000, 'the sentinel list refresh');
    await r.ready(); // subscribed to the discovered sentinels too
    await topo.stopSentinel(0);
    try {
      const old = await topo.currentMaster();
      await topo.failover();
      const next = await topo.waitForNewMaster(30_000, old);
      await until(
        () => failovers.some((a) => sameNode(a, next)),
        10_000,
        '+switch-master from a discovered sentinel',
      );
      await until(
        async () => (await r.execute('write', (c) => c.set('one', '2'))) === 'OK',
        10_000,
        'writes on the new master',
      );
      expect(await r.execute('write', (c) => c.call('ROLE'))).toEqual(expect.arrayContaining(['master']));
    } finally {
      await topo.startSentinel(0);
    }
    await topo.waitForHealthy(30_000);
  });

  it('a hung sentinel first in the list is tried once: the sentinel that answers moves to the front', async () => {
    // Accepts connections, never replies (like a paused sentinel).
    let queries = 0;
    const sockets = new Set<Socket>();
    const hung = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (d) => {
        queries += d.toString().split('get-master-addr-by-name').length - 1;
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((res) => hung.listen(0, '127.0.0.1', res));
    const port = (hung.address() as { port: number }).port;
    try {
      const r = track(kind, {
        sentinels: [{ host: '127.0.0.1', port }, ...topo.sentinels],
        sentinelTimeoutMs: 200,
      });
      for (let i = 0; i < 30; i++) {
        const { error } = await settleWithin(
          r.execute('write', (c) => c.set('order', String(i))),
          NO_HANG_BUDGET_MS,
        );
        expect(error).toBeUndefined();
      }
      expect(queries).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((res) => hung.close(res));
    }
  });

  it('unknown service: MasterNotFoundError for writes and reads', async () => {
    const r = track(kind, { service: 'no-such-service', readFrom: 'replica' });
    const w = await settleWithin(
      r.execute('write', (c) => c.ping()),
      NO_HANG_BUDGET_MS,
    );
    expect(w.error).toBeInstanceOf(MasterNotFoundError);
    expect((w.error as Error).message).toContain('no-such-service');
    const rd = await settleWithin(
      r.execute('read', (c) => c.ping()),
      NO_HANG_BUDGET_MS,
    );
    expect(rd.error).toBeInstanceOf(MasterNotFoundError);
  });

  it('natMap rewrites every announced address', async () => {
    const mapped: string[] = [];
    const r = track(kind, {
      readFrom: 'replica-preferred',
      natMap: (a: NodeAddress) => {
        mapped.push(`${a.host}:${a.port}`);
        return { host: 'localhost', port: a.port };
      },
    });
    await r.execute('write', (c) => c.set('nat', '1'));
    await r.execute('read', (c) => c.get('nat'));
    const keys = Object.keys(r.stats().nodes);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k.startsWith('localhost:')).toBe(true);
    expect(mapped.length).toBeGreaterThan(0);
  });

  it('close(): later operations are CacheClosedError and a process using the router exits on its own', async () => {
    const r = track(kind);
    await r.execute('write', (c) => c.set('c', '1'));
    await r.close();
    await expect(r.execute('read', (c) => c.get('c'))).rejects.toBeInstanceOf(CacheClosedError);

    const { code, hung, output } = await runTsxSource(
      `import { routers } from ${srcModule('routers/index.ts')};
const opts = JSON.parse(process.argv[2]);
const r = routers[${JSON.stringify(kind)}]({ ...opts, readFrom: 'replica-preferred' });
await r.execute('write', (c) => c.set('exit', '1'));
await r.execute('read', (c) => c.get('exit'));
await r.close();
console.log('closed');
`,
      [JSON.stringify(topo.routerOptions())],
      20_000,
    );
    expect(hung, output).toBe(false);
    expect(code, output).toBe(0);
    expect(output).toContain('closed');
  });
});

describe('pooled router: circuit breaker during a master outage', () => {
  let paused = false;
  afterEach(async () => {
    if (paused) await topo.resumeMaster();
    paused = false;
    await topo.waitForHealthy(30_000);
  });

  it('opens (CircuitOpenError at once), half-opens to re-resolve, closes on the new master', async () => {
    const r = track('pooled', { breaker: { resetTimeoutMs: 300, volumeThreshold: 5 } });
    const events: RouterEvent[] = [];
    for (const e of ['breaker-open', 'breaker-half-open', 'breaker-close'] as const) {
      r.on(e, (p) => {
        if (p.role === 'master') events.push(e);
      });
    }
    await r.ready();
    const load = new WriteLoad(r, `breaker-${Date.now()}`);
    try {
      await until(() => load.acks.length > 100, 10_000, 'steady writes');
      const old = await topo.currentMaster();
      await topo.pauseMaster();
      paused = true;
      await topo.waitForNewMaster(30_000, old);
      const tSwitch = performance.now();
      await until(() => load.ackedAfter(tSwitch).length > 20, 10_000, 'writes on the new master');
    } finally {
      await load.stop();
    }
    const open = events.indexOf('breaker-open');
    expect(open).toBeGreaterThanOrEqual(0);
    expect(events.indexOf('breaker-half-open', open)).toBeGreaterThan(open);
    expect(events.lastIndexOf('breaker-close')).toBeGreaterThan(open);
    expect(r.stats().breaker?.master).toBe('closed');
    const circuitOpen = load.errors.filter((e) => e.error instanceof CircuitOpenError);
    expect(circuitOpen.length).toBeGreaterThan(0);
    // Failing fast: a CircuitOpenError costs no command timeout.
    expect(load.slow).toEqual([]);
  });

  it('an operation admitted before the breaker opened fails after it half-opened: the next caller is still the trial', async () => {
    // Any counted failure opens it; it half-opens 300 ms later.
    const r = track('pooled', {
      breaker: { resetTimeoutMs: 300, volumeThreshold: 1, errorThresholdPercentage: 1 },
    });
    const events: RouterEvent[] = [];
    for (const e of ['breaker-open', 'breaker-half-open', 'breaker-close'] as const) {
      r.on(e, (p) => {
        if (p.role === 'master') events.push(e);
      });
    }
    // The master pool's one connection, and an operation holding it (admitted while closed).
    const id = await r.execute('write', (c) => c.client('ID'));
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held = r.execute('write', async (c) => {
      await gate;
      return c.set('breaker:held', '1');
    });
    held.catch(() => {});
    // The connection dies under it (as a paused master's would): the next operation finds it
    // broken, which counts and opens the breaker.
    const side = nodeClient(topo, await topo.currentMaster());
    try {
      await side.client('KILL', 'ID', String(id));
    } finally {
      side.disconnect();
    }
    await until(
      async () => {
        await r.execute('write', (c) => c.ping()).catch(() => {});
        return r.stats().breaker?.master === 'open';
      },
      5000,
      'the breaker to open',
    );
    await until(() => r.stats().breaker?.master === 'half-open', 5000, 'the breaker to half-open');
    // The held operation now fails on its dead connection: its failure belongs to the closed
    // state that admitted it, not to the half-open trial.
    release();
    await expect(held).rejects.toBeInstanceOf(CacheError);
    expect(r.stats().breaker?.master).toBe('half-open');
    expect(await r.execute('write', (c) => c.set('breaker:trial', '1'))).toBe('OK');
    expect(r.stats().breaker?.master).toBe('closed');
    expect(events).toEqual(['breaker-open', 'breaker-half-open', 'breaker-close']);
  });
});
