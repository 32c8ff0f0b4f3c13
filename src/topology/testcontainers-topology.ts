import type { ResolvedTopologyOptions } from './options.js';
import type { Topology } from './types.js';

export async function startTestcontainersTopology(_options: ResolvedTopologyOptions): Promise<Topology> {
  throw new Error('testcontainers provider: work in progress');
}
