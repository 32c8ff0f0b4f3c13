/**
 * A Redis node's address and the two helpers every map of nodes uses. Shared by the routers
 * and the test topologies, so both agree on what "the same node" means.
 */

export interface NodeAddress {
  /** Host name or IP address. */
  host: string;
  /** TCP port. */
  port: number;
}

/** `host:port`, the key of every map of nodes. */
export function addressKey(address: NodeAddress): string {
  return `${address.host}:${address.port}`;
}

export function sameAddress(a: NodeAddress | undefined, b: NodeAddress | undefined): boolean {
  return a !== undefined && b !== undefined && a.host === b.host && a.port === b.port;
}
