import genericPool from 'generic-pool';
import type { Redis } from 'ioredis';
import { CommandTimeoutError, ConnectionInterruptedError } from '../../core/errors.js';
import { formatAddress } from '../errors.js';
import { connectVerified } from '../node-clients.js';
import type { NodeAddress, NodeConnectionOptions } from '../types.js';
import { addressKey } from './address.js';

export interface NodePoolOptions {
  min: number;
  max: number;
  acquireTimeoutMs: number;
}

/**
 * A generic-pool of ioredis clients for one node in one role (master or replica), every
 * client ROLE-verified when created.
 *
 * A pool lives until it is killed (the node failed, changed role, or a failover moved the
 * master). Killing is final and immediate: waiting acquires are rejected, *borrowed*
 * clients are disconnected too (generic-pool's clear() only reaches idle ones, and a
 * borrowed client to a demoted master is exactly the one that must not write), and the
 * generic-pool is drained and cleared in the background. Routers replace a dead pool with
 * a fresh one after resolving the node again.
 */
export class NodePool {
  readonly address: NodeAddress;
  readonly key: string;
  readonly role: 'master' | 'replica';
  private readonly pool: genericPool.Pool<Redis>;
  private readonly acquireTimeoutMs: number;
  private readonly borrowed = new Set<Redis>();
  private readonly waiters = new Set<(err: Error) => void>();
  private deathError: Error | undefined;
  private onDeath: ((err: Error) => void) | undefined;

  constructor(
    address: NodeAddress,
    role: 'master' | 'replica',
    node: NodeConnectionOptions,
    opts: NodePoolOptions,
    onDeath?: (err: Error) => void,
  ) {
    this.address = address;
    this.key = addressKey(address);
    this.role = role;
    this.onDeath = onDeath;
    this.acquireTimeoutMs = opts.acquireTimeoutMs;
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
      { min: opts.min, max: opts.max, acquireTimeoutMillis: opts.acquireTimeoutMs, autostart: true },
    );
    // A failed connect (refused, timed out, wrong ROLE, bad credentials) means this pool
    // cannot serve: fail everyone waiting now instead of at acquireTimeoutMs.
    this.pool.on('factoryCreateError', (err: unknown) => this.kill(asError(err)));
  }

  get alive(): boolean {
    return this.deathError === undefined;
  }

  get borrowedCount(): number {
    return this.borrowed.size;
  }

  acquire(): Promise<Redis> {
    if (this.deathError) return Promise.reject(this.deathError);
    return new Promise<Redis>((resolve, reject) => {
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
            this.pool.destroy(client).catch(() => {});
            if (!settled) onKill(this.deathError ?? dead(this.address));
            return;
          }
          if (client.status !== 'ready') {
            // The connection broke while idle: throw it away and report the node.
            this.pool.destroy(client).catch(() => {});
            const err = new ConnectionInterruptedError(
              `Connection to ${formatAddress(this.address)} was lost`,
            );
            this.kill(err);
            onKill(err);
            return;
          }
          settled = true;
          this.borrowed.add(client);
          resolve(client);
        },
        (err: unknown) => {
          this.waiters.delete(onKill);
          onKill(translateAcquireError(err, this.address, this.acquireTimeoutMs));
        },
      );
    });
  }

  /** Give a healthy client back. */
  release(client: Redis): void {
    if (!this.borrowed.delete(client)) return;
    if (this.deathError || client.status !== 'ready') this.pool.destroy(client).catch(() => {});
    else this.pool.release(client).catch(() => {});
  }

  /** Throw a client away (its connection failed or its node is no longer what we need). */
  discard(client: Redis): void {
    if (!this.borrowed.delete(client)) return;
    this.pool.destroy(client).catch(() => {});
  }

  /** Evict: fail waiters, disconnect borrowed and idle clients, refuse further acquires. */
  kill(err: Error): void {
    if (this.deathError) return;
    this.deathError = err;
    for (const w of [...this.waiters]) w(err);
    this.waiters.clear();
    // Disconnecting a borrowed client fails its in-flight commands at once ("Connection
    // is closed"): nothing more is written through it.
    for (const client of this.borrowed) client.disconnect();
    this.pool
      .drain()
      .then(() => this.pool.clear())
      .catch(() => {});
    const cb = this.onDeath;
    this.onDeath = undefined;
    cb?.(err);
  }

  /** Kill and wait (bounded) until every socket of this pool is closed. */
  async close(err: Error): Promise<void> {
    this.kill(err);
    for (const client of this.borrowed) client.disconnect();
    await Promise.race([
      this.pool.drain().then(() => this.pool.clear()),
      new Promise((r) => setTimeout(r, 2000).unref()),
    ]).catch(() => {});
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function dead(address: NodeAddress): Error {
  return new ConnectionInterruptedError(`Pool for ${formatAddress(address)} was evicted`);
}

function translateAcquireError(err: unknown, address: NodeAddress, timeoutMs: number): Error {
  if (err instanceof Error && err.name === 'TimeoutError') {
    return new CommandTimeoutError(
      `No connection to ${formatAddress(address)} became free within ${timeoutMs} ms`,
      timeoutMs,
      {
        cause: err,
      },
    );
  }
  return asError(err);
}
