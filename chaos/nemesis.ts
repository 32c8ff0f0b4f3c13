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

/** `CLIENT KILL TYPE <type>` on a node, from a short-lived connection of our own. */
async function clientKill(address: NodeAddress, type: 'normal' | 'pubsub'): Promise<void> {
  const c = new Redis({
    ...address,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: 1000,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.call('CLIENT', 'KILL', 'TYPE', type, 'SKIPME', 'yes');
  } finally {
    c.disconnect();
  }
}

export class Nemesis {
  /** Pids we SIGSTOPped and have not resumed yet (resumed by heal / healAll whatever happens). */
  private readonly stopped = new Set<number>();
  /** Data nodes we killed and have not restarted yet. */
  private readonly killed: NodeAddress[] = [];

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
      default:
        throw new Error(`${f.kind} is not a Sentinel fault`);
    }
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
