/**
 * The README's Events and tracing, runnable: cache events, an `error` event from
 * `ignoreErrors`, and the `sentinel-cache:command` TracingChannel.
 *
 *   SENTINEL_CACHE_SENTINELS=127.0.0.1:7003 npx tsx examples/events.ts
 *
 * (examples/events.mjs is the same in plain JavaScript.)
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { CacheError, createCache, type NodeAddress, routers } from 'sentinel-cache';

const sentinels: NodeAddress[] = (process.env.SENTINEL_CACHE_SENTINELS ?? '127.0.0.1:26379')
  .split(',')
  .map((s) => {
    const [host, port] = s.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port) };
  });
const service = process.env.SENTINEL_CACHE_SERVICE ?? 'mymaster';

// The channel's context object (the same object for every event of one operation); `started`
// is this subscriber's own field.
interface CommandContext {
  operation: string;
  intent: 'read' | 'write';
  key: string | undefined;
  cacheId: number;
  result?: unknown;
  error?: unknown;
  started?: number;
}

// Every operation of every cache in the process, for APM agents and your own tracing.
const channel = tracingChannel<unknown, CommandContext>('sentinel-cache:command');
const subscribers = {
  start(ctx: CommandContext) {
    ctx.started = performance.now();
  },
  asyncEnd(ctx: CommandContext) {
    const ms = (performance.now() - (ctx.started ?? 0)).toFixed(1);
    console.log(
      `trace: ${ctx.operation} ${ctx.key ?? '-'} ${ctx.error ? (ctx.error as CacheError).code : 'ok'} (${ms} ms)`,
    );
  },
  end() {},
  asyncStart() {},
  error() {},
};
channel.subscribe(subscribers);

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

channel.unsubscribe(subscribers);
await degraded.close();
await cache.close();
