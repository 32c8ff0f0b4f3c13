/**
 * The README's getOrSet section in plain JavaScript: stampede protection, grace, timeouts,
 * adaptive ttl and tags, against a real topology.
 *
 *   SENTINEL_CACHE_SENTINELS=127.0.0.1:7003 node examples/get-or-set.mjs
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, routers } from 'sentinel-cache';

const sentinels = (process.env.SENTINEL_CACHE_SENTINELS ?? '127.0.0.1:26379').split(',').map((s) => {
  const [host, port] = s.split(':');
  return { host, port: Number(port) };
});
const service = process.env.SENTINEL_CACHE_SERVICE ?? 'mymaster';

const cache = createCache({ router: routers.pooled({ sentinels, service }), keyPrefix: 'example-gos' });
await cache.clear(); // this prefix only: the example starts from nothing each run
cache.on('stale-served', ({ key, reason }) => console.log(`stale-served: ${key} (${reason})`));

// Stand-ins for a database and for remote APIs.
let loads = 0;
const db = {
  users: {
    find: async (id) => {
      loads++;
      return { id, name: 'Ada' };
    },
  },
  posts: { find: async (id) => ({ id, title: `post ${id}` }) },
};

// Concurrent calls for one key share one factory call.
const users = await Promise.all(
  Array.from({ length: 5 }, () => cache.getOrSet('user:42', () => db.users.find(42), { ttl: '5m' })),
);
console.log(`user: ${users[0].name}, 5 callers, factory called ${loads} time(s)`);

// Grace: after `ttl` the old value is still served while it cannot be refreshed. The README
// writes { ttl: '1m', grace: '6h' }; 1 s here, so that the example sees the value go stale.
let pricesUp = true;
const fetchPrices = async () => {
  if (!pricesUp) throw new Error('prices API is down');
  return { eur: 1.08 };
};
await cache.getOrSet('prices', fetchPrices, { ttl: '1s', grace: '6h' });
pricesUp = false;
await sleep(1500);
const prices = await cache.getOrSet('prices', fetchPrices, { ttl: '1s', grace: '6h' });
console.log('prices while the API is down:', prices.eur);

// Timeouts: `timeout` (soft) serves a stale value when the factory is slower; `hardTimeout`
// is the longest any caller waits.
const buildReport = async () => ({ rows: 3 });
const report = await cache.getOrSet('report', buildReport, {
  ttl: '5m',
  grace: '1h',
  timeout: '200ms',
  hardTimeout: '2s',
});
console.log('report rows:', report.rows);

// Adaptive caching: the factory decides the ttl.
const auth = { fetchToken: async () => ({ value: 'tok-1', expiresInMs: 90_000 }) };
await cache.getOrSet('token', async (ctx) => {
  const token = await auth.fetchToken();
  ctx.setTtl(token.expiresInMs); // cache it exactly as long as it is valid
  return token;
});
console.log('token ttl (ms):', await cache.ttl('token'));

// Tags: invalidate entries together, in every process.
const id = 7;
const userId = 42;
const profile = { bio: 'hello' };
await cache.getOrSet(`posts:${id}`, () => db.posts.find(id), { tags: [`user:${userId}`] });
await cache.set(`profile:${userId}`, profile, { tags: [`user:${userId}`] });
console.log(
  'before invalidateTags:',
  (await cache.get(`posts:${id}`))?.title,
  (await cache.get(`profile:${userId}`))?.bio,
);
await cache.invalidateTags([`user:${userId}`]); // both read as misses from now on
console.log('after invalidateTags:', await cache.get(`posts:${id}`), await cache.get(`profile:${userId}`));

// Every option at once, as in docs/get-or-set.md: the factory sees the stale value, shortens
// the ttl of an incomplete answer and replaces the tags.
const buildReportFor = async (id) => ({ id, owner: 42, partial: true });
const full = await cache.getOrSet(
  'report:42',
  async (ctx) => {
    if (ctx.stale) console.log('refreshing', ctx.stale.id); // the previous value while within grace
    const built = await buildReportFor(42);
    if (built.partial) ctx.setTtl('10s'); // adaptive: cache an incomplete answer briefly
    ctx.setTags(['reports', `user:${built.owner}`]);
    return built;
  },
  {
    ttl: '5m', // fresh for 5 minutes
    grace: '1h', // then stale-but-usable for 1 hour
    timeout: '200ms', // soft: with a stale value at hand, don't wait longer than this
    hardTimeout: '2s', // never wait longer than this
    lock: 'distributed', // one factory call per key across all processes (default)
    lockTimeout: '5s', // how long to wait for another process's factory
    tags: ['reports'],
  },
);
console.log('partial report:', full.id, 'owner', full.owner, 'cached:', (await cache.get('report:42'))?.id);
await cache.invalidateTags(['user:42']); // the factory's setTags put report:42 under user:42
console.log('report:42 after invalidating user:42:', await cache.get('report:42'));

await cache.close();
