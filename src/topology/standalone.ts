import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerCleanup, startWatchdog } from './cleanup.js';
import { INSTALL_HINT, TopologyUnavailableError } from './errors.js';
import { validateStandaloneOptions } from './options.js';
import { freePort } from './ports.js';
import { findExecutable, redisServerVersion } from './redis-binary.js';
import { dataNodeConf } from './redis-conf.js';
import { PortInUseError, RedisProcess } from './redis-process.js';
import { generateTlsFiles } from './tls-certs.js';
import type { Standalone, StandaloneOptions } from './types.js';

/** One plain redis-server on a free 127.0.0.1 port, in its own temp dir (for the standalone router's tests). */
export async function startStandalone(options: StandaloneOptions = {}): Promise<Standalone> {
  validateStandaloneOptions(options);
  const binary = findExecutable(options.redisServerPath ?? 'redis-server');
  if (!binary) {
    throw new TopologyUnavailableError(`startStandalone needs redis-server on PATH: ${INSTALL_HINT}`);
  }
  const log = options.log ?? (() => {});
  const version = redisServerVersion(binary);
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-cache-standalone-'));
  const proc = new RedisProcess({ name: 'standalone', kind: 'data', dir, redisServerPath: binary });
  const watchdog = startWatchdog(dir);
  const unregister = registerCleanup(() => {
    proc.killSync();
    rmSync(dir, { recursive: true, force: true });
  });
  const cleanUp = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
    watchdog.release();
    unregister();
  };
  try {
    const tls = options.tls ? generateTlsFiles(dir) : undefined;
    const auth =
      options.password !== undefined ? { password: options.password, username: options.username } : undefined;
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      proc.writeConf(
        port,
        dataNodeConf({
          port,
          dir,
          logfile: proc.logPath,
          version,
          ...(auth ? { auth } : {}),
          ...(tls ? { tls: tls.files } : {}),
        }),
      );
      try {
        await proc.start();
        break;
      } catch (error) {
        if (!(error instanceof PortInUseError) || attempt >= 5) throw error;
      }
    }
    log(`standalone redis-server on 127.0.0.1:${proc.port} (pid ${proc.pid})`);
    const userInfo =
      options.password !== undefined
        ? `${encodeURIComponent(options.username ?? '')}:${encodeURIComponent(options.password)}@`
        : '';
    let stopping: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port: proc.port,
      url: `${tls ? 'rediss' : 'redis'}://${userInfo}127.0.0.1:${proc.port}`,
      ...(tls ? { tls: tls.pem } : {}),
      async pause() {
        proc.pause();
      },
      async resume() {
        proc.resume();
      },
      kill: () => proc.kill(),
      stop() {
        stopping ??= cleanUp();
        return stopping;
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
