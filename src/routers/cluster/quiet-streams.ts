import type { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';

/**
 * ioredis listens for a connection's socket errors with `stream.once('error')`: a socket that
 * errs twice (a TLS handshake refused by certificate verification, then the server's alert) has
 * no listener for the second error, which becomes an uncaught exception and would end the
 * application's process. Seen with a cluster whose CA the client does not trust. This connector
 * (ioredis' own, through `redisOptions.Connector`, so the slot-refresh connections ioredis
 * duplicates get it too) gives every socket a lasting no-op listener; the first error still
 * reaches ioredis and the router as before.
 */

type ConnectorClass = new (
  options: unknown,
) => {
  connect(...args: unknown[]): Promise<EventEmitter>;
};

let standalone: ConnectorClass | undefined;

/** ioredis' StandaloneConnector (not exported by the package): the class of a lazy client's connector. */
function standaloneConnector(): ConnectorClass {
  if (standalone === undefined) {
    const probe = new Redis({ lazyConnect: true }); // lazy: no socket is opened
    standalone = (probe as unknown as { connector: object }).connector.constructor as ConnectorClass;
    probe.disconnect();
  }
  return standalone;
}

const ignore = () => {};

/** A `Connector` for ioredis options: the standard one, whose sockets never throw a late error. */
export function quietStreamsConnector(): ConnectorClass {
  const Base = standaloneConnector();
  return class QuietStreamsConnector extends Base {
    override connect(...args: unknown[]): Promise<EventEmitter> {
      return super.connect(...args).then((stream) => {
        stream.on('error', ignore);
        return stream;
      });
    }
  };
}
