import type { NodeAddress } from '../../core/router.js';
import { addressKey } from './address.js';

/**
 * The ordered list of sentinels the Sentinel client spec asks for: query them in order,
 * move the one that answered to the front (so the next query goes straight to a sentinel
 * known to work), and append sentinels discovered with `SENTINEL sentinels`. Configured
 * sentinels are never removed: a stopped one may come back.
 */
export class SentinelList {
  private items: NodeAddress[] = [];

  constructor(initial: readonly NodeAddress[]) {
    for (const a of initial) this.add(a);
  }

  get size(): number {
    return this.items.length;
  }

  /** A snapshot in the current preference order. */
  snapshot(): NodeAddress[] {
    return this.items.slice();
  }

  has(address: NodeAddress): boolean {
    const key = addressKey(address);
    return this.items.some((a) => addressKey(a) === key);
  }

  /** Append an address not yet known. Returns true when it was new. */
  add(address: NodeAddress): boolean {
    if (this.has(address)) return false;
    this.items.push({ host: address.host, port: address.port });
    return true;
  }

  /** Make `address` the first one tried (it just answered, or announced a failover). */
  moveToFront(address: NodeAddress): void {
    const key = addressKey(address);
    const i = this.items.findIndex((a) => addressKey(a) === key);
    if (i <= 0) return;
    const [item] = this.items.splice(i, 1);
    if (item) this.items.unshift(item);
  }
}
