/**
 * Shared by the Sentinel router integration tests: router construction, a steady write
 * load that records every acknowledgement and every failure with its timing, and checks
 * against the data nodes themselves.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { type ReadyRouter, routers } from '../../src/routers/index.js';
import type { Router, SentinelRouterOptions } from '../../src/routers/types.js';
import type { NodeAddress, Topology } from '../../src/topology/types.js';

export type RouterKind = 'pooled' | 'discovery';
export const ROUTER_KINDS: RouterKind[] = ['pooled', 'discovery'];

export const COMMAND_TIMEOUT_MS = 500;
/**
 * "No hang" budget for one operation: a command timeout, plus a reconnect with its ROLE
 * check, plus scheduling slack on a busy 2-core machine. Not a speed target.
 */
export const NO_HANG_BUDGET_MS = COMMAND_TIMEOUT_MS * 3 + 2000;

export type TestRouter = ReadyRouter;

export function makeRouter(
  kind: RouterKind,
  topo: Topology,
  extra: Partial<SentinelRouterOptions> & Record<string, unknown> = {},
): TestRouter {
  return routers[kind]({
    ...topo.routerOptions(),
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    ...extra,
  });
}

export interface Ack {
  key: string;
  at: number;
  /** 'set' before the test marked the switch, 'psetex' after (see WriteLoad.markSwitch). */
  command: 'set' | 'psetex';
}

/**
 * N writers, each writing unique keys in a loop. Before `markSwitch()` they use SET;
 * after it PSETEX, a command that appears in a node's INFO commandstats only when a
 * client sent it (Redis 7 propagates it to replicas as SET ... PXAT), so a demoted
 * master's `cmdstat_psetex` shows whether any post-switch write reached it.
 */
export class WriteLoad {
  readonly acks: Ack[] = [];
  readonly errors: { at: number; error: unknown }[] = [];
  readonly slow: { key: string; ms: number }[] = [];
  private phase: 'set' | 'psetex' = 'set';
  private stopped = false;
  private readonly done: Promise<unknown>;

  constructor(
    private readonly router: Router,
    private readonly tag: string,
    writers = 10,
  ) {
    this.done = Promise.all(Array.from({ length: writers }, (_, w) => this.writer(w)));
  }

  markSwitch(): void {
    this.phase = 'psetex';
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  ackedAfter(t: number): Ack[] {
    return this.acks.filter((a) => a.at >= t);
  }

  private async writer(w: number): Promise<void> {
    for (let seq = 0; !this.stopped; seq++) {
      const key = `load:${this.tag}:${w}:${seq}`;
      const command = this.phase;
      const t0 = performance.now();
      try {
        await this.router.execute('write', (c) =>
          command === 'set' ? c.set(key, String(seq)) : c.psetex(key, 600_000, String(seq)),
        );
        this.acks.push({ key, at: performance.now(), command });
      } catch (error) {
        this.errors.push({ at: performance.now(), error });
        await sleep(10);
      }
      const ms = performance.now() - t0;
      if (ms > NO_HANG_BUDGET_MS) this.slow.push({ key, ms });
    }
  }
}

export function nodeClient(topo: Topology, address: NodeAddress): Redis {
  const o = topo.routerOptions();
  const client = new Redis({
    host: address.host,
    port: address.port,
    username: o.username,
    password: o.password,
    tls: o.tls,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
  });
  client.on('error', () => {});
  return client;
}

/** Acknowledged keys that are absent on `address`. */
export async function missingOn(topo: Topology, address: NodeAddress, acks: Ack[]): Promise<Ack[]> {
  const client = nodeClient(topo, address);
  const missing: Ack[] = [];
  try {
    for (let i = 0; i < acks.length; i += 1000) {
      const chunk = acks.slice(i, i + 1000);
      const values = await client.mget(...chunk.map((a) => a.key));
      values.forEach((v, j) => {
        const ack = chunk[j];
        if (v === null && ack) missing.push(ack);
      });
    }
  } finally {
    client.disconnect();
  }
  return missing;
}

/** `calls` of one command in a node's INFO commandstats (0 when never called). */
export async function commandCalls(topo: Topology, address: NodeAddress, command: string): Promise<number> {
  const client = nodeClient(topo, address);
  try {
    const info = await client.info('commandstats');
    const m = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
    return m ? Number(m[1]) : 0;
  } finally {
    client.disconnect();
  }
}

/** Settle `p` and report how long it took; throws if it takes longer than `budgetMs` (a hang). */
export async function settleWithin<T>(
  p: Promise<T>,
  budgetMs: number,
): Promise<{ value?: T; error?: unknown; ms: number }> {
  const t0 = performance.now();
  const outcome = await Promise.race([
    p.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    sleep(budgetMs).then(() => 'hung' as const),
  ]);
  if (outcome === 'hung') throw new Error(`operation did not settle within ${budgetMs} ms`);
  return { ...outcome, ms: performance.now() - t0 };
}

export function sameNode(a: NodeAddress | undefined, b: NodeAddress | undefined): boolean {
  return !!a && !!b && a.host === b.host && a.port === b.port;
}

/** A connection of its own to one data node, for `fn`, closed afterwards. */
export async function onNode<T>(
  topo: Topology,
  address: NodeAddress,
  fn: (c: Redis) => Promise<T>,
): Promise<T> {
  const client = nodeClient(topo, address);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** `INFO replication` of one node, as fields. */
export async function replication(topo: Topology, address: NodeAddress): Promise<Record<string, string>> {
  const text = await onNode(topo, address, (c) => c.info('replication'));
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** What every sentinel says `replica-priority` of `replica` is (sentinels read INFO every 10 s). */
export async function sentinelPriorities(topo: Topology, replica: NodeAddress): Promise<string[]> {
  return Promise.all(
    topo.sentinels.map(async (s) => {
      const c = new Redis({ host: s.host, port: s.port, lazyConnect: true, maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      try {
        await c.connect();
        const replicas = (await c.call('SENTINEL', 'REPLICAS', topo.service)) as string[][];
        for (const r of replicas) {
          const f: Record<string, string> = {};
          for (let i = 0; i + 1 < r.length; i += 2) f[String(r[i])] = String(r[i + 1]);
          if (f.ip === replica.host && Number(f.port) === replica.port) return f['slave-priority'] ?? '?';
        }
        return 'unknown';
      } finally {
        c.disconnect();
      }
    }),
  );
}
