/**
 * Strict parsing of option and field values: decimal numbers only (no hex, binary, octal, empty
 * string, `Infinity` or `NaN` sneaking through `Number()`), finite values within named bounds,
 * and booleans that are `true` or `false` and nothing else. Used by the CLI, config files, sweep
 * grids, policy/predictor/router options and the trace readers, so one rule holds everywhere.
 */
import { InputError } from './errors.ts';

/** A plain decimal number: optional sign, digits with an optional fraction, optional exponent. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses `text` as a decimal number (surrounding spaces allowed).
 * @returns the number, or NaN when `text` is not a plain decimal (hex `0x10`, binary `0b1`,
 *   octal `0o7`, `''`, `Infinity`, `1_000`, ...). A decimal beyond the double range gives ±Infinity,
 *   which callers reject as out of range.
 */
export function parseDecimal(text: string): number {
  const s = text.trim();
  return DECIMAL.test(s) ? Number(s) : NaN;
}

/**
 * Parses `text` as {@link parseDecimal} does, and also reads `inf` or `infinity` (any case,
 * surrounding spaces allowed) as +Infinity when `allowInfinity` is true.
 * @returns the number, or NaN when `text` is neither.
 */
export function parseNumber(text: string, allowInfinity = false): number {
  if (allowInfinity) {
    const s = text.trim().toLowerCase();
    if (s === 'inf' || s === 'infinity') return Infinity;
  }
  return parseDecimal(text);
}

/**
 * Bounds and kind of a numeric value: the one range type of the project, for flags, config and
 * grid values ({@link readNumber}) and for policy, predictor and router options
 * (policies/options.ts). Bounds are inclusive unless marked exclusive; absent bounds are ±∞.
 */
export interface NumberSpec {
  /** Only integers are allowed. */
  integer?: boolean;
  /** Lower bound, in the value's own unit. */
  min?: number;
  /** The lower bound itself is not allowed (a positive rate). */
  minExclusive?: boolean;
  /** Upper bound, in the value's own unit. */
  max?: number;
  /** The upper bound itself is not allowed (a correlation below 1). */
  maxExclusive?: boolean;
  /** Why `max` is the limit, named in the message (e.g. 'Int32 token counts'). */
  maxReason?: string;
  /**
   * +Infinity is allowed (given as `inf` or `infinity`, any case, or as the JS number); it counts
   * as an integer and must still meet `max` when there is one.
   */
  allowInfinity?: boolean;
}

/** Shows a raw value in a message: strings quoted, others as JSON. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === undefined) return 'nothing';
  return JSON.stringify(v) ?? String(v);
}

/**
 * "a positive integer", "a number in (0, 1]"-style text for a spec (what {@link readNumber} says a
 * value must be); `or 'inf'` is appended when the spec allows Infinity.
 */
export function describeNumber(spec: NumberSpec): string {
  const kind = spec.integer ? 'integer' : 'number';
  const article = spec.integer ? 'an' : 'a';
  const inf = spec.allowInfinity ? " or 'inf'" : '';
  if (spec.max === undefined) {
    if (spec.min === 0 && spec.minExclusive) return `a positive ${kind}${inf}`;
    if (spec.min === 1 && spec.integer && !spec.minExclusive) return `a positive integer${inf}`;
    if (spec.min === 0) return `a non-negative ${kind}${inf}`;
    if (spec.min === undefined) return `${article} ${kind}${inf}`;
    return `${article} ${kind} ${spec.minExclusive ? '>' : '>='} ${spec.min}${inf}`;
  }
  const lo = spec.min === undefined ? '(-inf' : `${spec.minExclusive ? '(' : '['}${spec.min}`;
  return `${article} ${kind} in ${lo}, ${spec.max}${spec.maxExclusive ? ')' : ']'}`;
}

/**
 * Interval text for a spec, as the policy, predictor and router options name their ranges:
 * `a number in [0, 1]`, `an integer in [1, ∞)`, `a number in (-1, 1]`, and for a spec allowing
 * Infinity with no upper bound `a number in [0, ∞] ('inf' allowed)`.
 */
export function describeInterval(spec: NumberSpec): string {
  const kind = spec.integer ? 'an integer' : 'a number';
  const lo = spec.min === undefined ? '(-∞' : `${spec.minExclusive ? '(' : '['}${spec.min}`;
  const hi = spec.max === undefined ? (spec.allowInfinity ? '∞]' : '∞)') : `${spec.max}${spec.maxExclusive ? ')' : ']'}`;
  return `${kind} in ${lo}, ${hi}${spec.allowInfinity && spec.max === undefined ? " ('inf' allowed)" : ''}`;
}

/**
 * Why number `x` does not meet `spec`, or undefined when it does: the rule {@link readNumber} and
 * the option reader (policies/options.ts) share.
 * @returns `undefined`, or one of `must be <describeNumber>, written in decimal` (NaN: the text was
 *   not a decimal), `must be a finite number|integer` (±Infinity not allowed), `must be
 *   <describeNumber>` (not an integer, below the minimum), `must be at most MAX (REASON)` /
 *   `must be less than MAX (REASON)` (above the maximum).
 */
export function numberProblem(x: number, spec: NumberSpec): string | undefined {
  if (Number.isNaN(x)) return `must be ${describeNumber(spec)}, written in decimal`;
  const infOk = spec.allowInfinity === true && x === Infinity;
  if (!Number.isFinite(x) && !infOk) return `must be a finite ${spec.integer ? 'integer' : 'number'}`;
  if (spec.integer && !infOk && !Number.isInteger(x)) return `must be ${describeNumber(spec)}`;
  if (spec.min !== undefined && (spec.minExclusive ? !(x > spec.min) : !(x >= spec.min))) return `must be ${describeNumber(spec)}`;
  if (spec.max !== undefined && (spec.maxExclusive ? !(x < spec.max) : !(x <= spec.max))) {
    return `must be ${spec.maxExclusive ? 'less than' : 'at most'} ${spec.max}${spec.maxReason ? ` (${spec.maxReason})` : ''}`;
  }
  return undefined;
}

/**
 * Reads a numeric value given as a JS number (a JSON config) or a string (a flag, a CSV field):
 * decimal only ({@link parseNumber}), finite unless the spec allows Infinity, integer if asked,
 * within the bounds ({@link numberProblem}).
 * @param field the option, key or column, named in the error
 * @param where file and line, when the value came from a file
 * @throws InputError `field: must be a positive integer (got '0x10')`; above `max`:
 *   `must be at most MAX (REASON) (got V)`.
 */
export function readNumber(raw: unknown, field: string, spec: NumberSpec = {}, where: { file?: string; line?: number } = {}): number {
  let x: number;
  if (typeof raw === 'number') x = raw;
  else if (typeof raw === 'string') x = parseNumber(raw, spec.allowInfinity);
  else x = NaN;
  const problem = numberProblem(x, spec);
  if (problem !== undefined) throw new InputError(`${problem} (got ${showValue(raw)})`, { ...where, field });
  return x;
}

/**
 * Reads a boolean given as a JS boolean or the strings `true`/`false` (any case), nothing else:
 * `yes`, `1`, `on` and `''` are refused, so a typo never silently picks the other mode.
 * @throws InputError naming `field`.
 */
export function readBoolean(raw: unknown, field: string, where: { file?: string; line?: number } = {}): boolean {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string') {
    const s = raw.trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  throw new InputError(`must be true or false (got ${showValue(raw)})`, { ...where, field });
}

/**
 * Reads a non-empty string.
 * @throws InputError naming `field` for a non-string or empty value.
 */
export function readString(raw: unknown, field: string, where: { file?: string; line?: number } = {}): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new InputError(`must be a non-empty string (got ${showValue(raw)})`, { ...where, field });
  return raw;
}

/**
 * The value of command-line flag `--name` as yargs parsed it, given at most once.
 * @returns the raw value, or undefined when the flag is absent
 * @throws InputError naming the flag when it was given more than once (yargs collects a repeated
 *   flag into an array; for a one-value flag that is a mistake, never silently joined or overridden).
 */
export function singleFlag(argv: Readonly<Record<string, unknown>>, name: string): unknown {
  const v = argv[name];
  if (Array.isArray(v)) throw new InputError(`given ${v.length} times; give it once`, { field: `--${name}` });
  return v;
}

/**
 * A numeric flag (declared to yargs as `type: 'string'`, so hex or empty values reach this check
 * instead of yargs' `Number()`), read with {@link readNumber}.
 * @returns the number, or `dflt` when the flag is absent
 * @throws InputError naming the flag for a repeated flag or a bad value.
 */
export function numberFlag(argv: Readonly<Record<string, unknown>>, name: string, spec: NumberSpec, dflt?: number): number | undefined {
  const v = singleFlag(argv, name);
  return v === undefined ? dflt : readNumber(v, `--${name}`, spec);
}
