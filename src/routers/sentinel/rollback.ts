import type { Redis } from 'ioredis';
import { debug, debugEnabled } from '../../core/debug.js';
import type { NodeAddress, RouterEventMap } from '../../core/router.js';
import { formatAddress } from '../errors.js';
import { connectVerified } from '../node-clients.js';
import type { NodeConnectionOptions } from '../types.js';
import { addressKey } from './address.js';

/** How often the master's replication offset is sampled while this router writes (never when it does not). */
export const ROLLBACK_SAMPLE_MS = 250;
/** Samples kept to estimate how much was lost (offsets and times on the current history). */
const HISTORY_MS = 5 * 60_000;
/** After a switch, how long the new master gets to answer `role:master` before the check is given up. */
const PROMOTION_WAIT_MS = 5000;
const PROMOTION_RECHECK_MS = 250;

/** The fields of `INFO replication` the check reads. */
export interface ReplicationInfo {
  role: string;
  /** `master_replid`: the history this node serves now. */
  replid: string;
  /** `master_replid2`: the history it served before its last promotion (zeros when none). */
  replid2: string;
  /** `master_repl_offset`: bytes of replication stream it holds, counted along its history. */
  offset: number;
  /** `second_repl_offset`: its copy of `replid2`'s history ends at this offset minus one (-1 when none). */
  secondOffset: number;
}

export function parseReplicationInfo(text: string): ReplicationInfo | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const role = fields.get('role');
  const replid = fields.get('master_replid');
  const offset = Number(fields.get('master_repl_offset'));
  if (role === undefined || replid === undefined || !Number.isFinite(offset)) return undefined;
  const second = Number(fields.get('second_repl_offset') ?? -1);
  return {
    role,
    replid,
    replid2: fields.get('master_replid2') ?? '',
    offset,
    secondOffset: Number.isFinite(second) ? second : -1,
  };
}

/** A point of a master's history: everything in `replid` up to byte `offset`. */
export interface HistoryPoint {
  replid: string;
  offset: number;
}

export type RollbackVerdict =
  | { kind: 'contained' }
  /** The node's copy of the history ends at `promotedOffset`, before the point. */
  | { kind: 'lost'; promotedOffset: number }
  /** Another history with more bytes: it may descend from ours through switches not seen. */
  | { kind: 'unknown' };

/** Where a history began: it continues `parent`'s, whose bytes it shares up to offset `at`. */
export interface Branch {
  parent: string;
  at: number;
}

/** Branches the detector remembers (a few failovers' worth; the oldest is dropped first). */
const BRANCHES_KEPT = 16;
const NO_BRANCHES: ReadonlyMap<string, Branch> = new Map();

/**
 * Does `node` (a master now) hold `point`? Offsets number the bytes of one history, and a
 * promotion keeps numbering on: a promoted replica serves a new `replid`, and keeps the old one
 * as `replid2` up to `second_repl_offset - 1` (what PSYNC accepts from it). So the node holds
 * the point iff it serves the point's history at or past its offset, or served it up to at
 * least that offset before its promotion.
 *
 * `branches` (what earlier promotions said: history -> the history it continued, and up to
 * where) extends this to the point's ancestors: a node that serves or served an ancestor and
 * not the point's history itself holds our history only up to where it branched off that
 * ancestor (e.g. an old master promoted back before it resynced: it holds its own history,
 * which the master it was replaced by continued from `second_repl_offset - 1` on).
 *
 * A node of an unrelated history with fewer bytes than the point cannot hold it either way (an
 * empty restarted node, or a descendant that branched before it); one with more bytes may be a
 * descendant through switches we did not see: unknown, never reported.
 */
export function judgeRollback(
  point: HistoryPoint,
  node: ReplicationInfo,
  branches: ReadonlyMap<string, Branch> = NO_BRANCHES,
): RollbackVerdict {
  let replid = point.replid;
  /** Our history is `replid`'s up to this offset (all of it for the point's own history). */
  let shared = Number.POSITIVE_INFINITY;
  for (let hops = 0; hops <= branches.size; hops++) {
    const extent =
      node.replid === replid ? node.offset : node.replid2 === replid ? node.secondOffset - 1 : undefined;
    if (extent !== undefined) {
      const held = Math.min(extent, shared);
      return held >= point.offset
        ? { kind: 'contained' }
        : { kind: 'lost', promotedOffset: Math.max(held, 0) };
    }
    const branch = branches.get(replid);
    if (branch === undefined) break;
    shared = Math.min(shared, branch.at);
    replid = branch.parent;
  }
  if (node.offset < point.offset) return { kind: 'lost', promotedOffset: node.offset };
  return { kind: 'unknown' };
}

/** A sample of the master: its offset at `at` (performance.now()). */
export interface OffsetSample {
  at: number;
  offset: number;
}

/**
 * How long before the last acknowledgement we know of (`ackedAt`) the lost history starts.
 * Samples are taken only while the router writes, one period apart, so the loss starts after
 * the last sample the promoted node still holds (offset <= promotedOffset) and at most one
 * period before the first it does not hold; when it holds none of them, at the oldest one
 * kept (the estimate is then a lower bound).
 */
export function estimateLostMs(
  samples: readonly OffsetSample[],
  promotedOffset: number,
  ackedAt: number,
  periodMs = ROLLBACK_SAMPLE_MS,
): number {
  let from = samples[0]?.at ?? ackedAt;
  for (let i = samples.length - 1; i >= 0; i--) {
    const s = samples[i] as OffsetSample;
    if (s.offset <= promotedOffset) {
      const next = samples[i + 1];
      from = next === undefined ? s.at : Math.max(s.at, next.at - periodMs);
      break;
    }
  }
  return Math.max(0, Math.round(ackedAt - from));
}

/**
 * A sample, and whether a write this router issued after its reply came back was acknowledged:
 * then the master had this sample's history when it took that write, so a node without it
 * cannot hold the write either.
 */
interface Token extends HistoryPoint {
  seq: number;
  address: NodeAddress;
  /** News epoch when sampled: an ack after any failover news does not count (see onNews). */
  epoch: number;
  acked: boolean;
  ackedAt: number;
  /** Passed to the first writes after the sample (`then(ack)`); shared by them, made once per sample. */
  ack: <T>(value: T) => T;
}

export interface RollbackDetectorDeps {
  service: string;
  /** Data node options without the connection hooks (the detector reads no keys). */
  node: NodeConnectionOptions;
  /** The master this router writes to now, or undefined (none, or one a switch demoted). */
  currentMaster(): NodeAddress | undefined;
  /** A failover is being carried out: writes are held, offsets in flux. */
  fenceUp(): boolean;
  emit(info: RouterEventMap['rollback']): void;
}

/**
 * Rollback detection (docs/guarantees.md "Rollbacks"): notices when Sentinel promotes a node
 * whose history cannot hold writes the old master acknowledged to this router.
 *
 * While the router writes, every ROLLBACK_SAMPLE_MS it reads the master's `INFO replication`
 * on a connection of its own (never on the operations' path): each reply is a Token. The first
 * writes issued after a reply carry that token's `ack` (one `then` per write, only until one of
 * them is acknowledged: the other writes carry nothing), so the last token acknowledged is the
 * furthest point of the master's history known to precede one of our acknowledged writes.
 * At a switch (`+switch-master`, or the master the router writes to changing, or the same
 * address serving another history) the new master's `INFO replication` is judged against that
 * point (judgeRollback); a loss is the `rollback` event. No token acknowledged, no report.
 */
export class RollbackDetector {
  /** Rollbacks reported. */
  count = 0;
  private epoch = 0;
  private seq = 0;
  /** The last sample's token while writes may still carry it. */
  private token: Token | undefined;
  /** The latest token a write acknowledged: the point a new master must hold. */
  private acked: Token | undefined;
  /** Samples of the current history (for estimateLostMs). */
  private samples: OffsetSample[] = [];
  /** Where samples come from now, and the history it served at the last one. */
  private target: NodeAddress | undefined;
  private targetReplid: string | undefined;
  private client: Redis | undefined;
  private clientKey: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private queue: Promise<void> = Promise.resolve();
  /** A write was issued since the last sample. */
  private wrote = false;
  private closed = false;
  /** What the masters read said about where their histories began (for judgeRollback). */
  private readonly branches = new Map<string, Branch>();

  constructor(private readonly deps: RollbackDetectorDeps) {}

  /**
   * A write is being issued (`settled` is its outcome): it carries the current token's `ack`
   * when no write since that sample has been acknowledged yet. Otherwise the write is returned
   * as is: most writes cost a flag.
   */
  track<T>(settled: Promise<T>): Promise<T> {
    this.wrote = true;
    if (this.timer === undefined) this.start();
    const t = this.token;
    if (t === undefined || t.acked || t.epoch !== this.epoch) return settled;
    return settled.then(t.ack);
  }

  /**
   * Any failover news (a promotion announced, a switch, an abort, a resynced subscription):
   * writes may be going elsewhere from now on, so acknowledgements stop counting for the
   * samples taken so far. A switch is checked at once.
   */
  onSwitchNews(type: string, to?: NodeAddress): void {
    this.epoch++;
    this.token = undefined;
    if (type === 'switch' && to !== undefined && this.acked !== undefined)
      this.enqueue(() => this.switchTo(to));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.dropClient();
  }

  private start(): void {
    if (this.closed) return;
    this.timer = setInterval(() => this.tick(), ROLLBACK_SAMPLE_MS);
    this.timer.unref();
    this.tick();
  }

  private tick(): void {
    if (this.busy || this.closed) return;
    this.enqueue(() => this.poll());
  }

  private enqueue(task: () => Promise<void>): void {
    this.busy = true;
    this.queue = this.queue
      .then(() => (this.closed ? undefined : task()))
      .catch((err: unknown) => {
        // Unreachable node, timeout: no sample this time. The history is kept (a master that
        // was briefly slow to answer has not changed).
        this.dropClient();
        if (debugEnabled) debug('rollback check: no sample (%s)', (err as Error)?.message ?? err);
      })
      .finally(() => {
        this.busy = false;
      });
  }

  private async poll(): Promise<void> {
    if (!this.wrote || this.deps.fenceUp()) return;
    const master = this.deps.currentMaster();
    if (master === undefined) return;
    if (this.target !== undefined && addressKey(this.target) !== addressKey(master)) {
      return this.switchTo(master);
    }
    this.wrote = false;
    const info = await this.replication(master);
    if (info.role !== 'master') {
      this.token = undefined;
      return;
    }
    if (this.target !== undefined && this.targetReplid !== undefined && info.replid !== this.targetReplid) {
      // Same address, another history: restarted (empty, or from its last RDB), or demoted and
      // promoted again between two samples.
      this.epoch++;
      this.judge(master, info);
    }
    this.sample(master, info);
  }

  /** The master is now `to`: judge it against the acknowledged point, then sample it. */
  private async switchTo(to: NodeAddress): Promise<void> {
    if (this.target !== undefined && addressKey(this.target) === addressKey(to)) return;
    this.epoch++;
    this.token = undefined;
    const info = await this.promoted(to);
    if (info === undefined) {
      // Never answered as master: nothing to judge, start over with whatever comes next.
      if (debugEnabled) debug('rollback check: %s never answered as master, not judged', formatAddress(to));
      this.forget();
      return;
    }
    this.judge(to, info);
    this.sample(to, info);
  }

  /** INFO replication of `to` once it answers as master (a switch may be announced before). */
  private async promoted(to: NodeAddress): Promise<ReplicationInfo | undefined> {
    const deadline = performance.now() + PROMOTION_WAIT_MS;
    for (;;) {
      try {
        const info = await this.replication(to);
        if (info.role === 'master') return info;
      } catch {
        this.dropClient();
      }
      if (this.closed || performance.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, PROMOTION_RECHECK_MS).unref());
    }
  }

  private judge(to: NodeAddress, info: ReplicationInfo): void {
    const point = this.acked;
    if (point === undefined) {
      this.forget();
      return;
    }
    const verdict = judgeRollback(point, info, this.branches);
    if (verdict.kind === 'contained') {
      // Our acknowledged writes are in the new master's history, at the same offsets: the
      // point carries over to the history it serves now.
      this.acked = { ...point, replid: info.replid };
      return;
    }
    if (verdict.kind === 'lost') {
      const payload = {
        service: this.deps.service,
        from: point.address,
        to,
        ackedOffset: point.offset,
        promotedOffset: verdict.promotedOffset,
        estimatedLostMs: estimateLostMs(this.samples, verdict.promotedOffset, point.ackedAt),
      };
      this.count++;
      if (debugEnabled) {
        debug(
          'rollback: %s promoted %s holding offset %d, before offset %d acknowledged by %s (~%d ms of writes lost)',
          this.deps.service,
          formatAddress(to),
          payload.promotedOffset,
          payload.ackedOffset,
          formatAddress(point.address),
          payload.estimatedLostMs,
        );
      }
      this.deps.emit(payload);
    } else if (debugEnabled) {
      debug('rollback check: %s serves an unrelated history; not judged', formatAddress(to));
    }
    this.forget();
  }

  /** Start over: no acknowledged point, no samples (after a loss is reported, or an unknown history). */
  private forget(): void {
    this.acked = undefined;
    this.samples = [];
    this.target = undefined;
    this.targetReplid = undefined;
  }

  private sample(address: NodeAddress, info: ReplicationInfo): void {
    const at = performance.now();
    if (this.target === undefined || addressKey(this.target) !== addressKey(address)) {
      // Offsets keep their numbering across a contained switch: the history goes on.
      if (this.acked === undefined) this.samples = [];
    }
    this.target = address;
    this.targetReplid = info.replid;
    this.samples.push({ at, offset: info.offset });
    while ((this.samples[0]?.at ?? at) < at - HISTORY_MS) this.samples.shift();
    const token: Token = {
      seq: ++this.seq,
      address,
      replid: info.replid,
      offset: info.offset,
      epoch: this.epoch,
      acked: false,
      ackedAt: 0,
      ack: <T>(value: T): T => {
        if (!token.acked && token.epoch === this.epoch) {
          token.acked = true;
          token.ackedAt = performance.now();
          if (this.acked === undefined || this.acked.seq < token.seq) this.acked = token;
        }
        return value;
      },
    };
    this.token = token;
  }

  private async replication(address: NodeAddress): Promise<ReplicationInfo> {
    const key = addressKey(address);
    if (this.client === undefined || this.clientKey !== key || this.client.status !== 'ready') {
      this.dropClient();
      this.client = (await connectVerified(address, this.deps.node, 'any')).client;
      this.clientKey = key;
      if (this.closed) {
        this.dropClient();
        throw new Error('closed');
      }
    }
    const info = parseReplicationInfo(String(await this.client.call('INFO', 'replication')));
    if (info === undefined) throw new Error('INFO replication without offsets');
    if (info.role === 'master') this.learnBranch(info);
    return info;
  }

  /** A promoted master's `replid2`/`second_repl_offset`: where its history branched off. */
  private learnBranch(info: ReplicationInfo): void {
    if (this.branches.has(info.replid) || info.secondOffset <= 0 || /^0*$/.test(info.replid2)) return;
    this.branches.set(info.replid, { parent: info.replid2, at: info.secondOffset - 1 });
    if (this.branches.size > BRANCHES_KEPT) {
      const oldest = this.branches.keys().next().value;
      if (oldest !== undefined) this.branches.delete(oldest);
    }
  }

  private dropClient(): void {
    this.client?.disconnect();
    this.client = undefined;
    this.clientKey = undefined;
  }
}
