/**
 * Records every SET a node executes, with the node's own timestamp, through MONITOR.
 *
 * Why: after a failover the old master may still execute writes that clients queued on their
 * sockets while it was paused (or that they send to it after it restarted), and acknowledge
 * them — then the sentinels make it a replica and a full resync erases them. Those keys are
 * gone by the time anyone can look at the node, so the bench watches them being executed.
 * MONITOR only shows commands that were actually executed (a READONLY rejection never reaches
 * it), so a SET seen here was answered with OK. The tap never reconnects: when the sentinels
 * demote the node they kill its normal clients, and a reconnected tap would see replicated
 * traffic from the new master instead.
 */
import { Redis } from 'ioredis';
import type { NodeAddress } from '../../src/routers/types.js';
import { withTimeout } from './errors.js';

export interface TappedWrite {
  key: string;
  /** Epoch milliseconds by the node's clock. */
  atMs: number;
}

export class WriteTap {
  readonly writes: TappedWrite[] = [];
  closedAtMs: number | undefined;
  private constructor(private readonly monitor: Redis) {}

  static async attach(
    address: NodeAddress,
    auth: { password?: string; username?: string } = {},
  ): Promise<WriteTap> {
    const base = new Redis({
      host: address.host,
      port: address.port,
      ...(auth.password !== undefined ? { password: auth.password } : {}),
      ...(auth.username !== undefined ? { username: auth.username } : {}),
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    });
    base.on('error', () => {});
    try {
      const monitor = await withTimeout(base.monitor(), 5000, `MONITOR on ${address.host}:${address.port}`);
      const tap = new WriteTap(monitor);
      monitor.on('error', () => {});
      monitor.on('close', () => {
        tap.closedAtMs ??= Date.now();
      });
      monitor.on('monitor', (time: string, args: string[]) => {
        if (args.length >= 2 && args[0]?.toLowerCase() === 'set') {
          tap.writes.push({ key: args[1] as string, atMs: Number(time) * 1000 });
        }
      });
      return tap;
    } finally {
      base.disconnect();
    }
  }

  /** Keys this node executed a SET for at or after `sinceMs`. */
  keysSince(sinceMs: number): Set<string> {
    return new Set(this.writes.filter((w) => w.atMs >= sinceMs).map((w) => w.key));
  }

  close(): void {
    this.monitor.disconnect();
  }
}
