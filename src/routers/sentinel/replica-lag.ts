import type { Redis } from 'ioredis';
import type { NodeAddress } from '../../core/router.js';
import { connectVerified } from '../node-clients.js';
import type { NodeConnectionOptions } from '../types.js';
import { type AddressMapper, addressKey, toAddress } from './address.js';

/** How often the master's ROLE is polled. */
export const LAG_POLL_MS = 250;
/** History of master offsets kept (a replica further behind than this is "unknown": not fresh). */
const HISTORY_MS = 30_000;

interface Sample {
  at: number;
  offset: number;
}

/**
 * Bounds how stale a replica may be, for `maxReplicaLagMs`. Redis reports no lag in time,
 * only offsets: the master's `ROLE` gives its replication offset and, per connected replica,
 * the offset that replica last acknowledged. Polling it keeps a history of (time, master
 * offset); a replica that acknowledged offset A had everything the master had at the latest
 * sample whose offset is <= A, so it is at most `now - that sample's time` behind.
 *
 * The bound is conservative: replicas acknowledge once a second, so under writes it
 * overstates the lag by up to ~1 s; with no writes it is ~LAG_POLL_MS. A replica the master
 * does not list (link down) or that is behind the whole history has no bound: not fresh.
 */
export class ReplicaLagMonitor {
  private samples: Sample[] = [];
  private acked = new Map<string, number>();
  private client: Redis | undefined;
  private target: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly node: NodeConnectionOptions,
    private readonly findMaster: () => Promise<NodeAddress>,
    private readonly mapAddress: AddressMapper,
  ) {}

  /** Start polling (on the router's first use: an unused router opens no socket). */
  start(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => this.poll(), LAG_POLL_MS);
    this.timer.unref();
  }

  /** One poll now (or the one in progress): callers wait for a first figure. */
  poll(): Promise<void> {
    this.start();
    if (!this.polling) {
      this.polling = this.pollOnce()
        .catch(() => {
          // master unknown or unreachable: no new figures, replicas age out of the history
          this.dropClient();
        })
        .finally(() => {
          this.polling = undefined;
        });
    }
    return this.polling;
  }

  /** Upper bound on how far behind the master `address` is, in ms; undefined when unknown. */
  stalenessMs(address: NodeAddress): number | undefined {
    const acked = this.acked.get(addressKey(address));
    if (acked === undefined) return undefined;
    for (let i = this.samples.length - 1; i >= 0; i--) {
      const s = this.samples[i] as Sample;
      if (s.offset <= acked) return performance.now() - s.at;
    }
    return undefined;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.dropClient();
  }

  private async pollOnce(): Promise<void> {
    if (this.closed) return;
    const master = await this.findMaster();
    const key = addressKey(master);
    if (this.client === undefined || this.target !== key || this.client.status !== 'ready') {
      this.dropClient();
      this.client = (await connectVerified(master, this.node, 'master')).client;
      this.target = key;
      this.samples = [];
      if (this.closed) {
        this.dropClient();
        return;
      }
    }
    const at = performance.now();
    const reply = (await this.client.call('ROLE')) as unknown[];
    if (!Array.isArray(reply) || String(reply[0]) !== 'master') throw new Error('not a master');
    this.samples.push({ at, offset: Number(reply[1]) });
    while ((this.samples[0]?.at ?? at) < at - HISTORY_MS) this.samples.shift();
    const acked = new Map<string, number>();
    for (const r of Array.isArray(reply[2]) ? reply[2] : []) {
      const address = Array.isArray(r) ? toAddress(String(r[0]), String(r[1])) : undefined;
      if (address) acked.set(addressKey(this.mapAddress(address)), Number((r as unknown[])[2]));
    }
    this.acked = acked;
  }

  private dropClient(): void {
    this.client?.disconnect();
    this.client = undefined;
    this.target = undefined;
    this.acked = new Map();
  }
}
