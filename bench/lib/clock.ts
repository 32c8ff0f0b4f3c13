import { performance } from 'node:perf_hooks';

/**
 * Epoch milliseconds with sub-millisecond precision and no jumps backwards within the run:
 * the failover timeline compares its own times with Redis' MONITOR timestamps (epoch, same
 * machine clock for a local topology), so it needs an epoch base, not just performance.now().
 */
export const nowMs = (): number => performance.timeOrigin + performance.now();
