import { addressKey, type NodeAddress } from '../../core/address.js';
import type { SentinelRouterOptions } from '../types.js';

export { addressKey, sameAddress } from '../../core/address.js';

/**
 * Sentinels announce addresses as they see them (container IPs, private networks). The
 * `natMap` option rewrites each one to what this process can reach. It is applied to every
 * address that comes from a sentinel: masters, replicas, other sentinels, +switch-master.
 */
export type AddressMapper = (address: NodeAddress) => NodeAddress;

export function createAddressMapper(natMap: SentinelRouterOptions['natMap']): AddressMapper {
  if (natMap === undefined) return (address) => address;
  if (typeof natMap === 'function') {
    return (address) => natMap(address) ?? address;
  }
  return (address) => natMap[addressKey(address)] ?? address;
}

/** Parse the `ip`/`port` pair of a sentinel reply; undefined when either is missing or bad. */
export function toAddress(host: unknown, port: unknown): NodeAddress | undefined {
  if (typeof host !== 'string' || host === '') return undefined;
  const n = typeof port === 'number' ? port : Number(port);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) return undefined;
  return { host, port: n };
}
