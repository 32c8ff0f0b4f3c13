/**
 * The topology the bench runs against: src/topology with provider 'auto' (an existing
 * deployment from SENTINEL_CACHE_SENTINELS, else local redis-server processes, else Docker),
 * two replicas and three sentinels.
 */
import { startTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';

export async function startBenchTopology(options: {
  downAfterMs: number;
  log?: (line: string) => void;
}): Promise<Topology> {
  return startTopology({
    provider: 'auto',
    replicas: 2,
    sentinels: 3,
    downAfterMs: options.downAfterMs,
    ...(options.log ? { log: options.log } : {}),
  });
}
