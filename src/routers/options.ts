import type { Rule, Schema } from '../core/validate.js';

/**
 * The option rules every router that connects to data nodes itself shares (names and types,
 * core/validate.ts). Each router checks all of its options in one place: standalone.ts
 * (resolveStandaloneOptions), sentinel/options.ts (both Sentinel routers), cluster/options.ts.
 */

export const TLS_RULE: Rule = { anyOf: ['object'], oneOf: [true], describe: 'node:tls options or true' };

export const NODE_SCHEMA: Schema = {
  db: 'non-negative integer',
  username: 'string',
  password: { anyOf: ['string'], secret: true },
  tls: TLS_RULE,
  commandTimeoutMs: 'positive number',
  connectTimeoutMs: 'positive number',
  unref: 'boolean',
};
