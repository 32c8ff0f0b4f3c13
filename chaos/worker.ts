/**
 * One OS process of a campaign (`child_process.fork`ed by chaos/campaign.ts): one router, a
 * few caches on it, each running its seeded sequence of operations one at a time until told to
 * stop, and every invocation, completion, factory start and router report streamed back to the
 * parent as history events.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cache } from '../src/core/cache.js';
import { createCache } from '../src/create-cache.js';
import { routers } from '../src/routers/index.js';
import type { Router } from '../src/routers/types.js';
import {
  type ChaosConfig,
  COUNTERS_PER_OWNER,
  counterKey,
  type OpSpec,
  opChunk,
  owner,
  replicasOf,
  tagsOf,
} from './generator.js';
import { describeError, type HistoryEvent, type InvokeEvent, monotonicMs, type OpName } from './history.js';

/** What the parent tells a worker to do. */
export interface WorkerSpec {
  process: number;
  processes: number;
  caches: number;
  seed: number;
  config: ChaosConfig;
  /** The router's connection options, from the topology (url, sentinels, nodes...). */
  connection: Record<string, unknown>;
  keyPrefix: string;
  commandTimeoutMs: number;
  /** Retry at once after a failure, with no event-loop turn (reproduces a starved event loop). */
  spin?: boolean;
}

export type ParentMessage =
  | { type: 'start'; spec: WorkerSpec }
  | { type: 'stop' }
  | { type: 'final'; keys: string[] };
export type WorkerMessage =
  | { type: 'events'; events: HistoryEvent[] }
  | { type: 'ready' }
  | { type: 'stopped'; ops: number }
  | { type: 'final-done' }
  | { type: 'error'; message: string };

const send = (m: WorkerMessage): void => {
  process.send?.(m);
};

/** The lock TTL: short, so a holder whose release was lost does not block the others for long. */
export const LOCK_TTL_MS = 5000;
/** getOrSet's hard timeout: a factory never takes longer than 30 ms, so this is a failure bound. */
const HARD_TIMEOUT_MS = 3000;

function makeRouter(spec: WorkerSpec, readFrom: 'master' | 'replica'): Router {
  const { config, connection, commandTimeoutMs } = spec;
  const replica = readFrom === 'replica';
  switch (config.router) {
    case 'standalone':
      return routers.standalone({ ...(connection as { url: string }), commandTimeoutMs });
    case 'cluster':
      return routers.cluster({
        ...(connection as { nodes: { host: string; port: number }[] }),
        commandTimeoutMs,
        ...(replica ? { readFrom: 'replica-preferred' as const } : {}),
      });
    default:
      return routers[config.router]({
        ...(connection as { sentinels: { host: string; port: number }[]; service: string }),
        commandTimeoutMs,
        ...(replica ? { readFrom: 'replica-preferred' as const, readYourWrites: true } : {}),
      });
  }
}

class Recorder {
  private buffer: HistoryEvent[] = [];
  /** Operations that failed so far. */
  failures = 0;
  private n = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly process: number) {
    this.timer = setInterval(() => this.flush(), 200);
  }

  push(e: HistoryEvent): void {
    this.buffer.push(e);
  }

  /** Records the invocation, runs `fn`, records its completion; never throws. */
  async run<R>(
    cache: number,
    op: OpName,
    fields: Omit<InvokeEvent, 'type' | 'id' | 'process' | 'cache' | 'op' | 'at'>,
    fn: (id: string) => Promise<R>,
    result: (r: R) => unknown = (r) => r,
  ): Promise<{ ok: true; value: R } | { ok: false }> {
    const id = `p${this.process}:${this.n++}`;
    this.push({ type: 'invoke', id, process: this.process, cache, op, ...fields, at: monotonicMs() });
    try {
      const value = await fn(id);
      this.push({
        type: 'complete',
        id,
        process: this.process,
        at: monotonicMs(),
        outcome: 'ok',
        result: result(value) as never,
      });
      return { ok: true, value };
    } catch (error) {
      this.failures++;
      this.push({
        type: 'complete',
        id,
        process: this.process,
        at: monotonicMs(),
        outcome: 'fail',
        error: describeError(error),
      });
      return { ok: false };
    }
  }

  tail(n: number): HistoryEvent[] {
    return this.buffer.slice(-n);
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    send({ type: 'events', events: this.buffer });
    this.buffer = [];
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** A stored value as the history records it: a string, or null for a miss. */
const asRecorded = (v: unknown): string | null => (v === undefined || v === null ? null : String(v));

class CacheLoop {
  private seq = 0;
  private holderSeq = 0;
  ops = 0;

  constructor(
    private readonly spec: WorkerSpec,
    private readonly index: number,
    private readonly cache: Cache,
    readonly rec: Recorder,
    private readonly stopped: () => boolean,
  ) {}

  private value(): string {
    return `${owner(this.spec.process, this.index)}-${++this.seq}`;
  }

  async run(): Promise<void> {
    const { spec } = this;
    for (let chunk = 0; !this.stopped(); chunk++) {
      for (const op of opChunk(spec.seed, spec.process, this.index, spec.processes, spec.caches, chunk)) {
        if (this.stopped()) return;
        const failuresBefore = this.rec.failures;
        await this.one(op);
        this.ops++;
        // A router that fails fast (reconnecting, breaker open) answers without I/O: a caller
        // retrying at once would run on microtasks only, and the reconnect timer would never fire.
        // Callers here take an event-loop turn after a failure, as a request handler would
        // (--spin turns that off: docs/chaos.md, "Callers that retry at once").
        if (this.rec.failures > failuresBefore && !spec.spin) await new Promise((r) => setImmediate(r));
        starvationCheck(this.rec);
      }
    }
  }

  private async one(op: OpSpec): Promise<void> {
    const { cache, rec, index: c } = this;
    switch (op.op) {
      case 'get':
        await rec.run(
          c,
          'get',
          { keys: op.keys },
          () => cache.get(op.keys[0]),
          (v) => [asRecorded(v)],
        );
        return;
      case 'getMany':
        await rec.run(
          c,
          'getMany',
          { keys: op.keys },
          () => cache.getMany(op.keys),
          (m) => op.keys.map((k) => asRecorded(m.get(k))),
        );
        return;
      case 'set': {
        const value = this.value();
        await rec.run(c, 'set', { keys: op.keys, values: [value] }, () => cache.set(op.keys[0], value));
        return;
      }
      case 'delete':
        await rec.run(c, 'delete', { keys: op.keys, values: [null] }, () => cache.delete(op.keys[0]));
        return;
      case 'setMany': {
        const values = op.keys.map(() => this.value());
        await rec.run(
          c,
          'setMany',
          { keys: op.keys, values },
          () => cache.setMany(op.keys.map((k, i) => [k, values[i]] as [string, string])),
          () => true,
        );
        return;
      }
      case 'deleteMany':
        await rec.run(c, 'deleteMany', { keys: op.keys, values: op.keys.map(() => null) }, () =>
          cache.deleteMany(op.keys),
        );
        return;
      case 'incr': {
        const key = op.keys[0];
        await rec.run(c, 'incr', { keys: op.keys, values: [String(op.delta)] }, () =>
          cache.incr(key, op.delta),
        );
        return;
      }
      case 'getOrSet': {
        const key = op.keys[0];
        const tags = tagsOf(key);
        await rec.run(
          c,
          'getOrSet',
          { keys: op.keys, tags },
          (call) =>
            cache.getOrSet<string>(
              key,
              async () => {
                const value = `${this.value()}-f`;
                rec.push({
                  type: 'factory',
                  process: this.spec.process,
                  cache: c,
                  key,
                  value,
                  tags,
                  call,
                  at: monotonicMs(),
                });
                if (op.factoryMs > 0) await sleep(op.factoryMs);
                return value;
              },
              { ttl: '10m', tags, hardTimeout: HARD_TIMEOUT_MS, ...(op.grace ? { grace: '10m' } : {}) },
            ),
          asRecorded,
        );
        return;
      }
      case 'invalidateTags':
        await rec.run(
          c,
          'invalidateTags',
          { keys: [], tags: op.tags },
          () => cache.invalidateTags(op.tags),
          () => true,
        );
        return;
      case 'lock': {
        const holder = `${owner(this.spec.process, c)}-h${++this.holderSeq}`;
        // With `wait`, every replica the topology has must acknowledge the lock (docs/guarantees.md "Locks").
        const waitReplicas = op.wait ? replicasOf(this.spec.config.router) : 0;
        const lock = cache.lock(op.name, {
          ttl: LOCK_TTL_MS,
          blocking: false,
          ...(waitReplicas > 0 ? { waitReplicas } : {}),
        });
        const acquired = await rec.run(
          c,
          'lockAcquire',
          { keys: [op.name], holder, ...(waitReplicas > 0 ? { waitReplicas } : {}) },
          () => lock.acquire(),
        );
        if (!lock.held) return;
        if (acquired.ok && op.holdMs > 0) await sleep(op.holdMs);
        // A failed release keeps the token: try again a few times (docs/guarantees.md "Locks").
        for (let attempt = 0; attempt < 3 && lock.held; attempt++) {
          const released = await rec.run(
            c,
            'lockRelease',
            { keys: [op.name], holder },
            () => lock.release(),
            () => true,
          );
          if (released.ok) break;
          await sleep(200);
        }
        return;
      }
    }
  }
}

/** When the event loop last turned (a timer ran). */
let lastTurn = performance.now();
setInterval(() => {
  lastTurn = performance.now();
}, 100).unref();
let starvationReported = false;

/** Diagnosis: the loops ran 2 s without the event loop turning (every operation settled without I/O). */
function starvationCheck(r: Recorder): void {
  if (starvationReported || performance.now() - lastTurn < 2000) return;
  starvationReported = true;
  const tail = r.tail(30);
  process.stderr.write(
    `worker ${r.process}: event loop starved for 2 s; last events:\n${tail.map((e) => JSON.stringify(e)).join('\n')}\n`,
  );
}

let spec: WorkerSpec | undefined;
let stopping = false;
let loops: CacheLoop[] = [];
let running: Promise<unknown> | undefined;
let rec: Recorder | undefined;
let router: Router | undefined;
const caches: Cache[] = [];

/** Starts so far (each schedule of `runSchedules` is one). */
let generations = 0;

async function start(s: WorkerSpec): Promise<void> {
  // `runSchedules` (chaos/campaign.ts) starts one worker again for each schedule, after the
  // last one's `final` closed its caches and router: each start begins afresh.
  stopping = false;
  starvationReported = false;
  caches.length = 0;
  spec = s;
  rec = new Recorder(s.process);
  router = makeRouter(s, s.config.readFrom);
  for (let c = 0; c < s.caches; c++) {
    const cache = createCache({
      router,
      keyPrefix: s.keyPrefix,
      // Longer than any campaign (--minutes is at most 50): an expired key would read as a lost write.
      defaultTtl: '1h',
      ...(s.config.near ? { nearCache: true } : {}),
    });
    cache.on('error', () => {});
    if (c === 0) {
      for (const name of ['rollback', 'failover'] as const) {
        cache.on(name, (detail: unknown) =>
          rec!.push({
            type: 'router',
            process: s.process,
            name,
            detail: JSON.parse(JSON.stringify(detail ?? {})),
            at: monotonicMs(),
          }),
        );
      }
    }
    caches.push(cache);
  }
  await caches[0]!.ready().catch(() => {});
  // Counters start at 0 (incr of a missing key is KeyNotFoundError): before the load, unrecorded.
  for (const [c, cache] of caches.entries()) {
    for (let i = 0; i < COUNTERS_PER_OWNER; i++) await cache.set(counterKey(owner(s.process, c), i), 0);
  }
  // An earlier schedule's loop still stuck in an operation stops too, when that one returns.
  const generation = ++generations;
  loops = caches.map(
    (cache, i) => new CacheLoop(s, i, cache, rec!, () => stopping || generation !== generations),
  );
  send({ type: 'ready' });
  running = Promise.all(loops.map((l) => l.run()));
}

/** The quiescent read: a fresh router reading the master, no near cache. */
async function finalRead(keys: string[]): Promise<void> {
  const s = spec!;
  const r = makeRouter(s, 'master');
  const cache = createCache({ router: r, keyPrefix: s.keyPrefix });
  cache.on('error', () => {});
  for (const key of keys) {
    // Retried until it answers: the topology is healthy by now, a failure here is a harness problem.
    for (let attempt = 0; attempt < 20; attempt++) {
      const out = await rec!.run(
        s.caches,
        'finalRead',
        { keys: [key] },
        () => cache.get(key),
        (v) => [asRecorded(v)],
      );
      if (out.ok) break;
      await sleep(500);
    }
  }
  await cache.close().catch(() => {});
  rec!.flush();
}

process.on('message', (m: ParentMessage) => {
  void (async () => {
    try {
      if (m.type === 'start') await start(m.spec);
      else if (m.type === 'stop') {
        stopping = true;
        // Every loop finishes its current operation (bounded by the no-hang rule's own bound).
        await Promise.race([running, sleep(30_000)]);
        rec?.flush();
        send({ type: 'stopped', ops: loops.reduce((n, l) => n + l.ops, 0) });
      } else if (m.type === 'final') {
        await finalRead(m.keys);
        await Promise.all(caches.map((c) => c.close().catch(() => {})));
        rec?.close();
        send({ type: 'final-done' });
      }
    } catch (error) {
      send({
        type: 'error',
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
