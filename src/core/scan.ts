import { ConfigError } from './errors.js';

/**
 * The one SCAN-family cursor loop (SCAN, SSCAN, ...). `step` runs one round trip from a
 * cursor and returns the next cursor and its batch; the loop ends when Redis hands back
 * cursor 0. A cursor is only meaningful on the node that issued it, so `step` must keep
 * talking to one node (one client, or 'write' intent).
 */
export async function* scanBatches<T>(
  step: (cursor: string) => Promise<[cursor: Buffer | string, batch: T[]]>,
): AsyncGenerator<T[]> {
  let cursor = '0';
  do {
    const [next, batch] = await step(cursor);
    cursor = next.toString();
    yield batch;
  } while (cursor !== '0');
}

/** Every element a cursor loop yields, in one array. */
export async function scanAll<T>(
  step: (cursor: string) => Promise<[cursor: Buffer | string, batch: T[]]>,
): Promise<T[]> {
  const found: T[] = [];
  for await (const batch of scanBatches(step)) for (const item of batch) found.push(item);
  return found;
}

export const DEFAULT_SCAN_COUNT = 1000;

/** The COUNT hint of a scan: `count` or the default, refused unless a positive integer. */
export function scanCount(count: number | undefined, name: string): number {
  const value = count ?? DEFAULT_SCAN_COUNT;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`${name} must be a positive integer; got ${String(count)}`);
  }
  return value;
}

/** `[MATCH pattern] COUNT count`, the tail of every SCAN-family command. */
export function scanArgs(match: string | undefined, count: number): Array<string | number> {
  return match === undefined ? ['COUNT', count] : ['MATCH', match, 'COUNT', count];
}
