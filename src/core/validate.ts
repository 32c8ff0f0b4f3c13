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
 * The per-call options of the cache's methods (`cache.set(key, value, { ttl })`) go through
 * `CallOptions`: the same schema and messages, checked on every call without allocating.
 */

/** What one option accepts. `undefined` (option left out) always passes unless `required`. */
export type Rule =
  | 'string'
  | 'non-empty string'
  | 'boolean'
  | 'number'
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
  number: (v) => typeof v === 'number' && Number.isFinite(v),
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
  number: 'a finite number',
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

/** `rule` as one test, compiled once (CallOptions runs it on every call: no closure per value). */
function compile(rule: Rule): (value: unknown) => boolean {
  if (typeof rule === 'string') return CHECKS[rule];
  if (rule.oneOf === undefined && rule.anyOf === undefined) {
    return rule.shape === undefined ? CHECKS.any : CHECKS.object;
  }
  const values = rule.oneOf ?? [];
  const alternatives = (rule.anyOf ?? []).map(compile);
  return (value) => {
    if (values.includes(value)) return true;
    for (const test of alternatives) if (test(value)) return true;
    return false;
  };
}

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

/**
 * The known name closest to `name`, if close enough to be a typo — or, failing that, the one
 * `name` begins (a name cut short: 'ignoreKey' for 'ignoreKeyCheck').
 */
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
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3))) return best;
  const lower = name.toLowerCase();
  return name.length < 4 ? undefined : known.find((candidate) => candidate.toLowerCase().startsWith(lower));
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

/** A TTL option: milliseconds, a duration string or null (the string's form is parseTtl's to check). */
export const TTL_RULE: Rule = {
  anyOf: ['number', 'string'],
  oneOf: [null],
  describe: "milliseconds, a duration string ('30s') or null",
};

/** A duration option: milliseconds or a duration string. */
export const DURATION_RULE: Rule = {
  anyOf: ['number', 'string'],
  describe: "milliseconds or a duration string ('5s')",
};

/**
 * Other names people write for an option, too far from it for "did you mean" to find: a TTL as
 * Redis (EX/PX) or other clients name it, a SCAN COUNT. Used when the schema has the option.
 */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ...['ex', 'px', 'expire', 'expires', 'expiry', 'expiresIn'].map((name): [string, string] => [name, 'ttl']),
  ['count', 'scanCount'],
]);

/**
 * The options object of one public method, checked on every call: an unknown name (with a
 * "did you mean"), a value of the wrong type, or something that is not an options object at
 * all (a number where `{ ttl: 60 }` belongs) is a ConfigError in validateOptions' format, which
 * shows the right form (`example`).
 *
 * Checked on every call rather than once per object (no WeakSet of checked objects): a caller
 * may change an object between calls, and a check of a small literal costs less than the
 * lookup would (one `for...in` over its names and a type test per value; no allocation).
 */
export class CallOptions {
  readonly #schema: Schema;
  readonly #example: string;
  /** Each option's type test, by name. */
  readonly #tests = new Map<string, (value: unknown) => boolean>();

  constructor(schema: Schema, example: string) {
    this.#schema = schema;
    this.#example = example;
    for (const [name, rule] of Object.entries(schema)) this.#tests.set(name, compile(rule));
  }

  /** Throw the ConfigError for `options` given to `where` (e.g. 'cache.set()'), if they are refused. */
  check(options: unknown, where: string): void {
    const problem = this.problem(options, where);
    if (problem !== undefined) throw problem;
  }

  /** A rejected promise with the ConfigError for `options`, or undefined when they are accepted. */
  refusal(options: unknown, where: string): Promise<never> | undefined {
    const problem = this.problem(options, where);
    return problem === undefined ? undefined : Promise.reject(problem);
  }

  /** The ConfigError for `options` given to `where`, or undefined (left out, or acceptable). */
  problem(options: unknown, where: string): ConfigError | undefined {
    if (options === undefined) return undefined;
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      return new ConfigError(
        `${where} takes an options object, such as ${this.#example}; got ${describeValue(options)}`,
      );
    }
    for (const name in options) {
      const test = this.#tests.get(name);
      const value = (options as Record<string, unknown>)[name];
      // `undefined` passes: the option is left out.
      if (test === undefined || (value !== undefined && !test(value)))
        return this.#refusal(name, value, where);
    }
    return undefined;
  }

  #refusal(name: string, value: unknown, where: string): ConfigError {
    const rule = this.#schema[name];
    if (rule !== undefined && Object.hasOwn(this.#schema, name)) {
      return optionError(
        where,
        name,
        ruleName(rule),
        value,
        typeof rule === 'object' && rule.secret === true,
      );
    }
    const known = Object.keys(this.#schema);
    const alias = ALIASES.get(name);
    const guess = alias !== undefined && known.includes(alias) ? alias : closest(name, known);
    return new ConfigError(
      `unknown option '${name}' for ${where}${guess === undefined ? `; known options: ${known.join(', ')}` : ` (did you mean '${guess}'?)`}`,
    );
  }
}
