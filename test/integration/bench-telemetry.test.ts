/** CI smoke of `npm run bench:telemetry -- --quick`: it runs and prints its three rows. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

describe('bench:telemetry --quick', () => {
  it('measures a plain and an instrumented cache', async () => {
    const { stdout } = await exec(
      process.execPath,
      ['--import', 'tsx', join('bench', 'telemetry-overhead.ts'), '--quick'],
      { cwd: ROOT, timeout: 120_000 },
    );
    for (const row of [
      'plain cache (no subscriber)',
      'instrument(), no SDK',
      'instrument(), SDK recording',
    ]) {
      expect(stdout).toMatch(
        new RegExp(`\\| ${row.replace(/[()]/g, '\\$&')} \\| [\\d,]+ \\| -?\\d+\\.\\d %`),
      );
    }
  });
});
