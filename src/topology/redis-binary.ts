import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { RedisVersion } from './redis-conf.js';

/**
 * Finds an executable the way a shell would: `name` with a slash is taken as a path,
 * otherwise each PATH entry is tried. PATH is a parameter so tests can point it at an
 * empty directory.
 */
export function findExecutable(name: string, pathEnv: string | undefined = process.env.PATH): string | null {
  const canRun = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (name.includes('/') || isAbsolute(name)) return canRun(name) ? name : null;
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    if (canRun(file)) return file;
  }
  return null;
}

const versions = new Map<string, RedisVersion>();

/** `[major, minor]` from `redis-server --version` ("Redis server v=7.0.15 ..."). */
export function redisServerVersion(path: string): RedisVersion {
  const known = versions.get(path);
  if (known) return known;
  const out = execFileSync(path, ['--version'], { encoding: 'utf8' });
  const m = /v=(\d+)\.(\d+)/.exec(out);
  const version: RedisVersion = m ? [Number(m[1]), Number(m[2])] : [7, 0];
  versions.set(path, version);
  return version;
}
