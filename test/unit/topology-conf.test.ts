import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/topology/options.js';
import { dataNodeConf, quote, sentinelConf } from '../../src/topology/redis-conf.js';

const base = { port: 7000, dir: '/tmp/x', logfile: '/tmp/x/n.log', version: [7, 0] as const };

describe('redis.conf generation', () => {
  it('quotes values so spaces, quotes and control characters survive sdssplitargs', () => {
    expect(quote('plain')).toBe('"plain"');
    expect(quote('a b"c\\d\n')).toBe('"a b\\"c\\\\d\\x0a"');
  });

  it('data node: test timings, no persistence, replicaof, auth and ACL user', () => {
    const conf = dataNodeConf({
      ...base,
      replicaOf: { host: '127.0.0.1', port: 7001 },
      auth: { password: 'p w', username: 'app' },
    });
    for (const line of [
      'port 7000',
      'save ""',
      'appendonly no',
      'repl-diskless-sync yes',
      'repl-diskless-sync-delay 0',
      'replicaof 127.0.0.1 7001',
      'requirepass "p w"',
      'masterauth "p w"',
      'user "app" on ">p w" ~* &* +@all',
      'masteruser "app"',
      'shutdown-on-sigterm nosave now',
    ]) {
      expect(conf.split('\n')).toContain(line);
    }
  });

  it('data node on Redis 6 leaves out the Redis 7 shutdown directives', () => {
    expect(dataNodeConf({ ...base, version: [6, 2] })).not.toContain('shutdown-on-sigterm');
  });

  it('tls: tls-port only, plain port closed, replication over TLS', () => {
    const conf = dataNodeConf({
      ...base,
      tls: { caFile: '/c/ca.crt', certFile: '/c/r.crt', keyFile: '/c/r.key' },
    });
    const lines = conf.split('\n');
    expect(lines).toContain('port 0');
    expect(lines).toContain('tls-port 7000');
    expect(lines).toContain('tls-replication yes');
    expect(lines).toContain('tls-ca-cert-file "/c/ca.crt"');
  });

  it('sentinel: monitor, fast timings, announce 127.0.0.1, credentials for master and peers', () => {
    const conf = sentinelConf({
      ...base,
      service: 'mymaster',
      master: { host: '127.0.0.1', port: 7001 },
      quorum: 2,
      downAfterMs: 1000,
      failoverTimeoutMs: 5000,
      auth: { password: 'data', username: 'app', sentinelPassword: 'sent', sentinelUsername: 'ops' },
    });
    const lines = conf.split('\n');
    for (const line of [
      'sentinel resolve-hostnames no',
      'sentinel announce-ip 127.0.0.1',
      'sentinel monitor "mymaster" 127.0.0.1 7001 2',
      'sentinel down-after-milliseconds "mymaster" 1000',
      'sentinel failover-timeout "mymaster" 5000',
      'sentinel auth-pass "mymaster" "data"',
      'sentinel auth-user "mymaster" "app"',
      'requirepass "sent"',
      'sentinel sentinel-pass "sent"',
      'sentinel sentinel-user "ops"',
    ]) {
      expect(lines).toContain(line);
    }
    // auth-pass must follow monitor, or sentinel rejects the config
    expect(conf.indexOf('auth-pass')).toBeGreaterThan(conf.indexOf('sentinel monitor'));
  });
});

describe('option defaults', () => {
  it('2 replicas, 3 sentinels, majority quorum, 1 s down-after, 5 s failover timeout', () => {
    const o = resolveOptions({});
    expect(o).toMatchObject({
      replicas: 2,
      sentinels: 3,
      quorum: 2,
      service: 'mymaster',
      downAfterMs: 1000,
      failoverTimeoutMs: 5000,
    });
    expect(resolveOptions({ sentinels: 5 }).quorum).toBe(3);
    expect(() => resolveOptions({ sentinels: 1, quorum: 2 })).toThrow(RangeError);
    expect(() => resolveOptions({ service: 'bad name' })).toThrow(RangeError);
  });
});
