/**
 * Field parsers shared by the trace readers: token counts and plain-number timestamps, each
 * throwing an {@link InputError} that names the file, line and column. Numbers in CSV text are
 * read as plain decimals only (`parseDecimal` of sim/values.ts: no hex `0x10`, binary `0b11`,
 * `1_000`, `Infinity` or blank); in JSONL they must be JSON numbers (a string is refused).
 */
import { InputError } from '../sim/errors.ts';
import { parseDecimal, showValue as showAny } from '../sim/values.ts';

/** Shows a raw value in a message: strings quoted, numbers as JS writes them (`Infinity` for 1e999), others as JSON. */
function showValue(v: unknown): string {
  return typeof v === 'number' ? String(v) : showAny(v);
}

/** Largest token count a trace may hold (Int32Array storage). */
export const MAX_TOKENS = 2147483647;

/**
 * Largest time span a trace may cover, in seconds: 1e9 s (about 31.7 years). Arrivals relative to
 * the first, program delays, and arrivals after `--rate-scale`/`--rate` must be within it, so that
 * no time overflows to Infinity (e.g. a first arrival at −1e308 s and a last at +1e308 s).
 */
export const MAX_SPAN_S = 1e9;

/** {@link MAX_SPAN_S} as shown in messages. */
export const MAX_SPAN_TEXT = '1e9 s (about 31.7 years)';

/** Where a field came from, for error messages. */
export interface FieldPlace {
  file: string;
  /** 1-based line (the CSV header is line 1). */
  line: number;
  /** Column or JSON key. */
  field: string;
  /** The value came from JSON: it must be a JSON number, and a string is refused. */
  json?: boolean;
}

/** Shows a number in a message, e.g. `1e+308`, with overflow shown as such. */
export function showSeconds(x: number): string {
  if (x === Infinity) return 'more than 1.8e308';
  if (x === -Infinity) return 'less than -1.8e308';
  return String(x);
}

/** Names a JSON value's type in messages: `an array`, `null`, `the string 'x'`, `the number 3`. */
export function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v).length > 42 ? `'${v.slice(0, 40)}...'` : `'${v}'`}`;
  if (typeof v === 'object') return 'an object';
  return `the ${typeof v} ${String(v)}`;
}

/**
 * The value of a string of 1 to 15 ASCII digits (exact), or -1 for anything else: the fast path
 * for token counts, which are nearly always plain digits (one pass, no regex, no allocation).
 */
function plainDigits(s: string): number {
  const n = s.length;
  if (n === 0 || n > 15) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * The value of `digits[.digits]` with 1 to 15 digits in all (`12.5`, `0.026235`, `.5`, `5.`), or
 * -1 for anything else: the fast path for plain-number timestamps. Exact: the digits as an
 * integer (below 2^53) divided by a power of ten (exact below 1e22) is one correctly rounded
 * division, the same double as `Number(s)`.
 */
function plainFraction(s: string): number {
  const n = s.length;
  if (n === 0 || n > 16) return -1;
  let v = 0;
  let digits = 0;
  let point = -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 && point < 0) {
      point = i;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
    digits++;
  }
  if (digits === 0 || digits > 15) return -1;
  return point < 0 ? v : v / POW10[n - 1 - point];
}

/** The message for a value of the wrong JSON type, or undefined when it is a number. */
function jsonTypeProblem(v: unknown, missing: string, must: string): string | undefined {
  if (typeof v === 'number') return undefined;
  if (v === undefined) return `missing ${missing}`;
  return `${must}, got ${describeJson(v)}`;
}

/**
 * Checks a token count: a JS number (JSONL, `where.json`) or a decimal string (a CSV field).
 * @returns the count, an integer in [0, MAX_TOKENS]
 * @throws InputError for a missing value, an empty or non-decimal string (`0x10`, `1_0`), a
 *   string in JSON, a non-number, NaN, infinite, negative, non-integer or too large value
 */
export function tokenCount(v: unknown, where: FieldPlace): number {
  let x: number;
  if (typeof v === 'string' && !where.json) {
    x = plainDigits(v);
    if (x >= 0) return x <= MAX_TOKENS ? x : tooLarge(v, where);
    if (v.trim() === '') throw new InputError('empty token count', where);
    x = parseDecimal(v);
    if (Number.isNaN(x)) throw new InputError(`token count ${showValue(v)} is not a decimal integer`, where);
  } else {
    const problem = jsonTypeProblem(v, 'token count', 'token count must be a JSON number');
    if (problem !== undefined) throw new InputError(problem, where);
    x = v as number;
  }
  if (!Number.isFinite(x)) throw new InputError(`token count ${showValue(v)} is not finite`, where);
  if (x < 0) throw new InputError(`token count ${showValue(v)} is negative`, where);
  if (!Number.isInteger(x)) throw new InputError(`token count ${showValue(v)} is not an integer`, where);
  if (x > MAX_TOKENS) tooLarge(v, where);
  return x;
}

function tooLarge(v: unknown, where: FieldPlace): never {
  throw new InputError(`token count ${showValue(v)} is too large (max ${MAX_TOKENS})`, where);
}

/**
 * Like {@link tokenCount} but also requires at least 1 token.
 * @param what  'prompt' or 'output', for the message
 */
export function positiveTokenCount(v: unknown, where: FieldPlace, what: string): number {
  const x = tokenCount(v, where);
  if (x < 1) throw new InputError(`${what} tokens must be >= 1, got ${x}`, where);
  return x;
}

/**
 * Parses a timestamp given as a plain number of seconds (or of `unit`s, e.g. milliseconds): a JS
 * number (JSONL, `where.json`) or a decimal string (CSV). Any finite value; how far apart the
 * arrivals may be is checked once they are all read (see {@link MAX_SPAN_S}).
 * @throws InputError "unparsable timestamp" for an empty, non-decimal or non-finite value
 *   (`1e999`), "missing" for an absent JSON key, "must be a JSON number" for a JSON string or
 *   another JSON type
 */
export function plainTimestamp(v: unknown, where: FieldPlace, unit = 'seconds'): number {
  let x = NaN;
  if (typeof v === 'string' && !where.json) {
    x = plainFraction(v);
    if (x >= 0) return x;
    x = parseDecimal(v);
  }
  else {
    const problem = jsonTypeProblem(v, `timestamp (${unit})`, `timestamp must be a JSON number of ${unit}`);
    if (problem !== undefined) throw new InputError(problem, where);
    x = v as number;
  }
  if (!Number.isFinite(x)) {
    throw new InputError(`unparsable timestamp ${showValue(v)}; expected a finite decimal number of ${unit}`, where);
  }
  return x;
}
