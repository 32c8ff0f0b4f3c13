import { describe, expect, it } from 'vitest';
import { parseRoleReply, roleMatches } from '../../src/routers/node-clients.js';

describe('ROLE replies', () => {
  it('parses the role and, for a replica, whether its link to the master is up', () => {
    expect(parseRoleReply(['master', 10, []])).toEqual({ role: 'master', linkUp: true });
    expect(parseRoleReply([Buffer.from('slave'), '127.0.0.1', 6379, 'connected', 1])).toEqual({
      role: 'slave',
      linkUp: true,
    });
    expect(parseRoleReply(['slave', '127.0.0.1', 6379, 'connect', -1])).toEqual({
      role: 'slave',
      linkUp: false,
    });
    expect(parseRoleReply(['sentinel', []]).role).toBe('sentinel');
    expect(parseRoleReply('nonsense').role).toBe('unknown');
  });

  it('matches the role a connection needs', () => {
    expect(roleMatches('master', 'master')).toBe(true);
    expect(roleMatches('slave', 'master')).toBe(false);
    expect(roleMatches('slave', 'replica')).toBe(true);
    expect(roleMatches('master', 'any')).toBe(true);
    expect(roleMatches('sentinel', 'any')).toBe(false);
  });
});
