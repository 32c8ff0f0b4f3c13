import type { Redis } from 'ioredis';
import type { DataConnectionHook } from '../core/connection-hook.js';
import {
  CacheClosedError,
  ConfigError,
  ConnectionInterruptedError,
  MasterNotFoundError,
  ReplicaNotFoundError,
} from '../core/errors.js';
import type {
  Intent,
  NodeAddress,
  Router,
  RouterEvent,
  RouterEventMap,
  RouterStats,
} from '../core/router.js';
import { type BreakerRole, RoleBreaker } from './breaker.js';
import {
  formatAddress,
  isConnectionError,
  isReadOnlyError,
  isTimeoutError,
  translateError,
} from './errors.js';
import { addressKey, sameAddress } from './sentinel/address.js';
import { canFallBack, SentinelContext, type SentinelNews } from './sentinel/context.js';
import { NodePool, type NodePoolOptions } from './sentinel/node-pool.js';
import { isUsable } from './sentinel/sentinel-client.js';
import type { PooledRouterOptions } from './types.js';
import { coalesceWrites } from './write-coalescing.js';

export const POOL_DEFAULTS: NodePoolOptions = { min: 1, max: 8, acquireTimeoutMs: 1000 };
/** A replica list older than this is refreshed in the background on the next read. */
const REPLICA_REFRESH_MS = 5000;
/** With no live replica, ask the sentinels again at most this often. */
const REPLICA_RETRY_MS = 1000;

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
 * - MasterNotFound / ReplicaNotFound, a connection error or a command timeout.
 * One opossum breaker per role makes callers fail fast while no master answers.
 *
 * While every sentinel is down, existing pools keep serving (a running master does not
 * need sentinels); only a resolution (first use, or after an eviction) fails, with
 * SentinelUnavailableError.
 */
export function pooled(opts: PooledRouterOptions): Router {
  return new PooledRouter(opts);
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

export class PooledRouter implements Router {
  readonly kind = 'pooled';
  private readonly ctx: SentinelContext;
  private readonly poolOpts: NodePoolOptions;
  private readonly breakers: Record<BreakerRole, RoleBreaker>;
  private master: NodePool | undefined;
  private masterResolving: Promise<NodePool> | undefined;
  private replicas: ReplicaSet | undefined;
  private replicasResolving: Promise<ReplicaSet> | undefined;
  /** Every pool ever opened and not yet closed, so close() reaches all sockets. */
  private readonly pools = new Set<NodePool>();
  private closed = false;
  private nextReplica = 0;

  constructor(opts: PooledRouterOptions) {
    this.ctx = new SentinelContext(opts, (news) => this.onNews(news));
    this.poolOpts = poolOptions(opts.pool);
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

  execute<T>(intent: Intent, fn: (client: Redis) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new CacheClosedError('Router is closed'));
    this.ctx.start();
    if (intent === 'write' || this.ctx.readFrom === 'master') {
      const pool = this.master;
      if (pool?.alive && !this.ctx.fence.up) {
        // Fast path: the master is resolved and no failover is announced.
        return this.breakers.master.run(() =>
          this.runOn(pool, fn, intent === 'write' ? () => this.onMaster(intent, fn, false) : undefined),
        );
      }
      return this.breakers.master.run(() => this.onMaster(intent, fn, true));
    }
    if (this.ctx.readFrom === 'replica-preferred' && this.breakers.replica.state === 'open') {
      return this.breakers.master.run(() => this.onMaster('read', fn, false));
    }
    return this.breakers.replica.run(() => this.onReplica(fn));
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
      breaker: { master: this.breakers.master.state, replica: this.breakers.replica.state },
    };
  }

  onDataConnection(hook: DataConnectionHook): () => void {
    return this.ctx.node.hooks.add(hook);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.breakers.master.shutdown();
    this.breakers.replica.shutdown();
    await Promise.allSettled([this.masterResolving, this.replicasResolving]);
    const closing = new CacheClosedError('Router is closed');
    await Promise.all([...this.pools].map((p) => p.close(closing)));
    this.pools.clear();
    await this.ctx.close();
    this.ctx.events.clear();
  }

  /** Resolves once the +switch-master subscriptions are up (tests and benchmarks use it). */
  async ready(): Promise<void> {
    this.ctx.start();
    await this.ctx.watcher.ready();
  }

  private async onMaster<T>(
    intent: Intent,
    fn: (client: Redis) => Promise<T>,
    mayRetry: boolean,
  ): Promise<T> {
    await this.ctx.holdWriteDuringFailover(intent);
    const pool = this.master?.alive ? this.master : await this.resolveMaster();
    return this.runOn(pool, fn, mayRetry ? () => this.onMaster(intent, fn, false) : undefined);
  }

  private async onReplica<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    const preferred = this.ctx.readFrom === 'replica-preferred';
    let pool: NodePool | undefined;
    try {
      pool = await this.pickReplica();
    } catch (err) {
      if (!preferred || !canFallBack(err)) throw err;
    }
    if (!pool) {
      if (preferred) return this.onMaster('read', fn, false);
      throw new ReplicaNotFoundError(`No usable replica for "${this.ctx.service}"`);
    }
    try {
      return await this.runOn(pool, fn, undefined);
    } catch (err) {
      if (preferred && isConnectionError(err)) return this.onMaster('read', fn, false);
      throw err;
    }
  }

  private async runOn<T>(
    pool: NodePool,
    fn: (client: Redis) => Promise<T>,
    retry: (() => Promise<T>) | undefined,
  ): Promise<T> {
    const { commandTimeoutMs } = this.ctx.node;
    let client: Redis;
    try {
      const lent = pool.acquire();
      client = lent instanceof Promise ? await lent : lent;
    } catch (err) {
      this.ctx.stats.error(pool.key);
      const translated = translateError(err, pool.address, commandTimeoutMs);
      if (!(translated instanceof CacheClosedError)) pool.kill(translated as Error);
      throw translated;
    }
    this.ctx.stats.op(pool.key, pool.role);
    try {
      coalesceWrites(client);
      const result = await fn(client);
      pool.release(client);
      return result;
    } catch (err) {
      this.ctx.stats.error(pool.key);
      if (isReadOnlyError(err)) {
        // The node was demoted: the write was refused (nothing written), so it is safe to
        // retry once on whatever the sentinels now call master.
        pool.kill(new MasterNotFoundError(`${formatAddress(pool.address)} replied READONLY`));
        if (retry) return retry();
        throw err;
      }
      if (isConnectionError(err) || isTimeoutError(err)) {
        const translated = translateError(err, pool.address, commandTimeoutMs) as Error;
        pool.kill(translated);
        this.ctx.events.emit('error', { error: translated });
        throw translated;
      }
      pool.release(client);
      throw translateError(err, pool.address, commandTimeoutMs);
    }
  }

  private resolveMaster(): Promise<NodePool> {
    if (!this.masterResolving) {
      const p = this.ctx.askMaster().then(
        (address) => {
          if (this.masterResolving === p) this.masterResolving = undefined;
          return this.adoptMaster(address, 'resolved');
        },
        (err: unknown) => {
          if (this.masterResolving === p) this.masterResolving = undefined;
          throw err;
        },
      );
      this.masterResolving = p;
    }
    return this.masterResolving;
  }

  /** Make `address` the master: reuse its live master pool or open one; evict the rest. */
  private adoptMaster(address: NodeAddress, reason: string): NodePool {
    if (this.closed) throw new CacheClosedError('Router is closed');
    const current = this.master;
    if (current?.alive && sameAddress(current.address, address)) return current;
    if (current?.alive)
      current.kill(new MasterNotFoundError(`${formatAddress(current.address)} is no longer master`));
    // A replica pool on the new master's address holds clients verified as replica.
    const stale = this.replicas?.pools.find((p) => p.key === addressKey(address));
    if (stale) stale.kill(new ReplicaNotFoundError(`${formatAddress(address)} became master`));
    const pool = this.openPool(address, 'master');
    this.master = pool;
    this.ctx.stats.setRole(pool.key, 'master');
    if (current && !sameAddress(current.address, address)) {
      this.ctx.events.emit('topology-change', { reason: `master ${reason}`, nodes: [address] });
    }
    return pool;
  }

  private openPool(address: NodeAddress, role: 'master' | 'replica'): NodePool {
    const pool = new NodePool(address, role, this.ctx.node, this.poolOpts, () => {
      this.pools.delete(pool);
      if (this.master === pool) this.master = undefined;
    });
    this.pools.add(pool);
    return pool;
  }

  private async pickReplica(): Promise<NodePool | undefined> {
    let set = this.replicas;
    const age = set ? Date.now() - set.at : Number.POSITIVE_INFINITY;
    if (!set) set = await this.resolveReplicas();
    else if (age > REPLICA_REFRESH_MS) this.resolveReplicas().catch(() => {});
    let alive = set.pools.filter((p) => p.alive);
    if (alive.length === 0 && age > REPLICA_RETRY_MS) {
      set = await this.resolveReplicas();
      alive = set.pools.filter((p) => p.alive);
    }
    return alive[this.nextReplica++ % Math.max(1, alive.length)];
  }

  private resolveReplicas(): Promise<ReplicaSet> {
    if (!this.replicasResolving) {
      const p = this.askReplicas().then(
        (set) => {
          if (this.replicasResolving === p) this.replicasResolving = undefined;
          return set;
        },
        (err: unknown) => {
          if (this.replicasResolving === p) this.replicasResolving = undefined;
          throw err;
        },
      );
      this.replicasResolving = p;
    }
    return this.replicasResolving;
  }

  private async askReplicas(): Promise<ReplicaSet> {
    const res = await this.ctx.sentinel.replicas();
    if (!res.found) throw new MasterNotFoundError(`No sentinel knows the service "${this.ctx.service}"`);
    if (this.closed) throw new CacheClosedError('Router is closed');
    const wanted = res.value.filter(isUsable).map((r) => r.address);
    const previous = this.replicas?.pools ?? [];
    const pools: NodePool[] = [];
    for (const address of wanted) {
      if (this.master?.alive && sameAddress(this.master.address, address)) continue;
      const keep = previous.find((p) => p.alive && sameAddress(p.address, address));
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

  private evictRole(role: BreakerRole, err: Error): void {
    if (role === 'master') {
      this.master?.kill(err);
      this.master = undefined;
    } else {
      for (const p of this.replicas?.pools ?? []) p.kill(err);
      this.replicas = undefined;
    }
  }

  private onNews(news: SentinelNews): void {
    if (this.closed) return;
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
      // The new master is known: let writes through at once instead of after resetTimeout.
      this.breakers.master.reset();
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

function poolOptions(pool: PooledRouterOptions['pool']): NodePoolOptions {
  const o = {
    min: pool?.min ?? POOL_DEFAULTS.min,
    max: pool?.max ?? POOL_DEFAULTS.max,
    acquireTimeoutMs: pool?.acquireTimeoutMs ?? POOL_DEFAULTS.acquireTimeoutMs,
  };
  if (!Number.isInteger(o.max) || o.max < 1) throw new ConfigError('pool.max: expected an integer >= 1');
  if (!Number.isInteger(o.min) || o.min < 0 || o.min > o.max) {
    throw new ConfigError('pool.min: expected an integer between 0 and pool.max');
  }
  if (!(o.acquireTimeoutMs > 0)) throw new ConfigError('pool.acquireTimeoutMs: expected a positive number');
  return o;
}
