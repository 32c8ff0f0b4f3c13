import type { Redis } from 'ioredis';
import { debug, debugEnabled } from '../../core/debug.js';
import { ConnectionInterruptedError, MasterNotFoundError, ReplicaNotFoundError } from '../../core/errors.js';

import { type BreakerRole, RoleBreaker } from '../breaker.js';
import { formatAddress } from '../errors.js';
import type { ExpectedRole } from '../node-clients.js';
import { type ReadPlan, routerClosed } from '../route-runner.js';
import { SingleFlight } from '../single-flight.js';
import type { Intent, NodeAddress, PooledRouterOptions, RouterStats } from '../types.js';
import { addressKey, sameAddress } from './address.js';
import type { SentinelNews } from './context.js';
import { NodePool, type NodePoolOptions } from './node-pool.js';
import { checkPooledOptions } from './options.js';
import { isUsable, linkReportedDown } from './sentinel-client.js';
import { SentinelRouter } from './sentinel-router.js';

/** A replica list older than this is refreshed in the background on the next read. */
const REPLICA_REFRESH_MS = 5000;
/** With no live replica, ask the sentinels again at most this often. */
const REPLICA_RETRY_MS = 1000;
const noReplicas = (): readonly NodePool[] => [];

interface ReplicaSet {
  pools: NodePool[];
  at: number;
}

/**
 * Cached pools: resolve the master (and replicas) once, keep a generic-pool of verified
 * ioredis clients per node, and evict a node's pool when it stops being right:
 * - `+switch-master` from any sentinel: the old master's pool dies at once (borrowed
 *   clients included) and the new master's pool is opened from the announcement itself;
 * - a `READONLY` reply: the pool dies and the write is retried once on a re-resolved master;
 * - a connection error or a command timeout (RouteRunner evicts);
 * - a replica the sentinels report with its link down (replaced by a pool that checks ROLE).
 * Operations run through the shared RouteRunner (failure sorting, replica reads and their
 * fallbacks); one opossum breaker per role makes callers fail fast while no master answers.
 *
 * While every sentinel is down, existing pools keep serving (a running master does not
 * need sentinels); only a resolution (first use, or after an eviction) fails, with
 * SentinelUnavailableError.
 */
export function pooled(opts: PooledRouterOptions): PooledRouter {
  return new PooledRouter(checkPooledOptions(opts));
}

/**
 * What commands still waiting on a role's old sockets fail with when its breaker half-opens
 * (the sockets are dropped so the trial operation resolves the node afresh): why, and what to do.
 */
export function halfOpenInterruption(role: BreakerRole): ConnectionInterruptedError {
  return new ConnectionInterruptedError(
    `Reconnecting to the ${role}: after repeated failures its connections were dropped to be resolved afresh (circuit breaker half-open); this operation was still waiting on one, retry it`,
  );
}

export class PooledRouter extends SentinelRouter {
  readonly kind = 'pooled';
  private readonly poolOpts: NodePoolOptions;
  private readonly breakers: Record<BreakerRole, RoleBreaker>;
  private master: NodePool | undefined;
  private replicas: ReplicaSet | undefined;
  /** A pool on the replica a failover leader is promoting (any ROLE), while it does. */
  private promoted: NodePool | undefined;
  /** One master / replica-set resolution at a time, shared by every operation waiting for it. */
  private readonly resolving = new SingleFlight();
  /** Every pool ever opened and not yet closed, so close() reaches all sockets. */
  private readonly pools = new Set<NodePool>();

  /** `opts` as checkPooledOptions returns them (sentinel/options.ts). */
  constructor(opts: PooledRouterOptions & { pool: NodePoolOptions }) {
    super(opts);
    this.poolOpts = opts.pool;
    const breaker = (role: BreakerRole) =>
      new RoleBreaker(role, opts.breaker, {
        open: () => this.ctx.events.emit('breaker-open', { role }),
        halfOpen: () => {
          // Half-open means "try again": the trial operation resolves the node afresh.
          this.evictRole(role, halfOpenInterruption(role));
          this.ctx.events.emit('breaker-half-open', { role });
        },
        close: () => this.ctx.events.emit('breaker-close', { role }),
      });
    this.breakers = { master: breaker('master'), replica: breaker('replica') };
  }

  override stats(): RouterStats {
    return {
      ...super.stats(),
      breaker: { master: this.breakers.master.state, replica: this.breakers.replica.state },
    };
  }

  protected async closeNodes(): Promise<void> {
    this.breakers.master.shutdown();
    this.breakers.replica.shutdown();
    const closing = routerClosed();
    await Promise.all([...this.pools].map((p) => p.close(closing)));
    this.pools.clear();
  }

  protected onMaster<T>(intent: Intent, fn: (client: Redis) => Promise<T>): Promise<T> {
    const pool = this.master;
    const breaker = this.breakers.master;
    if (pool?.alive && !this.ctx.fence.up) {
      // Fast path: the master is resolved and no failover is announced.
      const retry = intent === 'write' ? () => this.masterOperation(intent, fn, false) : undefined;
      // A closed breaker only counts, in the runner's promise step: no promise of its own.
      if (breaker.passing) return this.runner.run(pool, 'master', fn, retry, breaker.counter);
      return breaker.run(() => this.runner.run(pool, 'master', fn, retry));
    }
    return breaker.run(() => this.masterOperation(intent, fn, true));
  }

  protected onReplica<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    const plan: ReadPlan<T> = {
      preferred: this.ctx.readFrom === 'replica-preferred',
      service: this.ctx.service,
      replicas: this.replicaPools,
      promoted: this.promotedPool,
      onMaster: () => this.masterFallback(fn),
    };
    // Replicas behind an open breaker: straight to the fallbacks (the promoted replica, the master).
    if (plan.preferred && this.breakers.replica.state === 'open') {
      return this.runner.read({ ...plan, replicas: noReplicas }, fn);
    }
    return this.breakers.replica.run(() => this.runner.read(plan, fn));
  }

  private readonly replicaPools = () => this.pickReplicas();

  /**
   * The master as a 'replica-preferred' read's last resort: undefined when the sentinels report
   * it down. The master behind an open breaker is no fallback either: CircuitOpenError at once.
   */
  private masterFallback<T>(fn: (client: Redis) => Promise<T>): Promise<T> | undefined {
    const pool = this.master;
    if (pool !== undefined && this.ctx.isReportedDown(pool.address)) return undefined;
    return this.breakers.master.run(() => this.masterOperation('read', fn, false, true));
  }

  /**
   * A pool on the replica the failover leader is promoting, opened on first use and accepting
   * either ROLE (it answers `master` from REPLICAOF NO ONE on, before +switch-master names it):
   * the promotion also drops the replicas' client connections, and the other replicas resync.
   */
  private readonly promotedPool = (): NodePool | undefined => {
    const address = this.ctx.fence.promoting;
    const current = this.promoted;
    if (current?.alive && address !== undefined && sameAddress(current.address, address)) return current;
    this.dropPromoted();
    if (address === undefined || this.closed) return undefined;
    const pool = this.openPool(address, 'any');
    this.promoted = pool;
    return pool;
  };

  private dropPromoted(): void {
    this.promoted?.kill(new ReplicaNotFoundError('The promotion is over: reads follow the new topology'));
    this.promoted = undefined;
  }

  private async masterOperation<T>(
    intent: Intent,
    fn: (client: Redis) => Promise<T>,
    mayRetry: boolean,
    unlessReportedDown = false,
  ): Promise<T> {
    const pool = await this.ctx.masterFor(intent, this.masterPool);
    if (unlessReportedDown && this.ctx.isReportedDown(pool.address)) {
      throw this.ctx.masterReportedDown(pool.address);
    }
    return this.runner.run(
      pool,
      'master',
      fn,
      mayRetry ? () => this.masterOperation(intent, fn, false) : undefined,
    );
  }

  /** The master's pool: the one resolved, while it lives, else a new resolution. */
  private readonly masterPool = (): NodePool | Promise<NodePool> =>
    this.master?.alive ? this.master : this.resolveMaster();

  private resolveMaster(): Promise<NodePool> {
    return this.resolving.run('master', async () => {
      const address = await this.ctx.askMaster();
      // A +switch-master may have named this address the old master while we asked.
      if (this.ctx.isDemoted(address)) {
        throw new MasterNotFoundError(`Sentinels still name the demoted master of "${this.ctx.service}"`);
      }
      return this.adoptMaster(address, 'resolved');
    });
  }

  /** Make `address` the master: reuse its live master pool or open one; evict the rest. */
  private adoptMaster(address: NodeAddress, reason: string): NodePool {
    if (this.closed) throw routerClosed();
    const current = this.master;
    if (current?.alive && sameAddress(current.address, address)) return current;
    if (current?.alive)
      current.kill(new MasterNotFoundError(`${formatAddress(current.address)} is no longer master`));
    // A replica pool on the new master's address holds clients verified as replica.
    const stale = this.replicas?.pools.find((p) => p.key === addressKey(address));
    if (stale) stale.kill(new ReplicaNotFoundError(`${formatAddress(address)} became master`));
    if (debugEnabled) debug('pooled: master %s (%s)', formatAddress(address), reason);
    const pool = this.openPool(address, 'master');
    this.master = pool;
    this.ctx.stats.setRole(pool.key, 'master');
    if (current && !sameAddress(current.address, address)) {
      this.ctx.events.emit('topology-change', { reason: `master ${reason}`, nodes: [address] });
    }
    return pool;
  }

  private openPool(address: NodeAddress, role: ExpectedRole): NodePool {
    const pool = new NodePool(address, role, this.ctx.node, this.poolOpts, () => {
      this.pools.delete(pool);
      if (this.master === pool) this.master = undefined;
      if (this.promoted === pool) this.promoted = undefined;
    });
    this.pools.add(pool);
    return pool;
  }

  /** The live replica pools (the runner picks one and falls back). */
  private async pickReplicas(): Promise<readonly NodePool[]> {
    let set = this.replicas;
    const age = set ? Date.now() - set.at : Number.POSITIVE_INFINITY;
    if (!set) set = await this.resolveReplicas();
    else if (age > REPLICA_REFRESH_MS) this.resolveReplicas().catch(() => {});
    let alive = set.pools.filter((p) => p.alive);
    if (alive.length === 0 && age > REPLICA_RETRY_MS) {
      set = await this.resolveReplicas();
      alive = set.pools.filter((p) => p.alive);
    }
    return alive.filter((p) => this.withinLag(p.address));
  }

  private resolveReplicas(): Promise<ReplicaSet> {
    return this.resolving.run('replicas', () => this.askReplicas());
  }

  private async askReplicas(): Promise<ReplicaSet> {
    const res = await this.ctx.sentinel.replicas();
    if (!res.found) {
      throw await this.ctx.sentinel.serviceNotFound(`No sentinel knows the service "${this.ctx.service}"`);
    }
    if (this.closed) throw routerClosed();
    const usable = res.value.filter(isUsable);
    const wanted = usable.map((r) => r.address);
    const previous = this.replicas?.pools ?? [];
    const pools: NodePool[] = [];
    for (const info of usable) {
      const address = info.address;
      if (this.master?.alive && sameAddress(this.master.address, address)) continue;
      // A pool is kept unless the sentinels report the replica's link down: then a new pool
      // checks ROLE (a replica without its link is refused) — the report may be stale.
      const keep = linkReportedDown(info)
        ? undefined
        : previous.find((p) => p.alive && sameAddress(p.address, address));
      pools.push(keep ?? this.openPool(address, 'replica'));
      this.ctx.stats.setRole(addressKey(address), 'replica');
    }
    for (const p of previous) {
      if (!pools.includes(p))
        p.kill(new ReplicaNotFoundError(`${formatAddress(p.address)} left the replica set`));
    }
    const changed =
      previous.length !== pools.length || previous.some((p, i) => !sameAddress(p.address, pools[i]?.address));
    this.replicas = { pools, at: Date.now() };
    if (changed) this.ctx.events.emit('topology-change', { reason: 'replicas resolved', nodes: wanted });
    return this.replicas;
  }

  protected masterAddress(): NodeAddress | undefined {
    return this.master?.alive ? this.master.address : undefined;
  }

  private evictRole(role: BreakerRole, err: Error): void {
    if (role === 'master') {
      this.master?.kill(err);
      this.master = undefined;
    } else {
      for (const p of this.replicas?.pools ?? []) p.kill(err);
      this.replicas = undefined;
    }
  }

  protected onNews(news: SentinelNews): void {
    if (news.type === 'switch') {
      // Everything known about the old topology goes: the old master's pool (borrowed
      // clients too), and the replica set (the new master was one of them).
      for (const p of this.pools) {
        if (sameAddress(p.address, news.from)) {
          p.kill(new MasterNotFoundError(`${formatAddress(p.address)} was failed over`));
        }
      }
      this.adoptMaster(news.to, '+switch-master');
      this.replicas = undefined;
      this.dropPromoted();
      // The new master is known: let writes through at once instead of after resetTimeout.
      this.breakers.master.reset();
    } else if (news.type === 'failover-abort') {
      this.dropPromoted();
    } else if (news.type === 'resync') {
      // We may have missed a +switch-master while a subscription was down: check.
      this.ctx
        .askMaster()
        .then((address) => {
          if (!this.closed && this.master && !sameAddress(this.master.address, address)) {
            this.adoptMaster(address, 'changed while a sentinel subscription was down');
            this.replicas = undefined;
          }
        })
        .catch(() => {});
    }
  }
}
