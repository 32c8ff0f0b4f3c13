import type { EventEmitter } from 'node:events';
import { type ConnectorClass, standaloneConnectorClass } from '../../core/ioredis-internals.js';

/**
 * ioredis listens for a connection's socket errors with `stream.once('error')`: a socket that
 * errs twice (a TLS handshake refused by certificate verification, then the server's alert) has
 * no listener for the second error, which becomes an uncaught exception and would end the
 * application's process. Seen with a cluster whose CA the client does not trust. This connector
 * (ioredis' own, through `redisOptions.Connector`, so the slot-refresh connections ioredis
 * duplicates get it too) gives every socket a lasting no-op listener; the first error still
 * reaches ioredis and the router as before. `onSocketError` hears every socket error with the
 * node's address: ioredis reports a refused slot-refresh connection only as "Connection is
 * closed.", and the router names the cause (ECONNREFUSED, a certificate) when no node answers.
 */

/** The connection options ioredis gives its connector. */
interface ConnectorOptions {
  host?: string;
  port?: number;
}

/** A `Connector` for ioredis options: the standard one, whose sockets never throw a late error. */
export function quietStreamsConnector(
  onSocketError: (address: string, err: Error) => void,
): ConnectorClass | undefined {
  // Without ioredis' connector class (a fallback, warned once): ioredis' default connector.
  const Base = standaloneConnectorClass();
  if (Base === undefined) return undefined;
  return class QuietStreamsConnector extends Base {
    readonly #address: string;
    constructor(options: unknown) {
      super(options);
      const { host, port } = options as ConnectorOptions;
      this.#address = `${host}:${port}`;
    }

    override connect(...args: unknown[]): Promise<EventEmitter> {
      return super.connect(...args).then((stream) => {
        stream.on('error', (err: Error) => onSocketError(this.#address, err));
        return stream;
      });
    }
  };
}
