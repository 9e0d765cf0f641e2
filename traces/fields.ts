/**
 * Field parsers shared by the trace readers: token counts and plain-seconds timestamps, each
 * throwing an {@link InputError} that names the file, line and column.
 */
import { InputError } from '../sim/errors.ts';

/** Largest token count a trace may hold (Int32Array storage). */
export const MAX_TOKENS = 2147483647;

/** Where a field came from, for error messages. */
export interface FieldPlace {
  file: string;
  /** 1-based line (the CSV header is line 1). */
  line: number;
  /** Column or JSON key. */
  field: string;
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v);
}

/**
 * Checks a token count that was already read as a JS value (number, or string for CSV).
 * @returns the count, an integer in [0, MAX_TOKENS]
 * @throws InputError for an empty, non-numeric, NaN, infinite, negative, non-integer or too large
 *   value
 */
export function tokenCount(v: unknown, where: FieldPlace): number {
  let x: number;
  if (typeof v === 'number') x = v;
  else if (typeof v === 'string') {
    if (v.trim() === '') throw new InputError('empty token count', where);
    x = Number(v);
  } else {
    throw new InputError(`token count must be a number, got ${show(v)}`, where);
  }
  if (Number.isNaN(x)) throw new InputError(`token count ${show(v)} is not a number`, where);
  if (!Number.isFinite(x)) throw new InputError(`token count ${show(v)} is not finite`, where);
  if (x < 0) throw new InputError(`token count ${show(v)} is negative`, where);
  if (!Number.isInteger(x)) throw new InputError(`token count ${show(v)} is not an integer`, where);
  if (x > MAX_TOKENS) throw new InputError(`token count ${show(v)} is too large (max ${MAX_TOKENS})`, where);
  return x;
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
 * Parses a timestamp given as a plain number of seconds (or of `unit`s, e.g. ms), any finite value.
 * @throws InputError "unparsable timestamp" for an empty, non-numeric or non-finite value
 */
export function plainTimestamp(v: unknown, where: FieldPlace, unit = 's'): number {
  let x = NaN;
  if (typeof v === 'number') x = v;
  else if (typeof v === 'string' && v.trim() !== '') x = Number(v);
  if (!Number.isFinite(x)) {
    throw new InputError(`unparsable timestamp ${show(v)}; expected a number of ${unit}`, where);
  }
  return x;
}
