import { debuglog } from 'node:util';

/**
 * `NODE_DEBUG=sentinel-cache`: one line on stderr per decision the cache takes on its own
 * (a near-cache flush, a failure ignoreErrors turned into an answer, keeping the process
 * alive), through `util.debuglog`, as Node's own modules do. Off, a call site pays one test of
 * a constant: callers write `if (debugEnabled) debug('...', ...)`, so no line is formatted and
 * no argument is built.
 */
export const debug = debuglog('sentinel-cache');

/** Whether NODE_DEBUG names sentinel-cache (read once: Node reads NODE_DEBUG once too). */
export const debugEnabled = debug.enabled;
