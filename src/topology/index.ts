/**
 * `sentinel-cache/topology`: a real Redis Sentinel topology on demand, for tests, the
 * benchmark suite and users trying the client. See README "Topology" and docs/design.md.
 *
 * @module sentinel-cache/topology
 */
import { authFromEnv, connectExternalTopology } from './external.js';
import { resolveOptions } from './options.js';
import { startProcessTopology } from './process-topology.js';
import { redisServerVersion } from './redis-binary.js';
import { chooseProvider, defaultEnvironment, type ProviderEnvironment } from './select-provider.js';
import { startTestcontainersTopology } from './testcontainers-topology.js';
import type { Topology, TopologyOptions } from './types.js';

export {
  type ClusterShardView,
  ClusterTopology,
  type ClusterTopologyOptions,
  type ClusterTopologyRouterOptions,
  startCluster,
} from './cluster.js';
export { TopologyControlUnsupportedError, TopologyTimeoutError, TopologyUnavailableError } from './errors.js';
export { parseSentinelList } from './external.js';
export type { ProcessTopology, ProcessTopologyState } from './process-topology.js';
export { chooseProvider, type ProviderChoice, type ProviderEnvironment } from './select-provider.js';
export { startStandalone } from './standalone.js';
export type * from './types.js';

/**
 * Start (or connect to) a Sentinel topology and resolve once it is healthy: every replica
 * linked to the master, every sentinel knowing the master, all replicas and the other sentinels.
 */
export async function startTopology(
  options: TopologyOptions = {},
  environment: ProviderEnvironment = defaultEnvironment(),
): Promise<Topology> {
  const resolved = resolveOptions(options);
  const choice = await chooseProvider(options, environment);
  resolved.log(`topology provider: ${choice.provider}`);
  switch (choice.provider) {
    case 'external': {
      const auth = options.auth ?? authFromEnv(environment.env);
      return connectExternalTopology({
        sentinels: choice.sentinels,
        service: choice.service,
        ...(auth ? { auth } : {}),
      });
    }
    case 'process':
      return startProcessTopology({
        ...resolved,
        redisServerPath: choice.redisServerPath,
        redisVersion: redisServerVersion(choice.redisServerPath),
      });
    case 'testcontainers':
      return startTestcontainersTopology(resolved);
  }
}
