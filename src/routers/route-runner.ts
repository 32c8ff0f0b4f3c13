import type { Redis } from 'ioredis';
import { debug, debugEnabled } from '../core/debug.js';
import {
  CacheClosedError,
  CommandTimeoutError,
  ConnectionInterruptedError,
  isTransient,
  MasterNotFoundError,
  ReplicaNotFoundError,
  SentinelUnavailableError,
} from '../core/errors.js';
import { formatAddress, isReadOnlyError, isUnreadyNodeError, translateError } from './errors.js';
import { wrongRoleAddress } from './node-clients.js';
import type { NodeStats, RouterEvents } from './sentinel/router-events.js';
import type { NodeAddress } from './types.js';
import { coalesceWrites } from './write-coalescing.js';

export type NodeRoleNeed = 'master' | 'replica';

/**
 * A data node as a strategy holds it: one shared connection (discovery), a pool of them
 * (pooled), a cluster node. The runner borrows a client, runs the operation and sorts the
 * outcome; the strategy decides what "evict" means for its connections.
 */
export interface NodeHandle {
  readonly address: NodeAddress;
  readonly key: string;
  /** A client for one operation: synchronous when one is at hand. */
  acquire(): Redis | Promise<Redis>;
  /** The operation is done with `client` (it succeeded, or the node answered with an error). */
  release(client: Redis): void;
  /**
   * Stop using this node's connections: they failed (`client`, when known, is the one that
   * failed), or the node is not in the role we need.
   */
  evict(err: Error, client?: Redis): void;
}

/**
 * Counts an operation's outcome for a circuit breaker inside the runner's own promise step
 * (a closed RoleBreaker's `counter`, taken when the operation is admitted), so guarding an
 * operation costs no promise of its own.
 */
export interface OutcomeCounter {
  /** The operation succeeded. */
  succeeded(): void;
  /** The operation failed on its first try: count how `settled` (a retry included) ends. */
  track<T>(settled: Promise<T>): Promise<T>;
}

/** The error every router throws for an operation started after (or cut short by) close(). */
export function routerClosed(): CacheClosedError {
  return new CacheClosedError('Router is closed');
}

/**
 * How long a replica that failed a read (timeout, broken connection, LOADING, MASTERDOWN) is
 * skipped by later reads. After that one read tries it again: if it still fails it is
 * skipped again, so a recovering replica is back within about this long.
 */
export const REPLICA_SKIP_MS = 1000;

export interface ReadPlan<T> {
  /** `readFrom: 'replica-preferred'`: the master is an acceptable last resort. */
  preferred: boolean;
  service: string;
  /** The replicas a read may use, as the strategy knows them (usable per Sentinel). */
  replicas(): Promise<readonly NodeHandle[]> | readonly NodeHandle[];
  /**
   * The replica a failover leader is promoting, while it does (`replicas` is what the read was
   * offered): about to become master, it holds at least what a replica holds, whatever its
   * ROLE says now.
   */
  promoted(replicas: readonly NodeHandle[]): NodeHandle | undefined;
  /**
   * Run the read on the master (the strategy's master path, breaker included); undefined when
   * the sentinels report the master down: nothing to wait on there. A transient failure (e.g.
   * MasterNotFoundError: the master a fresh answer named is reported down) passes the read on
   * to the replicas skipped for a recent failure, and is thrown if none of them serves it.
   */
  onMaster(): Promise<T> | undefined;
}

/**
 * The part of routing every strategy shares: run an operation on a chosen node and sort its
 * failure, and the replica read with its fallbacks.
 *
 * Failure sorting (one place for all strategies):
 * - `READONLY`: the node was demoted under us; nothing was written, so the node is evicted
 *   and the operation retried once (on whatever is master now), else MasterNotFoundError.
 * - the connection's ROLE check says a supposed master is not one: nothing was sent; the
 *   address is reported (the sentinel that named it is passed over) and the operation
 *   retried once.
 * - a broken connection or a timeout: the node's connection is evicted (the next operation
 *   connects again and checks ROLE again: a paused master may come back demoted), the error
 *   is translated and reported as an 'error' event.
 * - everything else is translated (server states, ServerError) and the client returned.
 */
export class RouteRunner {
  private readonly skipped = new Map<string, number>();
  private nextReplica = 0;

  constructor(
    private readonly events: RouterEvents,
    private readonly stats: NodeStats,
    private readonly commandTimeoutMs: number,
    /** A node we were told is master answered ROLE with something else. */
    private readonly onNotMaster: (address: NodeAddress) => void = () => {},
  ) {}

  /**
   * Run `fn` on `node`; `retry` (if any) re-routes the operation after READONLY or a ROLE
   * mismatch; `counter` (if any) is told the outcome. Never throws: every failure is a
   * rejection. Promise handlers, not an async function: per-operation garbage is what a single
   * caller's tail is made of (docs/design.md#performance-notes).
   */
  run<T>(
    node: NodeHandle,
    role: NodeRoleNeed,
    fn: (client: Redis) => Promise<T>,
    retry?: () => Promise<T>,
    counter?: OutcomeCounter,
  ): Promise<T> {
    let lent: Redis | Promise<Redis>;
    try {
      lent = node.acquire();
    } catch (err) {
      lent = Promise.reject(err);
    }
    if (lent instanceof Promise) {
      return lent.then(
        (client) => this.runOn(node, role, fn, retry, counter, client),
        (err: unknown) => counted(counter, this.notAcquired(node, role, retry, err)),
      );
    }
    return this.runOn(node, role, fn, retry, counter, lent);
  }

  /** `fn` on an acquired `client`: release it on success, sort the failure otherwise. */
  private runOn<T>(
    node: NodeHandle,
    role: NodeRoleNeed,
    fn: (client: Redis) => Promise<T>,
    retry: (() => Promise<T>) | undefined,
    counter: OutcomeCounter | undefined,
    client: Redis,
  ): Promise<T> {
    this.stats.op(node.key, role);
    let result: Promise<T>;
    try {
      coalesceWrites(client);
      const value = fn(client);
      result = value instanceof Promise ? value : Promise.resolve(value);
    } catch (err) {
      result = Promise.reject(err);
    }
    return result.then(
      (value) => {
        node.release(client);
        counter?.succeeded();
        return value;
      },
      (err: unknown) => counted(counter, this.failed(node, role, client, err, retry)),
    );
  }

  /** Acquiring a client failed (the connection or its ROLE check). */
  private notAcquired<T>(
    node: NodeHandle,
    role: NodeRoleNeed,
    retry: (() => Promise<T>) | undefined,
    err: unknown,
  ): Promise<T> {
    this.stats.error(node.key);
    const translated = translateError(err, node.address, this.commandTimeoutMs) as Error;
    if (role === 'master' && wrongRoleAddress(translated) !== undefined) {
      // Whoever named this node master was wrong or behind: remember it, and ask again
      // (the strategy's retry re-resolves, skipping this address).
      this.onNotMaster(node.address);
      if (debugEnabled) {
        debug(
          're-route: %s is not master (%s): %s',
          node.key,
          translated.message,
          retry ? 'asking the sentinels again' : 'failing',
        );
      }
      if (retry) return retry();
    }
    // Only a connection that failed is thrown away; a node in the wrong role (a deposed
    // master listed as replica) may still be right for other operations.
    if (isBrokenConnection(translated)) {
      if (debugEnabled) debug('evict: %s (%s) could not be reached: %s', node.key, role, translated.message);
      node.evict(translated);
    }
    if (role === 'replica' && isTransient(translated)) this.skip(node.key);
    return Promise.reject(translated);
  }

  /**
   * Sort the failure of an operation that ran on `client` of `node` (run() above, or a
   * speculative read whose node the fresh answer confirmed): evict, skip, retry or reject.
   */
  failed<T>(
    node: NodeHandle,
    role: NodeRoleNeed,
    client: Redis,
    err: unknown,
    retry?: () => Promise<T>,
  ): Promise<T> {
    this.stats.error(node.key);
    if (isReadOnlyError(err)) {
      const demoted = new MasterNotFoundError(
        `${formatAddress(node.address)} replied READONLY: it is no longer master`,
        { cause: err },
      );
      node.evict(demoted, client);
      if (debugEnabled) {
        debug(
          're-route: %s replied READONLY (demoted), its connections dropped: %s',
          node.key,
          retry ? 'retrying on the master resolved again' : 'failing with MasterNotFoundError',
        );
      }
      if (retry) return retry();
      return Promise.reject(demoted);
    }
    const translated = translateError(err, node.address, this.commandTimeoutMs, client) as Error;
    if (isBrokenConnection(translated)) {
      if (debugEnabled) debug('evict: %s (%s) connection dropped: %s', node.key, role, translated.message);
      node.evict(translated, client);
      if (role === 'replica') this.skip(node.key);
      this.events.emit('error', { error: translated });
      return Promise.reject(translated);
    }
    node.release(client);
    if (role === 'replica' && isUnreadyNodeError(translated)) {
      // LOADING / MASTERDOWN: the node is alive but cannot serve reads yet.
      this.skip(node.key);
      this.events.emit('error', { error: translated });
    }
    return Promise.reject(translated);
  }

  /**
   * A replica read: the replicas in round-robin order, skipping those that failed recently;
   * a replica that fails transiently passes the read to the next one. Only when no replica
   * could serve it does a 'replica-preferred' read go on: to the replica being promoted, if a
   * failover is under way, then to the master unless the sentinels report it down, so a read
   * never waits on a master that is timing out while another node answers. With no master to
   * go to, or when the master fails transiently (and with 'replica'), the replicas skipped for
   * a recent failure are tried before failing. A non-transient failure (a wrong type, a codec
   * error) is the answer and is thrown at once.
   */
  async read<T>(plan: ReadPlan<T>, fn: (client: Redis) => Promise<T>): Promise<T> {
    let replicas: readonly NodeHandle[] = [];
    let lastError: unknown;
    let masterError: unknown;
    try {
      replicas = await plan.replicas();
    } catch (err) {
      if (!plan.preferred || !mayReadElsewhere(err)) throw err;
      lastError = err;
    }
    const n = replicas.length;
    const start = n === 0 ? 0 : this.nextReplica++ % n;
    const now = Date.now();
    // Pass 0: replicas not skipped. Pass 1: the skipped ones, rather than failing without trying.
    for (let pass = 0; pass < 2; pass++) {
      if (pass === 1 && plan.preferred) {
        const promoted = plan.promoted(replicas);
        if (promoted !== undefined) {
          try {
            return await this.run(promoted, 'replica', fn);
          } catch (err) {
            if (!mayReadElsewhere(err)) throw err;
            lastError = err;
          }
        }
        const onMaster = plan.onMaster();
        if (onMaster !== undefined) {
          try {
            return await onMaster;
          } catch (err) {
            if (!mayReadElsewhere(err)) throw err;
            masterError = err;
          }
        }
      }
      for (let i = 0; i < n; i++) {
        const node = replicas[(start + i) % n] as NodeHandle;
        if (this.isSkipped(node.key, now) !== (pass === 1)) continue;
        try {
          return await this.run(node, 'replica', fn);
        } catch (err) {
          if (!mayReadElsewhere(err)) throw err;
          lastError = err;
        }
      }
    }
    if (plan.preferred) {
      if (masterError !== undefined) throw masterError;
      if (debugEnabled) {
        debug(
          'read: no node for a replica-preferred read (replicas %s; promoted %s; last error %s)',
          replicas.map((r) => r.key).join(',') || 'none',
          plan.promoted(replicas)?.key ?? 'none',
          lastError instanceof Error ? lastError.message : String(lastError),
        );
      }
      throw new MasterNotFoundError(
        `No replica could serve the read, and the sentinels report the master of "${plan.service}" down`,
        { cause: lastError },
      );
    }
    if (lastError !== undefined) throw lastError;
    throw new ReplicaNotFoundError(`No usable replica for "${plan.service}"`);
  }

  private skip(key: string): void {
    if (debugEnabled && !this.skipped.has(key))
      debug('skip: replica %s left out of reads for %d ms', key, REPLICA_SKIP_MS);
    this.skipped.set(key, Date.now() + REPLICA_SKIP_MS);
  }

  /** A replica read skips `key` now (it failed within REPLICA_SKIP_MS). */
  skipping(key: string): boolean {
    return this.isSkipped(key, Date.now());
  }

  private isSkipped(key: string, now: number): boolean {
    const until = this.skipped.get(key);
    if (until === undefined) return false;
    if (now < until) return true;
    this.skipped.delete(key);
    return false;
  }
}

function counted<T>(counter: OutcomeCounter | undefined, settled: Promise<T>): Promise<T> {
  return counter === undefined ? settled : counter.track(settled);
}

/** The connection failed or hung: it is not used again (the next operation reconnects). */
export function isBrokenConnection(err: unknown): boolean {
  return err instanceof ConnectionInterruptedError || err instanceof CommandTimeoutError;
}

/**
 * Errors after which a read may try another node: transient ones, except those that no
 * other node can fix (no sentinel answers: no node can be found; the router is closed).
 */
export function mayReadElsewhere(err: unknown): boolean {
  return isTransient(err) && !(err instanceof SentinelUnavailableError);
}
