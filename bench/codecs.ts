/**
 * Codec micro-benchmark: every serializer × compressor on realistic payloads of ~100 B, 1 KB,
 * 10 KB and 100 KB. Prints one Markdown table: bytes serialized and on the wire, compression
 * ratio, encode and decode operations per second (single thread, in process, no Redis).
 *
 *   npm run bench:codecs             # full run, well under a minute
 *   npm run bench:codecs -- --quick  # a few milliseconds per cell, to check it runs
 *   npm run bench:codecs -- --long   # one row per measurement instead of per pair
 *
 * Payloads are deterministic (seeded), shaped like what caches hold: user/session records
 * with nested arrays and objects for json/msgpack/v8, and plain prose for the string
 * serializer (which stores only strings and Buffers). Compressors run with their defaults,
 * as a user would configure them (minLength 256, so the ~100 B payload stays uncompressed).
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import { Command } from 'commander';
import { compressors } from '../src/compressors/index.js';
import type { Compressor, Serializer } from '../src/core/formats.js';
import { Codec } from '../src/create-cache.js';
import { serializers } from '../src/serializers/index.js';

// commander, like the CLI and the bench runner.
const { quick, long } = new Command('bench:codecs')
  .option('--quick', 'a few milliseconds per cell, to check it runs', false)
  .option('--long', 'one row per measurement instead of per pair', false)
  .parse(process.argv)
  .opts<{ quick: boolean; long: boolean }>();
/** Time spent measuring each of encode and decode, per cell. */
const phaseMs = quick ? 10 : 150;
const warmupMs = quick ? 2 : 25;
/** Each measurement is split into this many samples; the table shows the best. */
const samples = quick ? 1 : 5;

const sizes = [
  { label: '100 B', target: 100 },
  { label: '1 KB', target: 1_000 },
  { label: '10 KB', target: 10_000 },
  { label: '100 KB', target: 100_000 },
];

// ---- deterministic payloads -------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rng = mulberry32(20240601);
const int = (max: number) => Math.floor(rng() * max);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
const hex = (n: number) => Array.from({ length: n }, () => int(16).toString(16)).join('');

const firstNames = ['Ann', 'Bob', 'Chen', 'Dana', 'Emeka', 'Fatima', 'Goran', 'Hiro', 'Ines', 'Jonas'];
const lastNames = ['Smith', 'Okafor', 'Nguyen', 'Garcia', 'Müller', 'Kowalski', 'Tanaka', 'Silva', 'Haddad'];
const roles = ['viewer', 'editor', 'admin', 'billing', 'support'];
const agents = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
];
const words =
  'the cache keeps a copy of each value close to the application so that reads are fast and the database rests while sentinels watch the master and promote a replica when it fails'.split(
    ' ',
  );

function session() {
  return {
    id: hex(24),
    ip: `${int(256)}.${int(256)}.${int(256)}.${int(256)}`,
    userAgent: pick(agents),
    createdAt: 1_717_000_000_000 + int(10_000_000_000),
    lastSeen: 1_717_000_000_000 + int(10_000_000_000),
    scopes: roles.slice(0, 1 + int(3)),
  };
}

function user() {
  const first = pick(firstNames);
  const last = pick(lastNames);
  return {
    id: `usr_${hex(16)}`,
    name: `${first} ${last}`,
    email: `${first.toLowerCase()}.${last.toLowerCase()}${int(1000)}@example.com`,
    active: rng() < 0.8,
    score: Math.round(rng() * 10_000) / 100,
    roles: roles.filter(() => rng() < 0.4),
    prefs: { theme: pick(['dark', 'light']), locale: pick(['en-GB', 'de-DE', 'ja-JP']), digest: rng() < 0.5 },
    sessions: Array.from({ length: 1 + int(3) }, session),
  };
}

const jsonSize = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

function objectPayload(target: number): unknown {
  if (target <= 200) {
    return { id: `usr_${hex(16)}`, name: 'Ann Smith', active: true, score: 71.5, roles: ['editor'] };
  }
  if (target <= 2_000) {
    const one = user();
    while (jsonSize(one) < target * 0.9) one.sessions.push(session());
    return one;
  }
  const page = { page: 1, total: 0, users: [] as unknown[] };
  while (jsonSize(page) < target) page.users.push(user());
  page.total = page.users.length;
  return page;
}

function textPayload(target: number): string {
  const out: string[] = [];
  let length = 0;
  while (length < target) {
    const word = pick(words);
    out.push(word);
    length += word.length + 1;
  }
  return out.join(' ').slice(0, target);
}

// ---- measurement ------------------------------------------------------------------------

let sink = 0;

/**
 * Runs `op` for about `ms` milliseconds of wall time and returns operations per second of
 * this process's CPU time. CPU time, not wall time: on a shared machine a wall-clock rate
 * measures the neighbours too. (It includes V8's GC helper threads, so it errs low.)
 */
function opsPerSecond(op: () => number, ms: number): number {
  let iterations = 0;
  let batch = 1;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) sink += op();
    iterations += batch;
    elapsed = performance.now() - started;
    if (elapsed < ms / 20) batch *= 2;
  }
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return iterations / Math.max(cpuSeconds, 1e-6);
}

/**
 * The best of `samples` short runs: the machine is shared, and interference only ever makes
 * a run slower, so the fastest sample is the closest to the code's own cost.
 */
function bestOf(op: () => number): number {
  let best = 0;
  for (let i = 0; i < samples; i++) best = Math.max(best, opsPerSecond(op, phaseMs / samples));
  return best;
}

interface Row {
  serializer: string;
  compressor: string;
  payload: string;
  serializedBytes: number;
  wireBytes: number;
  encodeOps: number;
  decodeOps: number;
}

function measure(serializer: Serializer, compressor: Compressor, label: string, value: unknown): Row {
  const codec = new Codec({ serializer, compressor });
  const encoded = codec.encode(value) as Buffer;
  if (!isDeepStrictEqual(codec.decode(encoded, 'bench'), value)) {
    throw new Error(`${serializer.name}/${compressor.name} did not round-trip the ${label} payload`);
  }
  const serializedBytes = serializer.serialize(value).length;
  const encode = () => (codec.encode(value) as Buffer).length;
  const decode = () => (codec.decode(encoded, 'bench') === undefined ? 0 : 1);
  opsPerSecond(encode, warmupMs);
  const encodeOps = bestOf(encode);
  opsPerSecond(decode, warmupMs);
  const decodeOps = bestOf(decode);
  return {
    serializer: serializer.name,
    compressor: compressor.name,
    payload: label,
    serializedBytes,
    wireBytes: encoded.length,
    encodeOps,
    decodeOps,
  };
}

// ---- report -----------------------------------------------------------------------------

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');

/** 3 significant digits with a k/M suffix: 1.04M, 229k, 3.15k, 812. */
function compact(n: number): string {
  const [value, suffix] = n >= 1e6 ? [n / 1e6, 'M'] : n >= 1e3 ? [n / 1e3, 'k'] : [n, ''];
  return `${value >= 100 ? Math.round(value) : value.toPrecision(3)}${suffix}`;
}

/** One row per serializer × compressor; each cell lists the four payload sizes, smallest first. */
function table(rows: Row[]): string {
  const sizeLabels = sizes.map((s) => s.label).join(' / ');
  const header = `| serializer | compressor | payload | wire bytes (${sizeLabels}) | ratio | encode ops/s | decode ops/s |`;
  const rule = '|---|---|---|--:|--:|--:|--:|';
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.serializer}|${row.compressor}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const lines = [...groups.values()].map((group) => {
    const first = group[0]!;
    const cells = (f: (r: Row) => string) => group.map(f).join(' / ');
    return `| ${first.serializer} | ${first.compressor} | ${first.payload.split(' ').pop()} | ${cells((r) => thousands(r.wireBytes))} | ${cells((r) => (r.serializedBytes / r.wireBytes).toFixed(2))} | ${cells((r) => compact(r.encodeOps))} | ${cells((r) => compact(r.decodeOps))} |`;
  });
  return [header, rule, ...lines].join('\n');
}

/** `--long`: one row per measurement, with the serialized size too. */
function longTable(rows: Row[]): string {
  const header =
    '| serializer | compressor | payload | serialized B | wire B | ratio | encode ops/s | decode ops/s |';
  const rule = '|---|---|---|--:|--:|--:|--:|--:|';
  const lines = rows.map(
    (r) =>
      `| ${r.serializer} | ${r.compressor} | ${r.payload} | ${thousands(r.serializedBytes)} | ${thousands(r.wireBytes)} | ${(r.serializedBytes / r.wireBytes).toFixed(2)} | ${thousands(r.encodeOps)} | ${thousands(r.decodeOps)} |`,
  );
  return [header, rule, ...lines].join('\n');
}

function main(): void {
  const started = performance.now();
  const compressorFactories = [
    compressors.none,
    compressors.lz4,
    compressors.zlib,
    compressors.gzip,
    compressors.brotli,
    compressors.zstd,
  ];
  const structured = [serializers.json(), serializers.msgpack(), serializers.v8()];
  const objects = sizes.map((s) => ({ label: `${s.label} object`, value: objectPayload(s.target) }));
  const texts = sizes.map((s) => ({ label: `${s.label} text`, value: textPayload(s.target) }));

  const rows: Row[] = [];
  for (const serializer of [...structured, serializers.string()]) {
    const payloads = serializer.name === 'string' ? texts : objects;
    for (const make of compressorFactories) {
      for (const payload of payloads) rows.push(measure(serializer, make(), payload.label, payload.value));
    }
  }

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`### Codec benchmark${quick ? ' (--quick: numbers are not meaningful)' : ''}\n`);
  console.log(
    `\`npm run bench:codecs${quick ? ' -- --quick' : ''}\` — Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ` +
      `encode and decode each measured for ${phaseMs} ms as the best of ${samples} samples, ${seconds} s total; ` +
      'ops/s are operations per second of process CPU time, single thread. ' +
      'Payload sizes ~100 B / 1 KB / 10 KB / 100 KB (JSON size of the object, length of the text). ' +
      'ratio = serialized bytes ÷ wire bytes (wire includes the 4-byte header); compressors at their defaults ' +
      '(minLength 256, zlib/gzip level 6, brotli quality 4, zstd level 3).\n',
  );
  console.log(long ? longTable(rows) : table(rows));
  if (sink === -1) console.log(''); // keep the measured work observable
}

main();
