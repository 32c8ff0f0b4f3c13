import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Unix sockets where Docker (or a compatible engine) usually listens. */
export function dockerSocketCandidates(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? homedir();
  const candidates = [
    '/var/run/docker.sock',
    join(home, '.docker/run/docker.sock'),
    join(home, '.colima/default/docker.sock'),
  ];
  if (env.XDG_RUNTIME_DIR) candidates.push(join(env.XDG_RUNTIME_DIR, 'docker.sock'));
  return candidates;
}

function canConnect(path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Whether a Docker engine looks reachable: DOCKER_HOST set (we trust it; testcontainers will
 * report a precise error), or one of the usual sockets accepts a connection.
 */
export async function isDockerReachable(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 500,
): Promise<boolean> {
  if (env.DOCKER_HOST) return true;
  for (const path of dockerSocketCandidates(env)) {
    if (existsSync(path) && (await canConnect(path, timeoutMs))) return true;
  }
  return false;
}
