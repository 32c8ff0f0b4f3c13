import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDockerReachable } from '../../src/topology/docker-detect.js';
import {
  chooseProvider,
  type ProviderEnvironment,
  parseSentinelList,
  startTopology,
  TopologyUnavailableError,
} from '../../src/topology/index.js';

const emptyDir = mkdtempSync(join(tmpdir(), 'sentinel-cache-empty-path-'));
afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));

function environment(env: NodeJS.ProcessEnv, docker: boolean): ProviderEnvironment {
  return { env, dockerReachable: async () => docker };
}

describe('provider selection', () => {
  it('auto with SENTINEL_CACHE_SENTINELS set → external, even when redis-server is on PATH', async () => {
    const choice = await chooseProvider(
      {},
      environment(
        {
          SENTINEL_CACHE_SENTINELS: '10.0.0.1:26379, sentinel-b:26380',
          SENTINEL_CACHE_SERVICE: 'cache',
          PATH: process.env.PATH,
        },
        true,
      ),
    );
    expect(choice).toEqual({
      provider: 'external',
      service: 'cache',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-b', port: 26380 },
      ],
    });
  });

  it('auto without the env → redis-server from PATH', async () => {
    const choice = await chooseProvider({}, environment({ PATH: process.env.PATH }, true));
    expect(choice.provider).toBe('process');
  });

  it('auto without redis-server on PATH but with Docker → testcontainers', async () => {
    const choice = await chooseProvider({}, environment({ PATH: emptyDir }, true));
    expect(choice).toEqual({ provider: 'testcontainers' });
  });

  it('auto with nothing available → TopologyUnavailableError that says what to install', async () => {
    const env = environment({ PATH: emptyDir }, false);
    const error = await startTopology({}, env).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TopologyUnavailableError);
    const message = (error as Error).message;
    expect(message).toContain('apt-get install redis-server');
    expect(message).toContain('Docker');
    expect(message).toContain('SENTINEL_CACHE_SENTINELS');
  });

  it('explicit providers check their own prerequisite', async () => {
    await expect(
      chooseProvider({ provider: 'process' }, environment({ PATH: emptyDir }, true)),
    ).rejects.toThrow(/redis-server on PATH/);
    await expect(
      chooseProvider({ provider: 'testcontainers' }, environment({ PATH: emptyDir }, false)),
    ).rejects.toThrow(/reachable Docker engine/);
    await expect(chooseProvider({ provider: 'external' }, environment({}, true))).rejects.toThrow(
      /SENTINEL_CACHE_SENTINELS/,
    );
  });

  it('redisServerPath may name a binary that is not on PATH', async () => {
    await expect(
      chooseProvider(
        { provider: 'process', redisServerPath: join(emptyDir, 'redis-server') },
        environment({}, false),
      ),
    ).rejects.toBeInstanceOf(TopologyUnavailableError);
  });
});

// Without a Docker engine the testcontainers provider must fail with the hint, not hang or crash.
// (Where Docker exists this would start real containers, so it is skipped there.)
const dockerHere = await isDockerReachable();

describe.skipIf(dockerHere)('testcontainers provider without Docker', () => {
  it('loads testcontainers lazily and reports the missing engine as TopologyUnavailableError', async () => {
    const error = await startTopology(
      { provider: 'testcontainers' },
      { env: process.env, dockerReachable: async () => true },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TopologyUnavailableError);
    expect((error as Error).message).toMatch(/no working Docker engine.*start Docker/);
  });
});

describe('parseSentinelList', () => {
  it('parses host:port lists, IPv6 in brackets, and rejects garbage', () => {
    expect(parseSentinelList('a:1,[::1]:26379')).toEqual([
      { host: 'a', port: 1 },
      { host: '::1', port: 26379 },
    ]);
    expect(() => parseSentinelList('nocolon')).toThrow(TopologyUnavailableError);
  });
});
