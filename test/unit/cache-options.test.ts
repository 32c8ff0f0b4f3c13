import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_VALUE_BYTES, DEFAULT_TTL_MS, resolveOptions } from '../../src/core/options.js';
import { routers } from '../../src/routers/index.js';
import { configError, offlineRouter as router } from '../fixtures/options.js';

describe('cache options', () => {
  it('applies documented defaults', () => {
    const o = resolveOptions({ router });
    expect(o).toMatchObject({
      keyPrefix: '',
      version: 1,
      defaultTtl: DEFAULT_TTL_MS,
      ignoreErrors: false,
      maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
    });
    expect(o.serializer).toBeUndefined();
    expect(o.compressor).toBeUndefined();
  });

  it('parses defaultTtl strings and accepts null', () => {
    expect(resolveOptions({ router, defaultTtl: '30s' }).defaultTtl).toBe(30_000);
    expect(resolveOptions({ router, defaultTtl: null }).defaultTtl).toBeNull();
  });

  it.each([
    [undefined, /options must be an object/],
    [{}, /^createCache needs a router: routers.pooled/],
    [{ router: {} }, /'router' for createCache must be a Router/],
    [{ router, serializer: 'json' }, /'serializer'.*json\(\), msgpack\(\)/],
    [{ router, compressor: { compress: 1 } }, /'compressor'.*lz4\(\)/],
    [{ router, keyPrefix: 5 }, /'keyPrefix' for createCache must be a string/],
    [{ router, version: 1.5 }, /'version' for createCache must be an integer/],
    [{ router, version: '1' }, /'version' for createCache must be an integer/],
    [{ router, defaultTtl: '5 minutes' }, /defaultTtl.*'30s'/],
    [{ router, defaultTtl: 0 }, /'defaultTtl' for createCache must be positive/],
    [{ router, defaultTtl: -1 }, /'defaultTtl' for createCache must be positive/],
    [{ router, ignoreErrors: 'yes' }, /'ignoreErrors' for createCache must be true or false/],
    [{ router, maxValueBytes: 0 }, /'maxValueBytes' for createCache must be a positive integer/],
    [{ router, maxValueBytes: 1.5 }, /'maxValueBytes'/],
    [{ router, keyFunction: (k: string) => k }, /'keyFunction' and 'reverseKeyFunction' go together/],
    [{ router, reverseKeyFunction: (k: string) => k }, /go together/],
    [
      { router, keyFunction: 'x', reverseKeyFunction: (k: string) => k },
      /'keyFunction' for createCache must be a function/,
    ],
    [
      { router, defaultTTL: '5m' },
      /unknown option 'defaultTTL' for createCache \(did you mean 'defaultTtl'\?\)/,
    ],
  ])('refuses %o', (options, message) => {
    expect(configError(() => resolveOptions(options)).message).toMatch(message);
  });
});

describe('routers.standalone options', () => {
  it.each([
    [{ url: 'http://localhost:6379' }, /'url' must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ port: 0 }, /'port' for routers.standalone must be an integer 1\.\.65535/],
    [{ port: 70000 }, /'port'/],
    [{ host: '' }, /'host'/],
    [{ commandTimeoutMs: 0 }, /'commandTimeoutMs' for routers.standalone must be a positive number/],
    [{ connectTimeoutMs: -5 }, /'connectTimeoutMs'/],
    [{ db: -1 }, /'db' for routers.standalone must be a non-negative integer/],
  ])('refuses %o before connecting', (options, message) => {
    expect(configError(() => routers.standalone(options)).message).toMatch(message);
  });

  it('never puts the URL password in an error message', () => {
    const err = configError(() => routers.standalone({ url: 'ftp://user:s3cret@host:1' }));
    expect(err.message).not.toContain('s3cret');
  });
});
