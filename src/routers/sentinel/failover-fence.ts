import type { NodeAddress } from '../../core/router.js';

/**
 * Holds writes while a failover is being carried out. Raised when the failover leader
 * announces it is about to promote a replica; lowered by +switch-master (writes then go
 * to the new master), by an abort, or after `maxMs` as a safety net. A write that finds
 * the fence up waits for it to come down, at most its own time budget. While it is up, it
 * also names the replica being promoted (a 'replica-preferred' read may go there).
 */
export class FailoverFence {
  private raisedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();
  private promotedNode: NodeAddress | undefined;

  constructor(private readonly maxMs: number) {}

  get up(): boolean {
    return this.raisedAt !== 0;
  }

  /** The replica the failover leader is promoting, while the fence is up and it was named. */
  get promoting(): NodeAddress | undefined {
    return this.promotedNode;
  }

  raise(promoted?: NodeAddress): void {
    if (this.raisedAt === 0) this.raisedAt = Date.now();
    if (promoted !== undefined) this.promotedNode = promoted;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.lower(), this.maxMs);
    this.timer.unref();
  }

  lower(): void {
    this.raisedAt = 0;
    this.promotedNode = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of [...this.waiters]) w();
    this.waiters.clear();
  }

  /** Resolves true once the fence is down, false if it is still up after `timeoutMs`. */
  wait(timeoutMs: number): Promise<boolean> {
    if (!this.up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve(true);
      };
      const t = setTimeout(() => {
        this.waiters.delete(done);
        resolve(!this.up);
      }, timeoutMs);
      this.waiters.add(done);
    });
  }
}
