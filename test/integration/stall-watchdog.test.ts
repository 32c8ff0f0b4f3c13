/**
 * The stall watchdog that bounds the Sentinel routers' commands (one per connection instead
 * of one timer per command), on a real redis-server: a paused server fails the command at the
 * head and every command behind it with "Command timed out" (never before the timeout) and
 * closes the connection; a command not answered within the timeout of its issue fails even
 * while earlier ones are answered; a connection whose commands are each answered in time is
 * never stalled; a wall-clock step changes nothing; an idle connection holds no timer; a command still waiting for the connection (the
 * sentinel clients' offline queue) is bounded too. Budgets are no-hang bounds, not timings.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CommandTimeoutError } from '../../src/core/errors.js';
import { duplicateConnection } from '../../src/core/process-liveness.js';
import { InvalidationChannel } from '../../src/near/invalidation-channel.js';
import { translateError } from '../../src/routers/errors.js';
import { boundCommands, createNodeClient } from '../../src/routers/node-clients.js';
import { rejectionWithin, useStandalone } from '../fixtures/reliability.js';

const TIMEOUT_MS = 1000;
/** Scheduling slack on a loaded 2-core machine. */
const BUDGET_MS = TIMEOUT_MS + 4000;

describe('stall watchdog (node and sentinel clients)', () => {
  const env = useStandalone();

  async function connected(): Promise<Redis> {
    const client = createNodeClient(env.server, { commandTimeoutMs: TIMEOUT_MS });
    await client.connect();
    return client;
  }

  it('installs itself: the client has no per-command timer', async () => {
    const client = await connected();
    try {
      expect(client.options.commandTimeout).toBeUndefined();
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('paused server: the head and every command behind it fail with "Command timed out", not before the timeout; the connection is closed', async () => {
    const client = await connected();
    try {
      expect(await client.set('before', '1')).toBe('OK');
      await env.server.pause();
      try {
        const started = Date.now();
        const head = client.get('before');
        const behind = [client.set('x', '1'), client.get('x'), client.call('PING')];
        const errors = await Promise.all([head, ...behind].map((p) => rejectionWithin(p, BUDGET_MS)));
        const elapsed = Date.now() - started;
        for (const err of errors) {
          expect((err as Error).message).toBe('Command timed out');
          expect(translateError(err, env.server, TIMEOUT_MS)).toBeInstanceOf(CommandTimeoutError);
        }
        // Lower bound only (Date.now() granularity aside): never earlier than the timeout.
        expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 2);
        await expect.poll(() => client.status, { timeout: BUDGET_MS }).toBe('end');
      } finally {
        await env.server.resume();
      }
    } finally {
      client.disconnect();
    }
  });

  it('a command answered later than the timeout after it was issued fails, even while the connection keeps answering: the connection is stalled', async () => {
    const client = await connected();
    try {
      // WAIT 1 600 on a master without replicas blocks this connection 600 ms, then says 0.
      // Three sent at once: the first is answered ~600 ms after it was sent, the second would
      // be ~1.2 s after — past the 1 s bound, so it and the one behind it fail, and the
      // connection is closed. commandTimeoutMs bounds a command from its issue, as ioredis'
      // per-command timer on routers.standalone and routers.cluster does.
      const started = performance.now();
      const outcomes = await Promise.allSettled([0, 1, 2].map(() => client.call('WAIT', '1', '600')));
      const elapsed = performance.now() - started;
      expect(outcomes[0]).toEqual({ status: 'fulfilled', value: 0 });
      for (const outcome of outcomes.slice(1)) {
        expect(outcome.status).toBe('rejected');
        expect(((outcome as PromiseRejectedResult).reason as Error).message).toBe('Command timed out');
      }
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 2);
      await expect.poll(() => client.status, { timeout: BUDGET_MS }).toBe('end');
    } finally {
      client.disconnect();
    }
  });

  it('a connection whose commands are each answered within the timeout is never stalled, however long it stays busy', async () => {
    const client = await connected();
    try {
      // One after another: busy for ~1.8 s in all, each command answered ~600 ms after it was sent.
      for (let i = 0; i < 3; i++) expect(await client.call('WAIT', '1', '600')).toBe(0);
      expect(client.status).toBe('ready');
    } finally {
      client.disconnect();
    }
  });

  it('measures with a monotonic clock: a wall-clock step does not fail a healthy connection', async () => {
    const client = await connected();
    const realNow = Date.now;
    try {
      // The wall clock jumps an hour ahead while a command waits (after the watchdog armed).
      const waiting = client.call('WAIT', '1', '300');
      Date.now = () => realNow() + 3_600_000;
      expect(await waiting).toBe(0);
      expect(await Promise.all([client.ping(), client.ping()])).toEqual(['PONG', 'PONG']);
      expect(client.status).toBe('ready');
    } finally {
      Date.now = realNow;
      client.disconnect();
    }
  });

  it('an idle connection holds no timer', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const clients = await Promise.all(Array.from({ length: 20 }, () => connected()));
    try {
      const before = timers();
      await Promise.all(clients.map((c) => c.ping()));
      // Armed while the pings waited; every watchdog stops at its next check (TIMEOUT_MS / 8).
      await expect.poll(timers, { timeout: BUDGET_MS, interval: 50 }).toBeLessThanOrEqual(before + 2);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('a command waiting in the offline queue for a connection that never becomes ready is bounded too', async () => {
    await env.server.pause(); // the kernel accepts the connection; the server never answers
    const client = new Redis({
      host: env.server.host,
      port: env.server.port,
      lazyConnect: true,
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    boundCommands(client, TIMEOUT_MS);
    try {
      const err = await rejectionWithin(client.call('PING'), BUDGET_MS);
      expect((err as Error).message).toBe('Command timed out');
    } finally {
      client.disconnect();
      await env.server.resume();
    }
  });

  it("the near cache's invalidation channel, duplicated from a watched connection, still fails its ping on a paused server", async () => {
    // The duplicate copies options, not the watchdog: without the bound handed over
    // (DataConnectionInfo.commandTimeoutMs) its ping would wait forever and the near cache
    // would keep entries it can no longer vouch for.
    const template = await connected();
    const lost: string[] = [];
    const channel = await InvalidationChannel.open(template, TIMEOUT_MS, {
      keys: () => {},
      flushed: () => {},
      lost: (reason) => lost.push(reason),
    });
    try {
      await env.server.pause();
      try {
        // A ping every second, each bounded by TIMEOUT_MS.
        await expect
          .poll(() => lost, { timeout: BUDGET_MS + 2000 })
          .toEqual(['invalidation connection did not answer a ping']);
      } finally {
        await env.server.resume();
      }
    } finally {
      channel.close();
      template.disconnect();
    }
  });

  it('every duplicate of a watched connection (getOrSet fill subscriber, any other) carries the bound', async () => {
    const template = await connected();
    const duplicate = duplicateConnection(template, { lazyConnect: true });
    try {
      expect(duplicate.options.commandTimeout).toBe(TIMEOUT_MS);
      expect(
        duplicateConnection(template, { lazyConnect: true, commandTimeout: 50 }).options.commandTimeout,
      ).toBe(50);
    } finally {
      duplicate.disconnect();
      template.disconnect();
    }
  });

  it("falls back to ioredis' per-command timer on a client without the queues it reads", () => {
    const bare = { options: {} } as unknown as Redis;
    boundCommands(bare, 300);
    expect(bare.options.commandTimeout).toBe(300);
  });
});
