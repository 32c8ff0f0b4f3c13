import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeAddress } from '../core/address.js';
import { addressKey, sameAddress } from '../core/address.js';
import { SentinelTopologyBase } from './base.js';
import { guardProcesses, type ProcessGuard } from './cleanup.js';
import type { ResolvedTopologyOptions } from './options.js';
import { freePort } from './ports.js';
import { dataNodeConf, type RedisVersion, sentinelConf, type TlsFiles } from './redis-conf.js';
import { PortInUseError, RedisProcess } from './redis-process.js';
import { generateTlsFiles } from './tls-certs.js';
import type { TopologyAuth, TopologyTls } from './types.js';

/** The resolved topology options plus what the process provider found out about redis-server. */
export interface ProcessTopologySettings extends ResolvedTopologyOptions {
  redisServerPath: string;
  redisVersion: RedisVersion;
  /** Processes outlive us (CLI `--detach`): no exit hooks, no watchdog. */
  detached?: boolean;
  healthyTimeoutMs?: number;
}

/** What `topology up --detach` writes so `topology down/status` can find the processes again. */
export interface ProcessTopologyState {
  /** Always local processes. */
  provider: 'process';
  /** The topology's temp dir. */
  dir: string;
  /** The monitored master's name. */
  service: string;
  /** Every process of the topology: name, kind, address and pid. */
  processes: { name: string; kind: 'data' | 'sentinel'; host: string; port: number; pid: number | null }[];
  /** The sentinels' addresses (none for a cluster). */
  sentinels: NodeAddress[];
  /** The data nodes' addresses. */
  nodes: NodeAddress[];
  /** The credentials the nodes require, if any. */
  auth?: TopologyAuth;
  /** The generated CA, certificate and key files, with `tls: true`. */
  tls?: TlsFiles;
  /** Set for a Redis Cluster (`topology up --cluster`): no sentinels, `nodes` are the cluster's nodes. */
  cluster?: { shards: number; replicasPerShard: number };
}

const PORT_ATTEMPTS = 5;

/**
 * Picks a free port (or takes `fixedPort`, from `basePort`), writes the conf for it and starts;
 * on a lost bind race, tries another free port. A fixed port that is taken is an error.
 */
async function startOnFreePort(
  proc: RedisProcess,
  confFor: (port: number) => string,
  log: (line: string) => void,
  fixedPort?: number,
): Promise<void> {
  if (fixedPort !== undefined) {
    proc.writeConf(fixedPort, confFor(fixedPort));
    try {
      await proc.start();
    } catch (error) {
      if (!(error instanceof PortInUseError)) throw error;
      throw new Error(
        `${proc.name}: port ${fixedPort} (from basePort / --base-port) is already in use; choose another base port`,
      );
    }
    log(`${proc.name} listening on 127.0.0.1:${fixedPort} (pid ${proc.pid})`);
    return;
  }
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    proc.writeConf(port, confFor(port));
    try {
      await proc.start();
      log(`${proc.name} listening on 127.0.0.1:${port} (pid ${proc.pid})`);
      return;
    } catch (error) {
      if (!(error instanceof PortInUseError) || attempt >= PORT_ATTEMPTS) throw error;
      log(`${proc.name}: port ${port} was taken meanwhile, retrying on another port`);
    }
  }
}

/** A Sentinel topology of local redis-server processes on 127.0.0.1, all files in one temp dir. */
export class ProcessTopology extends SentinelTopologyBase {
  /** The temp dir holding every node's config, data and log files (removed by `stop()`). */
  readonly dir: string;
  private readonly dataProcs: RedisProcess[];
  private readonly sentinelProcs: RedisProcess[];
  private readonly pausedByUs = new Set<RedisProcess>();
  private readonly stoppedReplicas = new Map<number, RedisProcess>();
  private readonly tlsFiles: TlsFiles | undefined;
  private readonly guard: ProcessGuard;
  private stopping: Promise<void> | undefined;

  constructor(init: {
    settings: ProcessTopologySettings;
    /** The topology's temp dir. */
    dir: string;
    dataProcs: RedisProcess[];
    sentinelProcs: RedisProcess[];
    tls?: { files: TlsFiles; pem: TopologyTls };
    guard: ProcessGuard;
  }) {
    const addr = (p: RedisProcess): NodeAddress => ({ host: '127.0.0.1', port: p.port });
    super({
      provider: 'process',
      service: init.settings.service,
      sentinels: init.sentinelProcs.map(addr),
      nodes: init.dataProcs.map(addr),
      ...(init.settings.auth ? { auth: init.settings.auth } : {}),
      ...(init.tls ? { tls: init.tls.pem } : {}),
    });
    this.dir = init.dir;
    this.dataProcs = init.dataProcs;
    this.sentinelProcs = init.sentinelProcs;
    this.tlsFiles = init.tls?.files;
    this.guard = init.guard;
  }

  protected answeringDataNodes(): NodeAddress[] {
    return this.dataProcs
      .filter((p) => p.isRunning && !p.paused)
      .map((p) => this.nodes[this.dataProcs.indexOf(p)]!);
  }

  protected runningSentinels(): NodeAddress[] {
    return this.sentinelProcs
      .filter((p) => p.isRunning)
      .map((p) => this.sentinels[this.sentinelProcs.indexOf(p)]!);
  }

  private dataProc(address: NodeAddress): RedisProcess {
    const i = this.nodes.findIndex((n) => sameAddress(n, address));
    const proc = this.dataProcs[i];
    if (!proc) throw new Error(`${addressKey(address)} is not a data node of this topology`);
    return proc;
  }

  private sentinelProc(i: number): RedisProcess {
    const proc = this.sentinelProcs[i];
    if (!proc) throw new RangeError(`no sentinel ${i} (this topology has ${this.sentinelProcs.length})`);
    return proc;
  }

  /** Data nodes that are not the current master, in `nodes` order. */
  private async nonMasterProcs(): Promise<RedisProcess[]> {
    const master = await this.currentMaster();
    return this.dataProcs.filter((_, i) => !sameAddress(this.nodes[i], master));
  }

  /** SIGSTOP the current master; returns its address. */
  async pauseMaster(): Promise<NodeAddress> {
    const master = await this.currentMaster();
    const proc = this.dataProc(master);
    proc.pause();
    this.pausedByUs.add(proc);
    return master;
  }

  /** SIGCONT every node `pauseMaster()` paused. */
  async resumeMaster(): Promise<void> {
    for (const proc of this.pausedByUs) proc.resume();
    this.pausedByUs.clear();
  }

  /** SIGKILL the current master; returns its address. */
  async killMaster(): Promise<NodeAddress> {
    const master = await this.currentMaster();
    await this.dataProc(master).kill();
    return master;
  }

  /** Start a stopped or killed data node again on the same port; sentinels make it a replica. */
  async restartNode(address: NodeAddress): Promise<void> {
    const proc = this.dataProc(address);
    if (proc.isRunning) return;
    try {
      await proc.start();
    } catch (error) {
      if (error instanceof PortInUseError) {
        throw new Error(`cannot restart ${addressKey(address)}: another process took the port meanwhile`);
      }
      throw error;
    }
  }

  /** Stop the i-th data node that is not the current master (in `nodes` order); returns it. */
  async stopReplica(i: number): Promise<NodeAddress> {
    const proc = (await this.nonMasterProcs())[i];
    if (!proc) throw new RangeError(`no replica ${i}`);
    await proc.stop();
    this.stoppedReplicas.set(i, proc);
    return this.nodes[this.dataProcs.indexOf(proc)]!;
  }

  /** Start the data node `stopReplica(i)` stopped, on the same port. */
  async startReplica(i: number): Promise<void> {
    const proc = this.stoppedReplicas.get(i) ?? (await this.nonMasterProcs())[i];
    if (!proc) throw new RangeError(`no replica ${i}`);
    this.stoppedReplicas.delete(i);
    await proc.start();
  }

  /** Stop sentinel `sentinels[i]` (its config file stays, so it keeps its state). */
  async stopSentinel(i: number): Promise<void> {
    await this.sentinelProc(i).stop();
  }

  /** Start sentinel `sentinels[i]` again, on the same port with the same config file. */
  async startSentinel(i: number): Promise<void> {
    await this.sentinelProc(i).start();
  }

  /** Pids, ports and files, for the CLI state file. */
  state(): ProcessTopologyState {
    const describe = (p: RedisProcess) => ({
      name: p.name,
      kind: p.kind,
      host: '127.0.0.1',
      port: p.port,
      pid: p.pid ?? null,
    });
    return {
      provider: 'process',
      dir: this.dir,
      service: this.service,
      processes: [...this.dataProcs, ...this.sentinelProcs].map(describe),
      sentinels: this.sentinels,
      nodes: this.nodes,
      ...(this.auth ? { auth: this.auth } : {}),
      ...(this.tlsFiles ? { tls: this.tlsFiles } : {}),
    };
  }

  /** Pids of every running process (tests check they are gone after stop()). */
  pids(): number[] {
    return [...this.dataProcs, ...this.sentinelProcs].flatMap((p) => (p.pid === undefined ? [] : [p.pid]));
  }

  /** Stop the sentinels, then the data nodes, and remove the temp dir. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // Sentinels first, so they do not start a failover while the data nodes go away.
      await Promise.all(this.sentinelProcs.map((p) => p.stop()));
      await Promise.all(this.dataProcs.map((p) => p.stop()));
      this.pausedByUs.clear();
      rmSync(this.dir, { recursive: true, force: true });
      this.guard.release();
    })();
    return this.stopping;
  }
}

export async function startProcessTopology(settings: ProcessTopologySettings): Promise<ProcessTopology> {
  const { replicas, sentinels, log } = settings;
  if (!Number.isInteger(replicas) || replicas < 0) throw new RangeError('replicas must be an integer >= 0');
  if (!Number.isInteger(sentinels) || sentinels < 1)
    throw new RangeError('sentinels must be an integer >= 1');
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-cache-'));
  const make = (name: string, kind: 'data' | 'sentinel') =>
    new RedisProcess({
      name,
      kind,
      dir,
      redisServerPath: settings.redisServerPath,
      detached: settings.detached,
    });
  const dataProcs = [
    make('master', 'data'),
    ...Array.from({ length: replicas }, (_, i) => make(`replica-${i}`, 'data')),
  ];
  const sentinelProcs = Array.from({ length: sentinels }, (_, i) => make(`sentinel-${i}`, 'sentinel'));
  const all = [...dataProcs, ...sentinelProcs];

  const guard = guardProcesses(dir, all, settings.detached);

  try {
    const tls = settings.tls ? generateTlsFiles(dir) : undefined;
    const common = (port: number, name: string) => ({
      port,
      dir,
      logfile: join(dir, `${name}.log`),
      version: settings.redisVersion,
      ...(tls ? { tls: tls.files } : {}),
    });
    const [masterProc, ...replicaProcs] = dataProcs as [RedisProcess, ...RedisProcess[]];
    // With basePort: master, replicas, sentinels on consecutive ports; else free ports.
    const portAt = (offset: number) =>
      settings.basePort === undefined ? undefined : settings.basePort + offset;
    await startOnFreePort(
      masterProc,
      (port) => dataNodeConf({ ...common(port, masterProc.name), auth: settings.auth }),
      log,
      portAt(0),
    );
    const master = { host: '127.0.0.1', port: masterProc.port };
    await Promise.all(
      replicaProcs.map((p, i) =>
        startOnFreePort(
          p,
          (port) => dataNodeConf({ ...common(port, p.name), auth: settings.auth, replicaOf: master }),
          log,
          portAt(1 + i),
        ),
      ),
    );
    await Promise.all(
      sentinelProcs.map((p, i) =>
        startOnFreePort(
          p,
          (port) =>
            sentinelConf({
              ...common(port, p.name),
              service: settings.service,
              master,
              quorum: settings.quorum,
              downAfterMs: settings.downAfterMs,
              failoverTimeoutMs: settings.failoverTimeoutMs,
              auth: settings.auth,
            }),
          log,
          portAt(1 + replicas + i),
        ),
      ),
    );
    const topology = new ProcessTopology({
      settings,
      dir,
      dataProcs,
      sentinelProcs,
      ...(tls ? { tls } : {}),
      guard,
    });
    try {
      await topology.waitForHealthy(settings.healthyTimeoutMs ?? 30_000);
    } catch (error) {
      await topology.stop();
      throw error;
    }
    log(
      `topology ${settings.service} healthy: master ${addressKey(master)}, ${replicas} replicas, ${sentinels} sentinels`,
    );
    return topology;
  } catch (error) {
    await Promise.all(all.map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
    guard.release();
    throw error;
  }
}
