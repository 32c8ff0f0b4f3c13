import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The port was taken between our check and redis-server's bind: pick another and retry. */
export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(`port ${port} on 127.0.0.1 is already in use`);
    this.name = 'PortInUseError';
  }
}

export interface RedisProcessOptions {
  /** Short name used for the conf, log and pid files: `master`, `replica-1`, `sentinel-0`... */
  name: string;
  kind: 'data' | 'sentinel';
  /** Directory holding conf, log, pid files and data. */
  dir: string;
  redisServerPath: string;
  /** Leave the process running after we exit (CLI `topology up --detach`). */
  detached?: boolean;
  startTimeoutMs?: number;
}

/** What redis-server logs once it listens (data node) / once sentinel mode is up. */
const READY_MARKER = { data: 'Ready to accept connections', sentinel: 'Sentinel ID is' } as const;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends a signal, ignoring "no such process". */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Waits until `pid` is gone (works for processes we did not spawn, e.g. from a state file). */
export async function waitForPidExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(20);
  }
  return !isAlive(pid);
}

/**
 * Stops a redis-server by pid: SIGCONT (it may be paused), SIGTERM, and SIGKILL if it is
 * still there after `graceMs`.
 */
export async function terminatePid(pid: number, graceMs = 3000): Promise<void> {
  signalPid(pid, 'SIGCONT');
  signalPid(pid, 'SIGTERM');
  if (await waitForPidExit(pid, graceMs)) return;
  signalPid(pid, 'SIGKILL');
  await waitForPidExit(pid, 5000);
}

function readFrom(path: string, offset: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(path).size;
    if (size <= offset) return '';
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * One redis-server (data node or sentinel) with its own conf file in the topology dir.
 * `start()` can be called again after the process exited: same conf, same port.
 */
export class RedisProcess {
  readonly name: string;
  readonly kind: 'data' | 'sentinel';
  readonly confPath: string;
  readonly logPath: string;
  readonly pidPath: string;
  port = 0;
  paused = false;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private running = false;

  constructor(private readonly options: RedisProcessOptions) {
    this.name = options.name;
    this.kind = options.kind;
    this.confPath = join(options.dir, `${options.name}.conf`);
    this.logPath = join(options.dir, `${options.name}.log`);
    this.pidPath = join(options.dir, `${options.name}.pid`);
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Write the conf (first start, or a port retry) for `port`. */
  writeConf(port: number, text: string): void {
    this.port = port;
    writeFileSync(this.confPath, text, { mode: 0o600 });
  }

  /** Spawn redis-server with the conf and resolve once it listens. Throws PortInUseError on a bind race. */
  async start(): Promise<void> {
    if (this.running) return;
    const logOffset = fileSize(this.logPath);
    const args = this.kind === 'sentinel' ? [this.confPath, '--sentinel'] : [this.confPath];
    const child = spawn(this.options.redisServerPath, args, {
      cwd: this.options.dir,
      stdio: 'ignore',
      detached: this.options.detached ?? false,
    });
    this.child = child;
    this.paused = false;
    let exitInfo: string | undefined;
    let spawnError: Error | undefined;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
        this.running = false;
        rmSync(this.pidPath, { force: true });
        resolve();
      });
      child.once('error', (error) => {
        spawnError = error;
        exitInfo = error.message;
        this.running = false;
        resolve();
      });
    });
    if (this.options.detached) child.unref();
    if (child.pid === undefined) {
      await this.exited;
      throw new Error(`could not start ${this.options.redisServerPath}: ${spawnError?.message ?? exitInfo}`);
    }
    this.running = true;
    writeFileSync(this.pidPath, String(child.pid));

    const marker = READY_MARKER[this.kind];
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 10_000);
    for (;;) {
      const log = readFrom(this.logPath, logOffset);
      if (!this.running) {
        if (/Address already in use/i.test(log)) throw new PortInUseError(this.port);
        const tail = log.trim().split('\n').slice(-5).join('\n');
        throw new Error(
          `${this.name} (redis-server on port ${this.port}) exited at start (${exitInfo}):\n${tail}`,
        );
      }
      if (log.includes(marker)) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`${this.name} (redis-server on port ${this.port}) did not start within the timeout`);
      }
      await sleep(15);
    }
  }

  signal(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid !== undefined) signalPid(pid, signal);
  }

  pause(): void {
    this.signal('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.signal('SIGCONT');
    this.paused = false;
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await this.exited;
    this.paused = false;
  }

  /** SIGCONT, SIGTERM, SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.signal('SIGCONT');
    this.paused = false;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Synchronous last-resort kill for process 'exit' handlers. */
  killSync(): void {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
  }
}
