import { Redis } from 'ioredis';
import { ownConnection } from '../../core/process-liveness.js';
import type { NodeAddress } from '../../core/router.js';
import { type AddressMapper, addressKey, toAddress } from './address.js';
import { type SentinelAccess, sentinelClientOptions } from './sentinel-client.js';

/** What the watcher reports, already filtered to our service and NAT-mapped. */
export type SentinelNews =
  /** `+switch-master`: the failover is done, `to` is the master now. */
  | { type: 'switch'; from: NodeAddress; to: NodeAddress; sentinel: NodeAddress }
  /**
   * The failover leader picked a replica (`promoted`) and is about to send it `REPLICAOF NO
   * ONE`. From that moment the old master may still accept writes that the new master will
   * never see (they are lost when the old master is turned into a replica), so routers
   * hold writes until `switch` (or `abort`).
   */
  | { type: 'failover-start'; sentinel: NodeAddress; promoted?: NodeAddress }
  /** The failover was abandoned: the old master stays master. */
  | { type: 'failover-abort'; sentinel: NodeAddress; reason: string }
  /** A subscription connection came back: we may have missed news, re-check the master. */
  | { type: 'resync'; sentinel: NodeAddress }
  /** `+sdown` / `-sdown` of the master: this sentinel gets no (valid) answer from it / does again. */
  | { type: 'master-down' | 'master-up'; address: NodeAddress; sentinel: NodeAddress };

const SWITCH = '+switch-master';
/**
 * Published by the leader right before the promotion starts (one sentinel tick earlier), and
 * once the replica answers as master; each names the replica being promoted.
 */
const START_CHANNELS = ['+selected-slave', '+failover-state-send-slaveof-noone', '+promoted-slave'];
const ABORT_PATTERN = '-failover-abort*';
const END_FOR_TIMEOUT = '+failover-end-for-timeout';
/** Subjectively down / up, per sentinel (`+odown` follows a `+sdown` of the same sentinel). */
const SDOWN = '+sdown';
const SDOWN_CLEARED = '-sdown';

/**
 * Subscribes to failover news on every known sentinel (not just one: the failover leader
 * is the first to know, and any single sentinel may be down). Each subscription
 * reconnects on its own; after a reconnect we report `resync` because messages published
 * while we were away are lost.
 */
export class SentinelWatcher {
  private readonly subscribers = new Map<string, Redis>();
  private closed = false;

  constructor(
    private readonly service: string,
    private readonly access: SentinelAccess,
    private readonly mapAddress: AddressMapper,
    private readonly onNews: (news: SentinelNews) => void,
  ) {}

  /** Make sure every sentinel in `sentinels` has a subscription. */
  watch(sentinels: readonly NodeAddress[]): void {
    if (this.closed) return;
    for (const s of sentinels) {
      const key = addressKey(s);
      if (!this.subscribers.has(key)) this.subscribers.set(key, this.subscribe(s));
    }
  }

  /** Resolves once every current subscription is established or has failed once. */
  async ready(): Promise<void> {
    await Promise.all(
      [...this.subscribers.values()].map(
        (client) =>
          new Promise<void>((resolve) => {
            if (client.status === 'ready') return resolve();
            const done = () => {
              client.off('ready', done);
              client.off('error', done);
              resolve();
            };
            client.once('ready', done);
            client.once('error', done);
          }),
      ),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const client of this.subscribers.values()) client.disconnect();
    this.subscribers.clear();
  }

  private subscribe(sentinel: NodeAddress): Redis {
    const client = new Redis({
      ...sentinelClientOptions(sentinel, this.access),
      enableOfflineQueue: true,
      autoResubscribe: true,
      maxRetriesPerRequest: null,
      // A sentinel that is down is retried quickly: it may come back with news.
      retryStrategy: (attempt) => (this.closed ? null : Math.min(100 * attempt, 1000)),
    });
    client.on('error', () => {}); // a sentinel being down is normal; we keep retrying
    ownConnection(client, this.access.unref === true);
    let readyBefore = false;
    client.on('ready', () => {
      if (readyBefore && !this.closed) this.onNews({ type: 'resync', sentinel });
      readyBefore = true;
    });
    client.subscribe(SWITCH, ...START_CHANNELS, END_FOR_TIMEOUT, SDOWN, SDOWN_CLEARED).catch(() => {});
    client.psubscribe(ABORT_PATTERN).catch(() => {});
    client.on('message', (channel: string, message: string) => this.handle(channel, message, sentinel));
    client.on('pmessage', (_pattern: string, channel: string, message: string) =>
      this.handle(channel, message, sentinel),
    );
    return client;
  }

  private handle(channel: string, message: string, sentinel: NodeAddress): void {
    if (this.closed) return;
    const news = parseSentinelMessage(channel, message, this.service, this.mapAddress, sentinel);
    if (news) this.onNews(news);
  }
}

/**
 * Parse one sentinel Pub/Sub message; undefined when it is about another service.
 *   +switch-master:  `<name> <old-ip> <old-port> <new-ip> <new-port>`
 *   a master event:  `master <name> <ip> <port>`
 *   other events:    `<type> <name> <ip> <port> @ <master-name> <master-ip> <master-port>`
 */
export function parseSentinelMessage(
  channel: string,
  message: string,
  service: string,
  mapAddress: AddressMapper,
  sentinel: NodeAddress,
): SentinelNews | undefined {
  const parts = message.split(' ');
  if (channel === SWITCH) {
    const [name, oldHost, oldPort, newHost, newPort] = parts;
    if (name !== service) return undefined;
    const from = toAddress(oldHost, oldPort);
    const to = toAddress(newHost, newPort);
    if (!from || !to) return undefined;
    return { type: 'switch', from: mapAddress(from), to: mapAddress(to), sentinel };
  }
  const at = parts.indexOf('@');
  const masterName = at >= 0 ? parts[at + 1] : parts[1];
  if (masterName !== service) return undefined;
  // The instance the event is about (for a master event, the master itself).
  const instance = toAddress(parts[2], parts[3]);
  if (START_CHANNELS.includes(channel)) {
    const promoted = parts[0] === 'slave' && instance ? mapAddress(instance) : undefined;
    return promoted ? { type: 'failover-start', sentinel, promoted } : { type: 'failover-start', sentinel };
  }
  if (channel.startsWith('-failover-abort') || channel === END_FOR_TIMEOUT) {
    return { type: 'failover-abort', sentinel, reason: channel };
  }
  if ((channel === SDOWN || channel === SDOWN_CLEARED) && parts[0] === 'master' && instance) {
    return { type: channel === SDOWN ? 'master-down' : 'master-up', address: mapAddress(instance), sentinel };
  }
  return undefined;
}
