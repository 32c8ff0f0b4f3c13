import type { ClusterOptions, Redis } from 'ioredis';
import { ReplicaNotFoundError } from '../../core/errors.js';
import type { ReadFrom } from '../types.js';

/**
 * `readFrom` on a cluster, with the Sentinel routers' meaning:
 *
 * - 'replica': a read runs on a replica of the key's slot, never on the master; when the slot
 *   has no usable replica the read fails at once with ReplicaNotFoundError.
 * - 'replica-preferred': a replica of the slot; the master when the slot has none usable.
 *
 * ioredis calls `scaleReads` for every read-only command with the slot's nodes (the master
 * first, then the replicas CLUSTER SLOTS lists: a replica the cluster flagged as failed is not
 * listed). A replica is usable while its connection is up or still being opened; one whose
 * connection broke (reconnecting, closed) is not. Commands of a write operation (its reads
 * included: the DUMP of incrVersion, the stamp reads of a tagged set) are marked and always
 * go to the master, as they do on the Sentinel routers.
 */

/** A replica connection in one of these states can take a command now or once it connects. */
const USABLE = new Set(['ready', 'wait', 'connect', 'connecting']);

interface RoutedCommand {
  reject(error: Error): void;
  getSlot(): number | null;
}

/**
 * Stands in for a node when no replica may serve a strict replica read: ioredis hands it the
 * command, which fails with ReplicaNotFoundError (ioredis passes that error through unchanged).
 */
function noReplica(master: Redis | undefined): Redis {
  return {
    sendCommand(command: RoutedCommand) {
      const where = master === undefined ? '' : ` (master ${master.options.host}:${master.options.port})`;
      command.reject(
        new ReplicaNotFoundError(`No usable replica for slot ${command.getSlot() ?? '?'}${where}`),
      );
    },
  } as unknown as Redis;
}

/** The `scaleReads` option for `readFrom`; `toMaster` holds the commands of write operations. */
export function scaleReadsFor(readFrom: ReadFrom, toMaster: WeakSet<object>): ClusterOptions['scaleReads'] {
  if (readFrom === 'master') return 'master';
  const strict = readFrom === 'replica';
  return (nodes: Redis[], command: unknown): Redis | Redis[] => {
    const master = nodes[0];
    if (toMaster.has(command as object)) return master as Redis;
    const replicas = nodes.slice(1).filter((r): r is Redis => r !== undefined);
    const ready = replicas.filter((r) => r.status === 'ready');
    const usable = ready.length > 0 ? ready : replicas.filter((r) => USABLE.has(r.status));
    // An array: ioredis picks one at random.
    if (usable.length > 0) return usable;
    return strict ? noReplica(master) : (master as Redis);
  };
}

/**
 * A view of `cluster` whose commands all go to the master of their slot (for write operations
 * when replicas serve reads): it marks each command it sends in `toMaster`. Pipelines made from
 * it send through it too.
 */
export function masterView<C extends object>(cluster: C, toMaster: WeakSet<object>): C {
  const target = cluster as C & { sendCommand(command: object, ...rest: unknown[]): unknown };
  const send = (command: object, ...rest: unknown[]) => {
    toMaster.add(command);
    return target.sendCommand(command, ...rest);
  };
  return new Proxy(target, {
    get(obj, prop) {
      if (prop === 'sendCommand') return send;
      return Reflect.get(obj, prop, obj);
    },
  });
}
