import type { Redis } from 'ioredis';
import { MasterNotFoundError } from '../core/errors.js';
import { formatAddress, translateError } from './errors.js';
import {
  connectVerified,
  type NodeRole,
  queryRoleInfo,
  replicaLinkDownError,
  wrongRoleError,
} from './node-clients.js';
import { type NodeHandle, type NodeRoleNeed, routerClosed } from './pipeline.js';
import { addressKey } from './sentinel/address.js';
import type { SentinelNews } from './sentinel/context.js';
import { FreshQuery } from './sentinel/fresh-query.js';
import { isUsable, linkReportedDown } from './sentinel/sentinel-client.js';
import { SentinelRouter } from './sentinel/sentinel-router.js';
import type { Intent, NodeAddress, Router, SentinelRouterOptions } from './types.js';

/**
 * Sentinel queries outstanding at once (each serving every operation that started in one
 * event-loop turn). Measured with 20 writers: 16 beat 4 by ~7% and 1 by ~25%; the
 * sentinel answers get-master-addr-by-name in microseconds, so more overlap is cheap.
 */
const SENTINEL_QUERIES_IN_FLIGHT = 16;
/** A replica reported with its link down is asked ROLE again at most this often. */
const LINK_RECHECK_MS = 1000;

/** A connection to one node, shared by every operation routed to that address. */
interface NodeConnection {
  address: NodeAddress;
  key: string;
  client: Redis;
  /** What ROLE said when we connected, or when it was last re-checked. */
  role: NodeRole;
  /** A replica's link to its master was up at that check. */
  linkUp: boolean;
  /** The topology epoch of that check: a newer epoch means "ask ROLE again before use". */
  epoch: number;
  /** When that check was made (performance.now()). */
  checkedAt: number;
  dropped?: boolean;
}

/**
 * Per-request discovery: every operation asks a sentinel where the master (writes) or a
 * live replica (reads) is *now*, then runs on a connection to exactly that address.
 *
 * - Connections are cached per address, never per role: when the master moves, writes
 *   follow the sentinel's answer to another address, so a demoted master is not written
 *   to through a connection opened when it was master.
 * - ROLE is checked on every new connection and again after every topology change
 *   (failover news, a subscription resync): a write runs only on a node whose ROLE says
 *   master, a replica read only on one whose ROLE says replica with its link up (sentinels
 *   list a deposed master as a replica before it has become one).
 * - Concurrent operations share sentinel queries through FreshQuery, which only lets an
 *   operation use a query sent after it started.
 */
export function discovery(opts: SentinelRouterOptions): Router {
  return new DiscoveryRouter(opts);
}

export class DiscoveryRouter extends SentinelRouter {
  readonly kind = 'discovery';
  private readonly conns = new Map<string, NodeConnection>();
  private readonly connecting = new Map<string, Promise<NodeConnection>>();
  private readonly handles = new Map<string, NodeHandle>();
  private readonly masterQuery: FreshQuery<NodeAddress>;
  private readonly replicaQuery: FreshQuery<NodeAddress[]>;
  /** Bumped on every topology change; connections checked in an older epoch are re-checked. */
  private epoch = 0;
  /** Replicas the sentinels last reported with `master-link-status: err`. */
  private readonly linkDown = new Set<string>();

  constructor(opts: SentinelRouterOptions) {
    super(opts);
    this.masterQuery = new FreshQuery(() => this.ctx.askMaster(), SENTINEL_QUERIES_IN_FLIGHT);
    this.replicaQuery = new FreshQuery(() => this.askReplicas(), SENTINEL_QUERIES_IN_FLIGHT);
  }

  protected async closeNodes(): Promise<void> {
    for (const conn of this.conns.values()) conn.client.disconnect();
    this.conns.clear();
    await Promise.allSettled([...this.connecting.values()]);
    for (const conn of this.conns.values()) conn.client.disconnect();
    this.conns.clear();
  }

  protected onMaster<T>(intent: Intent, fn: (client: Redis) => Promise<T>, mayRetry = true): Promise<T> {
    return this.masterOperation(intent, fn, mayRetry);
  }

  protected onReplica<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    return this.pipeline.read(
      {
        preferred: this.ctx.readFrom === 'replica-preferred',
        service: this.ctx.service,
        replicas: async () =>
          (await this.replicaQuery.get())
            .filter((a) => this.withinLag(a))
            .map((a) => this.handle(a, 'replica')),
        onMaster: () => this.masterOperation('read', fn, false),
      },
      fn,
    );
  }

  private async masterOperation<T>(
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
    return this.pipeline.run(
      this.handle(address, 'master'),
      'master',
      fn,
      mayRetry ? () => this.masterOperation(intent, fn, false) : undefined,
    );
  }

  /** The pipeline's view of `address` in one role (one object per address and role). */
  private handle(address: NodeAddress, need: NodeRoleNeed): NodeHandle {
    const key = addressKey(address);
    const id = `${need}@${key}`;
    let handle = this.handles.get(id);
    if (!handle) {
      handle = {
        address,
        key,
        acquire: () => {
          const conn = this.conns.get(key);
          // Fast path: a live connection checked in this epoch, in the role we need.
          if (conn && conn.client.status === 'ready' && this.checkIsCurrent(conn, need) && fits(conn, need)) {
            return this.notDemoted(conn, need).client;
          }
          return this.connection(address, need).then((c) => this.notDemoted(c, need).client);
        },
        release: () => {},
        evict: (_err, client) => {
          const conn = this.conns.get(key);
          if (conn && (client === undefined || conn.client === client)) this.drop(conn);
        },
      };
      this.handles.set(id, handle);
    }
    return handle;
  }

  /** A write never goes to an address a +switch-master named as the old master. */
  private notDemoted(conn: NodeConnection, need: NodeRoleNeed): NodeConnection {
    if (need === 'master' && this.ctx.isDemoted(conn.address)) {
      throw new MasterNotFoundError(`${formatAddress(conn.address)} was failed over: it is no longer master`);
    }
    return conn;
  }

  /** The cached connection to `address`, or a new one; ROLE checked in the current epoch. */
  private async connection(address: NodeAddress, need: NodeRoleNeed): Promise<NodeConnection> {
    const key = addressKey(address);
    let conn = this.conns.get(key);
    if (conn && conn.client.status !== 'ready') {
      this.drop(conn);
      conn = undefined;
    }
    if (!conn) conn = await this.connect(address, key);
    if (!this.checkIsCurrent(conn, need) || !fits(conn, need)) {
      // Checked before the last topology change, or in another role, or a sentinel reports
      // the replica's link down: ask again (a replica may have been promoted, a deposed
      // master may not have been demoted yet, a link may have broken or recovered).
      const epoch = this.epoch;
      try {
        const info = await queryRoleInfo(conn.client);
        conn.role = info.role;
        conn.linkUp = info.linkUp;
        conn.epoch = epoch;
        conn.checkedAt = performance.now();
      } catch (err) {
        this.drop(conn);
        throw translateError(err, address, this.ctx.node.commandTimeoutMs);
      }
      this.ctx.stats.setRole(key, conn.role === 'master' ? 'master' : 'replica');
    }
    if (!fits(conn, need)) {
      if (need === 'replica' && conn.role === 'slave') {
        throw replicaLinkDownError(address);
      }
      throw wrongRoleError(address, conn.role, need);
    }
    return conn;
  }

  private connect(address: NodeAddress, key: string): Promise<NodeConnection> {
    let pending = this.connecting.get(key);
    if (pending) return pending;
    const epoch = this.epoch;
    pending = connectVerified(address, this.ctx.node, 'any').then(
      ({ client, role, linkUp }) => {
        this.connecting.delete(key);
        if (this.closed) {
          client.disconnect();
          throw routerClosed();
        }
        const conn: NodeConnection = {
          address,
          key,
          client,
          role,
          linkUp,
          epoch,
          checkedAt: performance.now(),
        };
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
    const usable = res.value.filter(isUsable);
    this.linkDown.clear();
    for (const r of usable) if (linkReportedDown(r)) this.linkDown.add(addressKey(r.address));
    return usable.map((r) => r.address);
  }

  /**
   * The connection's last ROLE check still stands: made in this topology epoch, and for a
   * replica the sentinels report with its link down, less than LINK_RECHECK_MS ago (their
   * report may be up to 10 s old; ROLE is the node's own word).
   */
  private checkIsCurrent(conn: NodeConnection, need: NodeRoleNeed): boolean {
    if (conn.epoch !== this.epoch) return false;
    if (need !== 'replica' || !this.linkDown.has(conn.key)) return true;
    return performance.now() - conn.checkedAt < LINK_RECHECK_MS;
  }

  protected onNews(news: SentinelNews): void {
    // Roles may be changing: every connection is re-checked before its next use.
    this.epoch++;
    if (news.type === 'switch') {
      // Connections to the old master are closed now: it may come back still believing
      // it is master for a moment, and nothing of ours must write to it then.
      const old = this.conns.get(addressKey(news.from));
      if (old) this.drop(old);
      this.ctx.events.emit('topology-change', { reason: '+switch-master', nodes: [news.to] });
    }
  }
}

/** The connection's last ROLE check says it can serve `need`. */
function fits(conn: NodeConnection, need: NodeRoleNeed): boolean {
  return need === 'master' ? conn.role === 'master' : conn.role === 'slave' && conn.linkUp;
}
