/**
 * Listens to every sentinel's event channels so the failover timeline can mark when the
 * servers decided (`+sdown`/`+odown` on the master, `+switch-master`). The first sentinel to
 * publish an event sets its time: that is when the first client could have learnt it.
 */
import { Redis } from 'ioredis';
import type { NodeAddress } from '../../src/routers/types.js';
import { nowMs } from './clock.js';

export const WATCHED_EVENTS = ['+sdown', '+odown', '+switch-master', '+failover-end'] as const;
export type WatchedEvent = (typeof WATCHED_EVENTS)[number];

export interface SentinelEventRecord {
  event: WatchedEvent;
  /** Epoch milliseconds (sub-millisecond precision) when the bench received it. */
  atMs: number;
  message: string;
}

export class SentinelWatch {
  readonly events: SentinelEventRecord[] = [];
  private readonly subscribers: Redis[] = [];
  private readonly waiters: Array<{ event: WatchedEvent; resolve: (atMs: number) => void }> = [];

  static async start(
    sentinels: NodeAddress[],
    auth: { sentinelPassword?: string; sentinelUsername?: string } = {},
  ): Promise<SentinelWatch> {
    const watch = new SentinelWatch();
    await Promise.all(
      sentinels.map(async (address) => {
        const sub = new Redis({
          host: address.host,
          port: address.port,
          ...(auth.sentinelPassword !== undefined ? { password: auth.sentinelPassword } : {}),
          ...(auth.sentinelUsername !== undefined ? { username: auth.sentinelUsername } : {}),
          maxRetriesPerRequest: 1,
          lazyConnect: true,
        });
        sub.on('error', () => {});
        sub.on('message', (channel: string, message: string) => watch.record(channel, message));
        await sub.connect();
        await sub.subscribe(...WATCHED_EVENTS);
        watch.subscribers.push(sub);
      }),
    );
    return watch;
  }

  private record(channel: string, message: string): void {
    const event = channel as WatchedEvent;
    // +sdown/+odown are also published for replicas and sentinels; the timeline wants the master's.
    if ((event === '+sdown' || event === '+odown') && !message.startsWith('master ')) return;
    const atMs = nowMs();
    this.events.push({ event, atMs, message });
    for (const waiter of this.waiters.splice(0)) {
      if (waiter.event === event) waiter.resolve(atMs);
      else this.waiters.push(waiter);
    }
  }

  /** Time of the first occurrence of `event` at or after `sinceMs`. */
  first(event: WatchedEvent, sinceMs = 0): number | undefined {
    return this.events.find((e) => e.event === event && e.atMs >= sinceMs)?.atMs;
  }

  /** Resolves with the event's time, or undefined after `timeoutMs`. */
  waitFor(event: WatchedEvent, sinceMs: number, timeoutMs: number): Promise<number | undefined> {
    const seen = this.first(event, sinceMs);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      this.waiters.push({
        event,
        resolve: (atMs) => {
          clearTimeout(timer);
          resolve(atMs);
        },
      });
    });
  }

  close(): void {
    for (const sub of this.subscribers) sub.disconnect();
  }
}
