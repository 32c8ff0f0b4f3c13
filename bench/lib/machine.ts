/** What the numbers were measured on: machine, runtimes and the versions of every compared library. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { NodeAddress } from '../../src/routers/types.js';

export interface MachineInfo {
  platform: string;
  release: string;
  arch: string;
  cpus: number;
  cpuModel: string;
  totalMemoryMb: number;
  loadAverage: number[];
  node: string;
  redis?: string;
  packages: Record<string, string>;
  /** The measured code: git commit, with '+dirty' when the working tree had changes. */
  commit?: string;
}

const PACKAGES = [
  'sentinel-cache',
  'ioredis',
  'ioredis5',
  'redis',
  'generic-pool',
  'opossum',
  'msgpackr',
  'hdr-histogram-js',
  'vega',
];

/** The project root: the nearest directory above this module with our package.json (works from bench/ and dist/bench/). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'sentinel-cache')
      return dir;
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

function packageVersion(root: string, name: string): string | undefined {
  const manifest =
    name === 'sentinel-cache' ? join(root, 'package.json') : join(root, 'node_modules', name, 'package.json');
  try {
    return JSON.parse(readFileSync(manifest, 'utf8')).version as string;
  } catch {
    return undefined;
  }
}

export function machineInfo(): MachineInfo {
  const root = projectRoot();
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) {
    const version = packageVersion(root, name);
    if (version) packages[name] = version;
  }
  const cpus = os.cpus();
  return {
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemoryMb: Math.round(os.totalmem() / 1024 / 1024),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    packages,
    ...gitCommit(root),
  };
}

/** The checkout's commit, '+dirty' when src, bench or chaos had uncommitted changes (the bench's and chaos' reports). */
export function gitCommit(root: string): { commit?: string } {
  try {
    const run = (args: string[]) =>
      execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = run(['rev-parse', '--short', 'HEAD']);
    const dirty =
      run(['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bench', 'chaos']) !== '';
    return { commit: dirty ? `${head}+dirty` : head };
  } catch {
    return {};
  }
}

/** `redis_version` from INFO server, or undefined if the node does not answer. */
export async function redisVersion(
  address: NodeAddress,
  auth: { password?: string; username?: string } = {},
): Promise<string | undefined> {
  const redis = new Redis({
    host: address.host,
    port: address.port,
    ...(auth.password !== undefined ? { password: auth.password } : {}),
    ...(auth.username !== undefined ? { username: auth.username } : {}),
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const info = await redis.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1];
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}
