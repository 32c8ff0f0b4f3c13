import type { Redis } from 'ioredis';
import { debug, debugEnabled } from '../../core/debug.js';
import type { SpeculationStats } from '../../core/router.js';
import { translateError } from '../errors.js';
import { isBrokenConnection, type NodeHandle, type NodeRoleNeed } from '../route-runner.js';
import type { NodeAddress } from '../types.js';
import { coalesceUntilImmediate } from '../write-coalescing.js';
import type { SentinelContext } from './context.js';
import type { RoleCheckedConnection, RoleCheckedConnections } from './role-checked-connections.js';

/**
 * Speculative reads (discovery's `speculativeReads`): a read is sent to the node of the last
 * sentinel answer at the same moment as the sentinel query, and its reply is used only if the
 * fresh answer (obtained after the read started) confirms that node. This module holds the
 * verdict — a pure function, so the rules are tested on their own —, the counters, and the
 * reads in flight (SpeculativeReads: sent, held, confirmed or discarded).
 */

/** What the router knows when the fresh answer arrives, for one speculative read. */
export interface SpeculationFacts {
  /** Address key the read was sent to. */
  target: string;
  /**
   * Address keys the fresh answer names as able to serve it: the master, or the usable
   * replicas whose link the sentinels report up (and, with maxReplicaLagMs, within the bound).
   */
  named: readonly string[];
  /** Topology epoch when the read was sent, and now. */
  sentEpoch: number;
  currentEpoch: number;
  /**
   * The connection the read went out on is still the router's connection to `target`, not
   * dropped, and its ROLE check (made in `sentEpoch`) says it can serve the read.
   */
  connectionHolds: boolean;
}

export type SpeculationVerdict =
  | 'accept'
  /** The fresh answer names another node (or none that includes the target). */
  | 'not-named'
  /** Sentinel news arrived while the read was in flight: the ROLE check is from an older epoch. */
  | 'epoch-changed'
  /** The connection was dropped or replaced, or its ROLE no longer fits. */
  | 'connection-changed';

/**
 * Accept the speculative reply only when the fresh answer names the node it came from and
 * nothing happened in between that could have changed that node's role.
 */
export function judgeSpeculation(f: SpeculationFacts): SpeculationVerdict {
  if (!f.named.includes(f.target)) return 'not-named';
  if (f.sentEpoch !== f.currentEpoch) return 'epoch-changed';
  if (!f.connectionHolds) return 'connection-changed';
  return 'accept';
}

/** Counters behind `stats().speculation`. */
export class SpeculationCounters implements SpeculationStats {
  sent = 0;
  hits = 0;
  misses = 0;
  reruns = 0;
  discardedErrors = 0;

  snapshot(): SpeculationStats {
    return {
      sent: this.sent,
      hits: this.hits,
      misses: this.misses,
      reruns: this.reruns,
      discardedErrors: this.discardedErrors,
    };
  }
}

/** A read sent ahead of its sentinel answer. */
export interface Speculation<T> {
  conn: RoleCheckedConnection;
  handle: NodeHandle;
  client: Redis;
  need: NodeRoleNeed;
  /** The topology epoch when it was sent (the connection's ROLE check is from this epoch). */
  epoch: number;
  /** The read itself; a rejection handler is attached at once (a discarded failure is no unhandled rejection). */
  outcome: Promise<T>;
}

const noop = (): void => {};

/**
 * Discovery's speculative reads in flight: sent on a connection already open and ROLE-checked
 * in the current epoch, held until their batch's sentinel query is sent, then confirmed by the
 * fresh answer or discarded. Which node a read speculates on, and where a discarded read runs
 * again, are the strategy's decisions (discovery.ts).
 */
export class SpeculativeReads {
  private readonly counters = new SpeculationCounters();

  constructor(
    private readonly connections: RoleCheckedConnections,
    private readonly ctx: SentinelContext,
  ) {}

  /** Counters behind `stats().speculation`. */
  snapshot(): SpeculationStats {
    return this.counters.snapshot();
  }

  /**
   * Send `fn` now on the connection to `address`, if that connection is ready and its ROLE
   * check is current and fits `need`; undefined otherwise (the read then waits for the answer).
   */
  send<T>(
    address: NodeAddress,
    key: string,
    need: NodeRoleNeed,
    fn: (client: Redis) => Promise<T>,
  ): Speculation<T> | undefined {
    const conn = this.connections.current(key, need);
    if (conn === undefined) return undefined;
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
    this.counters.sent++;
    return {
      conn,
      handle: this.connections.handle(address, need, key),
      client,
      need,
      epoch: this.connections.epoch,
      outcome,
    };
  }

  /**
   * The fresh answer, naming `named`, arrived: true when it confirms the node `spec` went to
   * (its reply may be used); otherwise the reply is discarded and the read must run again.
   */
  confirm(spec: Speculation<unknown>, named: readonly string[]): boolean {
    const { conn, need } = spec;
    const verdict = judgeSpeculation({
      target: conn.key,
      named,
      sentEpoch: spec.epoch,
      currentEpoch: this.connections.epoch,
      connectionHolds:
        this.connections.holds(conn, need) && !(need === 'master' && this.ctx.isDemoted(conn.address)),
    });
    if (verdict !== 'accept') {
      this.counters.misses++;
      if (debugEnabled) {
        debug(
          'speculation: read sent to %s discarded (%s; the answer names %s), run again',
          conn.key,
          verdict,
          named.join(', ') || 'none',
        );
      }
      this.discard(spec);
      this.counters.reruns++;
      return false;
    }
    this.counters.hits++;
    this.ctx.stats.op(conn.key, need);
    return true;
  }

  /**
   * No fresh answer came (the sentinel query failed): the reply is discarded, never used
   * unconfirmed. `then` says what the read does next: fail with the query's error, or run again.
   */
  unanswered(spec: Speculation<unknown>, err: unknown, then: 'fail' | 'rerun'): void {
    this.counters.misses++;
    if (debugEnabled)
      debug(
        'speculation: read sent to %s discarded, no sentinel answer: %s',
        spec.conn.key,
        (err as Error)?.message,
      );
    this.discard(spec);
    if (then === 'rerun') this.counters.reruns++;
  }

  /** The speculative reply is not used; a broken connection behind it is still dropped. */
  private discard(spec: Speculation<unknown>): void {
    spec.outcome.catch((err: unknown) => {
      this.counters.discardedErrors++;
      const translated = translateError(err, spec.conn.address, this.ctx.node.commandTimeoutMs, spec.client);
      if (isBrokenConnection(translated)) spec.handle.evict(translated as Error, spec.client);
    });
  }
}
