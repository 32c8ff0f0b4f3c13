/**
 * Shared by the cluster router tests: keys placed on a chosen shard, a steady write load
 * across every shard that records each acknowledgement and failure with its timing, and
 * checks against the cluster's own nodes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { slotOf } from '../../src/routers/cluster/slot-map.js';
import type { ClusterTopology } from '../../src/topology/index.js';
import type { NodeAddress } from '../../src/topology/types.js';

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

export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The master serving `slot`, as `asked` sees it (CLUSTER SLOTS). */
async function ownerOf(asked: Redis, slot: number): Promise<NodeAddress> {
  const ranges = (await asked.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([first, last]) => slot >= first && slot <= last);
  if (range === undefined) throw new Error(`slot ${slot} has no master`);
  return { host: range[2][0], port: range[2][1] };
}

/**
 * Move `slot` to the master at `to` the way `redis-cli --cluster reshard` does: IMPORTING on the
 * target, MIGRATING on the source, MIGRATE of every key it holds, then SETSLOT NODE on every
 * master. Returns the master it moved from.
 */
export async function migrateSlot(
  topo: ClusterTopology,
  slot: number,
  to: NodeAddress,
): Promise<NodeAddress> {
  const password = topo.auth?.password;
  const target = nodeClient(to, password);
  const masters = (await topo.shards()).map((s) => nodeClient(s.master, password));
  let source: Redis | undefined;
  try {
    const from = await ownerOf(target, slot);
    if (from.host === to.host && from.port === to.port) return from;
    source = nodeClient(from, password);
    const targetId = String(await target.call('CLUSTER', 'MYID'));
    const sourceId = String(await source.call('CLUSTER', 'MYID'));
    await target.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId);
    await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId);
    for (;;) {
      const keys = (await source.call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      if (keys.length === 0) break;
      const auth = password === undefined ? [] : ['AUTH', password];
      await source.call('MIGRATE', to.host, to.port, '', 0, 5000, ...auth, 'KEYS', ...keys);
    }
    await target.call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
    await source.call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
    for (const master of masters)
      await master.call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId).catch(() => {});
    return from;
  } finally {
    target.disconnect();
    source?.disconnect();
    for (const master of masters) master.disconnect();
  }
}
