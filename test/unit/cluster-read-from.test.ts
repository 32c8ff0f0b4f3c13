import { describe, expect, it } from 'vitest';
import { ReplicaNotFoundError } from '../../src/core/errors.js';
import { masterView, scaleReadsFor } from '../../src/routers/cluster/read-from.js';

type Pick = (nodes: unknown[], command: unknown) => unknown;

const node = (port: number, status: string) => ({ status, options: { host: '127.0.0.1', port } });
const command = () => {
  const c = {
    rejected: undefined as Error | undefined,
    reject: (e: Error) => (c.rejected = e),
    getSlot: () => 7,
  };
  return c;
};

describe('readFrom on a cluster (scaleReads)', () => {
  const master = node(1, 'ready');
  const ready = node(2, 'ready');
  const opening = node(3, 'wait');
  const broken = node(4, 'reconnecting');

  it("'master' is ioredis' own 'master'", () => {
    expect(scaleReadsFor('master', new WeakSet())).toBe('master');
  });

  it('picks the ready replicas, else those still opening; never a broken one', () => {
    for (const readFrom of ['replica', 'replica-preferred'] as const) {
      const pick = scaleReadsFor(readFrom, new WeakSet()) as Pick;
      expect(pick([master, ready, opening, broken], command())).toEqual([ready]);
      expect(pick([master, opening, broken], command())).toEqual([opening]);
    }
  });

  it("'replica-preferred' falls back to the master; 'replica' fails the command with ReplicaNotFoundError", () => {
    const preferred = scaleReadsFor('replica-preferred', new WeakSet()) as Pick;
    expect(preferred([master, broken], command())).toBe(master);
    expect(preferred([master], command())).toBe(master);
    const strict = scaleReadsFor('replica', new WeakSet()) as Pick;
    const c = command();
    const stand = strict([master, broken], c) as { sendCommand(c: unknown): void };
    stand.sendCommand(c);
    expect(c.rejected).toBeInstanceOf(ReplicaNotFoundError);
    expect(c.rejected?.message).toBe('No usable replica for slot 7 (master 127.0.0.1:1)');
  });

  it('commands sent through the master view go to the master, whatever readFrom says', () => {
    const toMaster = new WeakSet<object>();
    const sent: object[] = [];
    const cluster = { sendCommand: (c: object) => sent.push(c), name: 'cluster' };
    const view = masterView(cluster, toMaster);
    const c = command();
    view.sendCommand(c);
    expect(sent).toEqual([c]);
    expect(view.name).toBe('cluster');
    const strict = scaleReadsFor('replica', toMaster) as Pick;
    expect(strict([master, ready], c)).toBe(master);
    expect(strict([master, ready], command())).toEqual([ready]);
  });
});
