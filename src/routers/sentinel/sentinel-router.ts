import type { Redis } from 'ioredis';
import type { DataConnectionHook, DataConnectionNeeds } from '../../core/connection-hook.js';
import { RouteRunner, routerClosed } from '../route-runner.js';
import type {
  Intent,
  NodeAddress,
  Router,
  RouterEvent,
  RouterEventMap,
  RouterStats,
  SentinelRouterOptions,
} from '../types.js';
import { SentinelContext, type SentinelNews } from './context.js';
import { ReplicaLagMonitor } from './replica-lag.js';
import { RollbackDetector } from './rollback.js';

/**
 * What the two Sentinel strategies share around their own node handling: the context
 * (sentinels, watcher, fence, events, stats), the failure-sorting route runner, intent
 * dispatch, events, `ready()` and the close sequence. A strategy says how it reaches the
 * master and the replicas, and what it does on sentinel news.
 */
export abstract class SentinelRouter implements Router {
  abstract readonly kind: string;
  protected readonly ctx: SentinelContext;
  protected readonly runner: RouteRunner;
  protected closed = false;
  /** `maxReplicaLagMs`: the bound, and what measures replicas against it. */
  private readonly maxReplicaLagMs: number | undefined;
  private readonly lag: ReplicaLagMonitor | undefined;
  /** Notices a promoted node without our acknowledged writes (the `rollback` event). */
  private readonly rollback: RollbackDetector;

  constructor(opts: SentinelRouterOptions) {
    this.ctx = new SentinelContext(opts, (news) => {
      if (this.closed) return;
      this.onNews(news);
      this.rollback.onSwitchNews(news.type, news.type === 'switch' ? news.to : undefined);
    });
    this.maxReplicaLagMs = opts.maxReplicaLagMs;
    // Their own connections to the master, without the data connection hooks: they read no keys.
    const { hooks: _dataConnectionHooks, ...plain } = this.ctx.node;
    if (opts.maxReplicaLagMs !== undefined && this.ctx.readFrom !== 'master') {
      this.lag = new ReplicaLagMonitor(plain, () => this.ctx.askMaster(), this.ctx.mapAddress);
    }
    this.rollback = new RollbackDetector({
      service: this.ctx.service,
      node: plain,
      currentMaster: () => {
        const master = this.masterAddress();
        return master === undefined || this.ctx.isDemoted(master) ? undefined : master;
      },
      fenceUp: () => this.ctx.fence.up,
      emit: (info) => this.ctx.events.emit('rollback', info),
    });
    this.runner = new RouteRunner(this.ctx.events, this.ctx.stats, this.ctx.node.commandTimeoutMs, (a) =>
      this.ctx.noteNotMaster(a),
    );
  }

  execute<T>(intent: Intent, fn: (client: Redis) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(routerClosed());
    // Sentinel subscriptions start on first use (a router never used opens no socket).
    this.ctx.start();
    this.lag?.start();
    if (intent === 'write') {
      return this.rollback.track(
        this.ctx.readYourWritesMs > 0
          ? this.trackWrite(this.onMaster(intent, fn))
          : this.onMaster(intent, fn),
      );
    }
    if (this.ctx.readFrom === 'master' || this.readsOwnWrite()) return this.onMaster(intent, fn);
    return this.onReplica(fn);
  }

  private writesInFlight = 0;
  private lastWriteAt = Number.NEGATIVE_INFINITY;

  /** readYourWrites: a write is in flight or settled within the window. */
  private readsOwnWrite(): boolean {
    const window = this.ctx.readYourWritesMs;
    return window > 0 && (this.writesInFlight > 0 || performance.now() - this.lastWriteAt < window);
  }

  private trackWrite<T>(p: Promise<T>): Promise<T> {
    this.writesInFlight++;
    return p.finally(() => {
      this.writesInFlight--;
      this.lastWriteAt = performance.now();
    });
  }

  on<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void {
    this.ctx.events.on(event, fn);
  }

  off<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void {
    this.ctx.events.off(event, fn);
  }

  stats(): RouterStats {
    return {
      kind: this.kind,
      nodes: this.ctx.stats.snapshot(),
      failovers: this.ctx.failovers,
      rollbacks: this.rollback.count,
    };
  }

  /** Run `hook` on every data connection before it carries an operation (the near cache uses it). */
  onDataConnection(hook: DataConnectionHook, needs?: DataConnectionNeeds): () => void {
    return this.ctx.node.hooks.add(hook, needs);
  }

  /**
   * Router.ready: resolves once the +switch-master subscriptions are up (and, with
   * maxReplicaLagMs, the first replication figures are in).
   */
  async ready(): Promise<void> {
    this.ctx.start();
    await Promise.all([this.ctx.watcher.ready(), this.lag?.poll()]);
  }

  /** With maxReplicaLagMs: `address` is known to be within the bound. Without: always true. */
  protected withinLag(address: NodeAddress): boolean {
    if (this.lag === undefined || this.maxReplicaLagMs === undefined) return true;
    const staleness = this.lag.stalenessMs(address);
    return staleness !== undefined && staleness <= this.maxReplicaLagMs;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lag?.close();
    this.rollback.close();
    await this.closeNodes();
    await this.ctx.close();
    this.ctx.events.clear();
  }

  /** A write, or a read with `readFrom: 'master'`. */
  protected abstract onMaster<T>(intent: Intent, fn: (client: Redis) => Promise<T>): Promise<T>;
  /** A read with `readFrom: 'replica' | 'replica-preferred'`. */
  protected abstract onReplica<T>(fn: (client: Redis) => Promise<T>): Promise<T>;
  /** Close every connection the strategy opened (in-flight ones included). */
  protected abstract closeNodes(): Promise<void>;
  /** The master this strategy sends writes to now (as last resolved), if any. */
  protected abstract masterAddress(): NodeAddress | undefined;
  /** Sentinel news (already de-duplicated by the context); not called after close(). */
  protected abstract onNews(news: SentinelNews): void;
}
