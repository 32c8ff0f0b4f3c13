import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { addressKey, sameAddress } from '../core/address.js';
import { type Schema, validateOptions } from '../core/validate.js';
import type { NodeAddress } from '../routers/types.js';
import { guardProcesses, type ProcessGuard } from './cleanup.js';
import { type ClusterNodeEntry, isFailing, ownsSlot, parseClusterNodes } from './cluster-nodes.js';
import { type Credentials, controlClient, parseInfo, withConnection } from './control.js';
import { INSTALL_HINT, TopologyTimeoutError, TopologyUnavailableError } from './errors.js';
import { freePort, isPortFree } from './ports.js';
import type { ProcessTopologyState } from './process-topology.js';
import { findExecutable, redisServerVersion } from './redis-binary.js';
import { clusterNodeConf } from './redis-conf.js';
import { PortInUseError, RedisProcess } from './redis-process.js';

const execFileAsync = promisify(execFile);

/** Redis Cluster's bus listens on the data port + 10000. */
const BUS_PORT_OFFSET = 10_000;
const PORT_ATTEMPTS = 5;
/** How long one CLUSTER FAILOVER may take before it is asked again (Redis gives up after 5 s). */
const MANUAL_FAILOVER_WAIT_MS = 6000;
/** Control queries: short, so a paused node reads as "not answering" quickly. */
const CONTROL_TIMEOUT_MS = 1000;

export interface ClusterTopologyOptions {
  /** Number of masters (hash-slot ranges). At least 3, as `redis-cli --cluster create` requires. Default 3. */
  shards?: number;
  /** Replicas of every master. Default 1. */
  replicasPerShard?: number;
  /** `cluster-node-timeout`: how long a master may not answer before its replica takes over. Default 1000. */
  nodeTimeoutMs?: number;
  /** `requirepass`/`masterauth` on every node (and an ACL user when `username` is set). */
  auth?: { password: string; username?: string };
  /** Default: `redis-server` from PATH. */
  redisServerPath?: string;
  /** Default: `redis-cli` next to redis-server, else from PATH. */
  redisCliPath?: string;
  /** Processes outlive us (CLI `--detach`): no exit hooks, no watchdog. */
  detached?: boolean;
  /** How long start-up may take until the cluster is healthy. Default 60000. */
  healthyTimeoutMs?: number;
  log?: (line: string) => void;
}

/** Options ready for `routers.cluster({...})`. */
export interface ClusterTopologyRouterOptions {
  nodes: NodeAddress[];
  username?: string;
  password?: string;
}

/** One shard as the cluster currently sees it. */
export interface ClusterShardView {
  shard: number;
  /** Inclusive slot ranges the shard was created with (they do not move: no resharding here). */
  slots: [number, number][];
  master: NodeAddress;
  replicas: NodeAddress[];
}

interface NodeView {
  node: NodeAddress;
  entries: ClusterNodeEntry[];
  myself: ClusterNodeEntry;
}

/**
 * A Redis Cluster of local redis-server processes on 127.0.0.1, all files in one temp dir.
 *
 * Shards are numbered by slot range (shard 0 holds slot 0) and keep their number through
 * failovers: `pauseMaster(1)` pauses whichever node serves shard 1's slots right now.
 */
export class ClusterTopology {
  readonly provider = 'process' as const;
  readonly dir: string;
  /** Every node (masters and replicas) as started. Use `shards()` for who is master now. */
  readonly nodes: NodeAddress[];
  readonly auth?: { password: string; username?: string };
  readonly replicasPerShard: number;
  readonly #procs: RedisProcess[];
  readonly #shardSlots: [number, number][][];
  readonly #creds: Credentials;
  readonly #pausedByUs = new Map<number, RedisProcess>();
  readonly #guard: ProcessGuard;
  #stopping: Promise<void> | undefined;

  constructor(init: {
    dir: string;
    procs: RedisProcess[];
    shardSlots: [number, number][][];
    replicasPerShard: number;
    auth?: { password: string; username?: string };
    guard: ProcessGuard;
  }) {
    this.dir = init.dir;
    this.#procs = init.procs;
    this.nodes = init.procs.map((p) => ({ host: '127.0.0.1', port: p.port }));
    this.#shardSlots = init.shardSlots;
    this.replicasPerShard = init.replicasPerShard;
    if (init.auth) this.auth = init.auth;
    this.#creds = { username: init.auth?.username, password: init.auth?.password };
    this.#guard = init.guard;
  }

  /** Number of shards (masters). */
  get shardCount(): number {
    return this.#shardSlots.length;
  }

  /** The first slot of `shard`: a key in this slot lives on that shard. */
  firstSlot(shard: number): number {
    const ranges = this.#shardSlots[shard];
    if (!ranges?.[0]) throw new RangeError(`no shard ${shard} (this cluster has ${this.shardCount})`);
    return ranges[0][0];
  }

  /** The shard serving `slot`. */
  shardOfSlot(slot: number): number {
    const i = this.#shardSlots.findIndex((ranges) => ranges.some(([a, b]) => slot >= a && slot <= b));
    if (i < 0) throw new RangeError(`slot ${slot} is not served by any shard`);
    return i;
  }

  #proc(address: NodeAddress): RedisProcess {
    const i = this.nodes.findIndex((n) => sameAddress(n, address));
    const proc = this.#procs[i];
    if (!proc) throw new Error(`${addressKey(address)} is not a node of this cluster`);
    return proc;
  }

  /** Nodes that run and are not paused: the ones that can answer. */
  answeringNodes(): NodeAddress[] {
    return this.#procs
      .filter((p) => p.isRunning && !p.paused)
      .map((p) => this.nodes[this.#procs.indexOf(p)]!);
  }

  async #views(nodes = this.answeringNodes()): Promise<NodeView[]> {
    const views = await Promise.all(
      nodes.map(async (node) => {
        try {
          const text = await withConnection(
            node,
            this.#creds,
            (c) => c.call('CLUSTER', 'NODES') as Promise<string>,
            CONTROL_TIMEOUT_MS,
          );
          const entries = parseClusterNodes(String(text));
          const myself = entries.find((e) => e.flags.includes('myself'));
          return myself ? { node, entries, myself } : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    return views.filter((v): v is NodeView => v !== undefined);
  }

  /**
   * The master of `shard` by the nodes' own claims: an answering node that says it is a master
   * serving the shard's slots. Two claimants (a resumed old master not yet told): the higher
   * config epoch wins, as in the cluster itself.
   */
  #masterFromViews(views: NodeView[], shard: number): ClusterNodeEntry | undefined {
    const slot = this.firstSlot(shard);
    const claims = views
      .map((v) => v.myself)
      .filter((me) => me.flags.includes('master') && ownsSlot(me, slot))
      .sort((a, b) => b.configEpoch - a.configEpoch);
    return claims[0];
  }

  async currentMaster(shard: number): Promise<NodeAddress> {
    const master = this.#masterFromViews(await this.#views(), shard);
    if (!master) throw new Error(`no answering node serves shard ${shard} (slot ${this.firstSlot(shard)})`);
    return master.address;
  }

  /** Every shard with its current master and replicas (as the master sees them). */
  async shards(): Promise<ClusterShardView[]> {
    const views = await this.#views();
    return this.#shardSlots.map((slots, shard) => {
      const master = this.#masterFromViews(views, shard);
      if (!master) throw new Error(`no answering node serves shard ${shard}`);
      const view = views.find((v) => v.myself.id === master.id);
      const replicas = (view?.entries ?? [])
        .filter((e) => e.masterId === master.id && e.flags.includes('slave') && !isFailing(e))
        .map((e) => e.address);
      return { shard, slots, master: master.address, replicas };
    });
  }

  /** SIGSTOP the current master of `shard` (like `docker pause`); returns its address. */
  async pauseMaster(shard: number): Promise<NodeAddress> {
    const master = await this.currentMaster(shard);
    const proc = this.#proc(master);
    proc.pause();
    this.#pausedByUs.set(shard, proc);
    return master;
  }

  /** SIGCONT the node `pauseMaster(shard)` paused (every paused node without `shard`). */
  async resumeMaster(shard?: number): Promise<void> {
    for (const [s, proc] of this.#pausedByUs) {
      if (shard !== undefined && s !== shard) continue;
      proc.resume();
      this.#pausedByUs.delete(s);
    }
  }

  /** SIGKILL the current master of `shard`; returns its address. */
  async killMaster(shard: number): Promise<NodeAddress> {
    const master = await this.currentMaster(shard);
    await this.#proc(master).kill();
    return master;
  }

  /** Start a killed node again on the same port and nodes.conf: it rejoins (as a replica once failed over). */
  async restartNode(address: NodeAddress): Promise<void> {
    const proc = this.#proc(address);
    if (proc.isRunning) return;
    await proc.start();
  }

  /**
   * `CLUSTER FAILOVER` on a replica of `shard` (a coordinated switch: the master stops writes,
   * the replica catches up, then takes over). `mode` 'FORCE' / 'TAKEOVER' for a master that
   * cannot answer. Resolves with the new master once every answering node sees it serve the shard.
   */
  async failover(
    shard: number,
    options: { mode?: 'FORCE' | 'TAKEOVER'; timeoutMs?: number } = {},
  ): Promise<NodeAddress> {
    const views = await this.#views();
    const master = this.#masterFromViews(views, shard);
    if (!master) throw new Error(`no answering node serves shard ${shard}`);
    const answering = this.answeringNodes();
    const replica = views
      .flatMap((v) => v.entries)
      .find(
        (e) =>
          e.masterId === master.id &&
          e.flags.includes('slave') &&
          answering.some((a) => sameAddress(a, e.address)),
      );
    if (!replica) throw new Error(`shard ${shard} has no answering replica to fail over to`);
    const args = options.mode ? ['FAILOVER', options.mode] : ['FAILOVER'];
    // A coordinated failover gives up after 5 s (Redis' manual-failover timeout) when the replica
    // cannot catch up in time (a loaded machine): ask again until our own deadline.
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      await withConnection(
        replica.address,
        this.#creds,
        (c) => c.call('CLUSTER', ...args),
        CONTROL_TIMEOUT_MS,
      );
      const left = deadline - Date.now();
      try {
        const next = await this.waitForNewMaster(
          shard,
          Math.min(MANUAL_FAILOVER_WAIT_MS, left),
          master.address,
        );
        await this.#untilAllSee(shard, next, deadline);
        return next;
      } catch (error) {
        if (!(error instanceof TopologyTimeoutError) || left <= MANUAL_FAILOVER_WAIT_MS) throw error;
      }
    }
  }

  /** Waits until every answering node's view names `master` for `shard` (gossip takes a moment). */
  async #untilAllSee(shard: number, master: NodeAddress, deadline: number): Promise<void> {
    const slot = this.firstSlot(shard);
    for (;;) {
      const views = await this.#views();
      const agree = views.every((v) =>
        v.entries.some(
          (e) => e.flags.includes('master') && ownsSlot(e, slot) && sameAddress(e.address, master),
        ),
      );
      if (agree) return;
      if (Date.now() > deadline) {
        throw new TopologyTimeoutError(
          `not every node sees ${addressKey(master)} as master of shard ${shard} yet`,
        );
      }
      await sleep(10);
    }
  }

  /**
   * Resolves with the new master of `shard` as soon as a node other than `previous` claims its
   * slots as master (polled every `pollMs` on persistent connections, so the time of the
   * promotion is known to within a few ms).
   */
  async waitForNewMaster(
    shard: number,
    timeoutMs: number,
    previous?: NodeAddress,
    pollMs = 5,
  ): Promise<NodeAddress> {
    const before = previous ?? (await this.currentMaster(shard));
    const slot = this.firstSlot(shard);
    const candidates = this.answeringNodes().filter((n) => !sameAddress(n, before));
    const clients = new Map<string, Redis>();
    const clientFor = (n: NodeAddress) => {
      let c = clients.get(addressKey(n));
      if (!c) {
        c = controlClient(n, this.#creds, CONTROL_TIMEOUT_MS);
        clients.set(addressKey(n), c);
      }
      return c;
    };
    const deadline = Date.now() + timeoutMs;
    try {
      while (Date.now() < deadline) {
        const claims = await Promise.all(
          candidates.map(async (n) => {
            try {
              const c = clientFor(n);
              if (c.status === 'wait') await c.connect();
              const role = (await c.call('ROLE')) as unknown[];
              if (String(role[0]) !== 'master') return undefined;
              const me = parseClusterNodes(String(await c.call('CLUSTER', 'NODES'))).find((e) =>
                e.flags.includes('myself'),
              );
              return me && ownsSlot(me, slot) ? n : undefined;
            } catch {
              clients.get(addressKey(n))?.disconnect();
              clients.delete(addressKey(n));
              return undefined;
            }
          }),
        );
        const found = claims.find((c) => c !== undefined);
        if (found) return found;
        await sleep(pollMs);
      }
    } finally {
      for (const c of clients.values()) c.disconnect();
    }
    throw new TopologyTimeoutError(
      `no new master for shard ${shard} within ${timeoutMs} ms (was ${addressKey(before)})`,
    );
  }

  /** Null when healthy, else the first reason it is not. */
  async healthProblem(): Promise<string | null> {
    const answering = this.answeringNodes();
    const views = await this.#views(answering);
    for (const node of answering) {
      if (!views.some((v) => sameAddress(v.node, node))) return `${addressKey(node)} does not answer`;
    }
    for (const v of views) {
      const me = addressKey(v.node);
      for (const other of views) {
        const entry = v.entries.find((e) => sameAddress(e.address, other.node));
        const them = addressKey(other.node);
        if (!entry) return `${me} does not know ${them} yet`;
        if (isFailing(entry) || entry.flags.includes('handshake'))
          return `${me} sees ${them} as ${entry.flags.join(',')}`;
        // Every node must agree with each node's own idea of its role (and master): a resumed or
        // restarted old master is a replica only once the others have heard so.
        const role = other.myself.flags.includes('master') ? 'master' : 'slave';
        if (!entry.flags.includes(role) || entry.masterId !== other.myself.masterId) {
          return `${me} does not see ${them} as ${role === 'master' ? 'a master' : `a replica of ${other.myself.masterId}`} yet`;
        }
      }
    }
    for (let shard = 0; shard < this.shardCount; shard++) {
      const master = this.#masterFromViews(views, shard);
      if (!master) return `no answering node serves shard ${shard}`;
      for (const v of views) {
        const seen = v.entries.find((e) => e.flags.includes('master') && ownsSlot(e, this.firstSlot(shard)));
        if (!seen || seen.id !== master.id) {
          return `${addressKey(v.node)} does not see ${addressKey(master.address)} as master of shard ${shard} yet`;
        }
      }
    }
    for (const v of views) {
      const info = await withConnection(
        v.node,
        this.#creds,
        async (c) => parseInfo(String(await c.call('CLUSTER', 'INFO'))),
        CONTROL_TIMEOUT_MS,
      ).catch(() => undefined);
      if (!info) return `${addressKey(v.node)} does not answer CLUSTER INFO`;
      if (info.cluster_state !== 'ok') return `${addressKey(v.node)} cluster_state is ${info.cluster_state}`;
      if (info.cluster_slots_ok !== '16384')
        return `${addressKey(v.node)} has ${info.cluster_slots_ok} of 16384 slots ok`;
      if (v.myself.flags.includes('slave')) {
        const repl = await withConnection(
          v.node,
          this.#creds,
          async (c) => parseInfo(await c.info('replication')),
          CONTROL_TIMEOUT_MS,
        ).catch(() => undefined);
        if (repl?.master_link_status !== 'up')
          return `replica ${addressKey(v.node)} master_link_status is ${repl?.master_link_status ?? 'unknown'}`;
      }
    }
    return null;
  }

  /**
   * Every answering node knows every other, none flagged failing, all agree on each shard's
   * master, `cluster_state:ok` with all 16384 slots ok, and every replica's link is up.
   */
  async waitForHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let problem: string | null = 'not checked';
    while (Date.now() <= deadline) {
      problem = await this.healthProblem();
      if (problem === null) return;
      await sleep(100);
    }
    throw new TopologyTimeoutError(`cluster not healthy after ${timeoutMs} ms: ${problem}`);
  }

  /** Options for `routers.cluster({...})`: every node as a seed, and the credentials. */
  routerOptions(): ClusterTopologyRouterOptions {
    return {
      nodes: [...this.nodes],
      ...(this.auth?.username !== undefined ? { username: this.auth.username } : {}),
      ...(this.auth ? { password: this.auth.password } : {}),
    };
  }

  /** Pids of every running process (tests check they are gone after stop()). */
  pids(): number[] {
    return this.#procs.flatMap((p) => (p.pid === undefined ? [] : [p.pid]));
  }

  /** Pids, ports and files, for the CLI state file (`topology up --cluster --detach`). */
  state(): ProcessTopologyState {
    return {
      provider: 'process',
      dir: this.dir,
      service: 'cluster',
      processes: this.#procs.map((p) => ({
        name: p.name,
        kind: 'data',
        host: '127.0.0.1',
        port: p.port,
        pid: p.pid ?? null,
      })),
      sentinels: [],
      nodes: this.nodes,
      ...(this.auth ? { auth: this.auth } : {}),
      cluster: { shards: this.shardCount, replicasPerShard: this.replicasPerShard },
    };
  }

  /** Stop every node and remove the temp dir. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.all(this.#procs.map((p) => p.stop()));
      this.#pausedByUs.clear();
      rmSync(this.dir, { recursive: true, force: true });
      this.#guard.release();
    })();
    return this.#stopping;
  }
}

const CLUSTER_OPTIONS: Schema = {
  shards: 'positive integer',
  replicasPerShard: 'non-negative integer',
  nodeTimeoutMs: 'positive integer',
  auth: { shape: { password: { anyOf: ['string'], secret: true, required: true }, username: 'string' } },
  redisServerPath: 'non-empty string',
  redisCliPath: 'non-empty string',
  detached: 'boolean',
  healthyTimeoutMs: 'positive integer',
  log: 'function',
};

/** A port whose bus port (port + 10000) is free as well. */
async function freeClusterPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort();
    if (port + BUS_PORT_OFFSET <= 65_535 && (await isPortFree(port + BUS_PORT_OFFSET))) return port;
  }
  throw new Error('no free port pair (port, port + 10000) found on 127.0.0.1');
}

function redisCliFor(serverPath: string, explicit: string | undefined): string {
  const found =
    findExecutable(explicit ?? join(dirname(serverPath), 'redis-cli')) ??
    (explicit === undefined ? findExecutable('redis-cli') : null);
  if (!found) {
    throw new TopologyUnavailableError(
      `startCluster needs redis-cli (it creates the cluster): ${INSTALL_HINT}`,
    );
  }
  return found;
}

/**
 * Start a Redis Cluster of `shards` masters with `replicasPerShard` replicas each, as local
 * redis-server processes (`--cluster-enabled yes`) joined by `redis-cli --cluster create`,
 * and resolve once it is healthy. `stop()` removes everything; so does our process exiting.
 */
export async function startCluster(options: ClusterTopologyOptions = {}): Promise<ClusterTopology> {
  validateOptions('startCluster', options, CLUSTER_OPTIONS);
  const shards = options.shards ?? 3;
  const replicasPerShard = options.replicasPerShard ?? 1;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  const log = options.log ?? (() => {});
  if (!Number.isInteger(shards) || shards < 3) {
    throw new RangeError('shards must be an integer >= 3 (redis-cli --cluster create needs 3 masters)');
  }
  if (!Number.isInteger(replicasPerShard) || replicasPerShard < 0)
    throw new RangeError('replicasPerShard must be an integer >= 0');
  if (!Number.isInteger(nodeTimeoutMs) || nodeTimeoutMs < 100)
    throw new RangeError('nodeTimeoutMs must be an integer >= 100');
  const server = findExecutable(options.redisServerPath ?? 'redis-server');
  if (!server) throw new TopologyUnavailableError(`startCluster needs redis-server on PATH: ${INSTALL_HINT}`);
  const cli = redisCliFor(server, options.redisCliPath);
  const version = redisServerVersion(server);

  const dir = mkdtempSync(join(tmpdir(), 'sentinel-cache-cluster-'));
  const procs = Array.from(
    { length: shards * (1 + replicasPerShard) },
    (_, i) =>
      new RedisProcess({
        name: `node-${i}`,
        kind: 'data',
        dir,
        redisServerPath: server,
        detached: options.detached,
      }),
  );
  const guard = guardProcesses(dir, procs, options.detached);

  try {
    await Promise.all(
      procs.map(async (proc) => {
        for (let attempt = 1; ; attempt++) {
          const port = await freeClusterPort();
          proc.writeConf(
            port,
            clusterNodeConf({
              port,
              dir,
              logfile: proc.logPath,
              version,
              nodeTimeoutMs,
              ...(options.auth ? { auth: options.auth } : {}),
            }),
          );
          try {
            await proc.start();
            log(`${proc.name} listening on 127.0.0.1:${port} (pid ${proc.pid})`);
            return;
          } catch (error) {
            if (!(error instanceof PortInUseError) || attempt >= PORT_ATTEMPTS) throw error;
          }
        }
      }),
    );

    const addresses = procs.map((p) => `127.0.0.1:${p.port}`);
    const args = [
      '--cluster',
      'create',
      ...addresses,
      '--cluster-replicas',
      String(replicasPerShard),
      '--cluster-yes',
    ];
    if (options.auth?.username !== undefined) args.unshift('--user', options.auth.username);
    // The password goes through the environment, never argv (visible in `ps`).
    const env = { ...process.env, ...(options.auth ? { REDISCLI_AUTH: options.auth.password } : {}) };
    try {
      await execFileAsync(cli, args, { env, timeout: 60_000 });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(
        `redis-cli --cluster create failed: ${(e.stdout ?? '').trim().split('\n').slice(-5).join('\n')} ${e.stderr ?? e.message}`,
      );
    }
    log(`cluster created: ${shards} masters, ${replicasPerShard} replica(s) each`);

    const first = { host: '127.0.0.1', port: procs[0]!.port };
    const creds: Credentials = { username: options.auth?.username, password: options.auth?.password };
    const entries = parseClusterNodes(
      String(await withConnection(first, creds, (c) => c.call('CLUSTER', 'NODES'), CONTROL_TIMEOUT_MS)),
    );
    const shardSlots = entries
      .filter((e) => e.flags.includes('master') && e.slots.length > 0)
      .map((e) => e.slots)
      .sort((a, b) => a[0]![0] - b[0]![0]);

    const topology = new ClusterTopology({
      dir,
      procs,
      shardSlots,
      replicasPerShard,
      ...(options.auth ? { auth: options.auth } : {}),
      guard,
    });
    try {
      await topology.waitForHealthy(options.healthyTimeoutMs ?? 60_000);
    } catch (error) {
      await topology.stop();
      throw error;
    }
    log(`cluster healthy: ${addresses.join(' ')}`);
    return topology;
  } catch (error) {
    await Promise.all(procs.map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
    guard.release();
    throw error;
  }
}
