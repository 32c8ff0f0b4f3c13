/**
 * The nemesis: injects one planned fault (chaos/generator.ts) into the real topology built by
 * src/topology, holds it, heals it, and waits until the topology is healthy again before the
 * next one. Every fault is recorded with when it was injected and when it was healed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { ClusterTopology } from '../src/topology/cluster.js';
import type { ProcessTopology } from '../src/topology/process-topology.js';
import type { NodeAddress, Standalone } from '../src/topology/types.js';
import type { PlannedFault } from './generator.js';
import { type FaultEvent, monotonicMs } from './history.js';

/** How long the nemesis waits for the topology to be healthy after healing a fault. */
const HEAL_TIMEOUT_MS = 45_000;

export type ChaosTopology =
  | { kind: 'standalone'; server: Standalone }
  | { kind: 'sentinel'; topo: ProcessTopology }
  | { kind: 'cluster'; topo: ClusterTopology };

const key = (a: NodeAddress): string => `${a.host}:${a.port}`;

function signal(pid: number | null | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/** Runs `fn` on a short-lived connection of our own to a node. */
async function withNode<T>(
  address: NodeAddress,
  fn: (c: Redis) => Promise<T>,
  password?: string,
  commandTimeout = 1000,
): Promise<T> {
  const c = new Redis({
    ...address,
    ...(password === undefined ? {} : { password }),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

/** `CLIENT KILL TYPE <type>` on a node, from a short-lived connection of our own. */
async function clientKill(address: NodeAddress, type: 'normal' | 'pubsub' | 'replica'): Promise<void> {
  await withNode(address, (c) => c.call('CLIENT', 'KILL', 'TYPE', type, 'SKIPME', 'yes'));
}

/** A master's resync counters and how many replicas are online (`INFO stats`, `INFO replication`). */
async function syncCounters(master: NodeAddress): Promise<{ full: number; partial: number; online: number }> {
  return withNode(master, async (c) => {
    const text = `${await c.info('stats')}\n${await c.info('replication')}`;
    const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const online = text.split('\n').filter((l) => /^slave\d+:.*state=online/.test(l)).length;
    return { full: field('sync_full'), partial: field('sync_partial_ok'), online };
  });
}

/** A key of no campaign (no cache prefix), big enough to overrun a 16 KiB replication backlog. */
const FILLER_KEY = '__chaos_nemesis_backlog_filler__';
const FILLER_BYTES = 256 * 1024;
/** The smallest backlog Redis accepts. */
const MIN_BACKLOG_BYTES = 16 * 1024;

/**
 * Moves `slot` from the master `from` to the master `to` (IMPORTING, MIGRATING, `MIGRATE` one key
 * at a time, `SETSLOT NODE` on every master), keeping it split for about `splitMs`; returns the
 * keys `MIGRATE` moved and the keys the target holds in the slot at the end. As test/integration/cluster-helpers.ts' `migrateSlot`, which chaos/ cannot import.
 */
async function migrateSlot(
  topo: ClusterTopology,
  slot: number,
  from: NodeAddress,
  to: NodeAddress,
  splitMs: number,
): Promise<{ moved: number; total: number }> {
  const password = topo.auth?.password;
  const auth = password === undefined ? [] : ['AUTH', password];
  const masters = (await topo.shards()).map((s) => s.master);
  const id = (a: NodeAddress) => withNode(a, async (c) => String(await c.call('CLUSTER', 'MYID')), password);
  const [fromId, toId] = [await id(from), await id(to)];
  await withNode(to, (c) => c.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId), password);
  await withNode(from, (c) => c.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId), password);
  // Half the time split with every key still on the source, then the keys one by one.
  await sleep(splitMs / 2);
  const moved = await withNode(
    from,
    async (c) => {
      let n = 0;
      for (let step = 0; step < 10_000; step++) {
        const keys = (await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '1')) as string[];
        if (keys.length === 0) break;
        await c.call('MIGRATE', to.host, String(to.port), '', '0', '5000', ...auth, 'KEYS', ...keys);
        n += keys.length;
        await sleep(Math.min(100, splitMs / 4));
      }
      return n;
    },
    password,
    6000,
  );
  await sleep(splitMs / 2);
  // Keys the clients wrote meanwhile went to the target already (a missing key is ASKed there).
  const total = Number(
    await withNode(to, (c) => c.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)), password),
  );
  for (const node of [to, from, ...masters.filter((m) => m.port !== from.port && m.port !== to.port)]) {
    await withNode(node, (c) => c.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', toId), password);
  }
  return { moved, total };
}

/** Does the node serve `slot` as master, by its own `CLUSTER NODES` line? */
async function ownsSlot(node: NodeAddress, slot: number, password?: string): Promise<boolean> {
  const nodes = String(await withNode(node, (c) => c.call('CLUSTER', 'NODES'), password));
  const myself = nodes.split('\n').find((l) => l.split(' ')[2]?.includes('myself'));
  return (myself ?? '')
    .trim()
    .split(' ')
    .slice(8)
    .some((range) => {
      if (range.startsWith('[')) return false; // an importing / migrating marker
      const [a, b = a] = range.split('-').map(Number);
      return slot >= a! && slot <= b!;
    });
}

export class Nemesis {
  /** Pids we SIGSTOPped and have not resumed yet (resumed by heal / healAll whatever happens). */
  private readonly stopped = new Set<number>();
  /** Data nodes we killed and have not restarted yet. */
  private readonly killed: NodeAddress[] = [];
  /** A master whose replication backlog we shrank (replica-full-resync), with its size before. */
  private backlog: { address: NodeAddress; size: string } | undefined;
  /** A slot we migrated (slot-migration), to move back on heal. */
  private migrated: { slot: number; from: NodeAddress; to: NodeAddress } | undefined;

  constructor(
    private readonly t: ChaosTopology,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** Runs one fault from injection to healthy topology; returns its record. */
  async run(fault: PlannedFault): Promise<FaultEvent> {
    const start = monotonicMs();
    let target = '';
    let note: string | undefined;
    try {
      target = await this.inject(fault);
    } catch (error) {
      note = `not injected: ${error instanceof Error ? error.message : String(error)}`;
    }
    try {
      await this.heal(fault);
    } catch (error) {
      note = `${note ? `${note}; ` : ''}heal: ${error instanceof Error ? error.message : String(error)}`;
    }
    const end = monotonicMs();
    try {
      await this.healthy();
    } catch (error) {
      note = `${note ? `${note}; ` : ''}not healthy: ${error instanceof Error ? error.message : String(error)}`;
    }
    this.log(`fault ${fault.kind} ${target}${note ? ` (${note})` : ''}`);
    return { type: 'fault', kind: fault.kind, target, start, end, ...(note ? { note } : {}) };
  }

  private pause(pid: number | null | undefined): void {
    if (!pid) throw new Error('no such process');
    signal(pid, 'SIGSTOP');
    this.stopped.add(pid);
  }

  private async inject(f: PlannedFault): Promise<string> {
    const t = this.t;
    if (t.kind === 'standalone') {
      const address = { host: t.server.host, port: t.server.port };
      if (f.kind === 'pause-master') {
        await t.server.pause();
        await sleep(f.holdMs);
        return key(address);
      }
      await clientKill(address, f.target % 2 === 0 ? 'normal' : 'pubsub');
      return `${key(address)} ${f.target % 2 === 0 ? 'normal' : 'pubsub'}`;
    }
    if (t.kind === 'cluster') {
      const shard = f.target % t.topo.shardCount;
      switch (f.kind) {
        case 'pause-shard-master': {
          const a = await t.topo.pauseMaster(shard);
          await sleep(f.holdMs);
          return `shard ${shard} ${key(a)}`;
        }
        case 'cluster-failover':
        case 'cluster-failover-takeover': {
          const a = await t.topo.failover(shard, {
            ...(f.kind === 'cluster-failover-takeover' ? { mode: 'TAKEOVER' as const } : {}),
            timeoutMs: 20_000,
          });
          return `shard ${shard} -> ${key(a)}`;
        }
        case 'kill-master': {
          const a = await t.topo.killMaster(shard);
          this.killed.push(a);
          // The shard's replica takes over before the node comes back (it restarts empty).
          await t.topo.waitForNewMaster(shard, 15_000, a).catch(() => {});
          await sleep(f.holdMs);
          return `shard ${shard} ${key(a)}`;
        }
        case 'client-kill': {
          const a = await t.topo.currentMaster(shard);
          await clientKill(a, f.target % 2 === 0 ? 'normal' : 'pubsub');
          return `shard ${shard} ${key(a)}`;
        }
        case 'slot-migration':
          return this.migrateUnderLoad(t.topo, shard, f);
        default:
          throw new Error(`${f.kind} is not a cluster fault`);
      }
    }
    const topo = t.topo;
    const master = await topo.currentMaster();
    const procs = topo.state().processes;
    const replicas = procs.filter((p) => p.kind === 'data' && p.port !== master.port && p.pid);
    const sentinels = procs.filter((p) => p.kind === 'sentinel' && p.pid);
    switch (f.kind) {
      case 'pause-master': {
        await topo.pauseMaster();
        await sleep(f.holdMs);
        return key(master);
      }
      case 'pause-replica':
      case 'pause-sentinel': {
        const list = f.kind === 'pause-replica' ? replicas : sentinels;
        const p = list[f.target % list.length];
        if (!p) throw new Error(`no ${f.kind === 'pause-replica' ? 'replica' : 'sentinel'} running`);
        this.pause(p.pid);
        await sleep(f.holdMs);
        return `${p.name} ${p.port}`;
      }
      case 'kill-master': {
        const a = await topo.killMaster();
        this.killed.push(a);
        // Sentinel promotes a replica before the node comes back (it restarts empty, as a replica).
        await topo.waitForNewMaster(15_000, a).catch(() => {});
        await sleep(f.holdMs);
        return key(a);
      }
      case 'kill-replica': {
        const p = replicas[f.target % Math.max(1, replicas.length)];
        if (!p) throw new Error('no replica running');
        signal(p.pid, 'SIGKILL');
        this.killed.push({ host: '127.0.0.1', port: p.port });
        await sleep(f.holdMs);
        return `${p.name} ${p.port}`;
      }
      case 'sentinel-failover': {
        await topo.failover();
        await topo.waitForNewMaster(15_000, master).catch(() => {});
        return `${key(master)} -> ${key(await topo.currentMaster())}`;
      }
      case 'client-kill': {
        // Data and invalidation connections (normal), fill channel and invalidations (pubsub), or a sentinel's.
        const which = f.target % 3;
        if (which === 2) {
          const s = topo.sentinels[f.target % topo.sentinels.length]!;
          await clientKill(s, 'normal');
          await clientKill(s, 'pubsub');
          return `sentinel ${key(s)}`;
        }
        const type = which === 0 ? 'normal' : 'pubsub';
        await clientKill(master, type);
        return `${key(master)} ${type}`;
      }
      case 'replica-resync': {
        // Every replica's link dropped at once: they reconnect and continue from the backlog.
        const before = await syncCounters(master);
        await clientKill(master, 'replica');
        const after = await this.replicasBack(master, before.online, f.holdMs);
        return `${key(master)} all replica links: ${after.partial - before.partial} partial, ${after.full - before.full} full resync(s)`;
      }
      case 'replica-full-resync':
        return this.fullResync(master, f);
      default:
        throw new Error(`${f.kind} is not a Sentinel fault`);
    }
  }

  /**
   * Waits (at least `holdMs`, at most 15 s more) until `online` replicas are online again, and
   * returns the master's resync counters then.
   */
  private async replicasBack(
    master: NodeAddress,
    online: number,
    holdMs: number,
  ): Promise<{ full: number; partial: number; online: number }> {
    const started = Date.now();
    for (;;) {
      const now = await syncCounters(master).catch(() => undefined);
      const elapsed = Date.now() - started;
      if (now && elapsed >= holdMs && now.online >= online) return now;
      if (elapsed > holdMs + 15_000) {
        if (now) return now;
        throw new Error(`the master ${key(master)} did not answer INFO for 15 s`);
      }
      await sleep(100);
    }
  }

  /**
   * A full resync of one replica, the way it happens in production: the master's backlog no
   * longer holds what the replica missed. Shrink the backlog to Redis' minimum (16 KiB), kill
   * one replica's link and, in the same pipeline (before the replica's once-a-second reconnect),
   * write 256 KiB to a key of no campaign: the replica's PSYNC offset has left the backlog, so
   * it must load a whole new copy (`sync_full` +1), with replica reads running. The backlog's
   * size is restored on heal.
   */
  private async fullResync(master: NodeAddress, f: PlannedFault): Promise<string> {
    const before = await syncCounters(master);
    const ids = await withNode(master, async (c) => {
      const list = String(await c.call('CLIENT', 'LIST', 'TYPE', 'replica'));
      return [...list.matchAll(/^id=(\d+) /gm)].map((m) => m[1]!);
    });
    const id = ids[f.target % Math.max(1, ids.length)];
    if (!id) throw new Error('no replica connected to the master');
    await withNode(
      master,
      async (c) => {
        const size = ((await c.call('CONFIG', 'GET', 'repl-backlog-size')) as string[])[1] ?? '1048576';
        this.backlog = { address: master, size };
        await c
          .pipeline()
          .call('CONFIG', 'SET', 'repl-backlog-size', String(MIN_BACKLOG_BYTES))
          .call('CLIENT', 'KILL', 'ID', id)
          .set(FILLER_KEY, 'x'.repeat(FILLER_BYTES))
          .exec();
      },
      undefined,
      3000,
    );
    const after = await this.replicasBack(master, before.online, f.holdMs);
    const full = after.full - before.full;
    return `${key(master)} replica link ${id}: ${full} full, ${after.partial - before.partial} partial resync(s)${full === 0 ? ' (no full resync happened)' : ''}`;
  }

  /**
   * Moves the slot of one campaign key (a string or getOrSet key, never a shard's first slot,
   * by which src/topology names shards) from `shard`'s master to the next shard's the way
   * `redis-cli --cluster reshard` does: IMPORTING on the target, MIGRATING on the source, keys
   * moved one per `MIGRATE` while the slot stays split for `holdMs`, then `SETSLOT NODE` on every
   * master. Heal moves it back the same way.
   */
  private async migrateUnderLoad(topo: ClusterTopology, shard: number, f: PlannedFault): Promise<string> {
    const shards = await topo.shards();
    const from = shards[shard]!.master;
    const to = shards[(shard + 1) % shards.length]!.master;
    const password = topo.auth?.password;
    const firstSlots = new Set(shards.map((s) => topo.firstSlot(s.shard)));
    const slot = await withNode(
      from,
      async (c) => {
        const slots: number[] = [];
        let cursor = '0';
        do {
          const [next, keys] = (await c.call('SCAN', cursor, 'COUNT', '1000')) as [string, string[]];
          cursor = next;
          for (const k of keys) {
            if (!/:[kg]:/.test(k) || k.includes('__')) continue;
            const s = Number(await c.call('CLUSTER', 'KEYSLOT', k));
            if (!firstSlots.has(s)) slots.push(s);
          }
        } while (cursor !== '0');
        return slots.sort((a, b) => a - b)[f.target % Math.max(1, slots.length)];
      },
      password,
    );
    if (slot === undefined) throw new Error(`no campaign key on shard ${shard} to migrate`);
    this.migrated = { slot, from, to };
    const { moved, total } = await migrateSlot(topo, slot, from, to, f.holdMs);
    return `slot ${slot} shard ${shard} ${key(from)} -> ${key(to)} (${moved} key(s) by MIGRATE, ${total} on the target at the end), and back on heal`;
  }

  /** Undoes what `inject` left: resumes what is paused, restarts what was killed. */
  private async heal(_f?: PlannedFault): Promise<void> {
    const t = this.t;
    for (const pid of this.stopped) signal(pid, 'SIGCONT');
    this.stopped.clear();
    if (t.kind === 'standalone') {
      await t.server.resume();
      return;
    }
    await t.topo.resumeMaster();
    while (this.killed.length > 0) {
      const a = this.killed.pop()!;
      await t.topo.restartNode(a);
    }
    if (this.backlog) {
      const { address, size } = this.backlog;
      this.backlog = undefined;
      await withNode(address, (c) => c.call('CONFIG', 'SET', 'repl-backlog-size', size));
    }
    if (this.migrated && t.kind === 'cluster') {
      const { slot, from, to } = this.migrated;
      this.migrated = undefined;
      const password = t.topo.auth?.password;
      // Never given away (the injection failed before SETSLOT NODE): bring back the keys moved
      // so far and unmark it. Else move it back.
      if (await ownsSlot(from, slot, password)) {
        const auth = password === undefined ? [] : ['AUTH', password];
        await withNode(
          to,
          async (c) => {
            for (let step = 0; step < 10_000; step++) {
              const keys = (await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '10')) as string[];
              if (keys.length === 0) break;
              await c.call(
                'MIGRATE',
                from.host,
                String(from.port),
                '',
                '0',
                '5000',
                ...auth,
                'KEYS',
                ...keys,
              );
            }
          },
          password,
          6000,
        );
        for (const node of [from, to]) {
          await withNode(node, (c) => c.call('CLUSTER', 'SETSLOT', String(slot), 'STABLE'), password);
        }
      } else await migrateSlot(t.topo, slot, to, from, 0);
    }
  }

  private async healthy(): Promise<void> {
    if (this.t.kind === 'standalone') return;
    await this.t.topo.waitForHealthy(HEAL_TIMEOUT_MS);
  }

  /** Heals everything (also after an error) and waits for a healthy topology. */
  async healAll(): Promise<void> {
    await this.heal();
    await this.healthy();
  }
}
