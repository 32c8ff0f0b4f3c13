import { channel } from 'node:diagnostics_channel';

/**
 * routers.discovery publishes, on this `node:diagnostics_channel` channel, every read result it
 * hands to a caller together with the address keys (`host:port`) the fresh sentinel answer that
 * routed it named. For tests that check routing from outside (a reply from a node the answer
 * did not name is a routing bug); not a stable API. With no subscriber a read pays one
 * `hasSubscribers` check and publishes nothing.
 */
export const READ_AUDIT_CHANNEL = 'sentinel-cache:read';

/** One published read. */
export interface ReadAuditMessage {
  /** The router that served the read. */
  router: object;
  /** What the read resolved with, as handed to the caller. */
  result: unknown;
  /** The nodes the routing answer named. */
  named: readonly string[];
}

export const readAudit = channel(READ_AUDIT_CHANNEL);
