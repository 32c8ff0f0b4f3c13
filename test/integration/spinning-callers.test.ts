/**
 * A caller that retries in a loop with no timer (`for (;;) { try { await cache.get(k) } catch {} }`)
 * while the router fails fast without I/O: the failures must let the event loop turn, or the
 * reconnect that would end the loop never runs and the process spins forever. Found by the chaos
 * campaign (`npm run chaos -- --config standalone --seed 5 --faults client-kill --spin`).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import { type Standalone, startStandalone } from '../../src/topology/index.js';

/** The clock bounds each spin: a timer could not fire while the loop starves the event loop. */
const SPIN_BUDGET_MS = 10_000;

describe('a caller spinning on failures lets the router recover', () => {
  let server: Standalone;
  let raw: Redis;
  beforeAll(async () => {
    server = await startStandalone();
    raw = new Redis(server.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });

  it('standalone: after CLIENT KILL, a retry loop without timers gets an answer again', async () => {
    const cache = createCache({ router: routers.standalone({ url: server.url }), keyPrefix: 'spin' });
    try {
      await cache.set('k', 'v');
      let failures = 0;
      let answered = false;
      // The kill is seen by the router a moment later; when the reconnect beat the first read,
      // nothing failed fast and the attempt proves nothing: kill again (a few times at most).
      for (let attempt = 0; attempt < 5 && failures === 0; attempt++) {
        await raw.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        // A few event-loop turns (no timer: the reconnect waits 50 ms on one) let the router
        // read the closed socket, so the loop below starts on fast failures, not on a read that
        // ioredis would resend after the reconnect.
        for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
        answered = false;
        const deadline = performance.now() + SPIN_BUDGET_MS;
        while (!answered && performance.now() < deadline) {
          try {
            answered = (await cache.get('k')) === 'v';
          } catch {
            failures++;
          }
        }
        expect(answered, `attempt ${attempt}: ${failures} failures, no answer`).toBe(true);
      }
      expect(failures).toBeGreaterThan(0);
    } finally {
      await cache.close();
    }
  }, 90_000);
});
