/**
 * The recorded history of a chaos campaign: what every cache was asked to do and what it
 * answered, what the nemesis did to the servers, and what the routers reported — as plain
 * JSON-serialisable events, so a run can be written to disk, streamed from a worker process
 * and judged after the fact by the checker (chaos/checker.ts).
 *
 * Times are milliseconds on the system's monotonic clock (`process.hrtime`, CLOCK_MONOTONIC
 * on Linux), which every process on the machine shares: an event of one worker can be ordered
 * against an event of another, and neither NTP nor a wall-clock step moves them.
 */

/** Milliseconds on the machine-wide monotonic clock (comparable between processes). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The operations the generator issues (and the quiescent read after the run). */
export type OpName =
  | 'get'
  | 'set'
  | 'delete'
  | 'incr'
  | 'getMany'
  | 'setMany'
  | 'deleteMany'
  | 'getOrSet'
  | 'invalidateTags'
  | 'lockAcquire'
  | 'lockRelease'
  /** The quiescent read of every key after the faults stopped (not part of the load). */
  | 'finalRead';

/** What a cache was asked to do, when. */
export interface InvokeEvent {
  type: 'invoke';
  /** Unique in the history: `p<process>:<n>`. */
  id: string;
  process: number;
  cache: number;
  op: OpName;
  /** Logical keys (without the cache's prefix); for locks the lock name. */
  keys: string[];
  /**
   * What a write writes, one per key: a unique string, or `null` for a delete. For `incr`, the
   * delta as a string. Absent for reads.
   */
  values?: (string | null)[];
  /** getOrSet's tags, or the tags invalidateTags invalidates. */
  tags?: string[];
  /** Lock operations: which acquisition (a Lock object) this is. */
  holder?: string;
  /**
   * lockAcquire with `waitReplicas`: how many replicas had to acknowledge the lock (the
   * generator asks for every replica the topology has: 2 on Sentinel, 1 per cluster shard).
   */
  waitReplicas?: number;
  at: number;
}

/** Its answer. A failure carries the error's class name (and code, when it has one). */
export interface CompleteEvent {
  type: 'complete';
  id: string;
  process: number;
  at: number;
  outcome: 'ok' | 'fail';
  /**
   * Reads: the values, one per key (`null` = miss). getOrSet: the value id. incr: the new
   * count. lockAcquire: whether it was acquired.
   */
  result?: (string | null)[] | string | number | boolean | null;
  error?: { name: string; code?: string; message: string };
}

/** A getOrSet factory started computing `value` (in the process and cache that called it). */
export interface FactoryEvent {
  type: 'factory';
  process: number;
  cache: number;
  key: string;
  value: string;
  tags: string[];
  /** The id of the getOrSet invocation whose factory this is (absent in older histories). */
  call?: string;
  at: number;
}

/** A router reported a rollback (`rollback` event) or a failover it followed. */
export interface RouterEvent {
  type: 'router';
  process: number;
  name: 'rollback' | 'failover';
  detail: Record<string, unknown>;
  at: number;
}

/** The kinds of fault the nemesis injects. */
export type FaultKind =
  | 'pause-master'
  | 'pause-replica'
  | 'pause-sentinel'
  | 'kill-master'
  | 'kill-replica'
  | 'sentinel-failover'
  | 'client-kill'
  | 'cluster-failover'
  | 'cluster-failover-takeover'
  | 'pause-shard-master'
  /** Sentinel: `CLIENT KILL TYPE replica` on the master; the replicas reconnect with a partial resync. */
  | 'replica-resync'
  /** Sentinel: one replica's link killed with the master's backlog shrunk and overrun: a full resync. */
  | 'replica-full-resync'
  /** Cluster: the slot of some campaign keys migrated to another shard in small batches, and back. */
  | 'slot-migration';

/** One fault: `start` when it was injected, `end` when it was healed (signal, restart, done). */
export interface FaultEvent {
  type: 'fault';
  kind: FaultKind;
  /** What it hit, for the report (`127.0.0.1:6380`, `sentinel 1`, `shard 2`). */
  target: string;
  start: number;
  end: number;
  /** The nemesis could not inject it (e.g. no replica to promote): still recorded, judged as a fault. */
  note?: string;
}

export type HistoryEvent = InvokeEvent | CompleteEvent | FactoryEvent | RouterEvent | FaultEvent;

/** An invocation joined with its completion (`complete` absent: it never completed). */
export interface Operation {
  invoke: InvokeEvent;
  complete?: CompleteEvent;
}

/** Joins every invoke with its complete, in invocation order. */
export function operations(history: readonly HistoryEvent[]): Operation[] {
  const byId = new Map<string, Operation>();
  for (const e of history) {
    if (e.type === 'invoke') byId.set(e.id, { invoke: e });
  }
  for (const e of history) {
    if (e.type !== 'complete') continue;
    const op = byId.get(e.id);
    if (op) op.complete = e;
  }
  return [...byId.values()].sort((a, b) => a.invoke.at - b.invoke.at);
}

/** A thrown value as the history records it. */
export function describeError(error: unknown): NonNullable<CompleteEvent['error']> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: error.message.slice(0, 300),
    };
  }
  return { name: typeof error, message: String(error).slice(0, 300) };
}
