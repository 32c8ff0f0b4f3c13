import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Free TCP ports on 127.0.0.1.
 *
 * We ask the OS whether a port is free by listening on it and closing again. Ports are
 * drawn at random *below* the kernel's ephemeral range: ports the OS hands out for
 * `listen(0)` come from the ephemeral range, which is also where outgoing client
 * connections get their local port, so a data node restarted on "its" port (restartNode)
 * could find it taken by some client socket. Below the range, only another listener can
 * take it, and the caller retries on a bind failure anyway (the check-then-bind race).
 */

const handedOut = new Set<number>();

function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(low);
    if (Number.isInteger(n) && n > 12_000) return n;
  } catch {
    // not Linux: fall through to the IANA dynamic range start
  }
  return 32_768;
}

const RANGE_LOW = 10_000;
const RANGE_HIGH = Math.min(ephemeralRangeStart(), 49_152);

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** A port on 127.0.0.1 that was free a moment ago and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = RANGE_LOW + Math.floor(Math.random() * (RANGE_HIGH - RANGE_LOW));
    if (handedOut.has(port)) continue;
    if (await isPortFree(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free TCP port found on 127.0.0.1 in ${RANGE_LOW}-${RANGE_HIGH}`);
}

/** Several distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}
