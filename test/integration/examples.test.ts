/**
 * The README's examples that need a plain redis-server (examples/*.ts and *.mjs) run as users
 * would run them, against a real one; what the Django one wrote is then read back by the real
 * django-redis. The examples that need Sentinel run in readme-examples.test.ts.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Standalone, startStandalone } from '../../src/topology/index.js';
import { djangoRedisPresent, PYTHON } from '../fixtures/python-django.js';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const django = djangoRedisPresent(import.meta.filename);

let server: Standalone;
beforeAll(async () => {
  server = await startStandalone();
});
afterAll(async () => {
  await server?.stop();
});

/** `node x.mjs`, or `node --import tsx x.ts`. */
async function example(name: string): Promise<string> {
  const env = { ...process.env, REDIS_HOST: server.host, REDIS_PORT: String(server.port) };
  const path = join('examples', name);
  const { stdout } = await exec(process.execPath, name.endsWith('.ts') ? ['--import', 'tsx', path] : [path], {
    cwd: ROOT,
    env,
    timeout: 60_000,
  });
  return stdout;
}

describe.each(['ts', 'mjs'])('examples (.%s)', (ext) => {
  it('keyv-cache-manager: wrap() loads once, cacheable reads through to Redis', async () => {
    const out = await example(`keyv-cache-manager.${ext}`);
    expect(out).toContain('cache-manager: user 42, user 42, loaded 1 time(s)');
    expect(out).toContain('cacheable: hello');
  });

  it('metrics: prints the operations it made', async () => {
    const out = await example(`metrics.${ext}`);
    expect(out).toMatch(/db\.client\.operation\.duration .*"db\.operation\.name":"get".* count 2/);
    expect(out).toMatch(/sentinel_cache\.hits .*"cache\.tier":"redis".* 1/);
  });

  it.runIf(django)('django: what Node wrote, Django reads', async () => {
    const out = await example(`django.${ext}`);
    expect(out).toContain('orders: 101');
    const env = {
      ...process.env,
      DJANGO_REDIS_URL: `redis://${server.host}:${server.port}/0`,
      DJANGO_REDIS_SERIALIZER: 'json',
      DJANGO_REDIS_COMPRESSOR: 'zlib',
      DJANGO_KEY_PREFIX: 'shop',
    };
    const bridge = join(ROOT, 'test', 'fixtures', 'django', 'bridge.py');
    const cart = await exec(PYTHON, [bridge, 'get', 'cart:7'], { env });
    expect(JSON.parse(cart.stdout)).toEqual({ items: [{ sku: 'A-1', qty: 2 }], total: 59.9 });
    const orders = await exec(PYTHON, [bridge, 'incr', 'orders', '1'], { env });
    expect(orders.stdout.trim()).toBe('102');
  });
});
