import type { ConnectionOptions } from 'node:tls';
import type { NodeAddress } from '../core/address.js';
import { sameAddress } from '../core/address.js';
import { type Credentials, firstAnswer, nodeRole, sentinelMasterAddr, withConnection } from './control.js';
import { TopologyControlUnsupportedError } from './errors.js';
import { waitForHealthy, waitForNewMaster } from './health.js';
import type {
  NodeRole,
  ProviderName,
  Topology,
  TopologyAuth,
  TopologyRouterOptions,
  TopologyTls,
} from './types.js';

export interface TopologyDescription {
  provider: ProviderName;
  service: string;
  sentinels: NodeAddress[];
  nodes: NodeAddress[];
  auth?: TopologyAuth;
  tls?: TopologyTls;
}

/**
 * Everything a topology does by talking to sentinels and nodes (same for all providers).
 * Providers add the process-level controls (pause, kill, restart...) and `stop()`.
 */
export abstract class SentinelTopologyBase implements Topology {
  readonly provider: ProviderName;
  readonly service: string;
  readonly sentinels: NodeAddress[];
  readonly nodes: NodeAddress[];
  readonly initialMaster: NodeAddress;
  readonly auth?: TopologyAuth;
  readonly tls?: TopologyTls;
  /** How to authenticate to the data nodes. */
  protected readonly dataCreds: Credentials;
  /** How to authenticate to the sentinels. */
  protected readonly sentinelCreds: Credentials;

  constructor(d: TopologyDescription) {
    this.provider = d.provider;
    this.service = d.service;
    this.sentinels = d.sentinels;
    this.nodes = d.nodes;
    const first = d.nodes[0];
    if (!first) throw new Error('a topology needs at least one data node');
    this.initialMaster = first;
    if (d.auth) this.auth = d.auth;
    if (d.tls) this.tls = d.tls;
    const tls: ConnectionOptions | undefined = d.tls
      ? { ca: d.tls.ca, cert: d.tls.cert, key: d.tls.key }
      : undefined;
    this.dataCreds = { username: d.auth?.username, password: d.auth?.password, tls };
    this.sentinelCreds = { username: d.auth?.sentinelUsername, password: d.auth?.sentinelPassword, tls };
  }

  /** Data nodes that are running and not paused (health checks expect answers from them). */
  protected abstract answeringDataNodes(): NodeAddress[];
  /** Sentinels that are running. */
  protected abstract runningSentinels(): NodeAddress[];

  /** Sentinels to ask, running ones first (all of them when the provider cannot tell). */
  protected sentinelsToAsk(): NodeAddress[] {
    const running = this.runningSentinels();
    return running.length > 0 ? running : this.sentinels;
  }

  currentMaster(): Promise<NodeAddress> {
    return firstAnswer(
      this.sentinelsToAsk(),
      async (s) => {
        const m = await sentinelMasterAddr(s, this.sentinelCreds, this.service);
        if (!m) throw new Error(`does not know service ${this.service}`);
        return m;
      },
      `get-master-addr-by-name ${this.service}`,
    );
  }

  async failover(): Promise<void> {
    await firstAnswer(
      this.sentinelsToAsk(),
      (s) => withConnection(s, this.sentinelCreds, (c) => c.call('SENTINEL', 'FAILOVER', this.service)),
      `SENTINEL FAILOVER ${this.service}`,
    );
  }

  async waitForNewMaster(timeoutMs: number, previous?: NodeAddress): Promise<NodeAddress> {
    const before = previous ?? (await this.currentMaster());
    return waitForNewMaster({
      service: this.service,
      sentinels: this.sentinels,
      sentinelCreds: this.sentinelCreds,
      previous: before,
      timeoutMs,
    });
  }

  waitForHealthy(timeoutMs = 30_000): Promise<void> {
    return waitForHealthy(
      () => ({
        service: this.service,
        sentinels: this.runningSentinels(),
        dataNodes: this.answeringDataNodes(),
        dataCreds: this.dataCreds,
        sentinelCreds: this.sentinelCreds,
      }),
      timeoutMs,
    );
  }

  /** The role `address` reports (`ROLE`), or `'unreachable'`. */
  role(address: NodeAddress): Promise<NodeRole> {
    const isSentinel = this.sentinels.some((s) => sameAddress(s, address));
    return nodeRole(address, isSentinel ? this.sentinelCreds : this.dataCreds);
  }

  routerOptions(): TopologyRouterOptions {
    const o: TopologyRouterOptions = {
      sentinels: this.sentinels.map((s) => ({ ...s })),
      service: this.service,
    };
    if (this.auth?.password !== undefined) o.password = this.auth.password;
    if (this.auth?.username !== undefined) o.username = this.auth.username;
    if (this.auth?.sentinelPassword !== undefined) o.sentinelPassword = this.auth.sentinelPassword;
    if (this.auth?.sentinelUsername !== undefined) o.sentinelUsername = this.auth.sentinelUsername;
    if (this.tls) {
      o.tls = { ca: this.tls.ca };
      o.sentinelTls = { ca: this.tls.ca };
    }
    return o;
  }

  /** Throw `TopologyControlUnsupportedError` for a control this provider cannot perform. */
  protected unsupported(control: string): never {
    throw new TopologyControlUnsupportedError(this.provider, control);
  }

  abstract pauseMaster(): Promise<NodeAddress>;
  abstract resumeMaster(): Promise<void>;
  abstract killMaster(): Promise<NodeAddress>;
  abstract restartNode(address: NodeAddress): Promise<void>;
  abstract stopReplica(i: number): Promise<NodeAddress>;
  abstract startReplica(i: number): Promise<void>;
  abstract stopSentinel(i: number): Promise<void>;
  abstract startSentinel(i: number): Promise<void>;
  abstract stop(): Promise<void>;
}
