import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TlsFiles } from './redis-conf.js';
import type { TopologyTls } from './types.js';

/**
 * A throwaway CA and one certificate (CN and SAN 127.0.0.1 / localhost, usable for server
 * and client auth) made with the openssl CLI in `dir`. Every node and the control
 * connections use the same certificate; clients verify it against the CA.
 */
export function generateTlsFiles(
  dir: string,
  opensslPath = 'openssl',
): { files: TlsFiles; pem: TopologyTls } {
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'redis.key');
  const csr = join(dir, 'redis.csr');
  const certFile = join(dir, 'redis.crt');
  const ext = join(dir, 'redis.ext');
  const run = (args: string[]) => {
    try {
      execFileSync(opensslPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(
        `openssl ${args[0]} failed (is openssl installed?): ${stderr || (error as Error).message}`,
      );
    }
  };
  // biome-ignore format: option/value pairs read best on shared lines
  run([
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '7',
    '-subj', '/CN=sentinel-cache test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', caKey, '-out', caFile,
  ]);
  run([
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    csr,
  ]);
  writeFileSync(
    ext,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '',
    ].join('\n'),
  );
  // biome-ignore format: option/value pairs read best on shared lines
  run([
    'x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial',
    '-days', '7', '-sha256', '-extfile', ext, '-out', certFile,
  ]);
  return {
    files: { caFile, certFile, keyFile },
    pem: {
      ca: readFileSync(caFile, 'utf8'),
      cert: readFileSync(certFile, 'utf8'),
      key: readFileSync(keyFile, 'utf8'),
    },
  };
}
