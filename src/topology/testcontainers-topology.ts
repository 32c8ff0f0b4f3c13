import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeAddress } from '../core/address.js';
import { addressKey, sameAddress } from '../core/address.js';
import { SentinelTopologyBase } from './base.js';
import { nodeRole } from './control.js';
import { TopologyUnavailableError } from './errors.js';
import type { ResolvedTopologyOptions } from './options.js';
import { freePorts } from './ports.js';
import { dataNodeConf, sentinelConf, type TlsFiles } from './redis-conf.js';
import { generateTlsFiles } from './tls-certs.js';
import type { Topology, TopologyTls } from './types.js';

/**
 * The same topology in Docker (image `redis:7`), for machines without redis-server.
 *
 * Addressing: one "holder" container owns a network namespace and publishes every port the
 * topology uses with the *same* number on the host (ports picked free beforehand). Every
 * redis/sentinel container joins that namespace (`--network container:<holder>`), listens on
 * its own port and announces 127.0.0.1. So "127.0.0.1:<port>" means the same server inside
 * the containers (shared namespace) and on the host (published port): what sentinels
 * announce is reachable from the host without any NAT mapping. (With a remote DOCKER_HOST,
 * clients would need a natMap from 127.0.0.1 to that host.)
 *
 * Controls use the Docker API: pause/unpause for pauseMaster/resumeMaster, kill/start for
 * killMaster/restartNode, stop/start for replicas and sentinels. testcontainers' reaper
 * removes the containers if this process dies without calling stop().
 *
 * testcontainers is loaded with a dynamic import so the package works without it installed.
 */

const IMAGE = 'redis:7';
const CONTAINER_CERTS = '/certs';

type Testcontainers = typeof import('testcontainers');
type StartedContainer = import('testcontainers').StartedTestContainer;
type DockerContainer = ReturnType<
  Awaited<ReturnType<Testcontainers['getContainerRuntimeClient']>>['container']['getById']
>;

interface NodeContainer {
  name: string;
  kind: 'data' | 'sentinel';
  address: NodeAddress;
  started: StartedContainer;
  docker: DockerContainer;
  state: 'running' | 'paused' | 'stopped';
}

async function loadTestcontainers(): Promise<Testcontainers> {
  try {
    return await import('testcontainers');
  } catch (error) {
    throw new TopologyUnavailableError(
      "the testcontainers provider needs the 'testcontainers' package: npm install --save-dev testcontainers",
      { cause: error },
    );
  }
}

class TestcontainersTopology extends SentinelTopologyBase {
  private readonly paused = new Set<NodeContainer>();
  private readonly stoppedReplicas = new Map<number, NodeContainer>();
  private stopping: Promise<void> | undefined;

  constructor(
    options: ResolvedTopologyOptions,
    private readonly containers: NodeContainer[],
    private readonly holder: StartedContainer,
    private readonly certDir: string | undefined,
    tls: TopologyTls | undefined,
  ) {
    super({
      provider: 'testcontainers',
      service: options.service,
      nodes: containers.filter((c) => c.kind === 'data').map((c) => c.address),
      sentinels: containers.filter((c) => c.kind === 'sentinel').map((c) => c.address),
      ...(options.auth ? { auth: options.auth } : {}),
      ...(tls ? { tls } : {}),
    });
  }

  private data(): NodeContainer[] {
    return this.containers.filter((c) => c.kind === 'data');
  }

  protected answeringDataNodes(): NodeAddress[] {
    return this.data()
      .filter((c) => c.state === 'running')
      .map((c) => c.address);
  }

  protected runningSentinels(): NodeAddress[] {
    return this.containers
      .filter((c) => c.kind === 'sentinel' && c.state !== 'stopped')
      .map((c) => c.address);
  }

  private byAddress(address: NodeAddress): NodeContainer {
    const c = this.data().find((n) => sameAddress(n.address, address));
    if (!c) throw new Error(`${addressKey(address)} is not a data node of this topology`);
    return c;
  }

  private sentinel(i: number): NodeContainer {
    const c = this.containers.filter((n) => n.kind === 'sentinel')[i];
    if (!c) throw new RangeError(`no sentinel ${i}`);
    return c;
  }

  private async nonMaster(): Promise<NodeContainer[]> {
    const master = await this.currentMaster();
    return this.data().filter((c) => !sameAddress(c.address, master));
  }

  /** docker start, then wait until the server answers again. */
  private async startContainer(c: NodeContainer): Promise<void> {
    if (c.state === 'paused') await c.docker.unpause();
    if (c.state !== 'stopped') {
      c.state = 'running';
      return;
    }
    await c.docker.start();
    c.state = 'running';
    const creds = c.kind === 'sentinel' ? this.sentinelCreds : this.dataCreds;
    const deadline = Date.now() + 20_000;
    while ((await nodeRole(c.address, creds)) === 'unreachable') {
      if (Date.now() > deadline) throw new Error(`${c.name} did not come back within 20 s`);
      await sleep(100);
    }
  }

  private async stopContainer(c: NodeContainer, how: 'kill' | 'stop'): Promise<void> {
    if (c.state === 'stopped') return;
    if (c.state === 'paused') await c.docker.unpause();
    if (how === 'kill') await c.docker.kill();
    else await c.docker.stop({ t: 2 });
    c.state = 'stopped';
  }

  async pauseMaster(): Promise<NodeAddress> {
    const master = await this.currentMaster();
    const c = this.byAddress(master);
    await c.docker.pause();
    c.state = 'paused';
    this.paused.add(c);
    return master;
  }

  async resumeMaster(): Promise<void> {
    for (const c of this.paused) {
      if (c.state === 'paused') {
        await c.docker.unpause();
        c.state = 'running';
      }
    }
    this.paused.clear();
  }

  async killMaster(): Promise<NodeAddress> {
    const master = await this.currentMaster();
    await this.stopContainer(this.byAddress(master), 'kill');
    return master;
  }

  restartNode(address: NodeAddress): Promise<void> {
    return this.startContainer(this.byAddress(address));
  }

  async stopReplica(i: number): Promise<NodeAddress> {
    const c = (await this.nonMaster())[i];
    if (!c) throw new RangeError(`no replica ${i}`);
    await this.stopContainer(c, 'stop');
    this.stoppedReplicas.set(i, c);
    return c.address;
  }

  async startReplica(i: number): Promise<void> {
    const c = this.stoppedReplicas.get(i) ?? (await this.nonMaster())[i];
    if (!c) throw new RangeError(`no replica ${i}`);
    this.stoppedReplicas.delete(i);
    await this.startContainer(c);
  }

  stopSentinel(i: number): Promise<void> {
    return this.stopContainer(this.sentinel(i), 'stop');
  }

  startSentinel(i: number): Promise<void> {
    return this.startContainer(this.sentinel(i));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.allSettled(
        this.containers.map(async (c) => {
          if (c.state === 'paused') await c.docker.unpause();
          await c.started.stop({ timeout: 1000 });
        }),
      );
      await this.holder.stop({ timeout: 1000 });
      if (this.certDir) rmSync(this.certDir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}

export async function startTestcontainersTopology(options: ResolvedTopologyOptions): Promise<Topology> {
  const tc = await loadTestcontainers();
  const { GenericContainer, Wait, getContainerRuntimeClient } = tc;
  const runtime = await getContainerRuntimeClient().catch((error: Error) => {
    throw new TopologyUnavailableError(
      `the testcontainers provider found no working Docker engine (${error.message}): start Docker, ` +
        'or install redis-server for the process provider',
      { cause: error },
    );
  });
  const count = 1 + options.replicas + options.sentinels;
  const ports = await freePorts(count);
  const certDir = options.tls ? mkdtempSync(join(tmpdir(), 'sentinel-cache-tc-')) : undefined;
  const tls = certDir ? generateTlsFiles(certDir) : undefined;
  const containerTls: TlsFiles | undefined = tls
    ? {
        caFile: `${CONTAINER_CERTS}/ca.crt`,
        certFile: `${CONTAINER_CERTS}/redis.crt`,
        keyFile: `${CONTAINER_CERTS}/redis.key`,
      }
    : undefined;

  const holder = await new GenericContainer(IMAGE)
    .withEntrypoint(['sh', '-c', 'echo namespace-ready; exec sleep infinity'])
    .withExposedPorts(...ports.map((p) => ({ container: p, host: p })))
    .withWaitStrategy(Wait.forLogMessage('namespace-ready'))
    .start();

  const started: NodeContainer[] = [];
  try {
    const version = [7, 2] as const;
    const common = (port: number) => ({
      bind: '0.0.0.0',
      port,
      dir: '/data',
      logfile: '',
      version,
      ...(containerTls ? { tls: containerTls } : {}),
    });
    const masterPort = ports[0]!;
    const master = { host: '127.0.0.1', port: masterPort };
    const startNode = async (name: string, kind: 'data' | 'sentinel', port: number, conf: string) => {
      const args = kind === 'sentinel' ? ' --sentinel' : '';
      // Keep the conf across docker stop/start: sentinels and replicas rewrite it with what they learned.
      const script = `[ -f /data/${name}.conf ] || cp /conf/${name}.conf /data/${name}.conf; exec redis-server /data/${name}.conf${args}`;
      let container = new GenericContainer(IMAGE)
        .withNetworkMode(`container:${holder.getId()}`)
        .withEntrypoint(['sh', '-c', script])
        .withCopyContentToContainer([{ content: conf, target: `/conf/${name}.conf` }])
        .withWaitStrategy(
          Wait.forLogMessage(kind === 'sentinel' ? 'Sentinel ID is' : 'Ready to accept connections'),
        );
      if (tls) {
        container = container.withCopyContentToContainer([
          { content: tls.pem.ca, target: `${CONTAINER_CERTS}/ca.crt` },
          { content: tls.pem.cert, target: `${CONTAINER_CERTS}/redis.crt` },
          { content: tls.pem.key, target: `${CONTAINER_CERTS}/redis.key`, mode: 0o600 },
        ]);
      }
      const s = await container.start();
      const node: NodeContainer = {
        name,
        kind,
        address: { host: '127.0.0.1', port },
        started: s,
        docker: runtime.container.getById(s.getId()),
        state: 'running',
      };
      started.push(node);
      options.log(`${name} (container ${s.getId().slice(0, 12)}) on 127.0.0.1:${port}`);
    };

    await startNode(
      'master',
      'data',
      masterPort,
      dataNodeConf({ ...common(masterPort), auth: options.auth }),
    );
    await Promise.all(
      Array.from({ length: options.replicas }, (_, i) => {
        const port = ports[1 + i]!;
        return startNode(
          `replica-${i}`,
          'data',
          port,
          dataNodeConf({ ...common(port), auth: options.auth, replicaOf: master }),
        );
      }),
    );
    await Promise.all(
      Array.from({ length: options.sentinels }, (_, i) => {
        const port = ports[1 + options.replicas + i]!;
        return startNode(
          `sentinel-${i}`,
          'sentinel',
          port,
          sentinelConf({
            ...common(port),
            service: options.service,
            master,
            quorum: options.quorum,
            downAfterMs: options.downAfterMs,
            failoverTimeoutMs: options.failoverTimeoutMs,
            auth: options.auth,
          }),
        );
      }),
    );
    // Order matters for `nodes`: master first, then replicas by index.
    started.sort((a, b) => ports.indexOf(a.address.port) - ports.indexOf(b.address.port));
    const topology = new TestcontainersTopology(options, started, holder, certDir, tls?.pem);
    try {
      await topology.waitForHealthy(60_000);
    } catch (error) {
      await topology.stop();
      throw error;
    }
    return topology;
  } catch (error) {
    await Promise.allSettled(started.map((c) => c.started.stop({ timeout: 0 })));
    await holder.stop({ timeout: 0 }).catch(() => {});
    if (certDir) rmSync(certDir, { recursive: true, force: true });
    throw error;
  }
}
