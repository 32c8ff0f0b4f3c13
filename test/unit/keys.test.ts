import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { defaultKeyFunction, escapeGlob, KeyBuilder } from '../../src/core/keys.js';

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

describe('KeyBuilder reuse (near cache on)', () => {
  it('hands out the key it built before at the cache version, builds other versions afresh, checks keys still', () => {
    const plain = new KeyBuilder('app');
    const reusing = new KeyBuilder('app', undefined, undefined, { version: 3 });
    const first = reusing.build('user:1', 3);
    expect(first).toBe('app:3:user:1');
    expect(reusing.build('user:1', 3)).toBe(first);
    expect(reusing.build('user:1', 4)).toBe('app:4:user:1');
    expect(reusing.buildAll(['a', 'user:1'], 3)).toEqual(['app:3:a', 'app:3:user:1']);
    for (const builder of [plain, reusing]) {
      expect(() => builder.build(42, 3)).toThrow(ConfigError);
      expect(() => builder.build('bad\ud800', 3)).toThrow(ConfigError);
      // A refused key is never kept: it is refused again.
      expect(() => builder.build('bad\ud800', 3)).toThrow(ConfigError);
    }
    // Past 10,000 kept keys it starts over, and still builds the same keys.
    for (let i = 0; i < 10_050; i++) expect(reusing.build(`k${i}`, 3)).toBe(`app:3:k${i}`);
    expect(reusing.build('user:1', 3)).toBe('app:3:user:1');
  });

  it('is off with a custom key function (it may not be a pure function of key and version)', () => {
    let calls = 0;
    const custom = new KeyBuilder('app', (key) => `${key}:${++calls}`, undefined, { version: 1 });
    expect(custom.build('k', 1)).toBe('k:1');
    expect(custom.build('k', 1)).toBe('k:2');
  });
});
