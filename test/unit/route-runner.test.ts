import type { Redis } from 'ioredis';
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  CommandTimeoutError,
  LoadingError,
  MasterNotFoundError,
  ReplicaNotFoundError,
  ServerError,
} from '../../src/core/errors.js';
import { type NodeHandle, RouteRunner } from '../../src/routers/route-runner.js';
import { NodeStats, RouterEvents } from '../../src/routers/sentinel/router-events.js';

/** A node whose "client" is a tag; the operation decides from the tag what happens. */
function node(port: number): NodeHandle & { evicted: number } {
  const client = { port, commandQueue: { length: 0 }, status: 'ready' } as unknown as Redis;
  return {
    address: { host: '127.0.0.1', port },
    key: `127.0.0.1:${port}`,
    evicted: 0,
    acquire: () => client,
    release: () => {},
    evict() {
      this.evicted++;
    },
  };
}

const portOf = (c: Redis) => (c as unknown as { port: number }).port;

function runner() {
  const events = new RouterEvents();
  const errors: Error[] = [];
  events.on('error', ({ error }) => errors.push(error));
  return { p: new RouteRunner(events, new NodeStats(), 500), errors };
}

describe('RouteRunner.read', () => {
  it('a replica that times out passes the read to the next replica; the master is not asked', async () => {
    const { p } = runner();
    const [a, b] = [node(1), node(2)];
    let masterCalls = 0;
    const results: number[] = [];
    for (let i = 0; i < 4; i++) {
      results.push(
        await p.read(
          {
            preferred: true,
            service: 's',
            replicas: () => [a, b],
            promoted: () => undefined,
            onMaster: async () => {
              masterCalls++;
              return -1;
            },
          },
          async (c) => {
            if (portOf(c) === 1) throw new Error('Command timed out');
            return portOf(c);
          },
        ),
      );
    }
    expect(results).toEqual([2, 2, 2, 2]);
    expect(masterCalls).toBe(0);
    expect(a.evicted).toBe(1); // then skipped: later reads did not try it again
  });

  it('replica-preferred goes to the master only when no replica could serve; replica mode throws', async () => {
    const { p } = runner();
    const fail = async () => {
      throw new Error('Command timed out');
    };
    const plan = (preferred: boolean) => ({
      preferred,
      service: 's',
      replicas: () => [node(1), node(2)],
      promoted: () => undefined,
      onMaster: async () => 'master',
    });
    expect(await p.read(plan(true), fail)).toBe('master');
    await expect(runner().p.read(plan(false), fail)).rejects.toBeInstanceOf(CommandTimeoutError);
    await expect(runner().p.read({ ...plan(false), replicas: () => [] }, fail)).rejects.toBeInstanceOf(
      ReplicaNotFoundError,
    );
  });

  it('a non-transient failure is the answer: thrown at once, no other node tried', async () => {
    const { p } = runner();
    const tried: number[] = [];
    await expect(
      p.read(
        {
          preferred: true,
          service: 's',
          replicas: () => [node(1), node(2)],
          promoted: () => undefined,
          onMaster: async () => 0,
        },
        async (c) => {
          tried.push(portOf(c));
          throw new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value');
        },
      ),
    ).rejects.toBeInstanceOf(ServerError);
    expect(tried).toHaveLength(1);
  });

  it('LOADING on a replica: read elsewhere, the replica skipped and reported', async () => {
    const { p, errors } = runner();
    const [a, b] = [node(1), node(2)];
    const tried: number[] = [];
    for (let i = 0; i < 4; i++) {
      await p.read(
        {
          preferred: false,
          service: 's',
          replicas: () => [a, b],
          promoted: () => undefined,
          onMaster: async () => 0,
        },
        async (c) => {
          tried.push(portOf(c));
          if (portOf(c) === 1) throw new ReplyError('LOADING Redis is loading the dataset in memory');
          return 1;
        },
      );
    }
    expect(tried.filter((t) => t === 1)).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(LoadingError);
    expect(a.evicted).toBe(0); // alive, only not ready: its connection is kept
  });

  describe("'replica-preferred' when no replica could serve", () => {
    const timedOut = (ports: number[]) => async (c: Redis) => {
      if (ports.includes(portOf(c))) throw new Error('Command timed out');
      return portOf(c);
    };

    it('reads the replica being promoted before the master', async () => {
      const { p } = runner();
      let masterCalls = 0;
      const promoted = node(3);
      const plan = {
        preferred: true,
        service: 's',
        replicas: () => [node(1), node(2)],
        promoted: () => promoted,
        onMaster: async () => {
          masterCalls++;
          return -1;
        },
      };
      expect(await p.read(plan, timedOut([1, 2]))).toBe(3);
      expect(masterCalls).toBe(0);
      // the promoted replica fails too: the master
      expect(await runner().p.read(plan, timedOut([1, 2, 3]))).toBe(-1);
      expect(masterCalls).toBe(1);
    });

    it('the sentinels report the master down: never sent there; skipped replicas are tried, then MasterNotFoundError', async () => {
      const { p } = runner();
      const [a, b] = [node(1), node(2)];
      const plan = {
        preferred: true,
        service: 's',
        replicas: () => [a, b],
        promoted: () => undefined,
        onMaster: () => undefined,
      };
      // a and b fail once each: both skipped for a while
      await expect(p.read(plan, timedOut([1, 2]))).rejects.toBeInstanceOf(MasterNotFoundError);
      // still skipped, but with no master to go to they are tried rather than failing untried
      expect(await p.read(plan, timedOut([1]))).toBe(2);
      const err = await p.read(plan, timedOut([1, 2])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MasterNotFoundError);
      expect((err as Error).message).toContain('report the master of "s" down');
      expect((err as Error).cause).toBeInstanceOf(CommandTimeoutError);
    });

    it('the master path fails transiently (a fresh answer names a master reported down): skipped replicas are tried, then its error', async () => {
      const { p } = runner();
      const [a, b] = [node(1), node(2)];
      const reportedDown = new MasterNotFoundError('the sentinels report the master 127.0.0.1:9 of "s" down');
      let masterCalls = 0;
      const plan = {
        preferred: true,
        service: 's',
        replicas: () => [a, b],
        promoted: () => undefined,
        onMaster: () => {
          masterCalls++;
          return Promise.reject(reportedDown);
        },
      };
      await expect(p.read(plan, timedOut([1, 2]))).rejects.toBe(reportedDown);
      // both skipped now: the master path is asked first, then the skipped replicas serve the read
      expect(await p.read(plan, timedOut([1]))).toBe(2);
      expect(masterCalls).toBe(2);
      // a non-transient failure of the master path is the answer
      const wrongType = new ServerError('WRONGTYPE Operation against a key holding the wrong kind of value');
      const err = await p
        .read({ ...plan, onMaster: () => Promise.reject(wrongType) }, timedOut([1, 2]))
        .catch((e: unknown) => e);
      expect(err).toBe(wrongType);
    });
  });
});

describe('RouteRunner.run', () => {
  it('READONLY: evict and retry once; without a retry, MasterNotFoundError', async () => {
    const { p } = runner();
    const n = node(1);
    const readonly = async () => {
      throw new ReplyError("READONLY You can't write against a read only replica.");
    };
    expect(await p.run(n, 'master', readonly, async () => 'retried')).toBe('retried');
    expect(n.evicted).toBe(1);
    await expect(p.run(n, 'master', readonly)).rejects.toBeInstanceOf(MasterNotFoundError);
  });
});

describe('RouteRunner.run with an OutcomeCounter (a closed breaker counting in the runner step)', () => {
  function counter() {
    const seen = { succeeded: 0, tracked: [] as Array<'ok' | 'failed'> };
    return {
      seen,
      succeeded: () => {
        seen.succeeded++;
      },
      track<T>(settled: Promise<T>): Promise<T> {
        return settled.then(
          (v) => {
            seen.tracked.push('ok');
            return v;
          },
          (err: unknown) => {
            seen.tracked.push('failed');
            throw err;
          },
        );
      },
    };
  }

  it('a success releases the client and counts once; a failure is tracked through its retry', async () => {
    const { p } = runner();
    const released: Redis[] = [];
    const n = { ...node(1), release: (c: Redis) => released.push(c) };
    const c = counter();
    expect(await p.run(n, 'master', async (client) => portOf(client), undefined, c)).toBe(1);
    expect(released).toHaveLength(1);
    expect(c.seen).toEqual({ succeeded: 1, tracked: [] });

    const readonly = async () => {
      throw new ReplyError("READONLY You can't write against a read only replica.");
    };
    // READONLY then a successful retry: one outcome, the retry's.
    expect(await p.run(n, 'master', readonly, async () => 'retried', c)).toBe('retried');
    expect(c.seen.tracked).toEqual(['ok']);
    await expect(
      p.run(n, 'master', async () => Promise.reject(new Error('Command timed out')), undefined, c),
    ).rejects.toBeInstanceOf(CommandTimeoutError);
    expect(c.seen).toEqual({ succeeded: 1, tracked: ['ok', 'failed'] });
  });

  it('never throws synchronously: a throwing acquire or operation is a rejection', async () => {
    const { p } = runner();
    const broken = {
      ...node(1),
      acquire: (): Redis => {
        throw new Error('Connection is closed.');
      },
    };
    const c = counter();
    const run = p.run(broken, 'master', async () => 1, undefined, c);
    expect(run).toBeInstanceOf(Promise);
    await expect(run).rejects.toThrow();
    expect(broken.evicted).toBe(1);
    const sync = p.run(node(2), 'master', (() => {
      throw new ReplyError('ERR boom');
    }) as () => Promise<number>);
    await expect(sync).rejects.toBeInstanceOf(ServerError);
    expect(c.seen.tracked).toEqual(['failed']);
  });
});
