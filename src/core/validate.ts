import { ConfigError } from './errors.js';

/**
 * The one option validator: createCache, the router factories and the test topologies
 * describe their options as a schema and call `validateOptions` first thing, so a typo or a
 * wrong type fails at startup, with one message format everywhere:
 *
 *   unknown option 'comandTimeoutMs' for routers.pooled (did you mean 'commandTimeoutMs'?)
 *   option 'pool.max' for routers.pooled must be a positive integer; got string "8"
 *
 * It checks names and types only; rules between options (min <= max, ...) stay with their owner.
 */

/** What one option accepts. `undefined` (option left out) always passes unless `required`. */
export type Rule =
  | 'string'
  | 'non-empty string'
  | 'boolean'
  | 'function'
  | 'object'
  | 'array'
  | 'integer'
  | 'positive number'
  | 'positive integer'
  | 'non-negative integer'
  | 'port'
  | 'percentage'
  | 'any'
  | RuleObject;

export interface RuleObject {
  /** Acceptable alternatives: the value passes if any of them accepts it. */
  anyOf?: readonly Rule[];
  /** A fixed set of values. */
  oneOf?: readonly unknown[];
  /** A nested options object, validated with the same rules (names reported as `outer.inner`). */
  shape?: Schema;
  /** Never echo the value in a message (passwords, URLs with credentials). */
  secret?: boolean;
  required?: boolean;
  /** The rule's name, when anyOf/oneOf would describe it badly. */
  describe?: string;
}

export type Schema = Readonly<Record<string, Rule>>;

const CHECKS: Record<Exclude<Rule, RuleObject>, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  'non-empty string': (v) => typeof v === 'string' && v !== '',
  boolean: (v) => typeof v === 'boolean',
  function: (v) => typeof v === 'function',
  object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  array: (v) => Array.isArray(v),
  integer: (v) => Number.isSafeInteger(v),
  'positive number': (v) => typeof v === 'number' && Number.isFinite(v) && v > 0,
  'positive integer': (v) => Number.isSafeInteger(v) && (v as number) > 0,
  'non-negative integer': (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  port: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535,
  percentage: (v) => typeof v === 'number' && v >= 0 && v <= 100,
  any: () => true,
};

const NAMES: Record<Exclude<Rule, RuleObject>, string> = {
  string: 'a string',
  'non-empty string': 'a non-empty string',
  boolean: 'true or false',
  function: 'a function',
  object: 'an object',
  array: 'an array',
  integer: 'an integer',
  'positive number': 'a positive number',
  'positive integer': 'a positive integer',
  'non-negative integer': 'a non-negative integer',
  port: 'an integer 1..65535',
  percentage: 'a number from 0 to 100',
  any: 'anything',
};

function accepts(rule: Rule, value: unknown): boolean {
  if (typeof rule === 'string') return CHECKS[rule](value);
  if (rule.oneOf !== undefined || rule.anyOf !== undefined) {
    return (rule.oneOf?.includes(value) ?? false) || (rule.anyOf?.some((r) => accepts(r, value)) ?? false);
  }
  if (rule.shape !== undefined) return CHECKS.object(value);
  return true;
}

function ruleName(rule: Rule): string {
  if (typeof rule === 'string') return NAMES[rule];
  if (rule.describe !== undefined) return rule.describe;
  const parts: string[] = [];
  if (rule.oneOf !== undefined) parts.push(`one of ${rule.oneOf.map((v) => JSON.stringify(v)).join(', ')}`);
  if (rule.anyOf !== undefined) for (const r of rule.anyOf) parts.push(ruleName(r));
  if (rule.shape !== undefined) parts.push('an object');
  return parts.join(' or ');
}

/** A value for a message: its type and, unless secret, the value itself. */
export function describeValue(value: unknown, secret = false): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'an object';
  if (secret) return `a ${typeof value}`;
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

/** Levenshtein distance, for "did you mean" (option names are short: no need for more). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** The known name closest to `name`, if close enough to be a typo. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** A ConfigError for option `name` of `where`, in the one format. */
export function optionError(where: string, name: string, expected: string, value: unknown, secret = false) {
  return new ConfigError(
    `option '${name}' for ${where} must be ${expected}; got ${describeValue(value, secret)}`,
  );
}

/**
 * Refuse unknown names and values of the wrong type in `options` (an object) for `where`
 * (e.g. 'routers.pooled'). Throws ConfigError; returns the options for chaining.
 */
export function validateOptions<T>(where: string, options: T, schema: Schema, path = ''): T {
  if (!CHECKS.object(options)) {
    throw new ConfigError(
      `${path === '' ? 'options' : `option '${path.slice(0, -1)}'`} for ${where} must be an object; got ${describeValue(options)}`,
    );
  }
  const known = Object.keys(schema);
  for (const name of Object.keys(options as object)) {
    if (Object.hasOwn(schema, name)) continue;
    const guess = closest(name, known);
    throw new ConfigError(
      `unknown option '${path}${name}' for ${where}${guess === undefined ? `; known options: ${known.join(', ')}` : ` (did you mean '${path}${guess}'?)`}`,
    );
  }
  for (const [name, rule] of Object.entries(schema)) {
    const value = (options as Record<string, unknown>)[name];
    const secret = typeof rule === 'object' && rule.secret === true;
    if (value === undefined) {
      if (typeof rule === 'object' && rule.required === true) {
        throw new ConfigError(`option '${path}${name}' for ${where} is required (${ruleName(rule)})`);
      }
      continue;
    }
    if (!accepts(rule, value)) throw optionError(where, `${path}${name}`, ruleName(rule), value, secret);
    if (typeof rule === 'object' && rule.shape !== undefined) {
      validateOptions(where, value, rule.shape, `${path}${name}.`);
    }
  }
  return options;
}
