/**
 * Holds writes while a failover is being carried out. Raised when the failover leader
 * announces it is about to promote a replica; lowered by +switch-master (writes then go
 * to the new master), by an abort, or after `maxMs` as a safety net. A write that finds
 * the fence up waits for it to come down, at most its own time budget.
 */
export class FailoverFence {
  private raisedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly maxMs: number) {}

  get up(): boolean {
    return this.raisedAt !== 0;
  }

  raise(): void {
    if (this.raisedAt === 0) this.raisedAt = Date.now();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.lower(), this.maxMs);
    this.timer.unref();
  }

  lower(): void {
    this.raisedAt = 0;
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
