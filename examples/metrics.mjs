/**
 * OpenTelemetry metrics for a cache. Here the SDK's in-memory exporter prints what was recorded;
 * in an application, register your SDK (OTLP, Prometheus, ...) and call instrument(cache).
 * Plain JavaScript (examples/metrics.ts is the same in TypeScript).
 *
 *   REDIS_HOST=127.0.0.1 REDIS_PORT=6379 node examples/metrics.mjs
 */
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { createCache, routers } from 'sentinel-cache';
import { instrument } from 'sentinel-cache/telemetry';

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
const meterProvider = new MeterProvider({ readers: [reader] });

const cache = createCache({
  router: routers.standalone({
    host: process.env.REDIS_HOST ?? '127.0.0.1',
    port: Number(process.env.REDIS_PORT ?? 6379),
  }),
  keyPrefix: 'example',
});
const instrumentation = instrument(cache, { meterProvider, name: 'example' });

await cache.set('page:home', '<html>...</html>');
await cache.get('page:home');
await cache.get('page:missing');

await reader.forceFlush();
for (const { scopeMetrics } of exporter.getMetrics()) {
  for (const { metrics } of scopeMetrics) {
    for (const metric of metrics) {
      for (const point of metric.dataPoints) {
        const value = typeof point.value === 'number' ? point.value : `count ${point.value.count}`;
        console.log(`${metric.descriptor.name} ${JSON.stringify(point.attributes)} ${value}`);
      }
    }
  }
}

instrumentation.stop();
await cache.close();
await meterProvider.shutdown();
