import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RollbackInfo } from '../../src/core/router.js';
import {
  estimateLostMs,
  judgeRollback,
  parseReplicationInfo,
  type ReplicationInfo,
  RollbackDetector,
} from '../../src/routers/sentinel/rollback.js';

/** What each fake node answers to INFO replication, by port. */
const nodes = new Map<number, ReplicationInfo>();

vi.mock('../../src/routers/node-clients.js', () => ({
  connectVerified: async (address: { port: number }) => ({
    client: {
      status: 'ready',
      disconnect: () => {},
      call: async () => {
        const n = nodes.get(address.port);
        if (n === undefined) throw new Error('connection refused');
        return [
          '# Replication',
          `role:${n.role}`,
          `master_replid:${n.replid}`,
          `master_replid2:${n.replid2}`,
          `master_repl_offset:${n.offset}`,
          `second_repl_offset:${n.secondOffset}`,
          '',
        ].join('\r\n');
      },
    },
    role: 'master',
    linkUp: true,
  }),
}));

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const ZERO = '0'.repeat(40);

function node(
  replid: string,
  offset: number,
  replid2 = ZERO,
  secondOffset = -1,
  role = 'master',
): ReplicationInfo {
  return { role, replid, replid2, offset, secondOffset };
}

describe('parseReplicationInfo', () => {
  it('reads the fields of a promoted replica', () => {
    const text = [
      '# Replication',
      'role:master',
      'connected_slaves:1',
      'slave0:ip=127.0.0.1,port=7001,state=online,offset=1200,lag=0',
      `master_failover_state:no-failover`,
      `master_replid:${B}`,
      `master_replid2:${A}`,
      'master_repl_offset:1300',
      'second_repl_offset:1001',
      'repl_backlog_active:1',
    ].join('\r\n');
    expect(parseReplicationInfo(text)).toEqual(node(B, 1300, A, 1001));
  });

  it('undefined without the offsets', () => {
    expect(parseReplicationInfo('# Replication\r\nrole:master\r\n')).toBeUndefined();
  });
});

describe('judgeRollback: does the new master hold the acknowledged point?', () => {
  const point = { replid: A, offset: 1000 };

  it('same history: held iff its offset reaches the point', () => {
    expect(judgeRollback(point, node(A, 1000))).toEqual({ kind: 'contained' });
    expect(judgeRollback(point, node(A, 999))).toEqual({ kind: 'lost', promotedOffset: 999 });
  });

  it('promoted replica: held iff its copy of the old history (second_repl_offset - 1) reaches it', () => {
    // Promoted with 1000 bytes of A: second_repl_offset = 1001 (PSYNC accepts up to it).
    expect(judgeRollback(point, node(B, 5000, A, 1001))).toEqual({ kind: 'contained' });
    // Promoted with 999 bytes of A, however much it took since.
    expect(judgeRollback(point, node(B, 5000, A, 1000))).toEqual({ kind: 'lost', promotedOffset: 999 });
  });

  it('a restarted empty node (another history, fewer bytes): lost', () => {
    expect(judgeRollback(point, node(C, 0))).toEqual({ kind: 'lost', promotedOffset: 0 });
  });

  it('another history with more bytes (switches not seen): unknown, never reported', () => {
    expect(judgeRollback(point, node(C, 4000, B, 3000))).toEqual({ kind: 'unknown' });
  });
});

describe('judgeRollback with the branches seen: an ancestor is not our history past the branch', () => {
  // B's history continued A's from offset 1000 on (B was promoted holding 1000 bytes of A).
  const branches = new Map([[B, { parent: A, at: 1000 }]]);
  const point = { replid: B, offset: 1500 };

  it('the old master promoted back before it resynced, holding more bytes of its own: lost at the branch', () => {
    // It served A up to 5000: its own bytes past 1000 are not B's.
    expect(judgeRollback(point, node(C, 5000, A, 5001), branches)).toEqual({
      kind: 'lost',
      promotedOffset: 1000,
    });
    // Without the branch this was "unknown" (more bytes), never reported.
    expect(judgeRollback(point, node(C, 5000, A, 5001))).toEqual({ kind: 'unknown' });
    // Fewer bytes than the point: lost either way, but where its copy of our history ends is the branch.
    expect(judgeRollback(point, node(C, 1200, A, 1201), branches)).toEqual({
      kind: 'lost',
      promotedOffset: 1000,
    });
  });

  it('still serving the ancestor (never demoted): lost at the branch', () => {
    expect(judgeRollback(point, node(A, 9000), branches)).toEqual({ kind: 'lost', promotedOffset: 1000 });
  });

  it('a point at or before the branch is held by the ancestor', () => {
    expect(judgeRollback({ replid: B, offset: 1000 }, node(C, 5000, A, 5001), branches)).toEqual({
      kind: 'contained',
    });
    // ...as far as the ancestor's copy goes.
    expect(judgeRollback({ replid: B, offset: 1000 }, node(C, 900, A, 901), branches)).toEqual({
      kind: 'lost',
      promotedOffset: 900,
    });
  });

  it("the point's own history still decides first", () => {
    expect(judgeRollback(point, node(C, 1600, B, 1601), branches)).toEqual({ kind: 'contained' });
    expect(judgeRollback(point, node(B, 1400), branches)).toEqual({ kind: 'lost', promotedOffset: 1400 });
  });

  it('through two branches: held up to the nearest one it shares', () => {
    const D = 'd'.repeat(40);
    const E = 'e'.repeat(40);
    const chain = new Map([
      [B, { parent: A, at: 1000 }],
      [D, { parent: B, at: 2000 }],
    ]);
    const p = { replid: D, offset: 2500 };
    expect(judgeRollback(p, node(E, 9000, B, 2301), chain)).toEqual({ kind: 'lost', promotedOffset: 2000 });
    expect(judgeRollback(p, node(E, 9000, A, 9001), chain)).toEqual({ kind: 'lost', promotedOffset: 1000 });
    expect(judgeRollback(p, node(E, 9000, C, 9001), chain)).toEqual({ kind: 'unknown' });
  });
});

describe('estimateLostMs', () => {
  const samples = [
    { at: 1000, offset: 100 },
    { at: 1250, offset: 200 },
    { at: 1500, offset: 300 },
    { at: 1750, offset: 400 },
  ];
  it('from the last sample the node holds to the last acknowledgement', () => {
    expect(estimateLostMs(samples, 250, 1800)).toBe(550);
    expect(estimateLostMs(samples, 400, 1800)).toBe(50);
  });
  it('from the oldest sample when the node holds none', () => {
    expect(estimateLostMs(samples, 50, 1800)).toBe(800);
    expect(estimateLostMs([], 50, 1800)).toBe(0);
  });
  it('an idle gap (no writes, no samples) before the loss is not counted as lost', () => {
    const gap = [
      { at: 1000, offset: 100 },
      { at: 9000, offset: 200 },
      { at: 9250, offset: 300 },
    ];
    expect(estimateLostMs(gap, 100, 9300)).toBe(550);
  });
});

describe('RollbackDetector', () => {
  const M = { host: '127.0.0.1', port: 7000 };
  const R = { host: '127.0.0.1', port: 7001 };
  let detector: RollbackDetector | undefined;

  afterEach(() => {
    detector?.close();
    detector = undefined;
    nodes.clear();
  });

  function make(master: () => { host: string; port: number } | undefined) {
    const events: RollbackInfo[] = [];
    let fence = false;
    const d = new RollbackDetector({
      service: 'mymaster',
      node: {},
      currentMaster: master,
      fenceUp: () => fence,
      emit: (info) => events.push(info),
    });
    detector = d;
    return { d, events, raiseFence: (up: boolean) => (fence = up) };
  }

  /** A write acknowledged at once, issued now (as the router's execute('write') does). */
  const write = (d: RollbackDetector) => d.track(Promise.resolve('OK'));

  it('reports a promoted replica that lacks an acknowledged write; counts it', async () => {
    nodes.set(7000, node(A, 1000));
    const { d, events } = make(() => M);
    await write(d); // starts sampling: M at 1000
    await vi.waitFor(() => expect((d as unknown as { token?: unknown }).token).toBeDefined());
    await write(d); // issued after the sample, acknowledged
    nodes.set(7000, node(A, 2000));
    // The replica was promoted holding 800 bytes of A.
    nodes.set(7001, node(B, 900, A, 801));
    d.onSwitchNews('switch', R);
    await vi.waitFor(() => expect(events).toHaveLength(1));
    expect(events[0]).toMatchObject({
      service: 'mymaster',
      from: M,
      to: R,
      ackedOffset: 1000,
      promotedOffset: 800,
    });
    expect(d.count).toBe(1);
  });

  it('no report when the promoted replica holds the point', async () => {
    nodes.set(7000, node(A, 1000));
    const { d, events } = make(() => M);
    await write(d);
    await vi.waitFor(() => expect((d as unknown as { token?: unknown }).token).toBeDefined());
    await write(d);
    nodes.set(7001, node(B, 1100, A, 1001));
    d.onSwitchNews('switch', R);
    await vi.waitFor(() => expect((d as unknown as { target?: unknown }).target).toEqual(R));
    expect(events).toEqual([]);
  });

  it('no acknowledged write after a sample: nothing to report', async () => {
    nodes.set(7000, node(A, 1000));
    const { d, events } = make(() => M);
    // The first write starts sampling; it was issued before any sample, so it proves nothing.
    await write(d);
    await vi.waitFor(() => expect((d as unknown as { token?: unknown }).token).toBeDefined());
    nodes.set(7001, node(B, 10, A, 11));
    d.onSwitchNews('switch', R);
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual([]);
  });

  it('an acknowledgement that arrives after failover news does not count', async () => {
    nodes.set(7000, node(A, 1000));
    const { d, events } = make(() => M);
    await write(d);
    await vi.waitFor(() => expect((d as unknown as { token?: unknown }).token).toBeDefined());
    let ack: (v: string) => void = () => {};
    const held = d.track(new Promise<string>((r) => (ack = r)));
    d.onSwitchNews('failover-start');
    ack('OK'); // a held write answered by whichever master came next
    await held;
    nodes.set(7001, node(B, 10, A, 11));
    d.onSwitchNews('switch', R);
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual([]);
  });

  it('the old master promoted back before it resynced (more bytes of its own history): reported at the branch', async () => {
    nodes.set(7000, node(A, 1000));
    let master = M;
    const { d, events } = make(() => master);
    await write(d);
    await vi.waitFor(() => expect((d as unknown as { token?: unknown }).token).toBeDefined());
    await write(d);
    // M paused; R promoted holding all of it (1000 bytes of A): contained, nothing reported.
    nodes.set(7001, node(B, 1100, A, 1001));
    master = R;
    d.onSwitchNews('switch', R);
    await vi.waitFor(() => expect((d as unknown as { target?: unknown }).target).toEqual(R));
    // Writes acknowledged on R, up to 1300 bytes of B.
    nodes.set(7001, node(B, 1300, A, 1001));
    const writing = setInterval(() => void write(d), 20);
    try {
      await vi.waitFor(() =>
        expect((d as unknown as { acked?: { offset: number } }).acked?.offset).toBe(1300),
      );
    } finally {
      clearInterval(writing);
    }
    // M resumed took writes of its own (A up to 5000), then was promoted back before it resynced.
    nodes.set(7000, node(C, 5000, A, 5001));
    master = M;
    d.onSwitchNews('switch', M);
    await vi.waitFor(() => expect(events).toHaveLength(1));
    expect(events[0]).toMatchObject({ from: R, to: M, ackedOffset: 1300, promotedOffset: 1000 });
  });

  it('the same address serving an empty history (restarted without data): reported', async () => {
    nodes.set(7000, node(A, 1000));
    const { d, events } = make(() => M);
    await write(d);
    await vi.waitFor(() => expect((d as unknown as { token?: unknown }).token).toBeDefined());
    await write(d);
    nodes.set(7000, node(C, 0));
    // The next sample (writes go on) finds another history on the same address.
    const writing = setInterval(() => void write(d), 20);
    try {
      await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 3000 });
    } finally {
      clearInterval(writing);
    }
    expect(events[0]).toMatchObject({ from: M, to: M, ackedOffset: 1000, promotedOffset: 0 });
  });
});
