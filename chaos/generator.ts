/**
 * What a campaign does, drawn from one seed with fast-check's arbitraries: each cache's
 * sequence of operations, and the nemesis' schedule of faults. The same seed always gives the
 * same operations in the same order and the same faults at the same offsets; what a seed
 * cannot fix is how the operations of several processes interleave with each other and with
 * the faults on a real machine (docs/chaos.md says so).
 *
 * The key layout (the checker relies on it, see chaos/checker.ts):
 * - `k:p<process>c<cache>:<i>`: strings written by that one cache only, read by everyone;
 * - `n:p<process>c<cache>:<i>`: counters incremented by that one cache only;
 * - `g:<i>`: getOrSet keys, shared, tagged `t<i % 2>` and `all`;
 * - `l<i>`: locks, contended by every cache.
 */
import fc from 'fast-check';
import type { FaultKind } from './history.js';

export const STRING_KEYS_PER_OWNER = 3;
export const COUNTERS_PER_OWNER = 1;
export const GET_OR_SET_KEYS = 3;
export const LOCKS = 2;
export const TAGS = ['t0', 't1', 'all'] as const;

export type RouterKind = 'standalone' | 'pooled' | 'discovery' | 'cluster';

/** A configuration: `<router>[-replica][-near]` (readFrom master is the default). */
export interface ChaosConfig {
  name: string;
  router: RouterKind;
  readFrom: 'master' | 'replica';
  near: boolean;
}

const ROUTER_KINDS: RouterKind[] = ['standalone', 'pooled', 'discovery', 'cluster'];

/**
 * Every configuration `--config all` runs. A standalone server has no replica to read from, so
 * it has no `-replica` variants: 14 configurations.
 */
export const ALL_CONFIGS: ChaosConfig[] = ROUTER_KINDS.flatMap((router) =>
  (router === 'standalone' ? (['master'] as const) : (['master', 'replica'] as const)).flatMap((readFrom) =>
    [false, true].map((near) => ({
      name: `${router}${readFrom === 'replica' ? '-replica' : ''}${near ? '-near' : ''}`,
      router,
      readFrom,
      near,
    })),
  ),
);

/** Parses a configuration name (`pooled-near`, `discovery-master`, `cluster-replica-near`). */
export function parseConfig(name: string): ChaosConfig {
  const parts = name.split('-');
  const router = parts.shift() as RouterKind;
  if (!ROUTER_KINDS.includes(router)) {
    throw new Error(`unknown router in config "${name}": one of ${ROUTER_KINDS.join(', ')}`);
  }
  let readFrom: 'master' | 'replica' = 'master';
  let near = false;
  for (const part of parts) {
    if (part === 'master' || part === 'replica') readFrom = part;
    else if (part === 'near') near = true;
    else throw new Error(`unknown part "${part}" in config "${name}": <router>[-master|-replica][-near]`);
  }
  if (router === 'standalone' && readFrom === 'replica') {
    throw new Error('standalone has no replica to read from: use standalone or standalone-near');
  }
  return {
    name: `${router}${readFrom === 'replica' ? '-replica' : ''}${near ? '-near' : ''}`,
    router,
    readFrom,
    near,
  };
}

/** One operation of a cache's sequence; write values are filled in when it runs (a unique sequence number). */
export type OpSpec =
  | { op: 'get'; keys: [string] }
  | { op: 'getMany'; keys: string[] }
  | { op: 'set'; keys: [string] }
  | { op: 'delete'; keys: [string] }
  | { op: 'setMany'; keys: string[] }
  | { op: 'deleteMany'; keys: string[] }
  | { op: 'incr'; keys: [string]; delta: number }
  | { op: 'getOrSet'; keys: [string]; grace: boolean; factoryMs: number }
  | { op: 'invalidateTags'; tags: string[] }
  /** `wait`: acquire with `waitReplicas` = every replica of the topology (none on standalone). */
  | { op: 'lock'; name: string; holdMs: number; wait: boolean };

export const owner = (process: number, cache: number): string => `p${process}c${cache}`;
export const stringKey = (o: string, i: number): string => `k:${o}:${i}`;
export const counterKey = (o: string, i: number): string => `n:${o}:${i}`;
export const getOrSetKey = (i: number): string => `g:${i}`;
export const tagsOf = (key: string): string[] => [`t${Number(key.slice(2)) % 2}`, 'all'];

/** Every key of a campaign (for the quiescent read at the end). */
export function allKeys(processes: number, caches: number): string[] {
  const keys: string[] = [];
  for (let p = 0; p < processes; p++) {
    for (let c = 0; c < caches; c++) {
      for (let i = 0; i < STRING_KEYS_PER_OWNER; i++) keys.push(stringKey(owner(p, c), i));
      for (let i = 0; i < COUNTERS_PER_OWNER; i++) keys.push(counterKey(owner(p, c), i));
    }
  }
  return keys;
}

/** How many replicas each master has in the campaign's topologies (chaos/campaign.ts starts them). */
export function replicasOf(router: RouterKind): number {
  if (router === 'standalone') return 0;
  return router === 'cluster' ? 1 : 2;
}

/** The arbitrary of one operation by cache `cache` of process `process`. */
export function opArbitrary(
  process: number,
  cache: number,
  processes: number,
  caches: number,
): fc.Arbitrary<OpSpec> {
  const me = owner(process, cache);
  const owners = Array.from({ length: processes * caches }, (_, i) =>
    owner(Math.floor(i / caches), i % caches),
  );
  const ownKey = fc.nat(STRING_KEYS_PER_OWNER - 1).map((i) => stringKey(me, i));
  const anyKey = fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.constantFrom(...owners), fc.nat(STRING_KEYS_PER_OWNER - 1))
        .map(([o, i]) => stringKey(o, i)),
    },
    { weight: 1, arbitrary: fc.nat(GET_OR_SET_KEYS - 1).map(getOrSetKey) },
  );
  const ownKeys = fc.uniqueArray(ownKey, { minLength: 2, maxLength: STRING_KEYS_PER_OWNER });
  return fc.oneof(
    { weight: 8, arbitrary: anyKey.map((k): OpSpec => ({ op: 'get', keys: [k] })) },
    {
      weight: 2,
      arbitrary: fc
        .uniqueArray(anyKey, { minLength: 2, maxLength: 4 })
        .map((keys): OpSpec => ({ op: 'getMany', keys })),
    },
    { weight: 6, arbitrary: ownKey.map((k): OpSpec => ({ op: 'set', keys: [k] })) },
    { weight: 1, arbitrary: ownKey.map((k): OpSpec => ({ op: 'delete', keys: [k] })) },
    { weight: 2, arbitrary: ownKeys.map((keys): OpSpec => ({ op: 'setMany', keys })) },
    { weight: 1, arbitrary: ownKeys.map((keys): OpSpec => ({ op: 'deleteMany', keys })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.nat(COUNTERS_PER_OWNER - 1), fc.integer({ min: 1, max: 3 }))
        .map(([i, delta]): OpSpec => ({ op: 'incr', keys: [counterKey(me, i)], delta })),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.nat(GET_OR_SET_KEYS - 1), fc.boolean(), fc.integer({ min: 0, max: 30 }))
        .map(
          ([i, grace, factoryMs]): OpSpec => ({ op: 'getOrSet', keys: [getOrSetKey(i)], grace, factoryMs }),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .subarray([...TAGS], { minLength: 1 })
        .map((tags): OpSpec => ({ op: 'invalidateTags', tags })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.nat(LOCKS - 1), fc.integer({ min: 0, max: 100 }), fc.boolean())
        .map(([i, holdMs, wait]): OpSpec => ({ op: 'lock', name: `l${i}`, holdMs, wait })),
    },
  );
}

/** A 32-bit seed for one stream of a campaign (cache ops of one process/cache, chunk by chunk; the nemesis). */
export function streamSeed(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const p of parts) h = Math.imul(h ^ (p + 0x9e3779b9), 0x85ebca6b) >>> 0;
  return h | 0;
}

/**
 * The operations of one cache, in chunks of `chunkSize` (`chunk` 0, 1, ...): a cache that
 * runs longer takes the next chunk, drawn from its own seed, so the sequence depends only on
 * the seed, never on how fast the machine ran.
 */
export function opChunk(
  seed: number,
  process: number,
  cache: number,
  processes: number,
  caches: number,
  chunk: number,
  chunkSize = 500,
): OpSpec[] {
  const arb = fc.array(opArbitrary(process, cache, processes, caches), {
    minLength: chunkSize,
    maxLength: chunkSize,
  });
  return fc.sample(arb, { seed: streamSeed(seed, 1, process, cache, chunk), numRuns: 1 })[0]!;
}

/** One planned fault: at `atMs` after the load started, for `holdMs` (then healed). */
export interface PlannedFault {
  atMs: number;
  kind: FaultKind;
  holdMs: number;
  /** Which replica / sentinel / shard (taken modulo what exists). */
  target: number;
}

/** The fault kinds the nemesis can inject on a router's topology. */
export function faultKinds(router: RouterKind): FaultKind[] {
  switch (router) {
    case 'standalone':
      return ['pause-master', 'client-kill'];
    case 'cluster':
      return [
        'pause-shard-master',
        'cluster-failover',
        'cluster-failover-takeover',
        'client-kill',
        'kill-master',
        'slot-migration',
      ];
    default:
      return [
        'pause-master',
        'pause-replica',
        'pause-sentinel',
        'kill-master',
        'kill-replica',
        'sentinel-failover',
        'client-kill',
        'replica-resync',
        'replica-full-resync',
      ];
  }
}

/**
 * The nemesis' schedule for `durationMs` of load: faults separated by quiet gaps (so the
 * topology can heal between them), each held 0.3-3 s.
 */
export function faultSchedule(
  seed: number,
  router: RouterKind,
  durationMs: number,
  gapMs: { min: number; max: number } = { min: 2000, max: 6000 },
  kinds: readonly FaultKind[] = faultKinds(router),
): PlannedFault[] {
  const one = fc.record({
    gap: fc.integer(gapMs),
    kind: fc.constantFrom(...kinds),
    holdMs: fc.integer({ min: 300, max: 3000 }),
    target: fc.nat(7),
  });
  const plan = fc.sample(fc.array(one, { minLength: 200, maxLength: 200 }), {
    seed: streamSeed(seed, 2),
    numRuns: 1,
  })[0]!;
  const faults: PlannedFault[] = [];
  let at = 0;
  for (const f of plan) {
    at += f.gap;
    if (at + f.holdMs > durationMs) break;
    faults.push({ atMs: at, kind: f.kind, holdMs: f.holdMs, target: f.target });
    at += f.holdMs;
  }
  return faults;
}
