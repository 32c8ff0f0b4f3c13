import type { Redis } from 'ioredis';
import { debug, debugEnabled } from '../../core/debug.js';
import { MasterNotFoundError } from '../../core/errors.js';
import { mayReadElsewhere, type NodeHandle, type ReadPlan } from '../route-runner.js';
import type { DiscoveryRouterOptions, Intent, NodeAddress, RouterStats } from '../types.js';
import { addressKey, sameAddress } from './address.js';
import type { SentinelNews } from './context.js';
import { FreshQuery } from './fresh-query.js';
import { checkDiscoveryOptions } from './options.js';
import { type ReadAuditMessage, readAudit } from './read-audit.js';
import { RoleCheckedConnections } from './role-checked-connections.js';
import { isUsable, isUsableWhilePromoted, linkReportedDown } from './sentinel-client.js';
import { SentinelRouter } from './sentinel-router.js';
import { type Speculation, SpeculativeReads } from './speculation.js';

/**
 * Sentinel queries outstanding at once (each serving every operation that started in one
 * event-loop turn); a sentinel answers in microseconds, so overlap is cheap
 * (docs/design.md#discovery-coalescing).
 */
const SENTINEL_QUERIES_IN_FLIGHT = 16;
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

/**
 * The discovery strategy: where each operation runs, decided per operation from a fresh
 * sentinel answer. Its data connections (opened, ROLE-checked, dropped) are
 * `RoleCheckedConnections`, its reads sent ahead of their answer `SpeculativeReads`.
 */
export class DiscoveryRouter extends SentinelRouter {
  readonly kind = 'discovery';
  private readonly connections: RoleCheckedConnections;
  private readonly masterQuery: FreshQuery<MasterAnswer>;
  private readonly replicaQuery: FreshQuery<ReplicaAnswer>;
  private readonly speculativeReads: boolean;
  private readonly speculation: SpeculativeReads;
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
    this.connections = new RoleCheckedConnections(this.ctx);
    this.speculation = new SpeculativeReads(this.connections, this.ctx);
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

  protected closeNodes(): Promise<void> {
    return this.connections.close();
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
    const spec = last && this.speculation.send(last.address, last.key, 'master', fn);
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
        if (!this.speculation.confirm(spec, answer.named)) {
          return this.runOnMaster(answer, 'read', fn, retryIfAllowed());
        }
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
        this.speculation.unanswered(spec, err, 'fail');
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
    const handle = this.connections.handle(answer.address, 'master', answer.key);
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
      .map((a) =>
        this.connections.handle(a, promoting !== undefined && sameAddress(a, promoting) ? 'any' : 'replica'),
      );
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

  /**
   * The master as a 'replica-preferred' read's last resort: the one a fresh sentinel answer
   * names, rejected with MasterNotFoundError when the sentinels report it down. Not the last
   * master this router used: the replica answer that left nothing to read may come from a
   * sentinel that has already switched to a new master, before +switch-master reached us
   * (test/integration/router-fallback-fresh-master.test.ts).
   */
  private masterFallback<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
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
      return this.speculation.send(address, addressKey(address), 'replica', fn);
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
      this.speculation.unanswered(spec, err, 'rerun');
      return this.readReplicas(() => Promise.reject(err), fn);
    }
    const usable = answer.usable.filter((a) => this.withinLag(a));
    // Confirmed only by a replica the answer lists as usable *and* with its link up.
    const named = usable.map(addressKey).filter((k) => answer.linkUp.has(k));
    if (!this.speculation.confirm(spec, named)) {
      return this.readReplicas(() => this.replicaHandles(usable), fn);
    }
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
    if (debugEnabled && usable.length < res.value.length) {
      debug(
        'discovery: replicas left out of reads: %s',
        res.value
          .filter((r) => !usable.includes(r))
          .map((r) => `${addressKey(r.address)} [${r.flags.join(',')}]`)
          .join(' '),
      );
    }
    const linkDown = new Set<string>();
    const linkUp = new Set<string>();
    for (const r of usable) (linkReportedDown(r) ? linkDown : linkUp).add(addressKey(r.address));
    this.connections.reportLinkDown(linkDown);
    const addresses = usable.map((r) => r.address);
    this.lastReplicas = addresses.filter((a) => linkUp.has(addressKey(a)));
    return { usable: addresses, linkUp };
  }

  protected onNews(news: SentinelNews): void {
    this.connections.topologyChanged();
    if (debugEnabled)
      debug('discovery: sentinel news (%s): connections re-check ROLE before their next use', news.type);
    if (news.type === 'switch') {
      this.connections.closeOldMaster(news.from);
      this.ctx.events.emit('topology-change', { reason: '+switch-master', nodes: [news.to] });
    }
  }
}
