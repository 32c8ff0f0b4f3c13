import type { NearCacheStats } from './near.js';
import type { RouterStats } from './router.js';

/** Reads answered from one tier: values found (`hits`), "no such key" or stale (`misses`). */
export interface TierStats {
  /** Reads that found a value in this tier. */
  hits: number;
  /** Reads this tier answered with "no such key" or a stale value. */
  misses: number;
}

/** What `cache.stats()` returns. */
export interface CacheStats {
  /** Reads that found a value (near cache and Redis). */
  hits: number;
  /** Reads that found no usable value. */
  misses: number;
  /**
   * `hits` and `misses` by where the answer came from: `near`, the near cache's memory (no
   * Redis round trip); `redis`, a Redis reply.
   */
  tiers: { near: TierStats; redis: TierStats };
  /** Operations that failed (thrown or, with ignoreErrors, swallowed). */
  errors: number;
  /** Of `errors`, how many ignoreErrors turned into a miss/no-op. */
  ignoredErrors: number;
  /** Failovers the router reported (sentinel +switch-master or a detected master change). */
  failovers: number;
  /** The router's kind (`'pooled'`, `'discovery'`, `'standalone'`, `'cluster'`). */
  router: string;
  /** Pooled router: each role's breaker state. */
  breaker: RouterStats['breaker'];
  /** Per node (`host:port`): operations and errors as counted by the router. */
  nodes: RouterStats['nodes'];
  /** routers.discovery with speculativeReads: what became of the reads sent ahead of their sentinel answer. */
  speculation?: RouterStats['speculation'];
  /** Present when the `nearCache` option is on. */
  nearCache?: NearCacheStats;
}

/** Counters the cache bumps on its hot path: plain fields, no allocation per operation. */
export class Counters {
  hits = 0;
  misses = 0;
  /** Of `hits` and `misses`, those answered from the near cache's memory. */
  nearHits = 0;
  nearMisses = 0;
  errors = 0;
  ignoredErrors = 0;
  failovers = 0;

  snapshot(router: RouterStats): CacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      tiers: {
        near: { hits: this.nearHits, misses: this.nearMisses },
        redis: { hits: this.hits - this.nearHits, misses: this.misses - this.nearMisses },
      },
      errors: this.errors,
      ignoredErrors: this.ignoredErrors,
      // The router counts failovers it saw before this cache subscribed too; take the larger.
      failovers: Math.max(this.failovers, router.failovers),
      router: router.kind,
      breaker: router.breaker,
      nodes: router.nodes,
      ...(router.speculation ? { speculation: router.speculation } : {}),
    };
  }
}
