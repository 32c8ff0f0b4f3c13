import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeAddress } from '../core/address.js';
import { addressKey, sameAddress } from '../core/address.js';
import {
  type Credentials,
  controlClient,
  nodeRole,
  replicationInfo,
  sentinelMasterAddr,
  sentinelView,
} from './control.js';
import { TopologyTimeoutError } from './errors.js';

export interface HealthContext {
  service: string;
  /** Sentinels that should be up. */
  sentinels: NodeAddress[];
  /** Data nodes that should be up and answering (not paused). */
  dataNodes: NodeAddress[];
  dataCreds: Credentials;
  sentinelCreds: Credentials;
}

const DOWN_FLAGS = ['s_down', 'o_down', 'disconnected'];
const isDown = (flags: string | undefined) => DOWN_FLAGS.some((f) => (flags ?? '').split(',').includes(f));
const entryAddress = (e: Record<string, string>): NodeAddress => ({ host: e.ip ?? '', port: Number(e.port) });

/**
 * Returns null when healthy, else the first reason it is not (used in timeout messages):
 * all sentinels agree on a master that answers ROLE master, every other data node is its
 * replica with the link up, and every sentinel sees every replica and every other sentinel
 * without a down flag.
 */
export async function healthProblem(ctx: HealthContext): Promise<string | null> {
  if (ctx.sentinels.length === 0) return 'no sentinel is running';
  let master: NodeAddress | undefined;
  for (const s of ctx.sentinels) {
    let m: NodeAddress | null;
    try {
      m = await sentinelMasterAddr(s, ctx.sentinelCreds, ctx.service);
    } catch (error) {
      return `sentinel ${addressKey(s)} does not answer: ${(error as Error).message}`;
    }
    if (!m) return `sentinel ${addressKey(s)} does not know service ${ctx.service}`;
    if (master && !sameAddress(master, m)) {
      return `sentinels disagree on the master (${addressKey(master)} vs ${addressKey(m)})`;
    }
    master = m;
  }
  if (!master) return 'no master';
  if (!ctx.dataNodes.some((n) => sameAddress(n, master))) {
    return `sentinels report master ${addressKey(master)}, which is not running`;
  }
  const role = await nodeRole(master, ctx.dataCreds);
  if (role !== 'master') return `${addressKey(master)} reports role ${role}, expected master`;

  const replicas = ctx.dataNodes.filter((n) => !sameAddress(n, master));
  for (const r of replicas) {
    let info: Record<string, string>;
    try {
      info = await replicationInfo(r, ctx.dataCreds);
    } catch (error) {
      return `replica ${addressKey(r)} does not answer: ${(error as Error).message}`;
    }
    if (info.role !== 'slave') return `${addressKey(r)} has role ${info.role}, expected slave`;
    if (info.master_host !== master.host || Number(info.master_port) !== master.port) {
      return `${addressKey(r)} replicates ${info.master_host}:${info.master_port}, expected ${addressKey(master)}`;
    }
    if (info.master_link_status !== 'up')
      return `${addressKey(r)} master_link_status is ${info.master_link_status}`;
  }

  for (const s of ctx.sentinels) {
    const view = await sentinelView(s, ctx.sentinelCreds, ctx.service).catch((error: Error) => error);
    if (view instanceof Error) return `sentinel ${addressKey(s)} does not answer: ${view.message}`;
    if (view.master.flags !== 'master') {
      return `sentinel ${addressKey(s)} sees master flags ${view.master.flags}`;
    }
    for (const r of replicas) {
      const entry = view.replicas.find((e) => sameAddress(entryAddress(e), r));
      if (!entry) return `sentinel ${addressKey(s)} does not know replica ${addressKey(r)} yet`;
      if (isDown(entry.flags))
        return `sentinel ${addressKey(s)} sees replica ${addressKey(r)} as ${entry.flags}`;
      // The sentinel's own last INFO of the replica must agree too. A sentinel still holding
      // "role master" for a node that was restarted (or resumed) will convert it to a replica
      // as soon as its 8 s grace ends, even if that node has just been promoted by a newer
      // failover, aborting that failover. Sentinels refresh replica INFO every 10 s (1 s during
      // a failover), so this can add up to 10 s, but "healthy" must mean "safe to fail over".
      if (entry['role-reported'] !== 'slave') {
        return `sentinel ${addressKey(s)} still sees ${addressKey(r)} reporting role ${entry['role-reported']}`;
      }
      if (entry['master-host'] !== master.host || Number(entry['master-port']) !== master.port) {
        return `sentinel ${addressKey(s)} still sees ${addressKey(r)} replicating ${entry['master-host']}:${entry['master-port']}`;
      }
    }
    for (const other of ctx.sentinels) {
      if (sameAddress(other, s)) continue;
      const entry = view.sentinels.find((e) => sameAddress(entryAddress(e), other));
      if (!entry) return `sentinel ${addressKey(s)} does not know sentinel ${addressKey(other)} yet`;
      if (isDown(entry.flags))
        return `sentinel ${addressKey(s)} sees sentinel ${addressKey(other)} as ${entry.flags}`;
    }
  }
  return null;
}

export async function waitForHealthy(
  context: () => HealthContext,
  timeoutMs: number,
  pollMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let problem: string | null = 'not checked';
  while (Date.now() <= deadline) {
    problem = await healthProblem(context());
    if (problem === null) return;
    await sleep(pollMs);
  }
  throw new TopologyTimeoutError(`topology not healthy after ${timeoutMs} ms: ${problem}`);
}

/**
 * Resolves with the new master on the first `+switch-master` for `service` from any
 * sentinel, or as soon as any sentinel reports a master different from `previous`
 * (covers a switch that happened between our subscribe and the call).
 */
export async function waitForNewMaster(options: {
  service: string;
  sentinels: NodeAddress[];
  sentinelCreds: Credentials;
  previous: NodeAddress;
  timeoutMs: number;
  pollMs?: number;
}): Promise<NodeAddress> {
  const { service, sentinels, sentinelCreds, previous, timeoutMs } = options;
  const subscribers = sentinels.map((s) => controlClient(s, sentinelCreds, 1000));
  let done = false;
  let resolveSwitch!: (a: NodeAddress) => void;
  const switched = new Promise<NodeAddress>((resolve) => {
    resolveSwitch = resolve;
  });
  for (const sub of subscribers) {
    sub.on('message', (_channel: string, message: string) => {
      // "<service> <old-ip> <old-port> <new-ip> <new-port>"
      const [name, , , host, port] = message.split(' ');
      if (name !== service || !host || !port) return;
      const next = { host, port: Number(port) };
      if (!sameAddress(next, previous)) resolveSwitch(next);
    });
    sub.connect().then(
      () => sub.subscribe('+switch-master').catch(() => {}),
      () => {},
    );
  }
  const poll = (async () => {
    while (!done) {
      for (const s of sentinels) {
        if (done) break;
        const m = await sentinelMasterAddr(s, sentinelCreds, service).catch(() => null);
        if (m && !sameAddress(m, previous)) return m;
      }
      await sleep(options.pollMs ?? 200);
    }
    return new Promise<NodeAddress>(() => {});
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TopologyTimeoutError(
            `no new master for ${service} within ${timeoutMs} ms (was ${addressKey(previous)})`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([switched, poll, timeout]);
  } finally {
    done = true;
    clearTimeout(timer);
    for (const sub of subscribers) sub.disconnect();
  }
}
