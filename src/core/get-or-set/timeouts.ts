/**
 * getOrSet's soft and hard timeouts: how long a caller waits for a value being produced.
 * Neither cancels the work: a factory that is still running finishes in the background and
 * stores its value (the caller just stops waiting for it).
 */

export type Waited<T> =
  | { readonly kind: 'value'; readonly value: T }
  /** The soft timeout passed first (only armed when a stale value can be served instead). */
  | { readonly kind: 'soft-timeout' }
  /** The hard timeout passed first. */
  | { readonly kind: 'hard-timeout' };

/**
 * Waits for `work`, at most `softMs` / `hardMs` (undefined = not armed). Rejects when `work`
 * rejects before a timeout passed. Timers are cleared as soon as anything settles, so a
 * finished wait never keeps the process alive.
 */
export function waitWithTimeouts<T>(
  work: Promise<T>,
  softMs: number | undefined,
  hardMs: number | undefined,
): Promise<Waited<T>> {
  if (softMs === undefined && hardMs === undefined) {
    return work.then((value) => ({ kind: 'value', value }));
  }
  return new Promise<Waited<T>>((resolve, reject) => {
    const timers: NodeJS.Timeout[] = [];
    const settle = (outcome: Waited<T> | { error: unknown }) => {
      for (const timer of timers) clearTimeout(timer);
      if ('error' in outcome) reject(outcome.error);
      else resolve(outcome);
    };
    if (softMs !== undefined) timers.push(setTimeout(() => settle({ kind: 'soft-timeout' }), softMs));
    if (hardMs !== undefined) timers.push(setTimeout(() => settle({ kind: 'hard-timeout' }), hardMs));
    work.then(
      (value) => settle({ kind: 'value', value }),
      (error: unknown) => settle({ error }),
    );
  });
}
