/**
 * Errors of the topology layer. They are not CacheErrors: they are about getting a Redis
 * deployment to test against, not about cache operations.
 */

/** None of the providers can give a topology on this machine; the message says how to get one. */
export class TopologyUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TopologyUnavailableError';
  }
}

/** A control (pause, kill, restart...) the provider cannot perform, e.g. on an external deployment. */
export class TopologyControlUnsupportedError extends Error {
  constructor(provider: string, control: string) {
    super(
      `${control}() needs control over the Redis processes, which the '${provider}' topology provider does not have; ` +
        "use provider 'process' or 'testcontainers' for fault injection",
    );
    this.name = 'TopologyControlUnsupportedError';
  }
}

/** A topology did not reach the expected state in time (not healthy, no new master, a node did not start). */
export class TopologyTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TopologyTimeoutError';
  }
}

export const INSTALL_HINT =
  'install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) so it is on PATH, ' +
  'or start Docker (the testcontainers provider needs a reachable Docker engine and `npm install testcontainers`), ' +
  'or point at an existing deployment with SENTINEL_CACHE_SENTINELS=host:port,... and SENTINEL_CACHE_SERVICE=<name>';
