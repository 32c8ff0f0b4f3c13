import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import { compressors } from '../../src/compressors/index.js';
import { ConfigError, DecodeError, ValueTooLargeError } from '../../src/core/errors.js';
import type { Compressor } from '../../src/core/formats.js';
import { thrown } from '../fixtures/thrown.js';
import { compressorNames as names, zstdStreamingFrame } from '../fixtures/zstd.js';

const MiB = 1024 * 1024;
const real = names.filter((name) => name !== 'none');
const byName = (name: string): Compressor => compressors.byName(name)!;

const text = Buffer.from(
  JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `user-${i}`, roles: ['a', 'b'] }))),
);

describe.each(names)('%s compressor', (name) => {
  const compressor = byName(name);

  it.each([
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from([7])],
    ['text', text],
    ['random bytes', randomBytes(10_000)],
    ['zeros', Buffer.alloc(200_000)],
  ])('round-trips %s', (_label, input) => {
    const out = compressor.decompress(compressor.compress(input), 1 * MiB);
    expect(out.equals(input)).toBe(true);
  });

  it('refuses output larger than maxBytes with ValueTooLargeError', () => {
    const packed = compressor.compress(text);
    const error = thrown(() => compressor.decompress(packed, text.length - 1));
    expect(error).toBeInstanceOf(ValueTooLargeError);
    expect((error as ValueTooLargeError).limit).toBe(text.length - 1);
    expect(compressor.decompress(packed, text.length).equals(text)).toBe(true);
  });
});

describe.each(real)('%s compressor on bad input', (name) => {
  const compressor = byName(name);
  const packed = compressor.compress(text);

  it('compresses text and has a sensible default minLength', () => {
    expect(packed.length).toBeLessThan(text.length / 2);
    expect(compressor.minLength).toBe(256);
  });

  it('throws DecodeError or ValueTooLargeError (never something else) for garbage and truncation', () => {
    for (const bad of [
      Buffer.alloc(0),
      Buffer.from('definitely not compressed data'),
      packed.subarray(0, packed.length - 1),
      packed.subarray(0, Math.floor(packed.length / 2)),
      packed.subarray(0, 3),
    ]) {
      const error = thrown(() => compressor.decompress(bad, 1 * MiB));
      // Garbage may also claim a huge size (lz4's prefix): refused as too large, still never decoded.
      expect(
        error instanceof DecodeError || error instanceof ValueTooLargeError,
        `${name} on ${bad.length} bytes`,
      ).toBe(true);
    }
  });

  it('stops a 100 MB decompression bomb at maxBytes (1 MiB) without allocating it', () => {
    const bomb = compressor.compress(Buffer.alloc(100_000_000));
    expect(bomb.length).toBeLessThan(1 * MiB);
    const before = process.memoryUsage();
    const error = thrown(() => compressor.decompress(bomb, 1 * MiB));
    const after = process.memoryUsage();
    expect(error).toBeInstanceOf(ValueTooLargeError);
    // Generous sanity bound: the bomb is 100 MB, the limit 1 MiB.
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(32 * MiB);
    expect(after.rss - before.rss).toBeLessThan(64 * MiB);
  });

  it('validates its options with ConfigError', () => {
    const factory = compressors[name] as (options: object) => Compressor;
    expect(() => factory({ minLength: -1 })).toThrow(ConfigError);
    expect(() => factory({ minLength: 1.5 })).toThrow(ConfigError);
    expect(factory({ minLength: 0 }).minLength).toBe(0);
    if (name !== 'lz4') {
      expect(() => factory({ level: 99 })).toThrow(ConfigError);
      expect(() => factory({ level: 'high' })).toThrow(ConfigError);
    }
  });
});

describe('lz4 block size prefix', () => {
  const lz4 = compressors.lz4();
  const packed = lz4.compress(text);

  it('is read before decompressing: a declared size above maxBytes is refused up front', () => {
    const forged = Buffer.from(packed);
    forged.writeUInt32LE(0xffff_ffff, 0);
    const error = thrown(() => lz4.decompress(forged, 1 * MiB)) as ValueTooLargeError;
    expect(error).toBeInstanceOf(ValueTooLargeError);
    expect(error.size).toBe(0xffff_ffff);
  });

  it('cannot be undercut: data that expands past the declared size is a DecodeError', () => {
    const forged = Buffer.from(packed);
    forged.writeUInt32LE(10, 0);
    expect(thrown(() => lz4.decompress(forged, 1 * MiB))).toBeInstanceOf(DecodeError);
  });

  it('must match exactly: a declared size larger than the data is a DecodeError', () => {
    const forged = Buffer.from(packed);
    forged.writeUInt32LE(text.length + 100, 0);
    expect(thrown(() => lz4.decompress(forged, 1 * MiB))).toBeInstanceOf(DecodeError);
  });
});

describe.each(compressors.zstdImplementations())(
  'zstd (%s) frames without a content size',
  (implementation) => {
    const zstd = compressors.zstd({ implementation });

    // Level 3 streams use a 2 MiB window; maxBytes must allow it (a smaller limit refuses the frame).
    const limit = 4 * MiB;

    it('decode in bounded chunks', async () => {
      const frame = await zstdStreamingFrame(text);
      expect(zstd.decompress(frame, limit).equals(text)).toBe(true);
      const big = randomBytes(3 * MiB);
      expect(zstd.decompress(await zstdStreamingFrame(big), limit).equals(big)).toBe(true);
    });

    it('refuse a frame whose window alone is larger than maxBytes', async () => {
      const frame = await zstdStreamingFrame(text);
      expect(thrown(() => zstd.decompress(frame, 1 * MiB))).toBeInstanceOf(ValueTooLargeError);
    });

    it('stop a 100 MB bomb at maxBytes', async () => {
      const frame = await zstdStreamingFrame(Buffer.alloc(100_000_000));
      const before = process.memoryUsage().arrayBuffers;
      expect(thrown(() => zstd.decompress(frame, limit))).toBeInstanceOf(ValueTooLargeError);
      expect(thrown(() => zstd.decompress(frame, 1 * MiB))).toBeInstanceOf(ValueTooLargeError);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * MiB);
    });

    it('reject trailing bytes and truncation with DecodeError', async () => {
      const frame = await zstdStreamingFrame(text);
      const trailing = Buffer.concat([frame, Buffer.from([1, 2, 3])]);
      expect(thrown(() => zstd.decompress(trailing, limit))).toBeInstanceOf(DecodeError);
      expect(thrown(() => zstd.decompress(frame.subarray(0, frame.length - 4), limit))).toBeInstanceOf(
        DecodeError,
      );
      // The decompression context recovers after an error.
      expect(zstd.decompress(frame, limit).equals(text)).toBe(true);
    });

    it('detects a corrupted payload through the content checksum', () => {
      const packed = zstd.compress(text);
      let detected = 0;
      for (let i = 6; i < packed.length; i += 7) {
        const flipped = Buffer.from(packed);
        flipped[i]! ^= 0x10;
        try {
          const out = zstd.decompress(flipped, 1 * MiB);
          if (!out.equals(text)) throw new Error(`silently decoded a corrupted frame (byte ${i})`);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
          detected++;
        }
      }
      expect(detected).toBeGreaterThan(0);
    });
  },
);

describe('zstd implementations', () => {
  const available = compressors.zstdImplementations();
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const nodeHasZstd = major > 23 || (major === 23 && minor >= 8) || (major === 22 && minor >= 15);
  const napiInstalled = (() => {
    try {
      createRequire(import.meta.url).resolve('zstd-napi');
      return true;
    } catch {
      return false;
    }
  })();

  it('are node:zlib where this Node has it (>= 22.15 / 23.8) and zstd-napi where it is installed', () => {
    expect(available).toEqual([
      ...(nodeHasZstd ? ['node:zlib'] : []),
      ...(napiInstalled ? ['zstd-napi'] : []),
    ]);
  });

  it.runIf(available.length > 0)("'auto' takes the first one", () => {
    expect(compressors.zstd().implementation).toBe(available[0]);
  });

  it.runIf(available.length === 0)(
    'with none, zstd() says to install zstd-napi; other compressors work',
    () => {
      const error = thrown(() => compressors.zstd());
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/npm install zstd-napi/);
      expect(thrown(() => compressors.byId(5)!.decompress(Buffer.from([1]), 10))).toBeInstanceOf(ConfigError);
      expect(compressors.lz4().compress(text).length).toBeLessThan(text.length);
    },
  );

  // Decode-compatibility is the contract (not identical bytes): each reads the other's frames.
  // Both exist on Node >= 22.15 with zstd-napi installed (CI's Node 22 and 24 runs).
  it.runIf(available.length === 2)('decode each other’s frames', async () => {
    const node = compressors.zstd({ implementation: 'node:zlib' });
    const napi = compressors.zstd({ implementation: 'zstd-napi' });
    for (const input of [text, randomBytes(5_000), Buffer.alloc(300_000), Buffer.from('x'.repeat(300))]) {
      expect(napi.decompress(node.compress(input), 1 * MiB).equals(input)).toBe(true);
      expect(node.decompress(napi.compress(input), 1 * MiB).equals(input)).toBe(true);
    }
    const streamed = await zstdStreamingFrame(text);
    expect(node.decompress(streamed, 4 * MiB).equals(text)).toBe(true);
    expect(napi.decompress(streamed, 4 * MiB).equals(text)).toBe(true);
  });

  it('refuses an unknown implementation name', () => {
    expect(thrown(() => compressors.zstd({ implementation: 'pyzstd' as never }))).toBeInstanceOf(ConfigError);
  });

  it.runIf(!available.includes('node:zlib'))(
    'names the Node version needed when node:zlib is asked for but absent',
    () => {
      const error = thrown(() => compressors.zstd({ implementation: 'node:zlib' }));
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/22\.15/);
    },
  );

  it('without either: ConfigError naming both, and importing the package still works', async () => {
    vi.resetModules();
    vi.doMock('../../src/compressors/zstd-napi.js', async (original) => ({
      ...(await original<object>()),
      loadZstdNapi: () => undefined,
    }));
    vi.doMock('../../src/compressors/zstd-node.js', async (original) => ({
      ...(await original<object>()),
      loadNodeZstd: () => undefined,
    }));
    try {
      const fresh = await import('../../src/index.js');
      expect(fresh.compressors.zstdImplementations()).toEqual([]);
      const error = thrown(() => fresh.compressors.zstd());
      expect(error).toBeInstanceOf(fresh.ConfigError);
      expect((error as Error).message).toMatch(/node:zlib/);
      expect((error as Error).message).toMatch(/npm install zstd-napi/);
      // The registry's built-in entry only fails when zstd data is actually met.
      expect(thrown(() => fresh.compressors.byId(5)!.decompress(Buffer.from([1]), 10))).toBeInstanceOf(
        fresh.ConfigError,
      );
      expect(fresh.compressors.lz4().compress(text).length).toBeLessThan(text.length);
    } finally {
      vi.doUnmock('../../src/compressors/zstd-napi.js');
      vi.doUnmock('../../src/compressors/zstd-node.js');
      vi.resetModules();
    }
  });
});

describe('compressor registry', () => {
  it('knows the built-ins by id and name', () => {
    expect([0, 1, 2, 3, 4, 5].map((id) => compressors.byId(id)?.name)).toEqual([
      'none',
      'lz4',
      'zlib',
      'gzip',
      'brotli',
      'zstd',
    ]);
    expect(compressors.byName('zstd')?.id).toBe(5);
  });

  const custom = (id: number, name: string): Compressor => ({
    id,
    name,
    minLength: 0,
    compress: (bytes) => Buffer.from(bytes).reverse(),
    decompress: (bytes) => Buffer.from(bytes).reverse(),
  });

  it('registers a user compressor with an id from 128 to 255', () => {
    const mine = custom(210, 'test-reverse');
    compressors.register(mine);
    expect(compressors.byId(210)).toBe(mine);
    expect(compressors.byName('test-reverse')).toBe(mine);
  });

  it('refuses clashing ids and names, reserved ids and malformed compressors with ConfigError', () => {
    compressors.register(custom(211, 'test-c1'));
    expect(() => compressors.register(custom(211, 'test-c2'))).toThrow(ConfigError);
    expect(() => compressors.register(custom(212, 'test-c1'))).toThrow(ConfigError);
    expect(() => compressors.register(custom(0, 'test-zero'))).toThrow(/reserved/);
    expect(() => compressors.register(custom(300, 'test-big'))).toThrow(ConfigError);
    expect(() => compressors.register({ ...custom(213, 'test-m'), minLength: -1 })).toThrow(ConfigError);
    expect(() => compressors.register({ id: 214, name: 'x' } as unknown as Compressor)).toThrow(ConfigError);
  });
});
