import type { Redis } from 'ioredis';
import type { DataConnectionHook } from '../core/connection-hook.js';
import { CacheClosedError, MasterNotFoundError, ReplicaNotFoundError } from '../core/errors.js';
import type {
  Intent,
  NodeAddress,
  Router,
  RouterEvent,
  RouterEventMap,
  RouterStats,
} from '../core/router.js';
import { isConnectionError, isReadOnlyError, isTimeoutError, translateError } from './errors.js';
import { connectVerified, type NodeRole, queryRole, wrongRoleError } from './node-clients.js';
import { addressKey } from './sentinel/address.js';
import { canFallBack, SentinelContext, type SentinelNews } from './sentinel/context.js';
import { FreshQuery } from './sentinel/fresh-query.js';
import { isUsable } from './sentinel/sentinel-client.js';
import type { SentinelRouterOptions } from './types.js';
import { coalesceWrites } from './write-coalescing.js';

/**
 * Sentinel queries outstanding at once (each serving every operation that started in one
 * event-loop turn). Measured with 20 writers: 16 beat 4 by ~7% and 1 by ~25%; the
 * sentinel answers get-master-addr-by-name in microseconds, so more overlap is cheap.
 */
const SENTINEL_QUERIES_IN_FLIGHT = 16;

/** A verified connection to one node, shared by every operation routed to that address. */
interface NodeConnection {
  address: NodeAddress;
  key: string;
  client: Redis;
  /** What ROLE said when we connected (or last re-checked). */
  role: NodeRole;
  dropped?: boolean;
}

/**
 * Per-request discovery: every operation asks a sentinel where the master (writes) or a
 * live replica (reads) is *now*, then runs on a connection to exactly that address.
 *
 * - Connections are cached per address, never per role: when the master moves, writes
 *   follow the sentinel's answer to another address, so a demoted master is not written
 *   to through a connection opened when it was master.
 * - ROLE is checked on every new connection; a connection first opened to a replica is
 *   re-checked before it carries a write.
 * - Concurrent operations share sentinel queries through FreshQuery, which only lets an
 *   operation use a query sent after it started.
 */
export function discovery(opts: SentinelRouterOptions): Router {
  return new DiscoveryRouter(opts);
}

export class DiscoveryRouter implements Router {
  readonly kind = 'discovery';
  private readonly ctx: SentinelContext;
  private readonly conns = new Map<string, NodeConnection>();
  private readonly connecting = new Map<string, Promise<NodeConnection>>();
  private readonly masterQuery: FreshQuery<NodeAddress>;
  private readonly replicaQuery: FreshQuery<NodeAddress[]>;
  private closed = false;
  private nextReplica = 0;

  constructor(opts: SentinelRouterOptions) {
    this.ctx = new SentinelContext(opts, (news) => this.onNews(news));
    this.masterQuery = new FreshQuery(() => this.ctx.askMaster(), SENTINEL_QUERIES_IN_FLIGHT);
    this.replicaQuery = new FreshQuery(() => this.askReplicas(), SENTINEL_QUERIES_IN_FLIGHT);
  }

  async execute<T>(intent: Intent, fn: (client: Redis) => Promise<T>): Promise<T> {
    if (this.closed) throw new CacheClosedError('Router is closed');
    this.ctx.start();
    if (intent === 'write' || this.ctx.readFrom === 'master') return this.onMaster(intent, fn, true);
    return this.onReplica(fn);
  }

  on<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void {
    this.ctx.events.on(event, fn);
  }

  off<E extends RouterEvent>(event: E, fn: (payload: RouterEventMap[E]) => void): void {
    this.ctx.events.off(event, fn);
  }

  stats(): RouterStats {
    return { kind: this.kind, nodes: this.ctx.stats.snapshot(), failovers: this.ctx.failovers };
  }

  onDataConnection(hook: DataConnectionHook): () => void {
    return this.ctx.node.hooks.add(hook);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const conn of this.conns.values()) conn.client.disconnect();
    this.conns.clear();
    await Promise.allSettled([...this.connecting.values()]);
    for (const conn of this.conns.values()) conn.client.disconnect();
    this.conns.clear();
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
    let address = await this.masterQuery.get();
    if (this.ctx.isDemoted(address)) {
      // The answer was obtained just before a +switch-master named this address as the
      // old master: ask again rather than write to it.
      address = await this.masterQuery.get();
      if (this.ctx.isDemoted(address)) {
        throw new MasterNotFoundError(`Sentinels still name the demoted master of "${this.ctx.service}"`);
      }
    }
    const cached = this.conns.get(addressKey(address));
    const conn =
      cached?.role === 'master' && cached.client.status === 'ready'
        ? cached
        : await this.connection(address, 'master');
    return this.run(conn, 'master', fn, mayRetry ? () => this.onMaster(intent, fn, false) : undefined);
  }

  private async onReplica<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    const preferred = this.ctx.readFrom === 'replica-preferred';
    let conn: NodeConnection;
    try {
      const replicas = await this.replicaQuery.get();
      const address = replicas[this.nextReplica++ % Math.max(1, replicas.length)];
      if (address === undefined) {
        throw new ReplicaNotFoundError(`No usable replica for "${this.ctx.service}"`);
      }
      conn = await this.connection(address, 'replica');
    } catch (err) {
      if (preferred && canFallBack(err)) return this.onMaster('read', fn, false);
      throw err;
    }
    try {
      return await this.run(conn, 'replica', fn, undefined);
    } catch (err) {
      // A replica that fails under a read: replica-preferred means "the master will do".
      if (preferred && isConnectionError(err)) return this.onMaster('read', fn, false);
      throw err;
    }
  }

  private async run<T>(
    conn: NodeConnection,
    role: 'master' | 'replica',
    fn: (client: Redis) => Promise<T>,
    retry: (() => Promise<T>) | undefined,
  ): Promise<T> {
    this.ctx.stats.op(conn.key, role);
    try {
      coalesceWrites(conn.client);
      return await fn(conn.client);
    } catch (err) {
      this.ctx.stats.error(conn.key);
      if (isReadOnlyError(err)) {
        // The node was demoted under us; the write was refused, so retrying is safe.
        conn.role = 'slave';
        this.drop(conn);
        if (retry) return retry();
      } else if (isConnectionError(err) || isTimeoutError(err)) {
        // A timed-out or broken connection is thrown away: the next operation connects
        // again and checks ROLE again (a paused master may come back demoted).
        this.drop(conn);
        const translated = translateError(err, conn.address, this.ctx.node.commandTimeoutMs);
        this.ctx.events.emit('error', { error: translated as Error });
        throw translated;
      }
      throw translateError(err, conn.address, this.ctx.node.commandTimeoutMs);
    }
  }

  /** The cached connection to `address`, or a new ROLE-verified one. */
  private async connection(address: NodeAddress, need: 'master' | 'replica'): Promise<NodeConnection> {
    const key = addressKey(address);
    let conn = this.conns.get(key);
    if (conn && conn.client.status !== 'ready') {
      this.drop(conn);
      conn = undefined;
    }
    if (!conn) conn = await this.connect(address, key);
    if (need === 'master' && conn.role !== 'master') {
      // Opened when the node was a replica; it may have been promoted since. Ask again.
      try {
        conn.role = await queryRole(conn.client);
      } catch (err) {
        this.drop(conn);
        throw translateError(err, address, this.ctx.node.commandTimeoutMs);
      }
      if (conn.role !== 'master') throw wrongRoleError(address, conn.role, 'master');
    }
    return conn;
  }

  private connect(address: NodeAddress, key: string): Promise<NodeConnection> {
    let pending = this.connecting.get(key);
    if (pending) return pending;
    pending = connectVerified(address, this.ctx.node, 'any').then(
      ({ client, role }) => {
        this.connecting.delete(key);
        if (this.closed) {
          client.disconnect();
          throw new CacheClosedError('Router is closed');
        }
        const conn: NodeConnection = { address, key, client, role };
        this.conns.set(key, conn);
        this.ctx.stats.setRole(key, role === 'master' ? 'master' : 'replica');
        return conn;
      },
      (err: unknown) => {
        this.connecting.delete(key);
        this.ctx.stats.error(key);
        throw err;
      },
    );
    this.connecting.set(key, pending);
    return pending;
  }

  private drop(conn: NodeConnection): void {
    if (this.conns.get(conn.key) === conn) this.conns.delete(conn.key);
    // Every operation that failed on this connection comes here; disconnect once.
    if (conn.dropped) return;
    conn.dropped = true;
    conn.client.disconnect();
  }

  private async askReplicas(): Promise<NodeAddress[]> {
    const res = await this.ctx.sentinel.replicas();
    if (!res.found) {
      throw new MasterNotFoundError(`No sentinel knows the service "${this.ctx.service}"`);
    }
    return res.value.filter(isUsable).map((r) => r.address);
  }

  private onNews(news: SentinelNews): void {
    if (news.type === 'switch') {
      // Connections to the old master are closed now: it may come back still believing
      // it is master for a moment, and nothing of ours must write to it then.
      const old = this.conns.get(addressKey(news.from));
      if (old) this.drop(old);
      this.ctx.events.emit('topology-change', { reason: '+switch-master', nodes: [news.to] });
    }
  }
}
