/**
 * routers.cluster through shard failovers on a real Redis Cluster (3 masters + 3 replicas,
 * cluster-node-timeout 1000 ms) under a steady write load on every shard: the master of
 * shard 1 paused (SIGSTOP), killed (SIGKILL), and switched by CLUSTER FAILOVER.
 *
 * Asserted: every failure is a named CacheError and none takes longer than the no-hang
 * budget; writes on the failed shard succeed again on the promoted master; no acknowledged
 * write is lost on the other shards. Measured and printed (the README's table comes from
 * these lines): time from the promotion to the first acknowledged write on the failed shard,
 * and acknowledged writes lost there.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheError, CommandTimeoutError, ConnectionInterruptedError } from '../../src/core/errors.js';
import { routers } from '../../src/routers/index.js';
import type { Router, RouterEventMap } from '../../src/routers/types.js';
import { type ClusterTopology, startCluster } from '../../src/topology/index.js';
import type { NodeAddress } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';
import {
  ClusterWriteLoad,
  COMMAND_TIMEOUT_MS,
  keysInShard,
  missingKeys,
  NO_HANG_BUDGET_MS,
  nodeClient,
} from './cluster-helpers.js';

const FAILED = 1;
/** The mid-scan failover uses another shard: back-to-back failovers of one shard wait for its voters. */
const SCAN_SHARD = 2;
/**
 * Back on the promoted master: the target is 100 ms after the cluster announces it; the
 * assertion allows for a loaded 2-core machine (scheduling, the 5 ms poll that detects the
 * promotion in the test). The measured figure is printed.
 */
const BACK_BUDGET_MS = 1500;

let topo: ClusterTopology;

beforeAll(async () => {
  topo = await startCluster({ shards: 3, replicasPerShard: 1, nodeTimeoutMs: 1000 });
});

afterAll(async () => {
  await topo?.stop();
});

describe('cluster router through shard failovers', () => {
  let router: Router | undefined;
  let load: ClusterWriteLoad | undefined;
  let paused = false;
  let killed: NodeAddress | undefined;

  afterEach(async () => {
    await load?.stop();
    await router?.close();
    load = undefined;
    router = undefined;
    if (paused) await topo.resumeMaster(FAILED);
    paused = false;
    if (killed) await topo.restartNode(killed);
    killed = undefined;
    await topo.waitForHealthy(60_000);
  });

  async function startLoad(tag: string) {
    router = routers.cluster({ ...topo.routerOptions(), commandTimeoutMs: COMMAND_TIMEOUT_MS });
    const failovers: RouterEventMap['failover'][] = [];
    router.on('failover', (e) => failovers.push(e));
    const r = router;
    load = new ClusterWriteLoad(topo, (key, value) => r.execute('write', (c) => c.set(key, value)), tag);
    const l = load;
    await until(() => [0, 1, 2].every((s) => l.ackedAfter(0, s).length > 50), 15_000, 'steady writes');
    return { router: r, load: l, failovers };
  }

  /** Waits for writes after the promotion, stops the load, checks and reports. */
  async function finish(
    what: string,
    l: ClusterWriteLoad,
    tPromoted: number,
    next: NodeAddress,
    failovers: RouterEventMap['failover'][],
  ) {
    await until(() => l.ackedAfter(tPromoted, FAILED).length > 20, 15_000, 'writes on the promoted master');
    await l.stop();
    const firstBack = l.ackedAfter(tPromoted, FAILED)[0]!.at - tPromoted;

    expect(l.slow, 'operations that took longer than the no-hang budget').toEqual([]);
    for (const { error } of l.failures) expect(error).toBeInstanceOf(CacheError);
    // A manual failover reaches the router as a MOVED reply (followed at once by ioredis); the
    // event comes with the slot refresh that the MOVED triggers.
    await until(() => failovers.some((f) => f.to.port === next.port), 5000, 'the failover event');

    const others = l.acks.filter((a) => a.shard !== FAILED).map((a) => a.key);
    const failedShard = l.acks.filter((a) => a.shard === FAILED).map((a) => a.key);
    expect(await missingKeys(topo, others), 'acknowledged writes lost on the other shards').toEqual([]);
    const lostOnFailed = await missingKeys(topo, failedShard);
    const failuresOnOthers = l.failures.filter((f) => f.shard !== FAILED).length;
    console.log(
      `[cluster ${what}] first write on the promoted master ${firstBack.toFixed(0)} ms after the promotion; ` +
        `acknowledged writes lost: shard ${FAILED} ${lostOnFailed.length} of ${failedShard.length}, ` +
        `other shards 0 of ${others.length}; failed operations: shard ${FAILED} ${l.failures.length - failuresOnOthers}, ` +
        `other shards ${failuresOnOthers}; slowest failure ${Math.max(0, ...l.failures.map((f) => f.ms)).toFixed(0)} ms`,
    );
    expect(firstBack).toBeLessThan(BACK_BUDGET_MS);
    return { lostOnFailed };
  }

  it('master paused (SIGSTOP): CommandTimeoutError within the budget, back on the promoted replica, nothing lost elsewhere', async () => {
    const { load: l, failovers } = await startLoad('pause');
    const lag = await replicationLag(FAILED);
    const old = await topo.pauseMaster(FAILED);
    paused = true;
    const next = await topo.waitForNewMaster(FAILED, 30_000, old);
    const tPromoted = performance.now();
    expect(next).not.toEqual(old);
    expect(l.failures.some((f) => f.shard === FAILED && f.error instanceof CommandTimeoutError)).toBe(true);
    // Writes the master acknowledged but had not sent to its replica when it stopped are lost
    // with it (asynchronous replication): reported, with the replica's lag just before the pause.
    const { lostOnFailed } = await finish('SIGSTOP', l, tPromoted, next, failovers);
    console.log(
      `[cluster SIGSTOP] the replica was ${lag} bytes of replication stream behind its master just before the pause; ${lostOnFailed.length} acknowledged writes lost with the master`,
    );
  });

  it('master killed (SIGKILL): ConnectionInterruptedError at once, back on the promoted replica, nothing lost elsewhere', async () => {
    const { load: l, failovers } = await startLoad('kill');
    const lag = await replicationLag(FAILED);
    const old = await topo.killMaster(FAILED);
    killed = old;
    const next = await topo.waitForNewMaster(FAILED, 30_000, old);
    const tPromoted = performance.now();
    expect(l.failures.some((f) => f.shard === FAILED && f.error instanceof ConnectionInterruptedError)).toBe(
      true,
    );
    // Writes the master acknowledged but had not yet sent to its replica die with it
    // (asynchronous replication): reported with the replica's lag measured just before the kill.
    const { lostOnFailed } = await finish('SIGKILL', l, tPromoted, next, failovers);
    console.log(
      `[cluster SIGKILL] the replica was ${lag} bytes of replication stream behind its master just before the kill; ${lostOnFailed.length} acknowledged writes lost with the master`,
    );
  });

  /**
   * Bytes of replication stream the replica of `shard` has not processed yet: the master's offset
   * and the replica's own, asked at the same moment (the replica's acknowledgements to its master
   * come only once a second).
   */
  async function replicationLag(shard: number): Promise<number> {
    const s = (await topo.shards())[shard]!;
    const master = nodeClient(s.master);
    const replica = nodeClient(s.replicas[0]!);
    try {
      const [m, r] = await Promise.all([master.info('replication'), replica.info('replication')]);
      return Number(/master_repl_offset:(\d+)/.exec(m)?.[1]) - Number(/slave_repl_offset:(\d+)/.exec(r)?.[1]);
    } finally {
      master.disconnect();
      replica.disconnect();
    }
  }

  /** Keys on every shard, written directly (setup for the scan cases). */
  async function seed(r: Router, tag: string, perShard: number): Promise<string[]> {
    const keys = [0, 1, 2].flatMap((shard) => keysInShard(topo, shard, tag, perShard));
    await Promise.all(keys.map((k) => r.execute('write', (c) => c.set(k, '1'))));
    return keys;
  }

  /** SCAN MATCH `<tag>:*` on one node, `count` per step, `pauseMs` between steps (a slow scan). */
  async function scanNode(client: Redis, tag: string, count: number, pauseMs = 0): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${tag}:*`, 'COUNT', count);
      found.push(...batch);
      cursor = next;
      if (pauseMs > 0) await sleep(pauseMs);
    } while (cursor !== '0');
    return found;
  }

  it('eachMaster: a paused master fails the run fast; after the promotion every key is found', async () => {
    const r = routers.cluster({ ...topo.routerOptions(), commandTimeoutMs: COMMAND_TIMEOUT_MS });
    router = r;
    const tag = `scan-pause-${Date.now()}`;
    const keys = await seed(r, tag, 200);
    await until(
      async () => (await replicaKeyCount(tag)) === keys.length,
      10_000,
      'replicas to have the keys',
    );
    const old = await topo.pauseMaster(FAILED);
    paused = true;
    const t0 = performance.now();
    await expect(r.eachMaster((c) => scanNode(c, tag, 100))).rejects.toBeInstanceOf(CommandTimeoutError);
    expect(performance.now() - t0).toBeLessThan(NO_HANG_BUDGET_MS);
    await topo.waitForNewMaster(FAILED, 30_000, old);
    const found = new Set((await r.eachMaster((c) => scanNode(c, tag, 100))).flat());
    expect([...keys].filter((k) => !found.has(k))).toEqual([]);
  });

  it('eachMaster: CLUSTER FAILOVER in the middle of a scan loses no key (the moved shard is scanned again)', async () => {
    const r = routers.cluster({ ...topo.routerOptions(), commandTimeoutMs: COMMAND_TIMEOUT_MS });
    router = r;
    const tag = `scan-switch-${Date.now()}`;
    const keys = await seed(r, tag, 300);
    await until(
      async () => (await replicaKeyCount(tag)) === keys.length,
      10_000,
      'replicas to have the keys',
    );
    const oldMaster = (await topo.shards())[SCAN_SHARD]!.master;
    // The scan of that shard's master stops after its first batch until the failover is done,
    // so the switch lands in the middle of that scan every time.
    let failedOver!: () => void;
    const switched = new Promise<void>((resolve) => {
      failedOver = resolve;
    });
    let started!: () => void;
    const midScan = new Promise<void>((resolve) => {
      started = resolve;
    });
    let rounds = 0;
    const scan = r.eachMaster(async (c, node) => {
      rounds++;
      if (node.port !== oldMaster.port) return scanNode(c, tag, 100);
      const found: string[] = [];
      let cursor = '0';
      let first = true;
      do {
        const [next, batch] = await c.scan(cursor, 'MATCH', `${tag}:*`, 'COUNT', 100);
        found.push(...batch);
        cursor = next;
        if (first) {
          first = false;
          started();
          await switched;
        }
      } while (cursor !== '0');
      return found;
    });
    await midScan;
    await topo.failover(SCAN_SHARD);
    failedOver();
    const found = new Set((await scan).flat());
    expect([...keys].filter((k) => !found.has(k))).toEqual([]);
    expect(rounds).toBeGreaterThan(3);
  });

  /** Keys of `tag` held by the replicas (to know replication has caught up before a failover). */
  async function replicaKeyCount(tag: string): Promise<number> {
    let n = 0;
    for (const s of await topo.shards()) {
      for (const replica of s.replicas) {
        const c = nodeClient(replica, topo.auth?.password);
        try {
          n += (await scanNode(c, tag, 1000)).length;
        } finally {
          c.disconnect();
        }
      }
    }
    return n;
  }

  it('CLUSTER FAILOVER on the replica: writes move to the new master, nothing lost', async () => {
    const { load: l, failovers } = await startLoad('manual');
    const next = await topo.failover(FAILED);
    const tPromoted = performance.now();
    const { lostOnFailed } = await finish('CLUSTER FAILOVER', l, tPromoted, next, failovers);
    expect(lostOnFailed).toEqual([]);
  });
});
