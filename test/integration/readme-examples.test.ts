/**
 * Every README snippet is a file under examples/, in plain ESM JavaScript (.mjs, run by `node`
 * itself: no TypeScript-only syntax such as `await using` can hide there) and in TypeScript (.ts,
 * run through tsx), against a real local topology whose addresses reach them through the
 * environment. The examples import 'sentinel-cache' as users do (the built package: `npm run build`
 * first, as CI does).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterTopology, startCluster, startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import { zstdAvailable } from '../fixtures/zstd.js';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

let topo: Topology;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  topo = await startTopology({ provider: 'process', replicas: 1, sentinels: 2, downAfterMs: 1000 });
  const master = await topo.currentMaster();
  env = {
    ...process.env,
    SENTINEL_CACHE_SENTINELS: topo.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
    SENTINEL_CACHE_SERVICE: topo.service,
    REDIS_URL: `redis://${master.host}:${master.port}/0`,
  };
});

afterAll(async () => {
  await topo?.stop();
});

/**
 * Runs examples/<name> the way a user would: `node x.mjs`, or `node --import tsx x.ts`. An
 * example that does not exit within the timeout (a socket left open) fails its test.
 */
async function run(name: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const args = name.endsWith('.ts') ? ['--import', 'tsx', join('examples', name)] : [join('examples', name)];
  const { stdout } = await exec(process.execPath, args, {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    timeout: 90_000,
  });
  return stdout;
}

// These examples use their own key prefixes and leave the topology as it is, so they run in
// parallel (before the topology example, which fails the master over).
describe.each(['mjs', 'ts'])('README examples (.%s), in parallel', (ext) => {
  describe.concurrent('sections', () => {
    it('get-or-set: one factory call for 5 callers, stale within grace, adaptive ttl, tags', async () => {
      const out = await run(`get-or-set.${ext}`);
      expect(out).toContain('user: Ada, 5 callers, factory called 1 time(s)');
      expect(out).toContain('stale-served: prices (factory-error)');
      expect(out).toContain('prices while the API is down: 1.08');
      expect(out).toContain('report rows: 3');
      const ttl = Number(/token ttl \(ms\): (\d+)/.exec(out)?.[1]);
      expect(ttl).toBeGreaterThan(30_000); // ctx.setTtl(90_000), minus the time the example took
      expect(ttl).toBeLessThanOrEqual(90_000);
      expect(out).toContain('before invalidateTags: post 7 hello');
      expect(out).toContain('after invalidateTags: undefined undefined');
      expect(out).toContain('partial report: 42 owner 42 cached: 42');
      expect(out).toContain('report:42 after invalidating user:42: undefined');
    });

    it('custom-codecs: a registered serializer and compressor, found by id by a default cache', async () => {
      const out = await run(`custom-codecs.${ext}`);
      expect(out).toContain('placedAt is a Date: true 2026-01-02T03:04:05.000Z');
      expect(out).toContain('header ids (serializer, compressor): 200 201');
      expect(out).toContain('read by a default cache: 500');
    });

    it('near-cache: a hit from memory, invalidated by another client, cleared', async () => {
      const out = await run(`near-cache.${ext}`);
      expect(out).toContain('near cache enabled: true, near hits: 1');
      expect(out).toContain('after another client wrote: beta = true');
      expect(out).toContain('near-flush: manual');
      expect(out).toContain('entries after clear: 0');
    });

    it('events: hit / miss events, the tracing channel, an error event under ignoreErrors', async () => {
      const out = await run(`events.${ext}`);
      expect(out).toMatch(/^trace: ready - ok/m);
      expect(out).toMatch(/^trace: set greeting ok/m);
      expect(out).toContain('hit: greeting');
      expect(out).toContain('miss: no-such-key');
      expect(out).toContain('error event: CONNECTION_INTERRUPTED in get greeting');
      expect(out).toContain('degraded get: undefined');
    });

    it('lifecycle: ready(), withClient, a lock with waitReplicas; exits without close() (unref)', async () => {
      // Without `unref: true` this example never exits and `run` fails at its timeout.
      const out = await run(`lifecycle.${ext}`);
      expect(out).toContain('ready');
      expect(out).toContain('withClient(write) ran on a master');
      expect(out).toContain('lock acquired with 1 replica: true');
      expect(out).toContain('held by another caller: false');
      expect(out).toContain('ready() rejected: CONNECTION_INTERRUPTED');
      expect(out).toContain('done');
    });
  });
});

describe('README examples: cluster', () => {
  let cluster: ClusterTopology;
  let clusterEnv: NodeJS.ProcessEnv;
  beforeAll(async () => {
    // Masters only: the example reads from masters, and 3 nodes start faster than 6.
    cluster = await startCluster({ shards: 3, replicasPerShard: 0 });
    clusterEnv = { SENTINEL_CACHE_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it.each(['mjs', 'ts'])('cluster.%s: batches over every master, hash tags for smove', async (ext) => {
    const out = await run(`cluster.${ext}`, clusterEnv);
    expect(out).toContain('getMany over every master: 100');
    expect(out).toContain('smove across slots: CONFIG');
    expect(out).toContain('smove with a hash tag: true');
    expect(out).toContain("{u42}:b holds [ 'x' ]");
  });

  // Starts its own 6-node cluster (about 5 s each, so the two run one after the other).
  it.each(['mjs', 'ts'])(
    'cluster-topology.%s: start, pause a shard master, see the new one, stop',
    { timeout: 120_000 },
    async (ext) => {
      const out = await run(`cluster-topology.${ext}`);
      const paused = /paused master of shard 1: (\S+)/.exec(out)?.[1];
      const next = /new master of shard 1: (\S+)/.exec(out)?.[1];
      expect(paused).toBeDefined();
      expect(next).toBeDefined();
      expect(next).not.toBe(paused);
      expect(out).toContain('value: after');
    },
  );
});

describe.each(['mjs', 'ts'])('README examples (.%s)', (ext) => {
  it('quick-start: values, TTL in ms, counter, getOrSet, the lock acquired and released', async () => {
    const out = await run(`quick-start.${ext}`);
    expect(out).toContain("user: Ada [ 'admin' ]");
    const ttl = Number(/ttl \(ms\): (\d+)/.exec(out)?.[1]);
    expect(ttl).toBeGreaterThan(3_000_000); // '1h' in ms, minus the time the example took
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    expect(out).toMatch(/visits: \d+/);
    expect(out).toContain('report rows: 3');
    expect(out).toContain('lock held: true');
    expect(out).toContain('lock released: true');
  });

  it('routers: discovery, pooled and standalone as configured in the README', async () => {
    const out = await run(`routers.${ext}`);
    for (const name of ['discovery', 'pooled', 'standalone'])
      expect(out).toContain(`${name}: hello from ${name}`);
  });

  it('codecs: every serializer × compressor pair round-trips', async () => {
    const out = await run(`codecs.${ext}`);
    // 4 serializers × 6 compressors; 5 where this process has no zstd (Node 20 without zstd-napi).
    expect(out.match(/round-trips/g)).toHaveLength(zstdAvailable ? 24 : 20);
    expect(out).not.toContain('DIFFERS');
  });

  it('topology: start, pause the master, see the failover, stop', { timeout: 120_000 }, async () => {
    const out = await run(`topology.${ext}`);
    const paused = /paused master (\S+)/.exec(out)?.[1];
    const next = /^new master (\S+)/m.exec(out)?.[1];
    expect(paused).toBeDefined();
    expect(next).toBeDefined();
    expect(next).not.toBe(paused);
    expect(out).toContain('value: after');
  });
});
