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
import { startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';

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

/** Runs examples/<name> the way a user would: `node x.mjs`, or `node --import tsx x.ts`. */
async function run(name: string): Promise<string> {
  const args = name.endsWith('.ts') ? ['--import', 'tsx', join('examples', name)] : [join('examples', name)];
  const { stdout } = await exec(process.execPath, args, { cwd: ROOT, env, timeout: 90_000 });
  return stdout;
}

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
    expect(out.match(/round-trips/g)).toHaveLength(24);
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
