/**
 * The private parts of ioredis and opossum are read in one file (src/core/ioredis-internals.ts,
 * where each is feature-detected and pinned by test/integration/ioredis-conformance.test.ts),
 * and no code reads a function's source text.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** What reaches into ioredis' or opossum's private parts, or reads a function's source. */
const PRIVATE_ACCESS =
  /\b(commandQueue|offlineQueue|status\.increment|reconnectTimeout|manuallyClosing|connectionPool)\b|\.connector\b|String\([A-Za-z.]*prototype/;

it('only src/core/ioredis-internals.ts touches ioredis and opossum internals', () => {
  const files = sourceFiles(join(ROOT, 'src'))
    .filter((file) => PRIVATE_ACCESS.test(readFileSync(file, 'utf8')))
    .map((file) => relative(ROOT, file));
  expect(files).toEqual(['src/core/ioredis-internals.ts']);
});

it('no code reads function source text', () => {
  const SOURCE_TEXT = /String\([A-Za-z.]*prototype|Function\.prototype\.toString|\.sendCommand\.toString\(/;
  const offenders = sourceFiles(join(ROOT, 'src'))
    .filter((file) => SOURCE_TEXT.test(readFileSync(file, 'utf8')))
    .map((file) => relative(ROOT, file));
  expect(offenders).toEqual([]);
});
