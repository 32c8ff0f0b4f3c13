import genericPool from 'generic-pool';
import type { Redis } from 'ioredis';
import { debug, debugEnabled } from '../../core/debug.js';
import { CommandTimeoutError, ConnectionInterruptedError } from '../../core/errors.js';
import { formatAddress } from '../errors.js';
import { connectVerified, type ExpectedRole } from '../node-clients.js';
import type { NodeHandle } from '../route-runner.js';
import type { NodeAddress, NodeConnectionOptions } from '../types.js';
import { addressKey } from './address.js';

export interface NodePoolOptions {
  min: number;
  max: number;
  acquireTimeoutMs: number;
}

/**
 * Operations in flight on one client before the pool opens another: one busy connection
 * (its same-tick commands coalesced into one write) costs the server fewer system calls than
 * several half-idle ones (docs/design.md#pooled-lanes).
 */
export const LANE_CONCURRENCY = 64;

/** One client borrowed from generic-pool and shared by concurrent operations. */
interface Lane {
  client: Redis;
  inflight: number;
}

/**
 * A generic-pool of ioredis clients for one node in one role (master, replica, or either for
 * the replica being promoted), every client ROLE-verified when generic-pool creates it.
 *
 * Clients are borrowed from generic-pool as *lanes* and shared by concurrent operations
 * (the way one ioredis client is shared), which keeps the hot path synchronous: no
 * acquire promise, no queue. A new lane is borrowed (up to `max`) when every lane carries
 * LANE_CONCURRENCY operations. Because clients are shared, WATCH and blocking commands do
 * not belong on them; MULTI through `client.multi()` is sent as one batch and is fine.
 *
 * A pool lives until it is killed (the node failed, changed role, or a failover moved the
 * master). Killing is final and immediate: waiting acquires are rejected, *borrowed*
 * clients are disconnected too (generic-pool's clear() only reaches idle ones, and a
 * borrowed client to a demoted master is exactly the one that must not write), and the
 * generic-pool is drained and cleared. Routers replace a dead pool after resolving the
 * node again.
 */
export class NodePool implements NodeHandle {
  readonly address: NodeAddress;
  readonly key: string;
  /** What ROLE must say on each new client ('any': master or replica, as for the replica being promoted). */
  readonly role: ExpectedRole;
  private readonly pool: genericPool.Pool<Redis>;
  private readonly opts: NodePoolOptions;
  private readonly lanes: Lane[] = [];
  private readonly laneOf = new Map<Redis, Lane>();
  private borrowing: Promise<Lane> | undefined;
  private readonly waiters = new Set<(err: Error) => void>();
  private deathError: Error | undefined;
  private onDeath: ((err: Error) => void) | undefined;

  constructor(
    address: NodeAddress,
    role: ExpectedRole,
    node: NodeConnectionOptions,
    opts: NodePoolOptions,
    onDeath?: (err: Error) => void,
  ) {
    this.address = address;
    this.key = addressKey(address);
    this.role = role;
    this.opts = opts;
    this.onDeath = onDeath;
    this.pool = genericPool.createPool<Redis>(
      {
        create: async () => {
          if (this.deathError) {
            // generic-pool retries creation at once for every waiting request; slow that
            // loop down on a pool we already gave up on (its requests time out anyway).
            await new Promise((r) => setTimeout(r, 100).unref());
            throw this.deathError;
          }
          return (await connectVerified(address, node, role)).client;
        },
        destroy: async (client) => {
          client.disconnect();
        },
      },
      // min clients are connected ahead of use and lent out as lanes on first use.
      { min: opts.min, max: opts.max, acquireTimeoutMillis: opts.acquireTimeoutMs, autostart: true },
    );
    // A failed connect (refused, timed out, wrong ROLE, bad credentials) means this pool
    // cannot serve: fail everyone waiting now instead of at acquireTimeoutMs.
    this.pool.on('factoryCreateError', (err: unknown) => this.kill(asError(err)));
  }

  get alive(): boolean {
    return this.deathError === undefined;
  }

  /**
   * A client for one operation: synchronous when a lane is open, a promise when the first
   * client must be borrowed. Pair every successful acquire with release() (or kill the pool).
   */
  acquire(): Redis | Promise<Redis> {
    if (this.deathError) return Promise.reject(this.deathError);
    let best: Lane | undefined;
    for (const lane of this.lanes) if (!best || lane.inflight < best.inflight) best = lane;
    if (best && best.client.status !== 'ready') {
      // The connection broke while the lane was idle: the node is suspect.
      const err = new ConnectionInterruptedError(`Connection to ${formatAddress(this.address)} was lost`);
      this.kill(err);
      return Promise.reject(err);
    }
    if (best) {
      if (best.inflight >= LANE_CONCURRENCY && this.lanes.length < this.opts.max)
        this.borrow().catch(() => {});
      best.inflight++;
      return best.client;
    }
    return this.borrow().then((lane) => {
      lane.inflight++;
      return lane.client;
    });
  }

  /** The operation is done with `client`. */
  release(client: Redis): void {
    const lane = this.laneOf.get(client);
    if (lane) lane.inflight--;
  }

  /** Evict: fail waiters, disconnect borrowed and idle clients, refuse further acquires. */
  kill(err: Error): void {
    if (this.deathError) return;
    this.deathError = err;
    if (debugEnabled) {
      debug(
        'pooled: pool of %s (%s) evicted, %d lane(s) dropped: %s',
        formatAddress(this.address),
        this.role,
        this.lanes.length,
        err.message,
      );
    }
    for (const w of [...this.waiters]) w(err);
    this.waiters.clear();
    // Disconnecting a borrowed client fails its in-flight commands at once ("Connection
    // is closed"): nothing more is written through it.
    for (const lane of this.lanes.splice(0)) {
      lane.client.disconnect();
      this.pool.destroy(lane.client).catch(() => {});
    }
    this.laneOf.clear();
    this.pool
      .drain()
      .then(() => this.pool.clear())
      .catch(() => {});
    const cb = this.onDeath;
    this.onDeath = undefined;
    cb?.(err);
  }

  /** NodeHandle: the runner evicts a pool whose node failed or changed role. */
  evict(err: Error): void {
    this.kill(err);
  }

  /** Kill and wait (bounded) until every socket of this pool is closed. */
  async close(err: Error): Promise<void> {
    this.kill(err);
    await Promise.race([
      this.pool.drain().then(() => this.pool.clear()),
      new Promise((r) => setTimeout(r, 2000).unref()),
    ]).catch(() => {});
  }

  /** Borrow one more client from generic-pool as a lane (one borrow at a time). */
  private borrow(): Promise<Lane> {
    if (this.borrowing) return this.borrowing;
    const p = new Promise<Lane>((resolve, reject) => {
      let settled = false;
      const onKill = (err: Error) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      this.waiters.add(onKill);
      this.pool.acquire().then(
        (client) => {
          this.waiters.delete(onKill);
          if (settled || this.deathError) {
            client.disconnect();
            this.pool.destroy(client).catch(() => {});
            onKill(this.deathError ?? evicted(this.address));
            return;
          }
          if (client.status !== 'ready') {
            this.pool.destroy(client).catch(() => {});
            const err = new ConnectionInterruptedError(
              `Connection to ${formatAddress(this.address)} was lost`,
            );
            this.kill(err);
            onKill(err);
            return;
          }
          settled = true;
          const lane: Lane = { client, inflight: 0 };
          this.lanes.push(lane);
          this.laneOf.set(client, lane);
          resolve(lane);
        },
        (err: unknown) => {
          this.waiters.delete(onKill);
          onKill(translateAcquireError(err, this.address, this.opts.acquireTimeoutMs));
        },
      );
    });
    this.borrowing = p;
    const clear = () => {
      if (this.borrowing === p) this.borrowing = undefined;
    };
    p.then(clear, clear);
    return p;
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function evicted(address: NodeAddress): Error {
  return new ConnectionInterruptedError(`Pool for ${formatAddress(address)} was evicted`);
}

function translateAcquireError(err: unknown, address: NodeAddress, timeoutMs: number): Error {
  if (err instanceof Error && err.name === 'TimeoutError') {
    return new CommandTimeoutError(
      `No connection to ${formatAddress(address)} within ${timeoutMs} ms`,
      timeoutMs,
      {
        cause: err,
      },
    );
  }
  return asError(err);
}
