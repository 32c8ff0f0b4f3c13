import { describe, expect, it } from 'vitest';
import {
  mastersBySlot,
  parseNodeKey,
  SLOT_COUNT,
  slotMoves,
  slotOf,
} from '../../src/routers/cluster/slot-map.js';
import { isFailing, ownsSlot, parseClusterNodes } from '../../src/topology/cluster-nodes.js';

describe('cluster slot map', () => {
  it('hashes keys like Redis, hash tags included', () => {
    // Values from the Redis Cluster spec / CLUSTER KEYSLOT.
    expect(slotOf('foo')).toBe(12182);
    expect(slotOf('{user1000}.following')).toBe(slotOf('{user1000}.followers'));
    expect(slotOf('foo{}{bar}')).toBe(slotOf('foo{}{bar}'));
    expect(slotOf('{}foo')).not.toBe(slotOf('foo'));
  });

  it('parses host:port keys, IPv6 included', () => {
    expect(parseNodeKey('127.0.0.1:7000')).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(parseNodeKey('::1:7001')).toEqual({ host: '::1', port: 7001 });
  });

  it('reports the contiguous ranges whose master changed', () => {
    const before = mastersBySlot(
      Array.from({ length: SLOT_COUNT }, (_, s) => [s < 5461 ? 'a:1' : s < 10923 ? 'b:1' : 'c:1']),
    );
    const after = before.map((k) => (k === 'b:1' ? 'd:1' : k));
    expect(slotMoves(before, after)).toEqual([{ from: 'b:1', to: 'd:1', firstSlot: 5461, lastSlot: 10922 }]);
    expect(slotMoves(before, before)).toEqual([]);
    // Unassigned slots in the new map are not moves.
    expect(slotMoves(before, new Array(SLOT_COUNT).fill(undefined))).toEqual([]);
  });
});

describe('CLUSTER NODES parsing (topology)', () => {
  const text = [
    '07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected',
    'e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 [5461->-abc]',
    '6ec2 127.0.0.1:30002@40002 master,fail? - 1426238316232 1426238313229 2 disconnected 5461-10922 10923',
  ].join('\n');

  it('reads ids, addresses, flags, masters, epochs, links and slot ranges', () => {
    const [replica, me, failing] = parseClusterNodes(text);
    expect(replica).toMatchObject({
      id: '07c3',
      address: { host: '127.0.0.1', port: 30004 },
      masterId: 'e7d1',
    });
    expect(me).toMatchObject({ flags: ['myself', 'master'], configEpoch: 1, slots: [[0, 5460]] });
    expect(failing).toMatchObject({
      linkState: 'disconnected',
      slots: [
        [5461, 10922],
        [10923, 10923],
      ],
    });
    expect(ownsSlot(me!, 5460)).toBe(true);
    expect(ownsSlot(me!, 5461)).toBe(false);
    expect(isFailing(failing!)).toBe(true);
    expect(isFailing(me!)).toBe(false);
  });
});
