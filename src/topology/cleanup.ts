import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Last-resort cleanup of the processes a topology started.
 *
 * Normal path: the caller's `stop()`. When that never runs (a test runner killed mid-way,
 * Ctrl-C, an uncaught exception), two mechanisms take over:
 *  1. process 'exit' / SIGINT / SIGTERM / SIGHUP handlers run every registered sync cleanup;
 *  2. a tiny `sh` watchdog per topology that reads a pipe from us: when we die in any way,
 *     even SIGKILL, the pipe closes and it SIGKILLs the pids listed in the topology's dir
 *     and removes the dir. Node cannot set PR_SET_PDEATHSIG on its children, this is the
 *     portable equivalent.
 */

type SyncCleanup = () => void;

const cleanups = new Set<SyncCleanup>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

function runAll(): void {
  for (const fn of [...cleanups]) {
    try {
      fn();
    } catch {
      // best effort: keep cleaning the others
    }
  }
  cleanups.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  uninstall();
  // If someone else also listens for this signal, they decide what happens next;
  // otherwise behave like the default handler and die of the signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', runAll);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** Register a synchronous cleanup; returns the function that unregisters it. */
export function registerCleanup(fn: SyncCleanup): () => void {
  cleanups.add(fn);
  install();
  return () => {
    cleanups.delete(fn);
    if (cleanups.size === 0) uninstall();
  };
}

const WATCHDOG_SCRIPT = [
  // Block until our parent closes the pipe (stop() or death).
  'cat >/dev/null',
  'for f in "$0"/*.pid; do',
  '  [ -f "$f" ] || continue',
  '  p=$(cat "$f")',
  '  kill -CONT "$p" 2>/dev/null',
  '  kill -KILL "$p" 2>/dev/null',
  'done',
  'rm -rf "$0"',
].join('\n');

export interface Watchdog {
  /** Close the pipe: the watchdog cleans `dir` (normally already empty) and exits. */
  release(): void;
}

/** Start a watchdog for `dir`, which holds one `<name>.pid` file per live process. */
export function startWatchdog(dir: string): Watchdog {
  let child: ChildProcess | undefined;
  try {
    child = spawn('sh', ['-c', WATCHDOG_SCRIPT, dir], {
      // Own process group: a terminal Ctrl-C must not kill it before it did its job.
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', () => {});
    child.unref();
    const stdin = child.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null;
    stdin?.on('error', () => {});
    stdin?.unref?.();
  } catch {
    child = undefined;
  }
  return {
    release() {
      child?.stdin?.end();
    },
  };
}

/**
 * What keeps a topology's processes from outliving us: an exit/signal hook that kills them and
 * removes `dir`, and the watchdog for a death no hook sees (SIGKILL). None for a detached
 * topology (CLI `--detach`), whose processes are meant to outlive us. `release()` once stopped.
 */
export interface ProcessGuard {
  release(): void;
}

export function guardProcesses(
  dir: string,
  procs: readonly { killSync(): void }[],
  detached: boolean | undefined,
): ProcessGuard {
  if (detached) return { release() {} };
  const watchdog = startWatchdog(dir);
  const unregister = registerCleanup(() => {
    for (const p of procs) p.killSync();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    release() {
      watchdog.release();
      unregister();
    },
  };
}
