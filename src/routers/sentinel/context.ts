import { MasterNotFoundError } from '../../core/errors.js';
import { formatAddress } from '../errors.js';
import { type NodeClientSettings, nodeClientSettings } from '../node-clients.js';
import type {
  Intent,
  NodeAddress,
  NodeConnectionOptions,
  ReadFrom,
  SentinelRouterOptions,
} from '../types.js';
import { type AddressMapper, addressKey, createAddressMapper } from './address.js';
import { FailoverFence } from './failover-fence.js';
import { NodeStats, RouterEvents } from './router-events.js';
import { SentinelClient } from './sentinel-client.js';
import { type SentinelNews, SentinelWatcher } from './sentinel-watcher.js';

export const DEFAULT_SENTINEL_TIMEOUT_MS = 250;
/** `readYourWrites: true`: well above a healthy replica's lag, short enough to keep reads on replicas. */
export const DEFAULT_READ_YOUR_WRITES_MS = 1000;
/** Safety net: a failover that never reports back releases held writes after this long. */
export const FAILOVER_FENCE_MAX_MS = 10_000;
/** How long an address announced as the *old* master of a +switch-master stays suspect. */
const DEMOTION_MEMORY_MS = 30_000;
/**
 * How long an address a sentinel named as master, but whose ROLE said otherwise, is skipped
 * in sentinel answers (the next sentinel is asked instead). Short: a replica being promoted
 * answers ROLE master moments later, and a +switch-master naming it clears it at once.
 */
const NOT_MASTER_MEMORY_MS = 5000;

/**
 * What both Sentinel routers share: their options with defaults (checked before, in
 * options.ts), the sentinel query client, the subscriptions on every sentinel, the failover
 * fence, events and per-node stats.
 */
export class SentinelContext {
  readonly service: string;
  readonly readFrom: ReadFrom;
  /** Reads go to the master this long after a write (0 = off). */
  readonly readYourWritesMs: number;
  readonly node: NodeConnectionOptions & NodeClientSettings;
  readonly mapAddress: AddressMapper;
  readonly sentinel: SentinelClient;
  readonly watcher: SentinelWatcher;
  readonly fence = new FailoverFence(FAILOVER_FENCE_MAX_MS);
  readonly events = new RouterEvents();
  readonly stats = new NodeStats();
  failovers = 0;
  private started = false;
  private readonly demoted = new Map<string, number>();
  /** Per sentinel (address key), the master it reports subjectively down (+sdown until -sdown). */
  private readonly masterDownBy = new Map<string, string>();
  private readonly notMaster = new Map<string, number>();
  private lastSwitch: { id: string; at: number } | undefined;

  constructor(opts: SentinelRouterOptions, onNews: (news: SentinelNews) => void) {
    this.service = opts.service;
    this.readFrom = opts.readFrom ?? 'master';
    this.readYourWritesMs =
      opts.readYourWrites === true
        ? DEFAULT_READ_YOUR_WRITES_MS
        : typeof opts.readYourWrites === 'number'
          ? opts.readYourWrites
          : 0;
    this.node = {
      db: opts.db,
      username: opts.username,
      password: opts.password,
      tls: opts.tls,
      ...nodeClientSettings(opts),
    };
    this.mapAddress = createAddressMapper(opts.natMap);
    const access = {
      username: opts.sentinelUsername,
      password: opts.sentinelPassword,
      tls: opts.sentinelTls,
      timeoutMs: opts.sentinelTimeoutMs ?? DEFAULT_SENTINEL_TIMEOUT_MS,
      unref: opts.unref === true,
    };
    this.sentinel = new SentinelClient({
      sentinels: opts.sentinels,
      service: opts.service,
      access,
      mapAddress: this.mapAddress,
    });
    this.watcher = new SentinelWatcher(opts.service, access, this.mapAddress, (news) => {
      if (news.type === 'master-down' || news.type === 'master-up') {
        this.noteMasterState(news.address, news.sentinel, news.type === 'master-down');
        return;
      }
      if (news.type === 'resync') this.masterDownBy.delete(addressKey(news.sentinel)); // its -sdown may be lost
      if (news.type === 'switch') this.forgetReportsOn(news.from); // no longer the master: demoted instead
      if (news.type === 'switch') {
        // Every sentinel publishes the same +switch-master: act on the first one only.
        if (!this.noteSwitch(news.from, news.to, news.sentinel)) return;
        // The router switches first; only then do listeners hear of it. A write issued from
        // a 'failover' listener must find the old master's connections already gone.
        onNews(news);
        this.events.emit('failover', { service: this.service, from: news.from, to: news.to });
        return;
      }
      if (news.type === 'failover-start') this.fence.raise(news.promoted);
      else if (news.type === 'failover-abort') this.fence.lower();
      onNews(news);
    });
    this.sentinel.onSentinelsAdded((list) => {
      this.watcher.watch(list);
      this.events.emit('topology-change', { reason: 'sentinel list refreshed', nodes: list });
    });
  }

  /**
   * Open the +switch-master subscriptions on first use (an operation or `ready()`), not when
   * the router is built: a router that is never used (or a createCache that throws) holds no
   * socket, so a script that never gets to `close()` can still exit.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.watcher.watch(this.sentinel.sentinels());
  }

  /**
   * The Sentinel write path, for both strategies: the master an operation of `intent` runs on,
   * as `resolve` finds it (a pool already resolved, or a fresh sentinel answer). A write waits
   * while a failover is announced (fence); when the failover leader announced a promotion while
   * `resolve` ran, that answer may name the master being replaced and a write it acknowledged
   * would be lost: hold again, then resolve again (an answer obtained after the fence came down).
   */
  async masterFor<M>(intent: Intent, resolve: () => M | Promise<M>): Promise<M> {
    // The same awaits, in the same order, as the two copies this replaces.
    await this.holdWriteDuringFailover(intent);
    const master = await resolve();
    if (intent !== 'write' || !this.fence.up) return master;
    await this.holdWriteDuringFailover(intent);
    return resolve();
  }

  /**
   * Writes wait while the failover leader is promoting a replica (between +selected-slave and
   * +switch-master): a write acknowledged by the old master then would be lost. Waits at most
   * commandTimeoutMs, then fails with MasterNotFoundError.
   */
  private async holdWriteDuringFailover(intent: Intent): Promise<void> {
    if (intent !== 'write' || !this.fence.up) return;
    const { commandTimeoutMs } = this.node;
    if (!(await this.fence.wait(commandTimeoutMs))) {
      throw new MasterNotFoundError(
        `Failover of "${this.service}" in progress: write held ${commandTimeoutMs} ms without a new master`,
      );
    }
  }

  /**
   * True when `address` was announced as the old master of a recent +switch-master: a
   * sentinel that still names it has not heard of the failover yet (sentinels learn it
   * from each other within seconds), so its answer is stale.
   */
  isDemoted(address: NodeAddress): boolean {
    // Asked for every operation of the discovery router: nothing to look up between failovers.
    if (this.demoted.size === 0) return false;
    const at = this.demoted.get(addressKey(address));
    if (at === undefined) return false;
    if (Date.now() - at > DEMOTION_MEMORY_MS) {
      this.demoted.delete(addressKey(address));
      return false;
    }
    return true;
  }

  /**
   * Some sentinel reports `address`, a master, down: it got no valid answer from it for
   * down-after-milliseconds (+sdown, and no -sdown since). A 'replica-preferred' read no replica
   * could serve is not sent there: it would only wait for its timeout. Forgotten when that
   * sentinel says -sdown or its subscription reconnects, and for every sentinel when a
   * +switch-master replaces that master (it is then demoted, see isDemoted).
   */
  isReportedDown(address: NodeAddress): boolean {
    if (this.masterDownBy.size === 0) return false;
    const key = addressKey(address);
    for (const down of this.masterDownBy.values()) if (down === key) return true;
    return false;
  }

  /** Why a 'replica-preferred' read did not fall back to the master at `address`. */
  masterReportedDown(address: NodeAddress): MasterNotFoundError {
    return new MasterNotFoundError(
      `No replica could serve the read, and the sentinels report the master ${formatAddress(address)} of "${this.service}" down`,
    );
  }

  private noteMasterState(address: NodeAddress, sentinel: NodeAddress, down: boolean): void {
    const key = addressKey(sentinel);
    if (down) this.masterDownBy.set(key, addressKey(address));
    else if (this.masterDownBy.get(key) === addressKey(address)) this.masterDownBy.delete(key);
  }

  private forgetReportsOn(address: NodeAddress): void {
    const key = addressKey(address);
    for (const [sentinel, down] of this.masterDownBy) if (down === key) this.masterDownBy.delete(sentinel);
  }

  /**
   * A sentinel named `address` as master but its ROLE says otherwise (a sentinel with a wrong
   * view, or one that has not caught up): per the Sentinel client spec, the next sentinel is
   * asked. Answers naming `address` are skipped for a few seconds.
   */
  noteNotMaster(address: NodeAddress): void {
    this.notMaster.set(addressKey(address), Date.now() + NOT_MASTER_MEMORY_MS);
  }

  private isNotMaster(address: NodeAddress): boolean {
    const until = this.notMaster.get(addressKey(address));
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.notMaster.delete(addressKey(address));
    return false;
  }

  /**
   * The master the sentinels name now, skipping a recently demoted one (stale answer) and
   * one whose ROLE contradicted a sentinel (the next sentinel is asked).
   */
  async askMaster(): Promise<NodeAddress> {
    const res = await this.sentinel.masterAddress((a) => !this.isDemoted(a) && !this.isNotMaster(a));
    if (!res.found) {
      throw await this.sentinel.serviceNotFound(`No sentinel knows a master for service "${this.service}"`);
    }
    return res.value;
  }

  async close(): Promise<void> {
    this.fence.lower();
    await Promise.all([this.watcher.close(), this.sentinel.close()]);
  }

  /** Record a +switch-master; false when it repeats the last one (another sentinel's copy). */
  private noteSwitch(from: NodeAddress, to: NodeAddress, sentinel: NodeAddress): boolean {
    const id = `${addressKey(from)}>${addressKey(to)}`;
    if (this.lastSwitch?.id === id && Date.now() - this.lastSwitch.at < DEMOTION_MEMORY_MS) return false;
    this.lastSwitch = { id, at: Date.now() };
    this.failovers++;
    this.demoted.set(addressKey(from), Date.now());
    this.demoted.delete(addressKey(to));
    this.notMaster.delete(addressKey(to));
    this.stats.setRole(addressKey(from), 'replica');
    this.stats.setRole(addressKey(to), 'master');
    // The sentinel that announced the switch knows the new master; others may lag.
    this.sentinel.prefer(sentinel);
    this.fence.lower();
    return true;
  }
}

export type { SentinelNews };
