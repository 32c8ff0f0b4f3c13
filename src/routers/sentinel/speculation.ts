import type { SpeculationStats } from '../../core/router.js';

/**
 * Speculative reads (discovery's `speculativeReads`): a read is sent to the node of the last
 * sentinel answer at the same moment as the sentinel query, and its reply is used only if the
 * fresh answer (obtained after the read started) confirms that node. This module holds the
 * verdict — a pure function, so the rules are tested on their own — and the counters.
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
