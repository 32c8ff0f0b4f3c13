/**
 * The documentation's links and snippets, checked on the files: every relative link in
 * README.md, CONTRIBUTING.md, CHANGELOG.md, SECURITY.md and docs/*.md names a file that exists
 * (and, for a `#anchor` into a Markdown file, a heading of that file, slugged as GitHub does);
 * every README code snippet
 * links to its runnable twin under examples/ (run by test/integration/readme-examples.test.ts
 * and examples.test.ts), and every call and option name it shows appears in that file.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DOCS = [
  'README.md',
  'CONTRIBUTING.md',
  'CHANGELOG.md',
  'SECURITY.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The text outside fenced code blocks (links inside code are examples, not links), lines kept. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, (block) => block.replace(/[^\n]/g, ''));
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const match of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = (match[1] as string)
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** `[text](target)` links of a Markdown file, with their line numbers, outside code. */
function links(markdown: string): Array<{ target: string; line: number }> {
  const out: Array<{ target: string; line: number }> = [];
  const text = prose(markdown).replace(/`[^`\n]*`/g, (code) => (code.includes('](') ? '' : code));
  for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    out.push({ target: match[1] as string, line: text.slice(0, match.index).split('\n').length });
  }
  return out;
}

describe('documentation links', () => {
  it.each(DOCS)('%s: every relative link and anchor resolves', (doc) => {
    const path = join(ROOT, doc);
    const markdown = readFileSync(path, 'utf8');
    const broken: string[] = [];
    for (const { target, line } of links(markdown)) {
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      const [file = '', anchor] = target.split('#', 2);
      const resolved = file === '' ? path : resolve(dirname(path), decodeURIComponent(file));
      if (!existsSync(resolved)) {
        broken.push(`${doc}:${line} ${target}: no such file`);
        continue;
      }
      if (anchor === undefined || !resolved.endsWith('.md') || statSync(resolved).isDirectory()) continue;
      if (!anchors(readFileSync(resolved, 'utf8')).has(anchor)) {
        broken.push(`${doc}:${line} ${target}: no heading #${anchor} in ${relative(ROOT, resolved)}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('slugs headings as GitHub does', () => {
    const slugs = anchors('# Connections, timeouts, `unref`\n## `cache.stats()`\n## Notes\n## Notes\n');
    expect([...slugs]).toEqual(['connections-timeouts-unref', 'cachestats', 'notes', 'notes-1']);
  });

  it('finds a broken link (the check can fail)', () => {
    const found = links('See [x](docs/nope.md#a) and `[y](z)`.\n\n```\n[w](v)\n```\n');
    expect(found.map((l) => l.target)).toEqual(['docs/nope.md#a']);
  });
});

/** Names a snippet uses as calls (`name(`) or options (`name:`), outside comments and strings. */
function namesUsed(code: string): string[] {
  const bare = code
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, "''")
    .replace(/<[^<>()]*(?:<[^<>()]*>[^<>()]*)*>(?=\()/g, ''); // type arguments: get<T>(
  return [...new Set([...bare.matchAll(/([A-Za-z_$][\w$]*)\s*[(:]/g)].map((m) => m[1] as string))];
}

describe('README snippets', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const snippets = [...readme.matchAll(/^```(ts|js|mjs)\n([\s\S]*?)^```\n/gm)].map((m) => ({
    code: m[2] as string,
    after: readme
      .slice((m.index ?? 0) + m[0].length)
      .split('\n')
      .slice(0, 8)
      .join('\n'),
  }));

  it('has TypeScript/JavaScript snippets to check', () => {
    expect(snippets.length).toBeGreaterThan(0);
  });

  it.each(snippets.map((s, i) => [i + 1, s] as const))('snippet %i is in the example it links to', (_, s) => {
    const example = /\]\((examples\/[\w.-]+\.(?:ts|mjs))\)/.exec(s.after)?.[1];
    expect(
      example,
      `a README snippet must be followed by a link to its examples/ file:\n${s.code}`,
    ).toBeDefined();
    const source = readFileSync(join(ROOT, example as string), 'utf8');
    const missing = namesUsed(s.code).filter(
      (name) => !new RegExp(`\\b${name.replace('$', '\\$')}\\b`).test(source),
    );
    expect(missing, `names of the snippet not in ${example}`).toEqual([]);
  });

  it('the snippet check sees a name the example lacks', () => {
    expect(namesUsed("cache.get<{ a: number }>('k'); // x(\nfoo({ bar: 1 })")).toEqual(['get', 'foo', 'bar']);
  });
});
