/**
 * Failover timeline: every client runs the same constant offered load (open loop: operations
 * are started on schedule whether or not earlier ones finished, like web requests arriving)
 * against one fresh topology, all at the same time, while the master fails once. Running the
 * clients concurrently during one fault gives each of them the very same failover (same
 * detection time, same promoted replica) and keeps the run short; the offered load is small
 * (`ratePerClient`), so the clients do not compete for the CPU in a way that matters.
 *
 * Half the operations are writes of a fresh key with a sequence number, so afterwards the
 * bench can tell exactly which acknowledged writes the new master does not have, and (through
 * MONITOR on the old master, see write-tap.ts) which writes the demoted master acknowledged.
 */
import { Redis } from 'ioredis';
import type { NodeAddress } from '../../src/routers/types.js';
import type { Topology } from '../../src/topology/types.js';
import {
  type ClientAdapter,
  type CreatedClient,
  closeClients,
  createClients,
  redisKey,
  type SkippedClient,
} from './clients.js';
import { nowMs } from './clock.js';
import { errorLabel, sleep, withTimeout } from './errors.js';
import type { FailoverOptions, Fault } from './options.js';
import { SentinelWatch } from './sentinel-watch.js';
import { valueOfSize } from './steady.js';
import { startBenchTopology } from './topology.js';
import { WriteTap } from './write-tap.js';

/** Operations that took longer than this (or never finished) count as hung. */
export const HUNG_MS = 1000;
/** Per client; beyond this many operations in flight new ones are shed (counted, not started). */
const MAX_IN_FLIGHT = 20_000;

interface OpRecord {
  write: boolean;
  seq: number;
  start: number;
  end?: number;
  error?: string;
}

export interface FailoverBuckets {
  /** Operations that completed successfully in each bucket. */
  successes: number[];
  errors: number[];
  /** p99 latency (ms) of the operations that completed in each bucket; null when none did. */
  p99Ms: Array<number | null>;
  /** Per bucket, errors by label (only non-empty buckets have keys). */
  errorsByName: Array<Record<string, number>>;
}

export interface FailoverClientResult {
  client: string;
  offered: number;
  succeeded: number;
  failed: number;
  /** Not started because MAX_IN_FLIGHT operations were already waiting. */
  shed: number;
  /** Still without an answer when the bench stopped waiting (`drainMs` after the load). */
  unfinished: number;
  errorsByName: Record<string, number>;
  /** Operations that took longer than 1 s, or never finished. */
  hungOver1s: number;
  writesAcked: number;
  /** Acknowledged writes missing on the master after the failover; null if the check failed. */
  lostWrites: number | null;
  /**
   * Acknowledged writes that the old master executed after it came back (pause/kill) or after
   * +switch-master (failover): split-brain writes. Usually lost too; a client that retried the
   * write on the new master has it there as well (then it is not in lostWrites).
   */
  demotedMasterWrites: number | null;
  /** +switch-master → first acknowledged write started after it that the new master has; null = none. */
  clientPartMs: number | null;
  /** Longest time between two successful writes, from the fault to the end of the load. */
  longestWriteGapMs: number;
  buckets: FailoverBuckets;
}

export interface FailoverMarks {
  /** All relative to the start of the load, in ms. */
  faultMs: number;
  sdownMs?: number;
  odownMs?: number;
  switchMs?: number;
  /** pause: SIGCONT sent; kill: node restarted. */
  resumeMs?: number;
  loadStopMs: number;
  endMs: number;
}

export interface FailoverResult {
  fault: Fault;
  provider: string;
  downAfterMs: number;
  ratePerClient: number;
  bucketMs: number;
  startedAt: string;
  initialMaster: NodeAddress;
  newMaster?: NodeAddress;
  marks: FailoverMarks;
  /** Fault → +switch-master: the servers' part of the outage. */
  serverPartMs: number | null;
  sentinelEvents: Array<{ event: string; atMs: number; message: string }>;
  clients: FailoverClientResult[];
  notes: string[];
}

export interface FailoverHooks {
  log(line: string): void;
  progress(elapsedMs: number, estimatedMs: number, phase: string): void;
}

/** Constant offered load for every client; records each operation. */
class OpenLoopLoad {
  readonly records: OpRecord[][];
  readonly inFlight: number[];
  readonly shed: number[];
  private readonly issued: number[];
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private readonly padding: string;

  constructor(
    private readonly clients: CreatedClient[],
    private readonly ratePerClient: number,
    valueSize: number,
  ) {
    this.padding = valueOfSize(valueSize);
    this.records = clients.map(() => []);
    this.inFlight = clients.map(() => 0);
    this.shed = clients.map(() => 0);
    this.issued = clients.map(() => 0);
  }

  start(t0: number): void {
    this.t0 = t0;
    this.timer = setInterval(() => this.tick(), 5);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get totalInFlight(): number {
    return this.inFlight.reduce((a, b) => a + b, 0);
  }

  private tick(): void {
    const due = Math.floor(((nowMs() - this.t0) * this.ratePerClient) / 1000);
    for (let c = 0; c < this.clients.length; c++) {
      // Catch up after a late timer: the offered load is a schedule, not a best effort.
      while ((this.issued[c] as number) < due) this.issue(c);
    }
  }

  private issue(c: number): void {
    const index = this.issued[c] as number;
    this.issued[c] = index + 1;
    if ((this.inFlight[c] as number) >= MAX_IN_FLIGHT) {
      this.shed[c] = (this.shed[c] as number) + 1;
      return;
    }
    const { adapter, client } = this.clients[c] as CreatedClient;
    const write = index % 2 === 0;
    const seq = write ? index / 2 : -1;
    const record: OpRecord = { write, seq, start: nowMs() };
    (this.records[c] as OpRecord[]).push(record);
    this.inFlight[c] = (this.inFlight[c] as number) + 1;
    const op = write
      ? client.set(writeKey(adapter.name, seq), `${seq}:${this.padding}`)
      : client.get(readKey(adapter.name));
    op.then(
      () => {
        record.end = nowMs();
        this.inFlight[c] = (this.inFlight[c] as number) - 1;
      },
      (error: unknown) => {
        record.end = nowMs();
        record.error = errorLabel(error);
        this.inFlight[c] = (this.inFlight[c] as number) - 1;
      },
    );
  }
}

const writeKey = (client: string, seq: number) => `fo:${client}:w${seq}`;
const readKey = (client: string) => `fo:${client}:r`;

export async function runFailover(
  fault: Fault,
  adapters: ClientAdapter[],
  options: FailoverOptions,
  hooks: FailoverHooks,
): Promise<{ result?: FailoverResult; skipped: SkippedClient[] }> {
  const scenario = `failover-${fault}`;
  const notes: string[] = [];
  const topology = await startBenchTopology({ downAfterMs: options.downAfterMs, log: hooks.log });
  let watch: SentinelWatch | undefined;
  const taps: WriteTap[] = [];
  let clients: CreatedClient[] = [];
  try {
    await topology.waitForHealthy(30_000);
    const auth = topology.routerOptions();
    watch = await SentinelWatch.start(topology.sentinels, auth);
    const made = await createClients(adapters, topology, scenario);
    clients = made.created;
    for (const { adapter, client } of clients)
      await client.set(readKey(adapter.name), valueOfSize(options.valueSize));

    const initialMaster = await topology.currentMaster();
    const tap = await WriteTap.attach(initialMaster, auth).catch((error: unknown) => {
      notes.push(
        `MONITOR on the initial master failed (${errorLabel(error)}): demoted-master writes not measured`,
      );
      return undefined;
    });
    if (tap) taps.push(tap);

    const estimatedMs = Math.max(
      options.minDurationMs,
      options.faultAtMs + options.downAfterMs + 2000 + options.resumeAfterSwitchMs + options.tailMs,
    );
    const load = new OpenLoopLoad(clients, options.ratePerClient, options.valueSize);
    const t0 = nowMs();
    let phase = 'steady load';
    const ticker = setInterval(() => hooks.progress(nowMs() - t0, estimatedMs, phase), 250);
    load.start(t0);

    let tFault = 0;
    let tSwitch: number | undefined;
    let tResume: number | undefined;
    let tRef: number | undefined;
    let newMaster: NodeAddress | undefined;
    let tStop = 0;
    let tEnd = 0;
    try {
      await sleep(options.faultAtMs);
      phase = `fault: ${fault}`;
      tFault = nowMs();
      const faulted = await injectFault(topology, fault, initialMaster);
      hooks.log(`${scenario}: ${fault} ${faulted.host}:${faulted.port}`);

      phase = 'waiting for +switch-master';
      tSwitch = await watch.waitFor('+switch-master', tFault, options.switchTimeoutMs);
      if (tSwitch === undefined)
        notes.push(`no +switch-master within ${options.switchTimeoutMs} ms of the fault`);
      newMaster = await topology.currentMaster().catch(() => undefined);

      if (tSwitch !== undefined) {
        phase = 'new master';
        await sleep(options.resumeAfterSwitchMs);
      }
      if (fault === 'pause') {
        phase = 'old master resumed';
        tResume = nowMs();
        tRef = tResume;
        await topology.resumeMaster();
      } else if (fault === 'kill') {
        phase = 'old master restarted';
        tResume = nowMs();
        tRef = tResume;
        await topology.restartNode(faulted);
        const restartedTap = await WriteTap.attach(faulted, auth).catch(() => undefined);
        if (restartedTap) taps.push(restartedTap);
        else notes.push('MONITOR on the restarted old master failed: demoted-master writes not measured');
        notes.push(
          'kill: MONITOR attaches right after the restart, so writes in the first milliseconds may be missed',
        );
      } else {
        tRef = tSwitch;
      }

      const loadEnd = Math.max(t0 + options.minDurationMs, (tResume ?? nowMs()) + options.tailMs);
      await sleep(Math.max(0, loadEnd - nowMs()));
      load.stop();
      tStop = nowMs();
      phase = 'draining';
      const drainUntil = tStop + options.drainMs;
      while (load.totalInFlight > 0 && nowMs() < drainUntil) await sleep(50);
      tEnd = nowMs();
      // MONITOR output trails the commands a little.
      await sleep(300);
    } finally {
      load.stop();
      clearInterval(ticker);
      for (const t of taps) t.close();
    }

    hooks.progress(tEnd - t0, tEnd - t0, 'checking writes');
    await topology.waitForHealthy(30_000).catch((error: unknown) => {
      notes.push(
        `topology not healthy after the run (${errorLabel(error)}); writes checked on the current master anyway`,
      );
    });
    const lost = await countLostWrites(topology, clients, load.records).catch((error: unknown) => {
      notes.push(`lost-write check failed: ${errorLabel(error)}`);
      return undefined;
    });
    const demotedKeys = taps.length > 0 && tRef !== undefined ? unionKeysSince(taps, tRef) : undefined;

    const rel = (t: number | undefined) => (t === undefined ? undefined : Math.round(t - t0));
    const marks: FailoverMarks = {
      faultMs: Math.round(tFault - t0),
      ...defined('sdownMs', rel(watch.first('+sdown', tFault))),
      ...defined('odownMs', rel(watch.first('+odown', tFault))),
      ...defined('switchMs', rel(tSwitch)),
      ...defined('resumeMs', rel(tResume)),
      loadStopMs: Math.round(tStop - t0),
      endMs: Math.round(tEnd - t0),
    };
    const result: FailoverResult = {
      fault,
      provider: topology.provider,
      downAfterMs: options.downAfterMs,
      ratePerClient: options.ratePerClient,
      bucketMs: options.bucketMs,
      startedAt: new Date(t0).toISOString(),
      initialMaster,
      ...(newMaster ? { newMaster } : {}),
      marks,
      serverPartMs: tSwitch === undefined ? null : Math.round(tSwitch - tFault),
      sentinelEvents: watch.events.map((e) => ({
        event: e.event,
        atMs: Math.round(e.atMs - t0),
        message: e.message,
      })),
      clients: clients.map(({ adapter }, c) =>
        summarizeClient(adapter.name, load.records[c] as OpRecord[], load.shed[c] as number, {
          t0,
          tFault,
          tSwitch,
          tStop,
          tEnd,
          bucketMs: options.bucketMs,
          lost: lost?.get(adapter.name),
          demotedKeys,
        }),
      ),
      notes,
    };
    return { result, skipped: made.skipped };
  } finally {
    await closeClients(clients);
    watch?.close();
    await topology.stop();
  }
}

/** Apply the fault; returns the node that failed (the master at the time). */
async function injectFault(topology: Topology, fault: Fault, master: NodeAddress): Promise<NodeAddress> {
  if (fault === 'pause') return topology.pauseMaster();
  if (fault === 'kill') return topology.killMaster();
  await topology.failover();
  return master;
}

function defined<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

function unionKeysSince(taps: WriteTap[], sinceMs: number): Set<string> {
  const keys = new Set<string>();
  for (const tap of taps) for (const key of tap.keysSince(sinceMs)) keys.add(key);
  return keys;
}

/** Read every acknowledged write's key from the current master; count the missing ones per client. */
async function countLostWrites(
  topology: Topology,
  clients: CreatedClient[],
  records: OpRecord[][],
): Promise<Map<string, Set<number>>> {
  const master = await topology.currentMaster();
  const auth = topology.routerOptions();
  const redis = new Redis({
    host: master.host,
    port: master.port,
    ...(auth.password !== undefined ? { password: auth.password } : {}),
    ...(auth.username !== undefined ? { username: auth.username } : {}),
    maxRetriesPerRequest: 2,
  });
  redis.on('error', () => {});
  try {
    const lost = new Map<string, Set<number>>();
    for (let c = 0; c < clients.length; c++) {
      const name = (clients[c] as CreatedClient).adapter.name;
      const seqs = (records[c] as OpRecord[])
        .filter((r) => r.write && r.end !== undefined && r.error === undefined)
        .map((r) => r.seq);
      const missing = new Set<number>();
      for (let i = 0; i < seqs.length; i += 500) {
        const batch = seqs.slice(i, i + 500);
        const values = await withTimeout(
          redis.mget(...batch.map((seq) => redisKey(writeKey(name, seq)))),
          10_000,
          'MGET',
        );
        values.forEach((v, j) => {
          if (v === null) missing.add(batch[j] as number);
        });
      }
      lost.set(name, missing);
    }
    return lost;
  } finally {
    redis.disconnect();
  }
}

interface SummaryContext {
  t0: number;
  tFault: number;
  tSwitch: number | undefined;
  tStop: number;
  tEnd: number;
  bucketMs: number;
  /** Sequence numbers of acknowledged writes missing on the master afterwards; undefined = not checked. */
  lost: Set<number> | undefined;
  demotedKeys: Set<string> | undefined;
}

function summarizeClient(
  name: string,
  records: OpRecord[],
  shed: number,
  ctx: SummaryContext,
): FailoverClientResult {
  const errorsByName: Record<string, number> = {};
  let succeeded = 0;
  let failed = 0;
  let unfinished = 0;
  let hung = 0;
  let writesAcked = 0;
  let demoted = 0;
  let firstAfterSwitch: number | undefined;
  const writeSuccessEnds: number[] = [];

  const bucketCount = Math.max(1, Math.ceil((ctx.tEnd - ctx.t0) / ctx.bucketMs));
  const buckets: FailoverBuckets = {
    successes: new Array(bucketCount).fill(0),
    errors: new Array(bucketCount).fill(0),
    p99Ms: new Array(bucketCount).fill(null),
    errorsByName: Array.from({ length: bucketCount }, () => ({})),
  };
  const latencies: number[][] = Array.from({ length: bucketCount }, () => []);

  for (const r of records) {
    const latency = (r.end ?? ctx.tEnd) - r.start;
    if (latency > HUNG_MS) hung++;
    if (r.end === undefined) {
      unfinished++;
      continue;
    }
    const b = Math.min(bucketCount - 1, Math.max(0, Math.floor((r.end - ctx.t0) / ctx.bucketMs)));
    (latencies[b] as number[]).push(latency);
    if (r.error === undefined) {
      succeeded++;
      buckets.successes[b] = (buckets.successes[b] as number) + 1;
      if (r.write) {
        writesAcked++;
        writeSuccessEnds.push(r.end);
        // Recovery = a write that reached the new master: one the demoted master acknowledged and
        // then lost (a client still pinned to it) does not count.
        if (ctx.tSwitch !== undefined && r.start >= ctx.tSwitch && !ctx.lost?.has(r.seq)) {
          if (firstAfterSwitch === undefined || r.end < firstAfterSwitch) firstAfterSwitch = r.end;
        }
        if (ctx.demotedKeys?.has(redisKey(writeKey(name, r.seq)))) demoted++;
      }
    } else {
      failed++;
      errorsByName[r.error] = (errorsByName[r.error] ?? 0) + 1;
      buckets.errors[b] = (buckets.errors[b] as number) + 1;
      const byName = buckets.errorsByName[b] as Record<string, number>;
      byName[r.error] = (byName[r.error] ?? 0) + 1;
    }
  }
  for (let b = 0; b < bucketCount; b++) {
    const l = (latencies[b] as number[]).sort((x, y) => x - y);
    if (l.length > 0) {
      buckets.p99Ms[b] =
        Math.round((l[Math.min(l.length - 1, Math.ceil(l.length * 0.99) - 1)] as number) * 10) / 10;
    }
  }

  // Longest stretch without a successful write between the fault and the end of the load.
  const points = [
    ctx.tFault,
    ...writeSuccessEnds.filter((t) => t > ctx.tFault && t < ctx.tStop).sort((a, b) => a - b),
    ctx.tStop,
  ];
  let longestGap = 0;
  for (let i = 1; i < points.length; i++)
    longestGap = Math.max(longestGap, (points[i] as number) - (points[i - 1] as number));

  return {
    client: name,
    offered: records.length + shed,
    succeeded,
    failed,
    shed,
    unfinished,
    errorsByName,
    hungOver1s: hung,
    writesAcked,
    lostWrites: ctx.lost ? ctx.lost.size : null,
    demotedMasterWrites: ctx.demotedKeys ? demoted : null,
    clientPartMs:
      firstAfterSwitch === undefined || ctx.tSwitch === undefined
        ? null
        : Math.round(firstAfterSwitch - ctx.tSwitch),
    longestWriteGapMs: Math.round(longestGap),
    buckets,
  };
}
