import type { NodeAddress } from '../core/address.js';
import { isDockerReachable } from './docker-detect.js';
import { INSTALL_HINT, TopologyUnavailableError } from './errors.js';
import { parseSentinelList } from './external.js';
import { findExecutable } from './redis-binary.js';
import type { ProviderName, TopologyOptions } from './types.js';

/** Where provider selection looks; tests point it at a stubbed PATH / env / Docker probe. */
export interface ProviderEnvironment {
  /** The environment to read `SENTINEL_CACHE_SENTINELS` and friends from. */
  env: NodeJS.ProcessEnv;
  /** Resolves true when a Docker engine answers (for the testcontainers provider). */
  dockerReachable: () => Promise<boolean>;
}

export const defaultEnvironment = (): ProviderEnvironment => ({
  env: process.env,
  dockerReachable: () => isDockerReachable(process.env),
});

/** The provider `chooseProvider()` picked, with what it needs to start (sentinels found, or the `redis-server` binary). */
export type ProviderChoice =
  | { provider: 'external'; sentinels: NodeAddress[]; service: string }
  | { provider: 'process'; redisServerPath: string }
  | { provider: 'testcontainers' };

function externalChoice(env: NodeJS.ProcessEnv, options: TopologyOptions): ProviderChoice | null {
  const list = env.SENTINEL_CACHE_SENTINELS?.trim();
  if (!list) return null;
  const sentinels = parseSentinelList(list);
  if (sentinels.length === 0) return null;
  return {
    provider: 'external',
    sentinels,
    service: env.SENTINEL_CACHE_SERVICE || options.service || 'mymaster',
  };
}

/**
 * `auto`: an existing deployment (SENTINEL_CACHE_SENTINELS) → redis-server on PATH → Docker.
 * An explicit provider is checked for its prerequisite and fails with the same hint.
 */
export async function chooseProvider(
  options: TopologyOptions,
  environment: ProviderEnvironment = defaultEnvironment(),
): Promise<ProviderChoice> {
  const requested: 'auto' | ProviderName = options.provider ?? 'auto';
  const { env } = environment;
  const redisServer = () => findExecutable(options.redisServerPath ?? 'redis-server', env.PATH);

  if (requested === 'external') {
    const choice = externalChoice(env, options);
    if (!choice) {
      throw new TopologyUnavailableError(
        "provider 'external' needs SENTINEL_CACHE_SENTINELS=host:port,... (and SENTINEL_CACHE_SERVICE, default mymaster)",
      );
    }
    return choice;
  }
  if (requested === 'process') {
    const path = redisServer();
    if (!path) {
      throw new TopologyUnavailableError(
        `provider 'process' needs ${options.redisServerPath ?? 'redis-server'} on PATH: ${INSTALL_HINT}`,
      );
    }
    return { provider: 'process', redisServerPath: path };
  }
  if (requested === 'testcontainers') {
    if (!(await environment.dockerReachable())) {
      throw new TopologyUnavailableError(
        `provider 'testcontainers' needs a reachable Docker engine: ${INSTALL_HINT}`,
      );
    }
    return { provider: 'testcontainers' };
  }

  const external = externalChoice(env, options);
  if (external) return external;
  const path = redisServer();
  if (path) return { provider: 'process', redisServerPath: path };
  if (await environment.dockerReachable()) return { provider: 'testcontainers' };
  throw new TopologyUnavailableError(`no Redis Sentinel topology available: ${INSTALL_HINT}`);
}
