import { describe, expect, it } from 'vitest';
import { compressors } from '../../src/compressors/index.js';
import { HEADER_BYTES } from '../../src/core/codec.js';
import { ENVELOPE_FLAG, type EntryMeta, readEnvelope, writeEnvelope } from '../../src/core/envelope.js';
import { ConfigError, DecodeError, SerializationError } from '../../src/core/errors.js';
import { entryState } from '../../src/core/tags.js';
import { Codec } from '../../src/create-cache.js';
import { createCache, type Router, serializers } from '../../src/index.js';
import { thrown } from '../fixtures/thrown.js';

const json = () => new Codec({ serializer: serializers.json() });
const meta: EntryMeta = {
  staleAt: 1_800_000_000_123,
  tags: [
    { tag: 'user:42', version: 0 },
    { tag: 'größe', version: 2 ** 40 + 7 },
  ],
};

describe('entry envelope (codec flag 0x1)', () => {
  it('an entry without grace or tags keeps the plain bytes exactly', () => {
    const c = json();
    expect([...(c.encode({ a: 1 }) as Buffer)]).toEqual([0x00, 0x10, 1, 0, ...Buffer.from('{"a":1}')]);
    expect(c.encode(42)).toBe('42');
    expect(c.decodeEntry(c.encode({ a: 1 }) as Buffer, 'k')).toEqual({ value: { a: 1 }, meta: undefined });
  });

  it('lays out logical expiry, tag count, tags with versions, then the payload', () => {
    const bytes = json().encode('x', { staleAt: 258, tags: [{ tag: 'ab', version: 5 }] }) as Buffer;
    expect([...bytes]).toEqual([
      0x00,
      0x10 | ENVELOPE_FLAG,
      1,
      0,
      ...[0, 0, 0, 0, 0, 0, 1, 2], // staleAt 258, u64 BE
      ...[0, 1], // one tag
      ...[0, 2, 0x61, 0x62], // 'ab'
      ...[0, 0, 0, 0, 0, 5], // version 5, u48 BE
      ...Buffer.from('"x"'),
    ]);
  });

  it('round-trips values, expiry and tags through every compressor', () => {
    for (const compressor of [compressors.none(), compressors.zlib({ minLength: 0 }), compressors.lz4()]) {
      const c = new Codec({ serializer: serializers.msgpack(), compressor });
      const value = { text: 'z'.repeat(500), n: 7 };
      expect(c.decodeEntry(c.encode(value, meta) as Buffer, 'k')).toEqual({ value, meta });
      expect(c.decode(c.encode(value, meta) as Buffer, 'k')).toEqual(value);
    }
  });

  it('an integer with an envelope goes through the serializer (and keeps its type)', () => {
    const c = json();
    const encoded = c.encode(42, meta);
    expect(Buffer.isBuffer(encoded)).toBe(true);
    expect(c.decodeEntry(encoded as Buffer, 'k')).toEqual({ value: 42, meta });
  });

  it('staleAt 0 (never stale) and no tags round-trip', () => {
    const bytes = writeEnvelope({ staleAt: 0, tags: [] });
    expect(readEnvelope(bytes, 0)).toEqual({ meta: { staleAt: 0, tags: [] }, end: 10 });
  });

  it('a truncated envelope is a DecodeError naming the key', () => {
    const full = json().encode('x', meta) as Buffer;
    for (const cut of [HEADER_BYTES + 3, HEADER_BYTES + 12, HEADER_BYTES + 20]) {
      const error = thrown(() => json().decode(full.subarray(0, cut), 'user:1'));
      expect(error).toBeInstanceOf(DecodeError);
      expect((error as DecodeError).key).toBe('user:1');
    }
  });

  it('a tag over 65535 UTF-8 bytes is refused before anything is sent', () => {
    const error = thrown(() =>
      json().encode('x', { staleAt: 0, tags: [{ tag: 'a'.repeat(70_000), version: 0 }] }),
    );
    expect(error).toBeInstanceOf(SerializationError);
  });
});

describe("a cache with compat: 'django-redis' (another library's bytes: no room for an envelope)", () => {
  let executed = 0;
  const router = {
    kind: 'counting',
    execute: async () => {
      executed++;
      return null;
    },
    close: async () => {},
    on: () => {},
    off: () => {},
    stats: () => ({ kind: 'counting', nodes: {}, failovers: 0 }),
  } as unknown as Router;

  it('refuses grace and tags with ConfigError before sending anything; plain calls still work', async () => {
    const cache = createCache({ router, compat: 'django-redis', serializer: serializers.json() });
    executed = 0;
    await expect(cache.set('k', 1, { tags: ['t'] })).rejects.toThrow(ConfigError);
    await expect(cache.set('k', 1, { grace: '1m' })).rejects.toThrow(/'grace' and 'tags'.*compat/);
    await expect(cache.getOrSet('k', () => 1, { grace: '1m' })).rejects.toThrow(ConfigError);
    await expect(cache.getOrSet('k', () => 1, { tags: ['t'] })).rejects.toThrow(ConfigError);
    expect(executed).toBe(0);
    expect(await cache.get('k')).toBeUndefined();
    expect(executed).toBe(1);
  });
});

describe('entryState (what a read entry is worth to getOrSet)', () => {
  const now = 1_000_000;
  const stamps = new Map([['t', 3]]);
  it('fresh before its logical expiry, with current tags; no envelope is always fresh', () => {
    expect(entryState({ staleAt: now + 1, tags: [{ tag: 't', version: 3 }] }, stamps, now, 0)).toBe('fresh');
    expect(entryState({ staleAt: 0, tags: [] }, stamps, now, 0)).toBe('fresh');
    expect(entryState(undefined, stamps, now, 0)).toBe('fresh');
  });
  it('stale past its expiry only within the caller’s grace', () => {
    const meta = { staleAt: now - 10, tags: [] };
    expect(entryState(meta, stamps, now, 60_000)).toBe('stale');
    expect(entryState(meta, stamps, now, 5)).toBe('gone');
    expect(entryState(meta, stamps, now, 0)).toBe('gone');
  });
  it('gone once a tag was invalidated (stamp changed; a missing stamp counts as 0), stale or not', () => {
    expect(entryState({ staleAt: 0, tags: [{ tag: 't', version: 2 }] }, stamps, now, 0)).toBe('gone');
    expect(entryState({ staleAt: now - 1, tags: [{ tag: 't', version: 2 }] }, stamps, now, 60_000)).toBe(
      'gone',
    );
    expect(entryState({ staleAt: 0, tags: [{ tag: 'new', version: 0 }] }, stamps, now, 0)).toBe('fresh');
    expect(entryState({ staleAt: 0, tags: [{ tag: 'new', version: 1 }] }, stamps, now, 0)).toBe('gone');
  });
});
