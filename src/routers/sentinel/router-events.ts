import { TypedEmitter } from '../../core/emitter.js';
import type { RouterEventMap, RouterStats } from '../../core/router.js';

/**
 * The routers' event hub: core's typed emitter over the router events (an 'error' with no
 * listener is not thrown, and a listener that throws cannot break the router).
 */
export class RouterEvents extends TypedEmitter<RouterEventMap> {}

/** Per-node counters behind `stats().nodes`. */
export class NodeStats {
  private readonly nodes: RouterStats['nodes'] = {};

  private entry(key: string): RouterStats['nodes'][string] {
    let e = this.nodes[key];
    if (!e) {
      e = { ops: 0, errors: 0 };
      this.nodes[key] = e;
    }
    return e;
  }

  op(key: string, role?: 'master' | 'replica'): void {
    const e = this.entry(key);
    e.ops++;
    if (role) e.role = role;
  }

  error(key: string): void {
    this.entry(key).errors++;
  }

  setRole(key: string, role: 'master' | 'replica'): void {
    this.entry(key).role = role;
  }

  snapshot(): RouterStats['nodes'] {
    const out: RouterStats['nodes'] = {};
    for (const [k, v] of Object.entries(this.nodes)) out[k] = { ...v };
    return out;
  }
}
