import type { Topology } from './types.js';

/**
 * Human-readable addresses plus a `createCache` config to paste into an app. Passwords are
 * never printed: the snippet reads them from the environment variables the CLI and the
 * external provider read them from (SENTINEL_CACHE_PASSWORD, SENTINEL_CACHE_SENTINEL_PASSWORD).
 */
export function describeTopology(t: Topology, caFile = 'ca.crt'): string {
  const lines = [`Redis Sentinel topology '${t.service}' is up (provider: ${t.provider})`];
  t.nodes.forEach((n, i) => {
    lines.push(`  ${(i === 0 ? 'master' : 'replica').padEnd(9)} ${n.host}:${n.port}`);
  });
  for (const s of t.sentinels) lines.push(`  ${'sentinel'.padEnd(9)} ${s.host}:${s.port}`);
  const sentinels = t.sentinels.map((s) => `{ host: '${s.host}', port: ${s.port} }`).join(', ');
  const extra: string[] = [];
  if (t.auth?.username) extra.push(`    username: '${t.auth.username}',`);
  if (t.auth) extra.push('    password: process.env.SENTINEL_CACHE_PASSWORD,');
  if (t.auth?.sentinelUsername) extra.push(`    sentinelUsername: '${t.auth.sentinelUsername}',`);
  if (t.auth?.sentinelPassword !== undefined)
    extra.push('    sentinelPassword: process.env.SENTINEL_CACHE_SENTINEL_PASSWORD,');
  if (t.tls) {
    const ca = `readFileSync(${JSON.stringify(caFile)})`;
    extra.push(`    tls: { ca: ${ca} },`, `    sentinelTls: { ca: ${ca} },`);
  }
  lines.push(
    '',
    'Use it from your app:',
    '',
    "import { createCache, routers } from 'sentinel-cache';",
    '',
    'const cache = createCache({',
    '  router: routers.pooled({',
    `    sentinels: [${sentinels}],`,
    `    service: '${t.service}',`,
    ...extra,
    '  }),',
    '});',
    '',
    'Or let tests and the bench use it (external provider):',
    `  export SENTINEL_CACHE_SENTINELS=${t.sentinels.map((s) => `${s.host}:${s.port}`).join(',')} SENTINEL_CACHE_SERVICE=${t.service}`,
  );
  return lines.join('\n');
}
