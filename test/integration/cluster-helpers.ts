/**
 * Shared by the cluster router tests: keys placed on a chosen shard, a steady write load
 * across every shard that records each acknowledgement and failure with its timing, and
 * checks against the cluster's own nodes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { slotOf } from '../../src/routers/cluster/slot-map.js';
import type { ClusterTopology } from '../../src/topology/index.js';
import { freePort, isPortFree } from '../../src/topology/ports.js';
import type { NodeAddress } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';

export const COMMAND_TIMEOUT_MS = 500;
/** "No hang" budget for one operation: a command timeout plus scheduling slack on a busy 2-core machine. */
export const NO_HANG_BUDGET_MS = COMMAND_TIMEOUT_MS + 1500;

/** `count` distinct keys `${prefix}:<n>` whose slots belong to `shard`. */
export function keysInShard(topo: ClusterTopology, shard: number, prefix: string, count = 1): string[] {
  const keys: string[] = [];
  for (let n = 0; keys.length < count; n++) {
    const key = `${prefix}:${n}`;
    if (topo.shardOfSlot(slotOf(key)) === shard) keys.push(key);
  }
  return keys;
}

export interface ClusterAck {
  key: string;
  shard: number;
  at: number;
}

export interface TimedFailure {
  shard: number;
  at: number;
  ms: number;
  error: unknown;
}

/**
 * `writersPerShard` writers per shard, each SETting unique keys (`<tag>:<shard>:<writer>:<n>`
 * placed on its shard) through `write`, one at a time, a short pause after a failure.
 */
export class ClusterWriteLoad {
  readonly acks: ClusterAck[] = [];
  readonly failures: TimedFailure[] = [];
  readonly slow: { key: string; ms: number }[] = [];
  #stopped = false;
  readonly #done: Promise<unknown>;

  constructor(
    private readonly topo: ClusterTopology,
    private readonly write: (key: string, value: string) => Promise<unknown>,
    private readonly tag: string,
    writersPerShard = 3,
  ) {
    const writers: Promise<void>[] = [];
    for (let shard = 0; shard < topo.shardCount; shard++) {
      for (let w = 0; w < writersPerShard; w++) writers.push(this.#writer(shard, w));
    }
    this.#done = Promise.all(writers);
  }

  async #writer(shard: number, w: number): Promise<void> {
    let n = 0;
    while (!this.#stopped) {
      const [key] = keysInShard(this.topo, shard, `${this.tag}:${shard}:${w}:${n++}`);
      const k = key as string;
      const t0 = performance.now();
      try {
        await this.write(k, 'v');
        this.acks.push({ key: k, shard, at: performance.now() });
      } catch (error) {
        const t1 = performance.now();
        this.failures.push({ shard, at: t1, ms: t1 - t0, error });
        await sleep(5);
      }
      const ms = performance.now() - t0;
      if (ms > NO_HANG_BUDGET_MS) this.slow.push({ key: k, ms });
    }
  }

  ackedAfter(t: number, shard?: number): ClusterAck[] {
    return this.acks.filter((a) => a.at >= t && (shard === undefined || a.shard === shard));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

/** Acknowledged keys that no longer exist (read through a plain ioredis Cluster, from masters). */
export async function missingKeys(topo: ClusterTopology, keys: string[]): Promise<string[]> {
  const { Cluster } = await import('ioredis');
  const opts = topo.routerOptions();
  const c = new Cluster(opts.nodes, {
    redisOptions: { password: opts.password, username: opts.username },
  });
  try {
    const missing: string[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500);
      const exists = await Promise.all(batch.map((k) => c.exists(k)));
      batch.forEach((k, j) => {
        if (exists[j] === 0) missing.push(k);
      });
    }
    return missing;
  } finally {
    c.disconnect();
  }
}

/** A direct connection to one node (for checks that must not go through the router). */
export function nodeClient(address: NodeAddress, password?: string): Redis {
  const c = new Redis({ host: address.host, port: address.port, password, lazyConnect: true });
  c.on('error', () => {});
  return c;
}

/** A slot held between two masters (see `beginMigration`). */
export interface SlotMigration {
  /** MIGRATE these keys of the slot (all of them when omitted, `batch` per MIGRATE, `pauseMs` between). */
  move(keys?: readonly string[], options?: { batch?: number; pauseMs?: number }): Promise<number>;
  /** Move what is left, then give the slot to the target (`SETSLOT NODE` on every master). */
  finish(options?: { batch?: number; pauseMs?: number }): Promise<number>;
  /** Give up: the slot stays with the source (`SETSLOT STABLE` on both); keys already moved stay on the target. */
  abort(): Promise<void>;
}

/**
 * Start moving `slot` from the master `from` to the master `to` the way `redis-cli --cluster
 * reshard` does (IMPORTING on `to`, then MIGRATING on `from`) and leave it split: its keys stay
 * on `from` until `move()` migrates them. Clients meet the slot exactly as during a reshard.
 */
export async function beginMigration(
  topo: ClusterTopology,
  slot: number,
  from: NodeAddress,
  to: NodeAddress,
): Promise<SlotMigration> {
  const password = topo.auth?.password;
  const source = nodeClient(from, password);
  const target = nodeClient(to, password);
  const others = (await topo.shards())
    .map((s) => s.master)
    .filter((m) => m.port !== from.port && m.port !== to.port)
    .map((m) => nodeClient(m, password));
  const disconnect = () => {
    for (const node of [source, target, ...others]) node.disconnect();
  };
  const auth = password === undefined ? [] : ['AUTH', password];
  const migrate = (keys: readonly string[]) =>
    source.call('MIGRATE', to.host, String(to.port), '', '0', '5000', ...auth, 'KEYS', ...keys);
  try {
    const targetId = String(await target.call('CLUSTER', 'MYID'));
    await target.call(
      'CLUSTER',
      'SETSLOT',
      String(slot),
      'IMPORTING',
      String(await source.call('CLUSTER', 'MYID')),
    );
    await source.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId);
    const move = async (keys?: readonly string[], { batch = 10, pauseMs = 10 } = {}) => {
      let moved = 0;
      for (let step = 0; ; step++) {
        if (step > 10_000)
          throw new Error(`slot ${slot} still has keys on ${from.port} after 10,000 MIGRATEs`);
        const next =
          keys === undefined
            ? ((await source.call('CLUSTER', 'GETKEYSINSLOT', String(slot), String(batch))) as string[])
            : keys.slice(moved, moved + batch);
        if (next.length === 0) return moved;
        await migrate(next);
        moved += next.length;
        await sleep(pauseMs);
      }
    };
    return {
      move,
      async finish(options) {
        try {
          const moved = await move(undefined, options);
          for (const node of [target, source, ...others]) {
            await node.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
          }
          return moved;
        } finally {
          disconnect();
        }
      },
      async abort() {
        try {
          for (const node of [source, target]) await node.call('CLUSTER', 'SETSLOT', String(slot), 'STABLE');
        } finally {
          disconnect();
        }
      },
    };
  } catch (err) {
    disconnect();
    throw err;
  }
}

/**
 * Move `slot` from the master `from` to the master `to` the way `redis-cli --cluster reshard`
 * does: IMPORTING on `to`, MIGRATING on `from`, then `MIGRATE ... KEYS` of `batch` keys at a
 * time (`pauseMs` between batches, so clients meet the slot split between two nodes), then
 * `SETSLOT NODE` on `to`, `from` and every other master. Returns the number of keys moved.
 */
export async function migrateSlot(
  topo: ClusterTopology,
  slot: number,
  from: NodeAddress,
  to: NodeAddress,
  options: { batch?: number; pauseMs?: number } = {},
): Promise<number> {
  return (await beginMigration(topo, slot, from, to)).finish(options);
}

/** A master added to the cluster by `addEmptyMaster`, serving no slot. */
export interface EmptyMaster {
  address: NodeAddress;
  /** CLUSTER FORGET it on every other node, stop its process, remove its files. */
  remove(): Promise<void>;
}

/**
 * Start one more cluster node (a redis-server of its own, `cluster-enabled yes`) and join it as a
 * master that serves no slot yet — what `redis-cli --cluster add-node` does before a reshard
 * gives it slots. Resolves once every master knows it. No TLS, no auth.
 */
export async function addEmptyMaster(topo: ClusterTopology): Promise<EmptyMaster> {
  let port = 0;
  for (let i = 0; i < 50 && port === 0; i++) {
    const candidate = await freePort();
    if (await isPortFree(candidate + 10_000)) port = candidate;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-cache-extra-node-'));
  const server = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  const address = { host: '127.0.0.1', port };
  const node = nodeClient(address);
  const masters = (await topo.shards()).map((s) => nodeClient(s.master));
  const remove = async () => {
    const id = String(await node.call('CLUSTER', 'MYID').catch(() => ''));
    const others = [
      ...masters,
      ...(await topo.shards()).flatMap((s) => s.replicas.map((r) => nodeClient(r))),
    ];
    if (id !== '')
      await Promise.all(others.map((o) => o.call('CLUSTER', 'FORGET', id).catch(() => undefined)));
    for (const client of [node, ...others]) client.disconnect();
    server.kill('SIGKILL');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(
      async () => (await node.ping().catch(() => '')) === 'PONG',
      10_000,
      `the extra node on ${port}`,
    );
    await masters[0]?.call('CLUSTER', 'MEET', '127.0.0.1', String(port));
    const id = String(await node.call('CLUSTER', 'MYID'));
    await until(
      async () => {
        for (const master of masters) {
          const nodes = String(await master.call('CLUSTER', 'NODES'));
          if (!nodes.split('\n').some((line) => line.startsWith(id) && line.includes(' connected')))
            return false;
        }
        // It knows every slot's master (else it answers CLUSTERDOWN, MIGRATE to it included).
        return String(await node.call('CLUSTER', 'INFO')).includes('cluster_state:ok');
      },
      20_000,
      'the extra node and every master to know each other',
    );
    return { address, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
