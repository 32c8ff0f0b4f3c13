// Compare our routers' ratio to ioredis 5.11 in old runs (where it is 'ioredis-sentinel') and new runs ('ioredis5-sentinel').
import { readFileSync, existsSync } from 'node:fs';
const load = (d) => JSON.parse(readFileSync(`${new URL(".", import.meta.url).pathname}${d}/steady.json`)).steady;
const cell = (e) => `${e.mix} ${e.valueSize}B c${e.concurrency}`;
function ratios(d, ref, client) {
  const s = load(d); const m = new Map();
  for (const e of s) if (e.client === client) m.set(cell(e), e.opsPerSec);
  const out = new Map();
  for (const e of s) if (e.client === ref && m.has(cell(e))) out.set(cell(e), m.get(cell(e)) / e.opsPerSec);
  return out;
}
const gm = (a) => Math.exp(a.reduce((s, x) => s + Math.log(x), 0) / a.length);
const olds = ['old1', 'old2'].filter((d) => existsSync(`${new URL(".", import.meta.url).pathname}${d}/steady.json`));
const news = ['run1', 'run2', 'run3'].filter((d) => existsSync(`${new URL(".", import.meta.url).pathname}${d}/steady.json`));
for (const client of ['pooled', 'discovery']) {
  const o = olds.map((d) => ratios(d, 'ioredis-sentinel', client));
  const n = news.map((d) => ratios(d, 'ioredis5-sentinel', client));
  const n6 = news.map((d) => ratios(d, 'ioredis-sentinel', client));
  console.log(`\n${client}: vs ioredis 5.11, old runs ${olds.join(',')} / new runs ${news.join(',')}`);
  console.log('cell | old (each) | new (each) | new/old (means) | new vs ioredis 6 (each)');
  const moves = [];
  for (const k of o[0].keys()) {
    const ov = o.map((m) => m.get(k)); const nv = n.map((m) => m.get(k));
    const mv = gm(nv) / gm(ov); moves.push(mv);
    console.log(`${k} | ${ov.map((x) => x.toFixed(2)).join(' ')} | ${nv.map((x) => x.toFixed(2)).join(' ')} | ${mv.toFixed(2)} | ${n6.map((m) => m.get(k).toFixed(2)).join(' ')}`);
  }
  console.log(`geomean old ${o.map((m) => gm([...m.values()]).toFixed(3)).join(' ')}; new ${n.map((m) => gm([...m.values()]).toFixed(3)).join(' ')}; move ${gm(moves).toFixed(3)} (cells ${Math.min(...moves).toFixed(2)}–${Math.max(...moves).toFixed(2)}); new vs ioredis6 ${n6.map((m) => gm([...m.values()]).toFixed(3)).join(' ')}`);
}
