/**
 * The server's own refusals on real servers, on every router, with and without ignoreErrors:
 * OOM (maxmemory + noeviction), MISCONF (a failed BGSAVE with save points configured),
 * NOREPLICAS (min-replicas-to-write), BUSY (a long script), and on a replica LOADING
 * (DEBUG RELOAD, slowed down with key-load-delay) and MASTERDOWN (replica-serve-stale-data
 * no and no master link). Each state is set up once, on the standalone server and on the
 * Sentinel topology's master (write states) or one replica (read states), and every router
 * is checked against it.
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';
import {
  BusyError,
  type CacheError,
  LoadingError,
  MasterDownError,
  NoReplicasError,
  OutOfMemoryError,
  WritesRefusedError,
} from '../../src/core/errors.js';
import { createCache } from '../../src/create-cache.js';
import { routers } from '../../src/routers/index.js';
import type { ReadFrom, Router } from '../../src/routers/types.js';
import { startStandalone, startTopology } from '../../src/topology/index.js';
import type { NodeAddress, Standalone, Topology } from '../../src/topology/types.js';
import { until } from '../fixtures/until.js';
import { COMMAND_TIMEOUT_MS, nodeClient } from './router-helpers.js';

type Kind = 'standalone' | 'discovery' | 'pooled';
const KINDS: Kind[] = ['standalone', 'discovery', 'pooled'];
/** A refusal is a reply, not a timeout: well inside this (a loaded 2-core machine included). */
const FAST_MS = 2000;

let topo: Topology;
let server: Standalone;
let master: NodeAddress;
let replica: NodeAddress;
const admins: Redis[] = [];

function admin(address: NodeAddress | 'standalone'): Redis {
  const client =
    address === 'standalone'
      ? new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
      : nodeClient(topo, address);
  client.on('error', () => {});
  admins.push(client);
  return client;
}

function makeRouter(kind: Kind, readFrom: ReadFrom = 'master'): Router {
  if (kind === 'standalone')
    return routers.standalone({ url: server.url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  return routers[kind]({ ...topo.routerOptions(), commandTimeoutMs: COMMAND_TIMEOUT_MS, readFrom });
}

interface Subject {
  kind: Kind;
  ignoreErrors: boolean;
  cache: Cache;
  router: Router;
  cacheErrors: unknown[];
  routerErrors: unknown[];
}

async function subjects(readFrom: ReadFrom = 'master'): Promise<Subject[]> {
  const out: Subject[] = [];
  for (const kind of KINDS) {
    for (const ignoreErrors of [false, true]) {
      const router = makeRouter(kind, readFrom);
      const cache = createCache({ router, ignoreErrors, keyPrefix: 'states' });
      const s: Subject = { kind, ignoreErrors, cache, router, cacheErrors: [], routerErrors: [] };
      cache.on('error', ({ error }) => s.cacheErrors.push(error));
      router.on('error', ({ error }) => s.routerErrors.push(error));
      // Connected and resolved before the state is set up.
      await cache.set('present', 'value');
      expect(await cache.get('present')).toBe('value');
      out.push(s);
    }
  }
  return out;
}

async function closeAll(list: Subject[]): Promise<void> {
  await Promise.all(list.map((s) => s.cache.close()));
}

async function timed<T>(p: Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    return { value: await p, ms: performance.now() - t0 };
  } catch (error) {
    return { error, ms: performance.now() - t0 };
  }
}

/**
 * A write refused by the server's state: without ignoreErrors a fast named error (with the
 * node's reply in the message), with ignoreErrors a no-op (`false`) plus an 'error' event.
 */
async function expectWriteRefused(
  list: Subject[],
  ErrorClass: new (...a: never[]) => CacheError,
  code: string,
) {
  for (const s of list) {
    const outcome = await timed(s.cache.set(`k:${s.kind}`, 'v'));
    expect(outcome.ms, `${s.kind} answered fast`).toBeLessThan(FAST_MS);
    if (s.ignoreErrors) {
      expect(outcome.error, `${s.kind} ignoreErrors`).toBeUndefined();
      expect(outcome.value).toBe(false);
      expect(s.cacheErrors.at(-1)).toBeInstanceOf(ErrorClass);
    } else {
      expect(outcome.error, `${s.kind}`).toBeInstanceOf(ErrorClass);
      expect((outcome.error as CacheError).code).toBe(code);
    }
  }
}

beforeAll(async () => {
  [topo, server] = await Promise.all([
    // down-after 5 s: a 2 s script (BUSY) or a slow reload must not look like a dead master.
    startTopology({ provider: 'process', replicas: 2, sentinels: 3, downAfterMs: 5000 }),
    startStandalone(),
  ]);
  master = await topo.currentMaster();
  const found = topo.nodes.find((n) => n.host !== master.host || n.port !== master.port);
  if (!found) throw new Error('no replica');
  replica = found;
  // Filler for the LOADING state: enough keys that a reload slowed per key takes seconds.
  for (const target of [admin(master), admin('standalone')]) {
    const pipeline = target.pipeline();
    for (let i = 0; i < 4000; i++) pipeline.set(`filler:${i}`, 'x'.repeat(50));
    await pipeline.exec();
  }
  await topo.waitForHealthy(30_000);
});

afterAll(async () => {
  for (const c of admins) c.disconnect();
  await Promise.all([topo?.stop(), server?.stop()]);
});

describe('write refusals (standalone server and the Sentinel master)', () => {
  it('OOM: maxmemory reached with noeviction -> OutOfMemoryError, or a no-op with ignoreErrors', async () => {
    const list = await subjects();
    const nodes = [admin(master), admin('standalone')];
    try {
      for (const n of nodes) {
        await n.config('SET', 'maxmemory-policy', 'noeviction');
        await n.config('SET', 'maxmemory', '1');
      }
      await expectWriteRefused(list, OutOfMemoryError, 'OOM');
      // Reads still work: the server is full, not down.
      for (const s of list) expect(await s.cache.get('present')).toBe('value');
    } finally {
      for (const n of nodes) await n.config('SET', 'maxmemory', '0');
      await closeAll(list);
    }
  });

  it('MISCONF: writes refused after a failed BGSAVE -> WritesRefusedError, or a no-op with ignoreErrors', async () => {
    const list = await subjects();
    const nodes = [admin(master), admin('standalone')];
    try {
      for (const n of nodes) await failBackgroundSave(n);
      await expectWriteRefused(list, WritesRefusedError, 'MISCONF');
      for (const s of list) expect(await s.cache.get('present')).toBe('value');
    } finally {
      for (const n of nodes) {
        await n.config('SET', 'rdb-key-save-delay', '0');
        await n.config('SET', 'save', '');
      }
      await closeAll(list);
    }
  });

  it('NOREPLICAS: min-replicas-to-write not met -> NoReplicasError, or a no-op with ignoreErrors', async () => {
    const list = await subjects();
    const nodes = [admin(master), admin('standalone')];
    try {
      for (const n of nodes) await n.config('SET', 'min-replicas-to-write', '10');
      await expectWriteRefused(list, NoReplicasError, 'NOREPLICAS');
    } finally {
      for (const n of nodes) await n.config('SET', 'min-replicas-to-write', '0');
      await closeAll(list);
    }
  });

  it('BUSY: a long script holds the node -> BusyError at once (reads and writes), a miss / no-op with ignoreErrors', async () => {
    const list = await subjects();
    const nodes = [admin(master), admin('standalone')];
    const scripts: Promise<unknown>[] = [];
    try {
      for (const n of nodes) {
        await n.config('SET', 'busy-reply-threshold', '100');
        scripts.push(busyScript(n, 3).catch(() => undefined));
      }
      await sleep(400); // past busy-reply-threshold
      await expectWriteRefused(list, BusyError, 'BUSY');
      for (const s of list) {
        const read = await timed(s.cache.get('present'));
        expect(read.ms).toBeLessThan(FAST_MS);
        if (s.ignoreErrors) expect(read.value).toBeUndefined();
        else expect(read.error, s.kind).toBeInstanceOf(BusyError);
      }
    } finally {
      for (const n of nodes) await killScript(n);
      await Promise.all(scripts);
      for (const n of nodes) await n.config('SET', 'busy-reply-threshold', '5000');
      await closeAll(list);
    }
  });
});

describe('replica states: the read goes elsewhere (Sentinel routers), a named error or a miss (standalone)', () => {
  it('LOADING: a replica reloading its dataset is skipped; standalone -> LoadingError / miss', async () => {
    const list = await subjects('replica');
    const nodes = [admin(replica), admin('standalone')];
    const reloads: Promise<unknown>[] = [];
    try {
      for (const n of nodes) {
        await n.config('SET', 'key-load-delay', '1000'); // µs per key: ~4 s for the filler
        await n.config('SET', 'loading-process-events-interval-bytes', '1024');
        const reloader = admin(n === nodes[0] ? replica : 'standalone');
        reloads.push(reloader.call('DEBUG', 'RELOAD').catch(() => undefined));
      }
      for (const n of nodes)
        await until(async () => /loading:1/.test(await n.info('persistence')), 10_000, 'loading');
      await checkReadsDuring(list, LoadingError, 'LOADING', nodes);
    } finally {
      for (const n of nodes) await n.config('SET', 'key-load-delay', '0');
      await Promise.all(reloads);
      await closeAll(list);
    }
  });

  it('MASTERDOWN: a replica without its master link and replica-serve-stale-data no is skipped; standalone -> MasterDownError / miss', async () => {
    const list = await subjects('replica');
    const nodes = [admin(replica), admin('standalone')];
    try {
      for (const n of nodes) {
        await n.config('SET', 'replica-serve-stale-data', 'no');
        // A master that does not exist: the link stays down (like a dead master).
        await n.replicaof('127.0.0.1', 1);
      }
      await checkReadsDuring(list, MasterDownError, 'MASTERDOWN', nodes);
    } finally {
      await nodes[1]?.replicaof('NO', 'ONE');
      await nodes[0]?.replicaof(master.host, master.port);
      for (const n of nodes) await n.config('SET', 'replica-serve-stale-data', 'yes');
      await closeAll(list);
      await topo.waitForHealthy(30_000);
    }
  });
});

/**
 * Standalone: the state's named error (a miss with ignoreErrors). Sentinel routers with
 * `readFrom: 'replica'`: every read succeeds (on the other replica). Afterwards the replica
 * must still be in the state (a direct GET gets the refusal), or the reads proved nothing.
 */
async function checkReadsDuring(
  list: Subject[],
  ErrorClass: new (...a: never[]) => CacheError,
  code: string,
  nodes: Redis[],
): Promise<void> {
  for (const s of list) {
    if (s.kind === 'standalone') {
      const read = await timed(s.cache.get('present'));
      expect(read.ms).toBeLessThan(FAST_MS);
      if (s.ignoreErrors) {
        expect(read.value).toBeUndefined();
        expect(s.cacheErrors.at(-1)).toBeInstanceOf(ErrorClass);
      } else {
        expect(read.error).toBeInstanceOf(ErrorClass);
        expect((read.error as CacheError).code).toBe(code);
      }
      continue;
    }
    for (let i = 0; i < 20; i++) {
      expect(await s.cache.get('present'), `${s.kind} read ${i}`).toBe('value');
    }
  }
  for (const n of nodes) await expect(n.get('present')).rejects.toThrow(new RegExp(`^${code}`));
}

/** Make BGSAVE fail: a save slowed per key, its child killed (lastbgsave_status:err). */
async function failBackgroundSave(node: Redis): Promise<void> {
  await node.config('SET', 'save', '3600 1');
  await node.config('SET', 'rdb-key-save-delay', '100000');
  await node.bgsave();
  const pid = /process_id:(\d+)/.exec(await node.info('server'))?.[1];
  let child = '';
  await until(
    () => {
      child =
        execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
          .trim()
          .split('\n')[0] ?? '';
      return child !== '';
    },
    5000,
    'the BGSAVE child',
  );
  process.kill(Number(child), 'SIGKILL');
  await until(
    async () => /rdb_last_bgsave_status:err/.test(await node.info('persistence')),
    5000,
    'BGSAVE failed',
  );
}

/** A script that runs `seconds` without writing (so SCRIPT KILL can stop it). */
function busyScript(node: Redis, seconds: number): Promise<unknown> {
  const runner = new Redis({
    host: node.options.host,
    port: node.options.port,
    password: node.options.password,
    username: node.options.username,
    maxRetriesPerRequest: 0,
  });
  runner.on('error', () => {});
  admins.push(runner);
  return runner.eval(
    "local s = redis.call('TIME') while true do local n = redis.call('TIME') if n[1] - s[1] >= tonumber(ARGV[1]) then return 1 end end",
    0,
    seconds,
  );
}

async function killScript(node: Redis): Promise<void> {
  await until(
    async () => {
      try {
        await node.script('KILL');
      } catch (err) {
        if (!/NOTBUSY/.test(String(err))) throw err;
      }
      return true;
    },
    5000,
    'SCRIPT KILL',
  );
}
