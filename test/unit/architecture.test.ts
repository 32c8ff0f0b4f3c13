/**
 * The layout's rules, checked on the source: core owns the contracts and imports nothing
 * from the parts that implement them, and no module imports itself back through others.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports and re-exports of a file, as absolute .ts paths (`import type` included). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/gm)) {
    out.push(resolve(dirname(file), (match[1] as string).replace(/\.js$/, '.ts')));
  }
  return out;
}

const graph = new Map(sourceFiles(SRC).map((file) => [file, importsOf(file)]));
const rel = (file: string) => relative(ROOT, file);

describe('architecture', () => {
  it('src/core imports nothing from the routers, topology, near cache, adapters or telemetry', () => {
    const offending: string[] = [];
    for (const [file, imports] of graph) {
      if (!rel(file).startsWith('src/core/')) continue;
      for (const target of imports) {
        if (/^src\/(routers|topology|near|adapters|telemetry)\//.test(rel(target))) {
          offending.push(`${rel(file)} -> ${rel(target)}`);
        }
      }
    }
    expect(offending).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]): void => {
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) {
        if (state.get(target) === 'open') {
          cycles.push([...path.slice(path.indexOf(target)), target].map(rel).join(' -> '));
        } else if (state.get(target) === undefined && graph.has(target)) {
          visit(target, [...path, target]);
        }
      }
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (state.get(file) === undefined) visit(file, [file]);
    expect(cycles).toEqual([]);
  });

  it('every relative import resolves to a file (the check above sees the whole graph)', () => {
    const missing = [...graph].flatMap(([file, imports]) =>
      imports.filter((t) => !graph.has(t)).map((t) => `${rel(file)} -> ${rel(t)}`),
    );
    expect(missing).toEqual([]);
  });
});
