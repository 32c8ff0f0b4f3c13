/**
 * Security-relevant behaviour that needs no Redis: decoding foreign bytes never pollutes
 * prototypes nor yields msgpackr's 0xC1 marker; decoded data stays out of error messages;
 * credentials are redacted from ioredis errors; TLS failures are named; a high-volume fuzz of
 * Codec.decode (the integration file fuzzes through a real Redis with fewer runs).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compressors } from '../../src/compressors/index.js';
import { ConnectionInterruptedError, DecodeError } from '../../src/core/errors.js';
import { Codec } from '../../src/create-cache.js';
import {
  isTlsError,
  redactCredentials,
  trackSocketErrors,
  translateError,
} from '../../src/routers/errors.js';
import { serializers } from '../../src/serializers/index.js';
import { leakedSecrets } from '../fixtures/reliability.js';

const msgpackBytes = (...parts: Array<number[] | string>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

describe('decoding foreign bytes', () => {
  const codec = new Codec({ serializer: serializers.msgpack(), maxValueBytes: 1 << 16 });
  const header = (serializerId: number) => Buffer.from([0x00, 0x10, serializerId, 0x00]);

  it('a "__proto__" key never pollutes Object.prototype nor sets the prototype (json, msgpack)', () => {
    const json = codec.decode(
      Buffer.concat([
        header(1),
        Buffer.from('{"__proto__":{"polluted":true},"constructor":{"prototype":{"p2":1}}}'),
      ]),
      'k',
    ) as Record<string, unknown>;
    // {"__proto__": {"polluted": true}} in MessagePack.
    const packed = codec.decode(
      Buffer.concat([header(2), msgpackBytes([0x81, 0xa9], '__proto__', [0x81, 0xa8], 'polluted', [0xc3])]),
      'k',
    ) as Record<string, unknown>;
    for (const value of [json, packed]) {
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect((value as { polluted?: unknown }).polluted).toBeUndefined();
    }
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { p2?: unknown }).p2).toBeUndefined();
  });

  it('why v8 is for trusted writers only: 20 bytes decode to an array of length 2^32 - 1', () => {
    const v8Codec = new Codec({ serializer: serializers.v8(), maxValueBytes: 1 << 16 });
    // 'a' (sparse array) length 0xFFFFFFFF, no elements, '@' end, 0 properties, length again.
    const varint = [0xff, 0xff, 0xff, 0xff, 0x0f];
    const crafted = Buffer.from([0x00, 0x10, 0x03, 0x00, 0xff, 0x0f, 0x61, ...varint, 0x40, 0x00, ...varint]);
    expect(crafted.length).toBeLessThanOrEqual(20);
    const value = v8Codec.decode(crafted, 'k') as unknown[];
    // Not a DecodeError: a valid structured clone. Iterating it would take hours (SECURITY.md).
    expect(value.length).toBe(2 ** 32 - 1);
    // msgpack refuses the same claim (an array32 header with no elements behind it).
    expect(() =>
      codec.decode(Buffer.from([0x00, 0x10, 0x02, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff]), 'k'),
    ).toThrow(DecodeError);
  });

  it("msgpack's never-used byte 0xC1 is a DecodeError at any depth, not a marker object", () => {
    for (const payload of [[0xc1], [0x92, 0x01, 0xc1], [0x81, 0xa1, 0x61, 0x91, 0xc1]]) {
      expect(() => codec.decode(Buffer.concat([header(2), Buffer.from(payload)]), 'k')).toThrow(DecodeError);
    }
    // Bytes 0xC1 inside a binary or a float are ordinary data.
    const withC1 = { bin: Buffer.from([0xc1, 0xc1]), f: -2.5e-309 };
    const encoded = codec.encode(withC1) as Buffer;
    expect(encoded.includes(0xc1)).toBe(true);
    expect(codec.decode(encoded, 'k')).toEqual(withC1);
  });

  it('trailing bytes after a msgpack value: the DecodeError does not quote the stored data', () => {
    const secretValue = { apiToken: 'tok-5f1e2d-secret' };
    const encoded = codec.encode(secretValue) as Buffer;
    let error: unknown;
    try {
      codec.decode(Buffer.concat([encoded, Buffer.from([0x00])]), 'k');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect(leakedSecrets([error], ['tok-5f1e2d-secret'])).toEqual([]);
  });

  it('fuzz: Codec.decode of arbitrary bytes throws only DecodeError (3000 runs, all ids)', () => {
    const codecs = [
      codec,
      new Codec({ serializer: serializers.v8(), compressor: compressors.brotli(), maxValueBytes: 4096 }),
      new Codec({ serializer: serializers.json(), compressor: compressors.lz4(), maxValueBytes: 4096 }),
    ];
    fc.assert(
      fc.property(
        fc.nat({ max: codecs.length - 1 }),
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .tuple(
              fc.integer({ min: 0, max: 6 }),
              fc.integer({ min: 0, max: 7 }),
              fc.uint8Array({ maxLength: 300 }),
            )
            .map(([s, c, p]) => Buffer.concat([Buffer.from([0x00, 0x10, s, c]), p])),
        ),
        (i, bytes) => {
          try {
            (codecs[i] as Codec).decode(Buffer.from(bytes), 'fuzz');
          } catch (error) {
            if (!(error instanceof DecodeError)) throw error;
            expect(error.key).toBe('fuzz');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('credentials and TLS in router errors', () => {
  it('redactCredentials overwrites AUTH / HELLO arguments in place and leaves other commands alone', () => {
    const auth = Object.assign(new Error('WRONGPASS invalid username-password pair'), {
      command: { name: 'auth', args: ['user', 'pw-secret-1'] },
    });
    const hello = Object.assign(new Error('WRONGPASS'), {
      command: { name: 'HELLO', args: ['3', 'AUTH', 'user', 'pw-secret-2'] },
    });
    const get = Object.assign(new Error('WRONGTYPE'), { command: { name: 'get', args: ['key'] } });
    redactCredentials(auth);
    redactCredentials(hello);
    redactCredentials(get);
    expect(leakedSecrets([auth, hello], ['pw-secret-1', 'pw-secret-2'])).toEqual([]);
    expect(get.command.args).toEqual(['key']);
  });

  it('translateError of a WRONGPASS reply keeps the password out of the whole cause chain', () => {
    const reply = Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), {
      command: { name: 'auth', args: ['user', 'pw-secret-3'] },
    });
    const translated = translateError(reply, { host: '127.0.0.1', port: 1 }, 100);
    expect((translated as Error).name).toBe('AuthenticationError');
    expect(leakedSecrets([translated], ['pw-secret-3'])).toEqual([]);
  });

  it('a bare "Connection is closed" after a certificate failure names the TLS problem', () => {
    const listeners: Record<string, (err?: unknown) => void> = {};
    const client = { on: (event: 'error' | 'ready', fn: (err?: unknown) => void) => (listeners[event] = fn) };
    trackSocketErrors(client);
    const tlsError = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    expect(isTlsError(tlsError)).toBe(true);
    listeners.error?.(tlsError);
    const translated = translateError(
      new Error('Connection is closed.'),
      { host: 'h', port: 1 },
      100,
      client,
    );
    expect(translated).toBeInstanceOf(ConnectionInterruptedError);
    expect((translated as Error).message).toMatch(/TLS handshake failed: self-signed certificate/);
    expect((translated as Error).cause).toBe(tlsError);
    // After the connection is ready again, an old TLS error is not blamed for a new failure.
    listeners.ready?.();
    const later = translateError(new Error('Connection is closed.'), { host: 'h', port: 1 }, 100, client);
    expect((later as Error).message).not.toMatch(/TLS/);
  });
});
