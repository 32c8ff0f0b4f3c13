/**
 * The README's Events and tracing in plain JavaScript: cache events, an `error` event from
 * `ignoreErrors`, and the `sentinel-cache:command` TracingChannel.
 *
 *   SENTINEL_CACHE_SENTINELS=127.0.0.1:7003 node examples/events.mjs
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { CacheError, createCache, routers } from 'sentinel-cache';

const sentinels = (process.env.SENTINEL_CACHE_SENTINELS ?? '127.0.0.1:26379').split(',').map((s) => {
  const [host, port] = s.split(':');
  return { host, port: Number(port) };
});
const service = process.env.SENTINEL_CACHE_SERVICE ?? 'mymaster';

// Every operation of every cache in the process, for APM agents and your own tracing.
const subscribers = {
  start(ctx) {
    ctx.started = performance.now();
  },
  asyncEnd(ctx) {
    const ms = (performance.now() - ctx.started).toFixed(1);
    console.log(`trace: ${ctx.operation} ${ctx.key ?? '-'} ${ctx.error ? ctx.error.code : 'ok'} (${ms} ms)`);
  },
  end() {},
  asyncStart() {},
  error() {},
};
tracingChannel('sentinel-cache:command').subscribe(subscribers);

const cache = createCache({ router: routers.pooled({ sentinels, service }), keyPrefix: 'example-events' });
cache.on('hit', ({ key }) => console.log('hit:', key));
cache.on('miss', ({ key }) => console.log('miss:', key));
cache.on('failover', ({ from, to }) => console.log('failover:', from, '->', to));
cache.on('breaker-open', ({ role }) => console.log('breaker open:', role));

await cache.ready(); // connect now; rejects with the named error if it cannot
await cache.set('greeting', 'hello', { ttl: '1m' });
await cache.get('greeting');
await cache.get('no-such-key');

// With ignoreErrors a transient failure (here: nothing listens on the port) becomes a miss,
// reported as an `error` event carrying the named error.
const degraded = createCache({
  router: routers.standalone({ host: '127.0.0.1', port: 1, connectTimeoutMs: 1000 }),
  ignoreErrors: true,
});
degraded.on('error', ({ error, operation, key }) => {
  if (operation !== undefined) {
    const what = error instanceof CacheError ? error.code : error.message; // a getOrSet factory's own error is not a CacheError
    console.log(`error event: ${what} in ${operation} ${key}`);
  }
});
console.log('degraded get:', await degraded.get('greeting'));

tracingChannel('sentinel-cache:command').unsubscribe(subscribers);
await degraded.close();
await cache.close();
