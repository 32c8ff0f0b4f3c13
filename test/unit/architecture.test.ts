/**
 * The layout's rules (docs/design.md, "Layout" and "Data flow"), checked on the source: which
 * part of src may import which, no import cycle between files, and none between folders.
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

/** Relative imports and re-exports of a file, as .ts paths from the repository root (`import type` included). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/gm)) {
    out.push(relative(ROOT, resolve(dirname(file), (match[1] as string).replace(/\.js$/, '.ts'))));
  }
  return out;
}

/** Every file of src (`src/core/cache.ts`, ...) and what it imports. */
type ImportGraph = Map<string, string[]>;
const graph: ImportGraph = new Map(sourceFiles(SRC).map((file) => [relative(ROOT, file), importsOf(file)]));

/** The part of src a file belongs to: its top folder (`core`, `routers`, ...) or, at the top, its name. */
function partOf(file: string): string {
  const [first, second] = file.replace(/^src\//, '').split('/') as [string, string | undefined];
  return second === undefined ? first.replace(/\.ts$/, '') : first;
}

/**
 * What each part may import (besides itself). Core owns the contracts and depends on nothing of
 * ours; the implementations (serializers, compressors, routers, the near cache, telemetry, the
 * topology) depend on core only; the django-redis adapter reuses compressors; the package's
 * createCache plugs the implementations into core; the entry points come last.
 */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  serializers: ['core'],
  compressors: ['core'],
  routers: ['core'],
  near: ['core'],
  telemetry: ['core'],
  topology: ['core'],
  adapters: ['core', 'serializers', 'compressors'],
  'create-cache': ['core', 'serializers', 'compressors', 'near', 'adapters'],
  index: ['core', 'serializers', 'compressors', 'routers', 'create-cache'],
  cli: [
    'core',
    'serializers',
    'compressors',
    'routers',
    'near',
    'telemetry',
    'adapters',
    'create-cache',
    'topology',
  ],
};

/** Narrower rules inside a permitted direction: [from, to, why]. */
const FORBIDDEN_FILES: ReadonlyArray<readonly [RegExp, RegExp, string]> = [
  // Test topologies share addresses and option checks with the cache, nothing of its machinery.
  [
    /^src\/topology\//,
    /^src\/core\/(?!address\.ts$|validate\.ts$|errors\.ts$)/,
    'topology uses only core/address, core/validate and core/errors',
  ],
  // Strategies are independent; what they share lives in src/routers itself.
  [
    /^src\/routers\/sentinel\//,
    /^src\/routers\/cluster\//,
    'the Sentinel and cluster strategies do not import each other',
  ],
  [
    /^src\/routers\/cluster\//,
    /^src\/routers\/sentinel\//,
    'the Sentinel and cluster strategies do not import each other',
  ],
  // getOrSet's machinery sits under its command family (core/commands/get-or-set.ts), not beside it.
  [
    /^src\/core\/get-or-set\//,
    /^src\/core\/commands\//,
    'core/get-or-set does not import the command families',
  ],
];

/** Imports that break a rule above, each with the rule it breaks. */
function violations(imports: ImportGraph): string[] {
  const found: string[] = [];
  for (const [file, targets] of imports) {
    const from = partOf(file);
    for (const target of targets) {
      const to = partOf(target);
      if (to !== from && !(ALLOWED[from] ?? []).includes(to)) {
        found.push(
          `${file} -> ${target} (${from} may import ${ALLOWED[from]?.join(', ') || 'nothing of ours'})`,
        );
      }
      for (const [source, forbidden, why] of FORBIDDEN_FILES) {
        if (source.test(file) && forbidden.test(target)) found.push(`${file} -> ${target} (${why})`);
      }
    }
  }
  return found;
}

/** The folder-level graph: which part imports which. */
function partGraph(imports: ImportGraph): Map<string, Set<string>> {
  const parts = new Map<string, Set<string>>();
  for (const [file, targets] of imports) {
    const from = partOf(file);
    const to = parts.get(from) ?? new Set<string>();
    for (const target of targets) if (partOf(target) !== from) to.add(partOf(target));
    parts.set(from, to);
  }
  return parts;
}

/** Every cycle a depth-first walk meets, each as the path that closes it (first node repeated). */
function findCycles<T>(edges: Map<T, Set<T>>): T[][] {
  const cycles: T[][] = [];
  const state = new Map<T, 'open' | 'done'>();
  const visit = (node: T, path: T[]): void => {
    state.set(node, 'open');
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (state.get(next) === undefined && edges.has(next)) visit(next, [...path, next]);
    }
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (state.get(node) === undefined) visit(node, [node]);
  return cycles;
}

describe('architecture', () => {
  it('names a rule for every part of src (a new folder needs one)', () => {
    const parts = new Set([...graph.keys()].map(partOf));
    expect([...parts].filter((part) => !(part in ALLOWED))).toEqual([]);
  });

  it('every import goes in an allowed direction (docs/design.md, Layout)', () => {
    expect(violations(graph)).toEqual([]);
  });

  it('the main entry loads none of the subpath entries (topology, telemetry, keyv)', () => {
    const reached = new Set<string>();
    const visit = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const target of graph.get(file) ?? []) visit(target);
    };
    visit('src/index.ts');
    const subpaths = /^src\/(topology\/|telemetry\/|adapters\/keyv\.ts$)/;
    expect([...reached].filter((file) => subpaths.test(file))).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    expect(findCycles(partGraph(graph))).toEqual([]);
  });

  it('has no import cycle between files', () => {
    expect(findCycles(new Map([...graph].map(([file, targets]) => [file, new Set(targets)])))).toEqual([]);
  });

  it('every relative import resolves to a file (the checks above see the whole graph)', () => {
    const missing = [...graph].flatMap(([file, targets]) =>
      targets.filter((t) => !graph.has(t)).map((t) => `${file} -> ${t}`),
    );
    expect(missing).toEqual([]);
  });

  it('reports what the layout forbids (checked on an import graph with the violations)', () => {
    const bad: ImportGraph = new Map([
      ['src/core/codec.ts', ['src/serializers/index.ts', 'src/core/errors.ts']],
      ['src/serializers/index.ts', ['src/core/formats.ts']],
      ['src/core/formats.ts', []],
      ['src/topology/cluster.ts', ['src/routers/types.ts', 'src/core/router.ts']],
      ['src/routers/cluster/slot-map.ts', ['src/routers/sentinel/address.ts']],
    ]);
    expect(violations(bad)).toEqual([
      'src/core/codec.ts -> src/serializers/index.ts (core may import nothing of ours)',
      'src/topology/cluster.ts -> src/routers/types.ts (topology may import core)',
      'src/topology/cluster.ts -> src/core/router.ts (topology uses only core/address, core/validate and core/errors)',
      'src/routers/cluster/slot-map.ts -> src/routers/sentinel/address.ts (the Sentinel and cluster strategies do not import each other)',
    ]);
    expect(findCycles(partGraph(bad))).toEqual([['core', 'serializers', 'core']]);
  });
});
