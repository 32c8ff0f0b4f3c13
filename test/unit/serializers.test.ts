import { Packr, Unpackr, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { ConfigError, SerializationError } from '../../src/core/errors.js';
import type { Serializer } from '../../src/core/formats.js';
import { serializers } from '../../src/serializers/index.js';

function roundTrip(serializer: Serializer, value: unknown): unknown {
  const bytes = serializer.serialize(value);
  expect(Buffer.isBuffer(bytes)).toBe(true);
  return serializer.deserialize(bytes);
}

function refusal(serializer: Serializer, value: unknown): SerializationError {
  try {
    serializer.serialize(value);
  } catch (error) {
    expect(error).toBeInstanceOf(SerializationError);
    return error as SerializationError;
  }
  throw new Error(`expected ${serializer.name} to refuse the value`);
}

function circular(): object {
  const a: Record<string, unknown> = { name: 'a' };
  a.self = { back: a };
  return a;
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** Values every structured serializer (json, msgpack, v8) must read back exactly. */
const jsonExact: [string, unknown][] = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['float', 3.25],
  ['tiny float', 5e-324],
  ['large float', 1.7976931348623157e308],
  ['unsafe integer', 2 ** 60],
  ['empty string', ''],
  ['unicode', 'héllo wörld — 日本語 🎉'],
  ['lone surrogates are fine in JSON', '\ud800x\udfff'],
  ['empty object', {}],
  ['empty array', []],
  ['nested', { user: { id: 1, tags: ['a', 'b'], prefs: { dark: true, lang: null } }, list: [[1, [2, [3]]]] }],
  ['keys that look like numbers', { '1': 'a', '01': 'b', '-1': 'c' }],
  [
    'shared reference (not a cycle)',
    (() => {
      const shared = { x: 1 };
      return { a: shared, b: shared };
    })(),
  ],
];

describe('json serializer', () => {
  const json = serializers.json();

  it.each(jsonExact)('round-trips %s', (_name, value) => {
    expect(roundTrip(json, value)).toStrictEqual(value);
  });

  it('keeps an own __proto__ key as data without touching the prototype', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const back = roundTrip(json, value) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(back.a).toBe(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('documents: -0 reads back as 0 and a null-prototype object as a plain object', () => {
    expect(Object.is(roundTrip(json, -0), 0)).toBe(true);
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    expect(roundTrip(json, bare)).toStrictEqual({ a: 1 });
  });

  const refused: [string, unknown][] = [
    ['top-level undefined', undefined],
    ['undefined property', { a: 1, b: undefined }],
    ['undefined in an array', [1, undefined]],
    // biome-ignore lint/suspicious/noSparseArray: a hole is the case under test
    ['array hole', [1, , 3]],
    ['function', () => 1],
    ['function property', { f() {} }],
    ['symbol', Symbol('s')],
    ['symbol property value', { s: Symbol('s') }],
    ['symbol key', { [Symbol('s')]: 1 }],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity nested', { a: [Number.NEGATIVE_INFINITY] }],
    ['BigInt', 1n],
    ['Map', new Map([['a', 1]])],
    ['Set', new Set([1])],
    ['Date', new Date(0)],
    ['Buffer', Buffer.from('x')],
    ['Uint8Array', new Uint8Array(1)],
    ['class instance', new Point(1, 2)],
    ['boxed string', new String('x')],
    ['Error', new Error('x')],
    ['RegExp', /x/],
    ['array subclass', new (class List extends Array {})()],
    ['circular object', circular()],
    [
      'circular array',
      (() => {
        const a: unknown[] = [];
        a.push([a]);
        return a;
      })(),
    ],
  ];

  it.each(refused)('refuses %s with SerializationError', (_name, value) => {
    refusal(json, value);
  });

  it('says where the refused value is', () => {
    const error = refusal(json, { users: [{ name: 'a' }, { name: 'b', seen: new Date() }] });
    expect(error.message).toContain('$.users[1].seen');
    expect(error.message).toContain('Date');
  });

  it('refuses a structure too deep to walk instead of crashing', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    refusal(json, deep);
  });

  it('strict: false behaves like plain JSON but still refuses top-level undefined', () => {
    const loose = serializers.json({ strict: false });
    expect(roundTrip(loose, { a: undefined, n: Number.NaN })).toStrictEqual({ n: null });
    refusal(loose, undefined);
    refusal(loose, () => 1);
  });

  it('refuses invalid UTF-8 and invalid JSON on read', () => {
    expect(() => json.deserialize(Buffer.from([0x22, 0xff, 0x22]))).toThrow();
    expect(() => json.deserialize(Buffer.from('{"a":'))).toThrow();
  });
});

describe('msgpack serializer', () => {
  const msgpack = serializers.msgpack();

  const exact: [string, unknown][] = [
    ...jsonExact.filter(([name]) => name !== 'lone surrogates are fine in JSON'),
    ['top-level undefined', undefined],
    ['undefined property', { a: undefined }],
    ['undefined in array', [undefined, 1]],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['small BigInt', 5n],
    ['negative BigInt', -5n],
    ['64-bit BigInt', 2n ** 63n - 1n],
    ['unsigned 64-bit BigInt', 2n ** 64n - 1n],
    ['huge BigInt', 2n ** 300n + 7n],
    ['huge negative BigInt', -(2n ** 300n)],
    ['number stays a number above 2^32', 2 ** 40],
    ['Date', new Date(1_700_000_000_123)],
    ['Date before 1970', new Date(-1_000_000_000_000)],
    ['Buffer', Buffer.from([0, 1, 2, 255])],
    ['empty Buffer', Buffer.alloc(0)],
    ['Uint8Array', new Uint8Array([1, 2, 3])],
    ['Float64Array', new Float64Array([1.5, -0, Number.NaN])],
    ['BigInt64Array', new BigInt64Array([1n, -2n])],
    ['ArrayBuffer', new Uint8Array([9, 8]).buffer],
    ['RegExp', /ab+c/gi],
    ['Map with string keys', new Map([['a', 1]])],
    [
      'Map with any keys',
      new Map<unknown, unknown>([
        [1, 'one'],
        [{ k: 1 }, [2]],
        [null, undefined],
        [1n, true],
      ]),
    ],
    ['Set', new Set([1, 'a', { b: 2 }])],
    ['Map in Set in Map in array', [new Map([['s', new Set([new Map([[1, 2]])])]])]],
    ['Map inside a plain object', { m: new Map([['x', new Date(5)]]), other: [1, 2] }],
    ['object with 70000 keys', Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i]))],
  ];

  it.each(exact)('round-trips %s', (_name, value) => {
    expect(roundTrip(msgpack, value)).toStrictEqual(value);
  });

  it('round-trips an invalid Date as an invalid Date', () => {
    const back = roundTrip(msgpack, new Date(Number.NaN));
    expect(back).toBeInstanceOf(Date);
    expect(Number.isNaN((back as Date).getTime())).toBe(true);
  });

  it('does not mutate the value it encodes (Maps are wrapped in copies)', () => {
    const inner = new Map([['a', 1]]);
    const value = { list: [inner], keep: { x: 1 } };
    msgpack.serialize(value);
    expect(value.list[0]).toBe(inner);
  });

  it('documents: -0 reads back as 0 and an array hole as undefined', () => {
    expect(Object.is(roundTrip(msgpack, -0), 0)).toBe(true);
    // biome-ignore lint/suspicious/noSparseArray: a hole is the case under test
    expect(roundTrip(msgpack, [1, , 3])).toStrictEqual([1, undefined, 3]);
  });

  it('writes plain MessagePack maps that other readers decode (no msgpackr records)', () => {
    const value = { id: 7, name: 'ann', tags: ['x'], nested: { ok: true } };
    const bytes = msgpack.serialize(value);
    expect(bytes[0]! & 0xf0).toBe(0x80); // fixmap
    expect(unpack(bytes)).toStrictEqual(value);
    expect(new Unpackr({ useRecords: false, mapsAsObjects: false }).unpack(bytes)).toBeInstanceOf(Map);
    // A second encoding of the same shape is byte-identical: no shared structure state.
    expect(msgpack.serialize(value).equals(bytes)).toBe(true);
  });

  it('reads what a plain msgpackr writer produced', () => {
    const bytes = new Packr({ useRecords: false }).pack({ a: [1, 2], b: 'x' });
    expect(msgpack.deserialize(bytes)).toStrictEqual({ a: [1, 2], b: 'x' });
  });

  const refused: [string, unknown][] = [
    ['function', () => 1],
    ['nested function', { a: [{ f: () => 1 }] }],
    ['symbol', Symbol('s')],
    ['symbol key', { [Symbol('s')]: 1 }],
    ['lone surrogate', 'a\ud800'],
    ['lone surrogate as Map key', new Map([['\udc00', 1]])],
    ['own __proto__ key', JSON.parse('{"__proto__": 1}')],
    ['class instance', new Point(1, 2)],
    ['class instance in a Set', new Set([new Point(1, 2)])],
    ['Map subclass', new (class Registry extends Map {})()],
    ['Error', new Error('x')],
    ['boxed number', new Number(1)],
    ['WeakMap', new WeakMap()],
    ['Promise', Promise.resolve(1)],
    ['circular object', circular()],
    [
      'circular through a Map',
      (() => {
        const m = new Map<string, unknown>();
        m.set('me', [m]);
        return m;
      })(),
    ],
    [
      'circular through a Set',
      (() => {
        const s = new Set<unknown>();
        s.add({ s });
        return s;
      })(),
    ],
  ];

  it.each(refused)('refuses %s with SerializationError', (_name, value) => {
    refusal(msgpack, value);
  });

  it('names the Map entry that was refused', () => {
    const error = refusal(msgpack, {
      m: new Map<string, unknown>([
        ['ok', 1],
        ['bad', () => 1],
      ]),
    });
    expect(error.message).toContain('$.m["<Map entry 1>"]');
  });
});

describe('v8 serializer', () => {
  const v8 = serializers.v8();

  it.each([
    ...jsonExact,
    ['undefined', undefined],
    ['-0 nested', { z: -0 }],
    ['NaN', Number.NaN],
    ['BigInt', 2n ** 100n],
    ['Date', new Date(12345)],
    ['Map', new Map<unknown, unknown>([[{ k: 1 }, new Set([1])]])],
    ['Buffer', Buffer.from('abc')],
    ['Uint16Array', new Uint16Array([1, 65535])],
    ['RegExp', /x/y],
    // biome-ignore lint/suspicious/noSparseArray: v8 keeps holes
    ['sparse array', [1, , 3]],
    ['boxed string', new String('boxed')],
  ] as [string, unknown][])('round-trips %s', (_name, value) => {
    expect(roundTrip(v8, value)).toStrictEqual(value);
  });

  it('keeps circular and shared references', () => {
    const back = roundTrip(v8, circular()) as { self: { back: unknown } };
    expect(back.self.back).toBe(back);
  });

  it('round-trips Errors and arrays with shared members', () => {
    const shared = { s: 1 };
    const back = roundTrip(v8, [shared, shared, new TypeError('bad')]) as unknown[];
    expect(back[0]).toBe(back[1]);
    expect(back[2]).toBeInstanceOf(TypeError);
  });

  it('refuses class instances, which structured clone would turn into plain objects', () => {
    expect(refusal(v8, { list: [new Point(1, 2)] }).message).toContain('$.list[0]');
    refusal(v8, new Map([['k', new Point(1, 2)]]));
    const loose = serializers.v8({ strict: false });
    expect(roundTrip(loose, new Point(1, 2))).toStrictEqual({ x: 1, y: 2 });
  });

  it.each([
    ['function', () => 1],
    ['symbol', Symbol('s')],
    ['nested function', { a: { f() {} } }],
    ['WeakMap', new WeakMap()],
  ] as [string, unknown][])('refuses %s with SerializationError', (_name, value) => {
    refusal(v8, value);
  });

  it('throws (not crashes) on garbage', () => {
    expect(() => v8.deserialize(Buffer.from([0xff, 0x0f, 0x41, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow();
  });
});

describe('string serializer', () => {
  const string = serializers.string();

  it.each([
    ['empty string', ''],
    ['text', 'hello'],
    ['unicode', 'ünïcødé 🎉'],
    ['text that looks like JSON', '{"a":1}'],
    ['Buffer', Buffer.from([0, 255, 1])],
    ['empty Buffer', Buffer.alloc(0)],
  ] as [string, unknown][])('round-trips %s', (_name, value) => {
    expect(roundTrip(string, value)).toStrictEqual(value);
  });

  it('keeps string and Buffer apart even for identical bytes', () => {
    expect(typeof roundTrip(string, 'ab')).toBe('string');
    expect(Buffer.isBuffer(roundTrip(string, Buffer.from('ab')))).toBe(true);
    expect(string.serialize('ab')).not.toStrictEqual(string.serialize(Buffer.from('ab')));
  });

  it('returns a Buffer that does not alias the payload', () => {
    const bytes = string.serialize(Buffer.from('abc'));
    const back = string.deserialize(bytes) as Buffer;
    bytes.fill(0);
    expect(back.toString()).toBe('abc');
  });

  it.each([
    ['number', 1.5],
    ['boolean', true],
    ['null', null],
    ['undefined', undefined],
    ['object', { a: 1 }],
    ['array', ['a']],
    ['Uint8Array (would read back as a Buffer)', new Uint8Array(1)],
    ['lone surrogate', '\ud800'],
    ['BigInt', 1n],
  ] as [string, unknown][])('refuses %s with SerializationError', (_name, value) => {
    refusal(string, value);
  });

  it('rejects unknown kinds and invalid UTF-8 on read', () => {
    expect(() => string.deserialize(Buffer.alloc(0))).toThrow();
    expect(() => string.deserialize(Buffer.from([7, 0x61]))).toThrow();
    expect(() => string.deserialize(Buffer.from([0, 0xc3]))).toThrow();
  });
});

describe('serializer registry', () => {
  it('knows the built-ins by id and name', () => {
    expect([1, 2, 3, 4].map((id) => serializers.byId(id)?.name)).toEqual(['json', 'msgpack', 'v8', 'string']);
    expect(serializers.byName('msgpack')?.id).toBe(2);
    expect(serializers.byId(99)).toBeUndefined();
  });

  const custom = (id: number, name: string): Serializer => ({
    id,
    name,
    serialize: (value) => Buffer.from(String(value)),
    deserialize: (bytes) => bytes.toString(),
  });

  it('registers a user serializer with an id from 128 to 255', () => {
    const mine = custom(201, 'test-upper');
    serializers.register(mine);
    expect(serializers.byId(201)).toBe(mine);
    expect(serializers.byName('test-upper')).toBe(mine);
    serializers.register(mine); // the same instance again is harmless
  });

  it('refuses clashing ids and names, reserved ids and malformed serializers with ConfigError', () => {
    serializers.register(custom(202, 'test-a'));
    expect(() => serializers.register(custom(202, 'test-b'))).toThrow(ConfigError);
    expect(() => serializers.register(custom(203, 'test-a'))).toThrow(ConfigError);
    expect(() => serializers.register(custom(5, 'test-low'))).toThrow(/reserved/);
    expect(() => serializers.register(custom(256, 'test-high'))).toThrow(ConfigError);
    expect(() => serializers.register(custom(200.5, 'test-frac'))).toThrow(ConfigError);
    expect(() => serializers.register({ id: 204, name: 'x' } as unknown as Serializer)).toThrow(ConfigError);
    expect(() => serializers.register(null as unknown as Serializer)).toThrow(ConfigError);
  });
});
