import { describe, expect, it } from 'vitest';
import { defaultKeyFunction, escapeGlob } from '../../src/core/keys.js';

/** Redis glob semantics (stringmatchlen) for the subset we emit: * ? [..] and backslash escapes. */
function globToRegExp(glob: string): RegExp {
  const literal = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '\\') re += literal(glob[++i] ?? '');
    else if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '[') throw new Error('unescaped [ in a pattern we built');
    else re += literal(c);
  }
  return new RegExp(`^${re}$`);
}

describe('key function', () => {
  it('is django-redis compatible: prefix:version:key', () => {
    expect(defaultKeyFunction('user:1', 'app', 3)).toBe('app:3:user:1');
    expect(defaultKeyFunction('k', '', 1)).toBe(':1:k');
  });
});

describe('escapeGlob', () => {
  it.each(['app', 'a*b', 'a?b', 'a[1]', 'back\\slash', '*', '[*?]\\', 'ключ'])(
    'escaped %j matches only itself',
    (text) => {
      const escaped = escapeGlob(text);
      const re = globToRegExp(escaped);
      expect(re.test(text)).toBe(true);
      expect(re.test(`${text}x`)).toBe(false);
      expect(re.test(text.replace(/[*?[\]\\]/g, 'x'))).toBe(text.replace(/[*?[\]\\]/g, 'x') === text);
    },
  );

  it('escapes exactly the Redis glob metacharacters', () => {
    expect(escapeGlob('a*b?c[d]e\\f:g-h')).toBe('a\\*b\\?c\\[d\\]e\\\\f:g-h');
  });
});
