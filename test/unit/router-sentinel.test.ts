import { describe, expect, it } from 'vitest';
import { MasterNotFoundError } from '../../src/core/errors.js';
import { addressKey, createAddressMapper, toAddress } from '../../src/routers/sentinel/address.js';
import { SentinelContext } from '../../src/routers/sentinel/context.js';
import { FailoverFence } from '../../src/routers/sentinel/failover-fence.js';
import { FreshQuery } from '../../src/routers/sentinel/fresh-query.js';
import { NodeStats, RouterEvents } from '../../src/routers/sentinel/router-events.js';
import {
  isUsable,
  isUsableWhilePromoted,
  parseNodeList,
} from '../../src/routers/sentinel/sentinel-client.js';
import { SentinelList } from '../../src/routers/sentinel/sentinel-list.js';
import { parseSentinelMessage, type SentinelNews } from '../../src/routers/sentinel/sentinel-watcher.js';

const identity = createAddressMapper(undefined);
const S = { host: '10.0.0.9', port: 26379 };

describe('SentinelList (client spec: in order, responder to the front)', () => {
  it('keeps order, moves to front, appends only new sentinels', () => {
    const a = { host: 'a', port: 1 };
    const b = { host: 'b', port: 2 };
    const c = { host: 'c', port: 3 };
    const list = new SentinelList([a, b, c, { ...a }]);
    expect(list.snapshot()).toEqual([a, b, c]);
    list.moveToFront(c);
    expect(list.snapshot()).toEqual([c, a, b]);
    list.moveToFront(c);
    expect(list.snapshot()).toEqual([c, a, b]);
    expect(list.add({ host: 'b', port: 2 })).toBe(false);
    expect(list.add({ host: 'd', port: 4 })).toBe(true);
    expect(list.snapshot().map(addressKey)).toEqual(['c:3', 'a:1', 'b:2', 'd:4']);
    list.moveToFront({ host: 'zz', port: 9 }); // unknown: no change
    expect(list.size).toBe(4);
  });
});

describe('natMap', () => {
  it('object form rewrites known host:port, leaves others', () => {
    const map = createAddressMapper({ '172.17.0.2:6379': { host: '127.0.0.1', port: 16379 } });
    expect(map({ host: '172.17.0.2', port: 6379 })).toEqual({ host: '127.0.0.1', port: 16379 });
    expect(map({ host: '172.17.0.3', port: 6379 })).toEqual({ host: '172.17.0.3', port: 6379 });
  });
  it('function form is applied to every address', () => {
    const map = createAddressMapper((a) => ({ host: 'nat', port: a.port + 1 }));
    expect(map({ host: 'x', port: 1 })).toEqual({ host: 'nat', port: 2 });
  });
  it('toAddress rejects bad ports and hosts', () => {
    expect(toAddress('h', '6379')).toEqual({ host: 'h', port: 6379 });
    expect(toAddress('h', 'x')).toBeUndefined();
    expect(toAddress('', 1)).toBeUndefined();
    expect(toAddress('h', 70000)).toBeUndefined();
  });
});

describe('SENTINEL replicas / sentinels replies', () => {
  const entry = (ip: string, port: string, flags: string) => [
    'name',
    `${ip}:${port}`,
    'ip',
    ip,
    'port',
    port,
    'flags',
    flags,
  ];
  it('parses flat arrays, maps addresses, and filters s_down/o_down/disconnected', () => {
    const map = createAddressMapper({ '10.0.0.1:6380': { host: 'public', port: 1 } });
    const list = parseNodeList(
      [
        entry('10.0.0.1', '6380', 'slave'),
        entry('10.0.0.2', '6381', 'slave,s_down'),
        entry('10.0.0.3', '6382', 'slave,o_down'),
        entry('10.0.0.4', '6383', 'slave,disconnected'),
        ['garbage'],
        'not an array',
      ],
      map,
    );
    expect(list.map((r) => addressKey(r.address))).toEqual([
      'public:1',
      '10.0.0.2:6381',
      '10.0.0.3:6382',
      '10.0.0.4:6383',
    ]);
    expect(list.filter(isUsable).map((r) => addressKey(r.address))).toEqual(['public:1']);
    expect(parseNodeList(null, map)).toEqual([]);
  });
});

describe('sentinel Pub/Sub messages', () => {
  it('+switch-master for our service, NAT-mapped', () => {
    const map = createAddressMapper({ '10.0.0.2:6379': { host: 'pub', port: 2 } });
    expect(
      parseSentinelMessage('+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6379', 'mymaster', map, S),
    ).toEqual({
      type: 'switch',
      from: { host: '10.0.0.1', port: 6379 },
      to: { host: 'pub', port: 2 },
      sentinel: S,
    });
  });
  it('ignores other services and malformed messages', () => {
    expect(
      parseSentinelMessage('+switch-master', 'other 1.1.1.1 1 2.2.2.2 2', 'mymaster', identity, S),
    ).toBeUndefined();
    expect(
      parseSentinelMessage('+switch-master', 'mymaster 1.1.1.1', 'mymaster', identity, S),
    ).toBeUndefined();
    expect(
      parseSentinelMessage('+selected-slave', 'slave 1:2 1 2 @ other 3.3.3.3 3', 'mymaster', identity, S),
    ).toBeUndefined();
  });
  it('failover start (+selected-slave, +failover-state-send-slaveof-noone, +promoted-slave) names the replica promoted, NAT-mapped; aborts', () => {
    const map = createAddressMapper({ '1.1.1.1:2': { host: 'pub', port: 22 } });
    for (const channel of ['+selected-slave', '+failover-state-send-slaveof-noone', '+promoted-slave']) {
      expect(
        parseSentinelMessage(channel, 'slave 1.1.1.1:2 1.1.1.1 2 @ mymaster 3.3.3.3 3', 'mymaster', map, S),
      ).toEqual({ type: 'failover-start', sentinel: S, promoted: { host: 'pub', port: 22 } });
    }
    expect(
      parseSentinelMessage(
        '-failover-abort-no-good-slave',
        'master mymaster 3.3.3.3 3',
        'mymaster',
        identity,
        S,
      ),
    ).toEqual({ type: 'failover-abort', sentinel: S, reason: '-failover-abort-no-good-slave' });
  });
  it('+sdown / -sdown of our master; those of replicas, sentinels and other services are ignored', () => {
    expect(parseSentinelMessage('+sdown', 'master mymaster 3.3.3.3 3', 'mymaster', identity, S)).toEqual({
      type: 'master-down',
      address: { host: '3.3.3.3', port: 3 },
      sentinel: S,
    });
    expect(parseSentinelMessage('-sdown', 'master mymaster 3.3.3.3 3', 'mymaster', identity, S)).toEqual({
      type: 'master-up',
      address: { host: '3.3.3.3', port: 3 },
      sentinel: S,
    });
    expect(
      parseSentinelMessage(
        '+sdown',
        'slave 1.1.1.1:2 1.1.1.1 2 @ mymaster 3.3.3.3 3',
        'mymaster',
        identity,
        S,
      ),
    ).toBeUndefined();
    expect(
      parseSentinelMessage(
        '+sdown',
        'sentinel abc 1.1.1.1 26379 @ mymaster 3.3.3.3 3',
        'mymaster',
        identity,
        S,
      ),
    ).toBeUndefined();
    expect(parseSentinelMessage('+sdown', 'master other 3.3.3.3 3', 'mymaster', identity, S)).toBeUndefined();
  });
});

describe('SentinelContext: masters reported down, the replica being promoted', () => {
  const M = { host: 'm', port: 1 };
  const A = { host: 'a', port: 2 };
  const S1 = { host: 's', port: 1 };
  const S2 = { host: 's', port: 2 };
  const S3 = { host: 's', port: 3 };

  /** A context (no socket is opened before first use) and a way to hand it sentinel news. */
  function context() {
    const forwarded: SentinelNews['type'][] = [];
    const ctx = new SentinelContext({ sentinels: [S], service: 'mymaster' }, (n) => forwarded.push(n.type));
    const news = (n: SentinelNews) => (ctx.watcher as unknown as { onNews(n: SentinelNews): void }).onNews(n);
    return { ctx, news, forwarded };
  }

  it('down while any sentinel reports +sdown; cleared by that sentinel’s -sdown or resync, by a switch for all', async () => {
    const { ctx, news, forwarded } = context();
    try {
      expect(ctx.isReportedDown(M)).toBe(false);
      news({ type: 'master-down', address: M, sentinel: S1 });
      news({ type: 'master-down', address: M, sentinel: S2 });
      news({ type: 'master-up', address: M, sentinel: S1 });
      expect(ctx.isReportedDown(M)).toBe(true); // S2 still says so
      expect(ctx.isReportedDown(A)).toBe(false);
      news({ type: 'resync', sentinel: S2 }); // its -sdown may have been lost
      expect(ctx.isReportedDown(M)).toBe(false);
      news({ type: 'master-down', address: M, sentinel: S1 });
      news({ type: 'master-down', address: M, sentinel: S2 });
      // The first +switch-master away from M: M is demoted, no longer a master reported down.
      news({ type: 'switch', from: M, to: A, sentinel: S3 });
      expect(ctx.isReportedDown(M)).toBe(false);
      expect(ctx.isDemoted(M)).toBe(true);
      // Down reports are the context's own business: the strategies hear the rest.
      expect(forwarded).toEqual(['resync', 'switch']);
    } finally {
      await ctx.close();
    }
  });

  it('the fence names the replica being promoted until the switch or an abort', async () => {
    const { ctx, news } = context();
    try {
      news({ type: 'failover-start', sentinel: S1, promoted: A });
      expect(ctx.fence.up).toBe(true);
      expect(ctx.fence.promoting).toEqual(A);
      news({ type: 'failover-start', sentinel: S1 }); // a start message that named no replica keeps it
      expect(ctx.fence.promoting).toEqual(A);
      news({ type: 'switch', from: M, to: A, sentinel: S1 });
      expect(ctx.fence.promoting).toBeUndefined();
      news({ type: 'failover-start', sentinel: S1, promoted: M });
      news({ type: 'failover-abort', sentinel: S1, reason: '-failover-abort-no-good-slave' });
      expect(ctx.fence.up).toBe(false);
      expect(ctx.fence.promoting).toBeUndefined();
    } finally {
      await ctx.close();
    }
  });

  it('the write path: a write resolved while a promotion was announced is held, then resolved again; a read is not', async () => {
    const { ctx, news } = context();
    try {
      const answers = [M, A];
      let asked = 0;
      const resolve = () => {
        const answer = answers[asked++];
        // The failover leader announces the promotion while the first answer is on its way.
        if (asked === 1) news({ type: 'failover-start', sentinel: S1, promoted: A });
        return Promise.resolve(answer);
      };
      const write = ctx.masterFor('write', resolve);
      await new Promise((r) => setImmediate(r));
      expect(asked).toBe(1); // held: not resolved again while the fence is up
      news({ type: 'switch', from: M, to: A, sentinel: S1 });
      expect(await write).toEqual(A); // the answer obtained after the fence came down
      expect(asked).toBe(2);

      news({ type: 'failover-start', sentinel: S1, promoted: M });
      asked = 0;
      expect(await ctx.masterFor('read', resolve)).toEqual(M); // reads are not held
      expect(asked).toBe(1);
    } finally {
      await ctx.close();
    }
  });

  it('the write path: a write held past commandTimeoutMs fails with MasterNotFoundError, unresolved', async () => {
    const ctx = new SentinelContext({ sentinels: [S], service: 'mymaster', commandTimeoutMs: 50 }, () => {});
    try {
      ctx.fence.raise();
      let asked = 0;
      await expect(ctx.masterFor('write', () => ++asked)).rejects.toBeInstanceOf(MasterNotFoundError);
      expect(asked).toBe(0);
    } finally {
      await ctx.close();
    }
  });

  it('the replica being promoted is usable while flagged disconnected (its links were just killed), not when down', () => {
    const info = (flags: string[]) => ({ address: A, flags, fields: {} });
    expect(isUsable(info(['slave', 'disconnected']))).toBe(false);
    expect(isUsableWhilePromoted(info(['slave', 'disconnected']))).toBe(true);
    expect(isUsableWhilePromoted(info(['slave', 's_down']))).toBe(false);
    expect(isUsableWhilePromoted(info(['slave', 'o_down']))).toBe(false);
  });
});

describe('FreshQuery: shared sentinel queries, never older than the operation', () => {
  /** A query function whose calls we resolve by hand, recording when each was sent. */
  function manual() {
    const sent: Array<{ at: number; resolve: (v: number) => void; reject: (e: Error) => void }> = [];
    let clock = 0;
    const run = () =>
      new Promise<number>((resolve, reject) => {
        sent.push({ at: clock, resolve, reject });
      });
    return { sent, run, tick: () => ++clock, now: () => clock };
  }
  const flush = () => new Promise((r) => setImmediate(r));

  it('operations in the same loop turn share one query, sent after all of them started', async () => {
    const m = manual();
    const q = new FreshQuery(m.run);
    const started = m.tick();
    const a = q.get();
    const b = q.get();
    expect(m.sent).toHaveLength(0); // not sent synchronously: later arrivals in this tick join
    await flush();
    expect(m.sent).toHaveLength(1);
    expect(m.sent[0]?.at).toBeGreaterThanOrEqual(started);
    m.sent[0]?.resolve(7);
    expect(await Promise.all([a, b])).toEqual([7, 7]);
  });

  it('an operation arriving while a query is in flight never gets that query’s answer', async () => {
    const m = manual();
    const q = new FreshQuery(m.run, 1);
    const first = q.get();
    await flush();
    expect(m.sent).toHaveLength(1);
    m.tick();
    const startedLate = m.now();
    const late = q.get(); // query 0 is in flight: must wait for a new one
    const late2 = q.get();
    m.sent[0]?.resolve(1);
    expect(await first).toBe(1);
    await flush();
    expect(m.sent).toHaveLength(2); // sent once the cap allowed it
    expect(m.sent[1]?.at).toBeGreaterThanOrEqual(startedLate);
    m.sent[1]?.resolve(2);
    expect(await late).toBe(2);
    expect(await late2).toBe(2);
  });

  it('caps queries in flight and propagates failures to the batch only', async () => {
    const m = manual();
    const q = new FreshQuery(m.run, 2);
    const batches: Promise<number>[] = [];
    for (let i = 0; i < 4; i++) {
      batches.push(q.get());
      await flush();
    }
    expect(m.sent).toHaveLength(2);
    expect(q.outstanding).toBe(2);
    m.sent[0]?.reject(new Error('sentinel down'));
    await expect(batches[0]).rejects.toThrow('sentinel down');
    await flush();
    expect(m.sent).toHaveLength(3); // the batch waiting at the cap went out
    m.sent[1]?.resolve(11);
    m.sent[2]?.resolve(12);
    expect(await batches[1]).toBe(11);
    // batches 2 and 3 were formed while at the cap: they are the same batch
    expect(await batches[2]).toBe(12);
    expect(await batches[3]).toBe(12);
  });
});

describe('FailoverFence', () => {
  it('holds until lowered; wait() reports whether it came down in time', async () => {
    const fence = new FailoverFence(10_000);
    expect(await fence.wait(5)).toBe(true);
    fence.raise();
    expect(fence.up).toBe(true);
    expect(await fence.wait(20)).toBe(false);
    const waiting = fence.wait(5_000);
    fence.lower();
    expect(await waiting).toBe(true);
    expect(fence.up).toBe(false);
  });
  it('comes down on its own after maxMs', async () => {
    const fence = new FailoverFence(30);
    fence.raise();
    expect(await fence.wait(2_000)).toBe(true);
  });
});

describe('RouterEvents and NodeStats', () => {
  it('error events need no listener; a throwing listener does not break emit', () => {
    const ev = new RouterEvents();
    expect(() => ev.emit('error', { error: new Error('x') })).not.toThrow();
    const seen: string[] = [];
    ev.on('failover', () => {
      throw new Error('listener bug');
    });
    const fn = (p: { to: { host: string } }) => seen.push(p.to.host);
    ev.on('failover', fn);
    ev.emit('failover', { service: 's', to: { host: 'n', port: 1 } });
    ev.off('failover', fn);
    ev.emit('failover', { service: 's', to: { host: 'm', port: 1 } });
    expect(seen).toEqual(['n']);
  });
  it('counts ops and errors per node, snapshot is a copy', () => {
    const st = new NodeStats();
    st.op('a:1', 'master');
    st.op('a:1');
    st.error('a:1');
    st.setRole('b:2', 'replica');
    const snap = st.snapshot();
    expect(snap).toEqual({
      'a:1': { ops: 2, errors: 1, role: 'master' },
      'b:2': { ops: 0, errors: 0, role: 'replica' },
    });
    (snap['a:1'] as { ops: number }).ops = 99;
    expect(st.snapshot()['a:1']?.ops).toBe(2);
  });
});
