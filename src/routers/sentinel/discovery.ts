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
import {
  isBrokenConnection,
  mayReadElsewhere,
  type NodeHandle,
  type NodeRoleNeed,
  type ReadPlan,
  routerClosed,
} from '../route-runner.js';
import type { DiscoveryRouterOptions, Intent, NodeAddress, RouterStats } from '../types.js';
import { coalesceUntilImmediate } from '../write-coalescing.js';
import { addressKey, sameAddress } from './address.js';
import type { SentinelNews } from './context.js';
import { FreshQuery } from './fresh-query.js';
import { checkDiscoveryOptions } from './options.js';
import { type ReadAuditMessage, readAudit } from './read-audit.js';
import { isUsable, isUsableWhilePromoted, linkReportedDown } from './sentinel-client.js';
import { SentinelRouter } from './sentinel-router.js';
import { judgeSpeculation, SpeculationCounters } from './speculation.js';

/**
 * Sentinel queries outstanding at once (each serving every operation that started in one
 * event-loop turn); a sentinel answers in microseconds, so overlap is cheap
 * (docs/design.md#discovery-coalescing).
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

/** A read sent ahead of its sentinel answer (speculativeReads). */
interface Speculation<T> {
  conn: NodeConnection;
  handle: NodeHandle;
  client: Redis;
  need: NodeRoleNeed;
  /** The topology epoch when it was sent (the connection's ROLE check is from this epoch). */
  epoch: number;
  /** The read itself; a rejection handler is attached at once (a discarded failure is no unhandled rejection). */
  outcome: Promise<T>;
}

/**
 * One sentinel answer about the master. Every operation of a batch gets the same object, so
 * the key (and the one-element list the speculation verdict compares with) is built once per
 * answer, not once per operation.
 */
interface MasterAnswer {
  address: NodeAddress;
  key: string;
  named: readonly string[];
}

function masterAnswer(address: NodeAddress): MasterAnswer {
  const key = addressKey(address);
  return { address, key, named: [key] };
}

/** One sentinel answer about the replicas. */
interface ReplicaAnswer {
  /** Replicas not flagged down, in the sentinel's order. */
  usable: NodeAddress[];
  /** Keys of those whose link to the master the sentinel reports up. */
  linkUp: Set<string>;
}

const noop = (): void => {};

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
 * - speculativeReads (default on): a read goes to the node of the last answer at the same
 *   time as its sentinel query, and its reply counts only if that fresh answer names the
 *   same node, in the same topology epoch, on the same ROLE-checked connection; otherwise the
 *   reply is dropped and the read runs on the node the answer names. So every read is still
 *   routed by an answer obtained after it started, in one round trip instead of two. Writes
 *   always wait for the answer: a write must never reach a node the answer does not name.
 */
export function discovery(opts: DiscoveryRouterOptions): DiscoveryRouter {
  return new DiscoveryRouter(checkDiscoveryOptions(opts));
}

export class DiscoveryRouter extends SentinelRouter {
  readonly kind = 'discovery';
  private readonly conns = new Map<string, NodeConnection>();
  private readonly connecting = new Map<string, Promise<NodeConnection>>();
  /** The runner's view of each address, per role (one object per address and role). */
  private readonly masterNodeHandles = new Map<string, NodeHandle>();
  private readonly replicaNodeHandles = new Map<string, NodeHandle>();
  /** For the replica a failover leader is promoting: master or replica will do. */
  private readonly promotedNodeHandles = new Map<string, NodeHandle>();
  private readonly masterQuery: FreshQuery<MasterAnswer>;
  private readonly replicaQuery: FreshQuery<ReplicaAnswer>;
  /** Bumped on every topology change; connections checked in an older epoch are re-checked. */
  private epoch = 0;
  /** Replicas the sentinels last reported with `master-link-status: err`. */
  private linkDown = new Set<string>();
  private readonly speculativeReads: boolean;
  private readonly speculation = new SpeculationCounters();
  /** The master of the last sentinel answer: where the next master read is sent speculatively. */
  private lastMaster: MasterAnswer | undefined;
  /** The usable replicas with their link up, per the last answer: speculative replica reads pick from these. */
  private lastReplicas: NodeAddress[] = [];
  private nextSpeculativeReplica = 0;
  /** Publishes a read on the read audit channel (read-audit.ts); used only while it has subscribers. */
  private readonly auditRead = (result: unknown, named: readonly string[]): void => {
    readAudit.publish({ router: this, result, named } satisfies ReadAuditMessage);
  };

  constructor(opts: DiscoveryRouterOptions) {
    super(opts);
    this.speculativeReads = opts.speculativeReads ?? true;
    this.masterQuery = new FreshQuery(
      () => this.ctx.askMaster().then(masterAnswer),
      SENTINEL_QUERIES_IN_FLIGHT,
    );
    this.replicaQuery = new FreshQuery(() => this.askReplicas(), SENTINEL_QUERIES_IN_FLIGHT);
  }

  override stats(): RouterStats {
    const base = super.stats();
    return this.speculativeReads ? { ...base, speculation: this.speculation.snapshot() } : base;
  }

  protected async closeNodes(): Promise<void> {
    for (const conn of this.conns.values()) conn.client.disconnect();
    this.conns.clear();
    await Promise.allSettled([...this.connecting.values()]);
    for (const conn of this.conns.values()) conn.client.disconnect();
    this.conns.clear();
  }

  protected onMaster<T>(intent: Intent, fn: (client: Redis) => Promise<T>): Promise<T> {
    if (intent === 'read' && this.speculates()) return this.masterRead(fn, true);
    return this.masterOperation(intent, fn, true);
  }

  protected onReplica<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    const spec = this.speculates() ? this.speculateOnReplica(fn) : undefined;
    if (!spec) return this.readReplicas(() => this.freshReplicas(), fn);
    return this.confirmReplicaRead(spec, fn);
  }

  /**
   * Reads speculate unless a data connection hook needs confirmed replies (the near cache: it
   * acts on a reply the moment it arrives, before the router could drop an unconfirmed one).
   */
  private speculates(): boolean {
    return this.speculativeReads && !this.ctx.node.hooks.needConfirmedReplies;
  }

  /** A read of the master: speculatively on the last answer's master when its connection is current. */
  private masterRead<T>(fn: (client: Redis) => Promise<T>, mayRetry: boolean): Promise<T> {
    const last = this.lastMaster;
    const spec = last && this.speculate(last.address, last.key, 'master', fn);
    if (!spec) return this.masterOperation('read', fn, mayRetry);
    return this.confirmMasterRead(spec, fn, mayRetry);
  }

  /**
   * Written with promise handlers rather than as an async function: this is discovery's
   * per-read hot path (route-runner.ts says why that matters).
   */
  private confirmMasterRead<T>(
    spec: Speculation<T>,
    fn: (client: Redis) => Promise<T>,
    mayRetry: boolean,
  ): Promise<T> {
    return this.freshMaster().then(
      (answer) => {
        // The re-route after READONLY / a wrong ROLE, built only when needed: most reads succeed
        // on the confirmed node.
        const retryIfAllowed = () => (mayRetry ? () => this.masterOperation('read', fn, false) : undefined);
        if (this.judge(spec, answer.named) !== 'accept') {
          this.discard(spec);
          this.speculation.reruns++;
          return this.runOnMaster(answer, 'read', fn, retryIfAllowed());
        }
        this.speculation.hits++;
        this.ctx.stats.op(spec.conn.key, 'master');
        const audit = readAudit.hasSubscribers ? this.auditRead : undefined;
        return spec.outcome.then(
          audit &&
            ((result: T) => {
              audit(result, answer.named);
              return result;
            }),
          // The confirmed node's own answer: sorted exactly as if sent after the answer.
          (err: unknown) => this.runner.failed(spec.handle, 'master', spec.client, err, retryIfAllowed()),
        );
      },
      (err: unknown) => {
        this.speculation.misses++;
        if (debugEnabled)
          debug(
            'speculation: read sent to %s discarded, no sentinel answer: %s',
            spec.conn.key,
            (err as Error)?.message,
          );
        this.discard(spec);
        throw err;
      },
    );
  }

  private async masterOperation<T>(
    intent: Intent,
    fn: (client: Redis) => Promise<T>,
    mayRetry: boolean,
    unlessReportedDown = false,
  ): Promise<T> {
    const answer = await this.ctx.masterFor(intent, this.freshMasterAnswer);
    if (unlessReportedDown && this.ctx.isReportedDown(answer.address)) {
      throw this.ctx.masterReportedDown(answer.address);
    }
    return this.runOnMaster(
      answer,
      intent,
      fn,
      mayRetry ? () => this.masterOperation(intent, fn, false) : undefined,
    );
  }

  private runOnMaster<T>(
    answer: MasterAnswer,
    intent: Intent,
    fn: (client: Redis) => Promise<T>,
    retry: (() => Promise<T>) | undefined,
  ): Promise<T> {
    const audit = readAudit.hasSubscribers ? this.auditRead : undefined;
    const handle = this.handle(answer.address, 'master', answer.key);
    if (audit === undefined || intent !== 'read') return this.runner.run(handle, 'master', fn, retry);
    // A retry (READONLY, wrong ROLE) routes itself and audits itself; auditing its result
    // here too would name this address for a reply that came from the next one.
    let retried = false;
    const tracked =
      retry &&
      (() => {
        retried = true;
        return retry();
      });
    return this.runner.run(handle, 'master', fn, tracked).then((result) => {
      if (!retried) audit(result, answer.named);
      return result;
    });
  }

  private readonly freshMasterAnswer = (): Promise<MasterAnswer> => this.freshMaster();

  /** The master a sentinel names now (asked after the caller started), never a demoted one. */
  private freshMaster(): Promise<MasterAnswer> {
    return this.masterQuery.get().then((answer) => {
      if (!this.ctx.isDemoted(answer.address)) {
        this.lastMaster = answer;
        return answer;
      }
      // The answer was obtained just before a +switch-master named this address as the
      // old master: ask again rather than write to it.
      return this.masterQuery.get().then((again) => {
        if (this.ctx.isDemoted(again.address)) {
          throw new MasterNotFoundError(`Sentinels still name the demoted master of "${this.ctx.service}"`);
        }
        this.lastMaster = again;
        return again;
      });
    });
  }

  /** Replica handles for a read, from a sentinel answer obtained after the read started. */
  private async freshReplicas(): Promise<NodeHandle[]> {
    return this.replicaHandles((await this.replicaQuery.get()).usable);
  }

  /**
   * The usable replicas of an answer; the one a failover leader is promoting (still listed as a
   * replica until +switch-master) is read whatever its ROLE says, for 'replica-preferred'.
   */
  private replicaHandles(usable: readonly NodeAddress[]): NodeHandle[] {
    const promoting = this.ctx.readFrom === 'replica-preferred' ? this.ctx.fence.promoting : undefined;
    return usable
      .filter((a) => this.withinLag(a))
      .map((a) => this.handle(a, promoting !== undefined && sameAddress(a, promoting) ? 'any' : 'replica'));
  }

  /** ReadPlan.promoted: the promoted replica, if the fresh answer the read was offered lists it. */
  private readonly promotedIn = (replicas: readonly NodeHandle[]): NodeHandle | undefined => {
    const promoting = this.ctx.fence.promoting;
    if (promoting === undefined) return undefined;
    const key = addressKey(promoting);
    return replicas.find((h) => h.key === key);
  };

  protected masterAddress(): NodeAddress | undefined {
    return this.lastMaster?.address;
  }

  /** The master as a 'replica-preferred' read's last resort: undefined when the sentinels report it down. */
  private masterFallback<T>(fn: (client: Redis) => Promise<T>): Promise<T> | undefined {
    const last = this.lastMaster;
    if (last !== undefined && this.ctx.isReportedDown(last.address)) return undefined;
    return this.masterOperation('read', fn, false, true);
  }

  /** The runner's replica read (round robin, skips, fallbacks) over `replicas`. */
  private readReplicas<T>(
    replicas: () => Promise<readonly NodeHandle[]> | readonly NodeHandle[],
    fn: (client: Redis) => Promise<T>,
  ): Promise<T> {
    const plan: ReadPlan<T> = {
      preferred: this.ctx.readFrom === 'replica-preferred',
      service: this.ctx.service,
      replicas,
      promoted: this.promotedIn,
      onMaster: () => this.masterFallback(fn),
    };
    const audit = readAudit.hasSubscribers ? this.auditRead : undefined;
    if (audit === undefined) return this.runner.read(plan, fn);
    let named: readonly string[] = [];
    let viaMaster = false;
    return this.runner
      .read(
        {
          ...plan,
          replicas: async () => {
            const handles = await replicas();
            named = handles.map((h) => h.key);
            return handles;
          },
          onMaster: () => {
            const onMaster = plan.onMaster();
            viaMaster = onMaster !== undefined; // audited by the master path
            return onMaster;
          },
        },
        fn,
      )
      .then((result) => {
        if (!viaMaster) audit(result, named);
        return result;
      });
  }

  /**
   * Send `fn` to the next replica of the last answer, round robin (skipping failed or lagging
   * ones). When that replica has no current connection the read waits for its answer instead
   * of going to another one: the runner's read then opens (or re-checks) connections in its
   * own rotation, so every replica keeps getting reads.
   */
  private speculateOnReplica<T>(fn: (client: Redis) => Promise<T>): Speculation<T> | undefined {
    const candidates = this.lastReplicas;
    const n = candidates.length;
    for (let i = 0; i < n; i++) {
      const address = candidates[this.nextSpeculativeReplica++ % n] as NodeAddress;
      if (this.runner.skipping(addressKey(address)) || !this.withinLag(address)) continue;
      return this.speculate(address, addressKey(address), 'replica', fn);
    }
    return undefined;
  }

  private async confirmReplicaRead<T>(spec: Speculation<T>, fn: (client: Redis) => Promise<T>): Promise<T> {
    let answer: ReplicaAnswer;
    try {
      answer = await this.replicaQuery.get();
    } catch (err) {
      // No fresh answer: the read gets the runner's handling of that (replica-preferred
      // falls back to the master, 'replica' fails), never the unconfirmed reply.
      this.speculation.misses++;
      if (debugEnabled)
        debug(
          'speculation: read sent to %s discarded, no sentinel answer: %s',
          spec.conn.key,
          (err as Error)?.message,
        );
      this.discard(spec);
      this.speculation.reruns++;
      return this.readReplicas(() => Promise.reject(err), fn);
    }
    const usable = answer.usable.filter((a) => this.withinLag(a));
    // Confirmed only by a replica the answer lists as usable *and* with its link up.
    const named = usable.map(addressKey).filter((k) => answer.linkUp.has(k));
    if (this.judge(spec, named) !== 'accept') {
      this.discard(spec);
      this.speculation.reruns++;
      return this.readReplicas(() => this.replicaHandles(usable), fn);
    }
    this.speculation.hits++;
    this.ctx.stats.op(spec.conn.key, 'replica');
    let result: T;
    try {
      result = await spec.outcome;
    } catch (err) {
      // The confirmed replica's own failure, sorted as usual (evict, skip); a transient one
      // passes the read to the other replicas the answer lists, as a replica read would.
      const failure = await this.runner.failed(spec.handle, 'replica', spec.client, err).then(
        () => undefined as never,
        (e: unknown) => e,
      );
      if (!mayReadElsewhere(failure)) throw failure;
      const rest = usable.filter((a) => addressKey(a) !== spec.conn.key);
      if (rest.length === 0 && this.ctx.readFrom !== 'replica-preferred') throw failure;
      return this.readReplicas(() => this.replicaHandles(rest), fn);
    }
    if (readAudit.hasSubscribers) this.auditRead(result, named);
    return result;
  }

  /**
   * Send `fn` now on the connection to `address`, if that connection is ready and its ROLE
   * check is current and fits `need`; undefined otherwise (the read then waits for the answer).
   */
  private speculate<T>(
    address: NodeAddress,
    key: string,
    need: NodeRoleNeed,
    fn: (client: Redis) => Promise<T>,
  ): Speculation<T> | undefined {
    const conn = this.conns.get(key);
    if (conn?.client.status !== 'ready' || !this.checkIsCurrent(conn, need) || !fits(conn, need)) {
      return undefined;
    }
    if (need === 'master' && this.ctx.isDemoted(address)) return undefined;
    const client = conn.client;
    // Leaves with the sentinel query of this read's batch (sent by setImmediate), together
    // with the batch's other reads.
    coalesceUntilImmediate(client);
    let outcome: Promise<T>;
    try {
      outcome = fn(client);
    } catch (err) {
      outcome = Promise.reject(err);
    }
    outcome.catch(noop);
    this.speculation.sent++;
    return { conn, handle: this.handle(address, need, key), client, need, epoch: this.epoch, outcome };
  }

  /** Does the fresh answer, naming `named`, confirm the node `spec` went to? */
  private judge(spec: Speculation<unknown>, named: readonly string[]) {
    const { conn, need } = spec;
    const verdict = judgeSpeculation({
      target: conn.key,
      named,
      sentEpoch: spec.epoch,
      currentEpoch: this.epoch,
      connectionHolds:
        this.conns.get(conn.key) === conn &&
        !conn.dropped &&
        fits(conn, need) &&
        !(need === 'master' && this.ctx.isDemoted(conn.address)),
    });
    if (verdict !== 'accept') {
      this.speculation.misses++;
      if (debugEnabled) {
        debug(
          'speculation: read sent to %s discarded (%s; the answer names %s), run again',
          conn.key,
          verdict,
          named.join(', ') || 'none',
        );
      }
    }
    return verdict;
  }

  /** The speculative reply is not used; a broken connection behind it is still dropped. */
  private discard(spec: Speculation<unknown>): void {
    spec.outcome.catch((err: unknown) => {
      this.speculation.discardedErrors++;
      const translated = translateError(err, spec.conn.address, this.ctx.node.commandTimeoutMs, spec.client);
      if (isBrokenConnection(translated)) spec.handle.evict(translated as Error, spec.client);
    });
  }

  /** The runner's view of `address` in one role (one object per address and role). */
  private handle(address: NodeAddress, need: ExpectedRole, key = addressKey(address)): NodeHandle {
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

  /** A write never goes to an address a +switch-master named as the old master. */
  private notDemoted(conn: NodeConnection, need: ExpectedRole): NodeConnection {
    if (need === 'master' && this.ctx.isDemoted(conn.address)) {
      throw new MasterNotFoundError(`${formatAddress(conn.address)} was failed over: it is no longer master`);
    }
    return conn;
  }

  /** The cached connection to `address`, or a new one; ROLE checked in the current epoch. */
  private async connection(address: NodeAddress, need: ExpectedRole): Promise<NodeConnection> {
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
    if (debugEnabled) debug('discovery: connection to %s (ROLE %s) dropped', conn.key, conn.role);
    conn.client.disconnect();
  }

  private async askReplicas(): Promise<ReplicaAnswer> {
    const res = await this.ctx.sentinel.replicas();
    if (!res.found) {
      throw await this.ctx.sentinel.serviceNotFound(`No sentinel knows the service "${this.ctx.service}"`);
    }
    const promoting = this.ctx.readFrom === 'replica-preferred' ? this.ctx.fence.promoting : undefined;
    const usable = res.value.filter(
      (r) =>
        isUsable(r) ||
        (promoting !== undefined && sameAddress(r.address, promoting) && isUsableWhilePromoted(r)),
    );
    const linkDown = new Set<string>();
    const linkUp = new Set<string>();
    for (const r of usable) (linkReportedDown(r) ? linkDown : linkUp).add(addressKey(r.address));
    this.linkDown = linkDown;
    const addresses = usable.map((r) => r.address);
    this.lastReplicas = addresses.filter((a) => linkUp.has(addressKey(a)));
    return { usable: addresses, linkUp };
  }

  /**
   * The connection's last ROLE check still stands: made in this topology epoch, and for a
   * replica the sentinels report with its link down, less than LINK_RECHECK_MS ago (their
   * report may be up to 10 s old; ROLE is the node's own word).
   */
  private checkIsCurrent(conn: NodeConnection, need: ExpectedRole): boolean {
    if (conn.epoch !== this.epoch) return false;
    if (need !== 'replica' || !this.linkDown.has(conn.key)) return true;
    return performance.now() - conn.checkedAt < LINK_RECHECK_MS;
  }

  protected onNews(news: SentinelNews): void {
    // Roles may be changing: every connection is re-checked before its next use.
    this.epoch++;
    if (debugEnabled)
      debug('discovery: sentinel news (%s): connections re-check ROLE before their next use', news.type);
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
function fits(conn: NodeConnection, need: ExpectedRole): boolean {
  if (need === 'master') return conn.role === 'master';
  if (need === 'replica') return conn.role === 'slave' && conn.linkUp;
  return conn.role === 'master' || conn.role === 'slave';
}
