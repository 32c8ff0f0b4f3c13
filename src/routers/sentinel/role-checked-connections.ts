import type { Redis } from 'ioredis';
import { debug, debugEnabled } from '../../core/debug.js';
import { MasterNotFoundError } from '../../core/errors.js';
import { formatAddress, translateError } from '../errors.js';
import {
  connectVerified,
  type ExpectedRole,
  type NodeRole,
  queryRoleInfo,
  replicaLinkDownError,
  wrongRoleError,
} from '../node-clients.js';
import { type NodeHandle, routerClosed } from '../route-runner.js';
import type { NodeAddress } from '../types.js';
import { addressKey } from './address.js';
import type { SentinelContext } from './context.js';

/** A replica reported with its link down is asked ROLE again at most this often. */
const LINK_RECHECK_MS = 1000;

/** A connection to one node, shared by every operation routed to that address. */
export interface RoleCheckedConnection {
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
 * The discovery router's data connections: one per address, never per role, each with the
 * node's own word on its role (ROLE), checked when it opens and again after every topology
 * change before its next use.
 *
 * Per address rather than per role so that when the master moves, writes follow the sentinel's
 * answer to another address: a demoted master is not written to through a connection opened
 * when it was master. ROLE is checked because sentinels list a deposed master as a replica
 * before it has become one: a write runs only on a node whose ROLE says master, a replica read
 * only on one whose ROLE says replica with its link up.
 */
export class RoleCheckedConnections {
  private readonly conns = new Map<string, RoleCheckedConnection>();
  private readonly connecting = new Map<string, Promise<RoleCheckedConnection>>();
  /** The runner's view of each address, per role (one object per address and role). */
  private readonly masterNodeHandles = new Map<string, NodeHandle>();
  private readonly replicaNodeHandles = new Map<string, NodeHandle>();
  /** For the replica a failover leader is promoting: master or replica will do. */
  private readonly promotedNodeHandles = new Map<string, NodeHandle>();
  /** Bumped on every topology change; connections checked in an older epoch are re-checked. */
  private topologyEpoch = 0;
  /** Replicas the sentinels last reported with `master-link-status: err`. */
  private linkDown = new Set<string>();
  private closed = false;

  constructor(private readonly ctx: SentinelContext) {}

  /** Roles may be changing (sentinel news): every connection is re-checked before its next use. */
  topologyChanged(): void {
    this.topologyEpoch++;
  }

  /** The current topology epoch (a speculative read remembers the one it was sent in). */
  get epoch(): number {
    return this.topologyEpoch;
  }

  /**
   * A +switch-master named `address` as the old master: its connection is closed now, since it
   * may come back still believing it is master for a moment, and nothing of ours must write to
   * it then.
   */
  closeOldMaster(address: NodeAddress): void {
    const old = this.conns.get(addressKey(address));
    if (old) this.drop(old);
  }

  /** The replicas a sentinel answer reports with their link down (re-checked more often). */
  reportLinkDown(keys: Set<string>): void {
    this.linkDown = keys;
  }

  /**
   * The connection to `key`, if it is ready and its ROLE check is current and fits `need`;
   * undefined when using it would first need a connect or a ROLE check.
   */
  current(key: string, need: ExpectedRole): RoleCheckedConnection | undefined {
    const conn = this.conns.get(key);
    if (conn?.client.status !== 'ready' || !this.checkIsCurrent(conn, need) || !fits(conn, need)) {
      return undefined;
    }
    return conn;
  }

  /** `conn` is still the connection to its address, not dropped, and its last ROLE check fits `need`. */
  holds(conn: RoleCheckedConnection, need: ExpectedRole): boolean {
    return this.conns.get(conn.key) === conn && !conn.dropped && fits(conn, need);
  }

  /** The runner's view of `address` in one role (one object per address and role). */
  handle(address: NodeAddress, need: ExpectedRole, key = addressKey(address)): NodeHandle {
    const handles =
      need === 'master'
        ? this.masterNodeHandles
        : need === 'replica'
          ? this.replicaNodeHandles
          : this.promotedNodeHandles;
    let handle = handles.get(key);
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
      handles.set(key, handle);
    }
    return handle;
  }

  /** Close every connection, those still opening included; none opens after this. */
  async close(): Promise<void> {
    this.closed = true;
    for (const conn of this.conns.values()) conn.client.disconnect();
    this.conns.clear();
    await Promise.allSettled([...this.connecting.values()]);
    for (const conn of this.conns.values()) conn.client.disconnect();
    this.conns.clear();
  }

  /** A write never goes to an address a +switch-master named as the old master. */
  private notDemoted(conn: RoleCheckedConnection, need: ExpectedRole): RoleCheckedConnection {
    if (need === 'master' && this.ctx.isDemoted(conn.address)) {
      throw new MasterNotFoundError(`${formatAddress(conn.address)} was failed over: it is no longer master`);
    }
    return conn;
  }

  /** The cached connection to `address`, or a new one; ROLE checked in the current epoch. */
  private async connection(address: NodeAddress, need: ExpectedRole): Promise<RoleCheckedConnection> {
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
      const epoch = this.topologyEpoch;
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

  private connect(address: NodeAddress, key: string): Promise<RoleCheckedConnection> {
    let pending = this.connecting.get(key);
    if (pending) return pending;
    const epoch = this.topologyEpoch;
    pending = connectVerified(address, this.ctx.node, 'any').then(
      ({ client, role, linkUp }) => {
        this.connecting.delete(key);
        if (this.closed) {
          client.disconnect();
          throw routerClosed();
        }
        const conn: RoleCheckedConnection = {
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

  private drop(conn: RoleCheckedConnection): void {
    if (this.conns.get(conn.key) === conn) this.conns.delete(conn.key);
    // Every operation that failed on this connection comes here; disconnect once.
    if (conn.dropped) return;
    conn.dropped = true;
    if (debugEnabled) debug('discovery: connection to %s (ROLE %s) dropped', conn.key, conn.role);
    conn.client.disconnect();
  }

  /**
   * The connection's last ROLE check still stands: made in this topology epoch, and for a
   * replica the sentinels report with its link down, less than LINK_RECHECK_MS ago (their
   * report may be up to 10 s old; ROLE is the node's own word).
   */
  private checkIsCurrent(conn: RoleCheckedConnection, need: ExpectedRole): boolean {
    if (conn.epoch !== this.topologyEpoch) return false;
    if (need !== 'replica' || !this.linkDown.has(conn.key)) return true;
    return performance.now() - conn.checkedAt < LINK_RECHECK_MS;
  }
}

/** The connection's last ROLE check says it can serve `need`. */
function fits(conn: RoleCheckedConnection, need: ExpectedRole): boolean {
  if (need === 'master') return conn.role === 'master';
  if (need === 'replica') return conn.role === 'slave' && conn.linkUp;
  return conn.role === 'master' || conn.role === 'slave';
}
