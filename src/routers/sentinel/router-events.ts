import type { RouterEvent, RouterEventMap, RouterStats } from '../types.js';

type Listener<E extends RouterEvent> = (payload: RouterEventMap[E]) => void;

/**
 * The routers' event hub. Unlike node's EventEmitter, an 'error' with no listener is not
 * thrown (routers report handled problems as events; nobody has to listen), and a
 * listener that throws cannot break the router.
 */
export class RouterEvents {
  private readonly listeners = new Map<RouterEvent, Set<Listener<RouterEvent>>>();

  on<E extends RouterEvent>(event: E, fn: Listener<E>): void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn as Listener<RouterEvent>);
  }

  off<E extends RouterEvent>(event: E, fn: Listener<E>): void {
    this.listeners.get(event)?.delete(fn as Listener<RouterEvent>);
  }

  emit<E extends RouterEvent>(event: E, payload: RouterEventMap[E]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(payload);
      } catch {
        // a listener's bug must not break routing
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}

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
