#!/usr/bin/env node
// Checks the package as a user gets it: `npm pack` (its prepack script builds), install the
// tarball into an empty project, hold the install to its size budget (the numbers the README
// quotes), load every entry point from ESM and from CommonJS (require(esm), Node >= 20.19),
// check zstd without the optional peer zstd-napi, and compile a TypeScript consumer under
// moduleResolution node16, nodenext and bundler.
//
// Usage: node scripts/check-package.mjs   (needs the npm registry for the package's own
// dependencies). Exits non-zero on the first failure.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// What a plain `npm install sentinel-cache` may bring (issue 25: was 59 packages, 25 MiB).
// Sizes are bytes of file content (`du -sb`, what npm's unpackedSize and packagephobia count),
// not disk blocks: `du -sk` rounds every file up to the filesystem's block, so the same install
// weighs 10-15% more on ext4 with 4 KiB blocks and a different amount elsewhere.
const MAX_PACKAGES = 30;
const MAX_MIB = 12;
const work = mkdtempSync(join(tmpdir(), 'sentinel-cache-package-'));
const run = (cmd, args, cwd, env = {}) =>
  execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
const step = (name) => console.log(`check-package: ${name}`);

try {
  step('npm pack');
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], repo))[0];
  const tarball = join(work, packed.filename);
  const shipped = packed.files.map((f) => f.path);
  const leaked = shipped.filter(
    (path) => path.startsWith('dist/bench') || path.startsWith('dist/chaos') || path.startsWith('test/'),
  );
  if (leaked.length > 0) throw new Error(`the tarball ships ${leaked.slice(0, 5).join(', ')}`);
  if (!shipped.includes('dist/src/cli.js')) throw new Error('the tarball has no dist/src/cli.js');

  step('install the tarball into an empty project');
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--omit=dev', tarball], app);
  const lock = JSON.parse(readFileSync(join(app, 'node_modules', '.package-lock.json'), 'utf8'));
  const packages = Object.keys(lock.packages).filter((path) => path !== '');
  const kib = (path) => Number(run('du', ['-sb', path], app).split('\t')[0]) / 1024;
  const diskKib = (path) => Number(run('du', ['-sk', path], app).split('\t')[0]);
  const mib = (k) => (k / 1024).toFixed(1);
  const total = kib('node_modules');
  const tarballKb = Math.round(packed.size / 1024);
  console.log(
    `check-package: installed ${packages.length} packages (sentinel-cache included), ${mib(total)} MiB in node_modules (du -sb; ${mib(diskKib('node_modules'))} MiB on disk, du -sk); tarball ${tarballKb} kB`,
  );
  const topLevel = packages.filter((path) => path.split('node_modules/').length === 2);
  const sizes = topLevel
    .map((path) => [path.slice('node_modules/'.length), kib(path)])
    .sort((a, b) => b[1] - a[1]);
  console.log(
    `check-package: largest: ${sizes
      .slice(0, 6)
      .map(([name, k]) => `${name} ${mib(k)}`)
      .join(', ')} (MiB)`,
  );
  if (packages.length > MAX_PACKAGES || total > MAX_MIB * 1024) {
    throw new Error(
      `the install is ${packages.length} packages, ${mib(total)} MiB; the budget is ${MAX_PACKAGES} packages, ${MAX_MIB} MiB`,
    );
  }
  const runtime = packages.filter((path) =>
    /node_modules\/(vega|d3-|cli-progress|hdr-histogram|zstd-napi)/.test(path),
  );
  if (runtime.length > 0) throw new Error(`dev-only packages installed: ${runtime.join(', ')}`);

  // Optional peers the keyv and telemetry entry points need, as a user of those would add them.
  run('npm', ['install', '--no-audit', '--no-fund', 'keyv@5', '@opentelemetry/api@1'], app);

  step('ESM import and CommonJS require of every entry point');
  const entries = {
    'sentinel-cache': ['createCache', 'compressors', 'routers', 'CacheError'],
    'sentinel-cache/topology': ['startTopology', 'startStandalone'],
    'sentinel-cache/keyv': ['KeyvSentinelStore'],
    'sentinel-cache/telemetry': ['instrument', 'COMMAND_CHANNEL'],
  };
  const checks = Object.entries(entries).map(
    ([spec, names]) => `[${JSON.stringify(spec)}, ${JSON.stringify(names)}]`,
  );
  const body = (load) => `
const assert = (ok, what) => { if (!ok) { console.error('missing: ' + what); process.exit(1); } };
for (const [spec, names] of [${checks.join(', ')}]) {
  const mod = ${load};
  for (const name of names) assert(mod[name] !== undefined, spec + ' ' + name);
}
`;
  writeFileSync(join(app, 'esm.mjs'), body('await import(spec)'));
  writeFileSync(join(app, 'cjs.cjs'), body('require(spec)'));
  run(process.execPath, ['esm.mjs'], app);
  run(process.execPath, ['cjs.cjs'], app);

  step("zstd without zstd-napi: node:zlib's where Node has it, else a ConfigError saying what to install");
  writeFileSync(
    join(app, 'zstd.mjs'),
    `import { compressors, ConfigError } from 'sentinel-cache';
const [major, minor] = process.versions.node.split('.').map(Number);
const nodeHasZstd = major > 23 || (major === 23 && minor >= 8) || (major === 22 && minor >= 15);
if (nodeHasZstd) {
  const zstd = compressors.zstd();
  const text = Buffer.from('zstd '.repeat(100));
  if (zstd.implementation !== 'node:zlib' || !zstd.decompress(zstd.compress(text), 1e6).equals(text)) process.exit(1);
} else {
  try {
    compressors.zstd();
    process.exit(2);
  } catch (error) {
    if (!(error instanceof ConfigError) || !error.message.includes('npm install zstd-napi')) throw error;
  }
}
`,
  );
  run(process.execPath, ['zstd.mjs'], app);

  step('the CLI runs, and its bench command explains where the bench is');
  const bin = join(app, 'node_modules', '.bin', 'sentinel-cache');
  if (!run(bin, ['--help'], app).includes('topology'))
    throw new Error('sentinel-cache --help has no topology');
  let benchMessage = '';
  try {
    run(bin, ['bench', '--quick'], app);
  } catch (error) {
    benchMessage = String(error.stderr);
  }
  if (!benchMessage.includes('npm run bench')) {
    throw new Error(
      `sentinel-cache bench in an install should point to the repository; said: ${benchMessage}`,
    );
  }

  step('TypeScript consumers: moduleResolution node16, nodenext, bundler');
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const consumer = `
import { type CacheOptions, compressors, createCache, routers } from 'sentinel-cache';
import { startStandalone, type Topology } from 'sentinel-cache/topology';
import { KeyvSentinelStore } from 'sentinel-cache/keyv';
import { instrument } from 'sentinel-cache/telemetry';
const options: CacheOptions = { router: routers.standalone({ host: '127.0.0.1', port: 1 }), compressor: compressors.lz4() };
const cache = createCache(options);
const store: KeyvSentinelStore = new KeyvSentinelStore(cache);
const stop: () => void = instrument(cache).stop;
const start: () => Promise<unknown> = startStandalone;
const x: Topology | undefined = undefined;
export { store, stop, start, x };
`;
  writeFileSync(join(app, 'consumer.ts'), consumer);
  writeFileSync(
    join(app, 'consumer-cjs.cts'),
    `import { createCache } from 'sentinel-cache';\nimport { KeyvSentinelStore } from 'sentinel-cache/keyv';\nexport const f: typeof createCache = createCache;\nexport type S = KeyvSentinelStore;\n`,
  );
  const typeRoots = join(repo, 'node_modules', '@types');
  // skipLibCheck true is what `tsc --init` writes; with false, tsc also checks ioredis' own
  // declarations, and ioredis 6.1's errors import redis-errors, whose types are only in its
  // devDependencies: such a consumer adds @types/redis-errors (README, "Install"). Both run.
  const settings = [
    {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      files: ['consumer.ts', 'consumer-cjs.cts'],
      skipLibCheck: true,
    },
    { module: 'node16', moduleResolution: 'node16', files: ['consumer.ts'] },
    { module: 'nodenext', moduleResolution: 'nodenext', files: ['consumer.ts', 'consumer-cjs.cts'] },
    { module: 'esnext', moduleResolution: 'bundler', files: ['consumer.ts'] },
  ];
  for (const { module, moduleResolution, files, skipLibCheck = false } of settings) {
    if (!skipLibCheck && !existsSync(join(app, 'node_modules', '@types', 'redis-errors'))) {
      run('npm', ['install', '--no-audit', '--no-fund', '-D', '@types/redis-errors'], app);
    }
    const config = {
      compilerOptions: {
        module,
        moduleResolution,
        target: 'es2022',
        strict: true,
        noEmit: true,
        skipLibCheck,
        types: ['node'],
        typeRoots: [typeRoots],
      },
      files,
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(config));
    try {
      run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
    } catch (error) {
      throw new Error(
        `tsc with moduleResolution ${moduleResolution} failed:\n${error.stdout}${error.stderr}`,
      );
    }
    step(`  ${moduleResolution}${skipLibCheck ? ' (skipLibCheck)' : ''}: ok`);
  }
  console.log('check-package: all checks passed');
} finally {
  rmSync(work, { recursive: true, force: true });
}
