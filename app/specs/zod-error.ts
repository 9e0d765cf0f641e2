/**
 * One zod validation failure as the project's one-line InputError: `FILE:LINE: FIELD: reason`, the
 * field being the issue's path (`engine.limit[1]`), the line that of the path's key in the file's
 * text when it can be found.
 */
import type { z } from 'zod';
import { InputError } from '../../sim/errors.ts';

/** A key path into a parsed file: object keys and list indices. */
export type IssuePath = readonly PropertyKey[];

/** The path as a field name: `a.b[2].c`. */
export function fieldOf(p: IssuePath): string {
  let out = '';
  for (const k of p) out += typeof k === 'number' ? `[${k}]` : `${out === '' ? '' : '.'}${String(k)}`;
  return out;
}

/**
 * The first issue of a failed `safeParse` as an InputError.
 * @param lineOf the 1-based line of a key path in the file (its deepest key found), or undefined.
 * @returns the error to throw: `file:line: field: reason` (line and field when known).
 */
export function zodInputError(error: z.ZodError, file: string, lineOf: (p: IssuePath) => number | undefined): InputError {
  const issue = error.issues[0];
  let p: PropertyKey[] = [...issue.path];
  let reason = issue.message;
  if (issue.code === 'unrecognized_keys') {
    p = [...p, issue.keys[0]];
    reason = 'unknown field';
  } else if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) {
    reason = `missing (${issue.message.replace(/^Invalid input: /, '').replace(/, received undefined$/, '')})`;
  } else {
    reason = reason.replace(/^Invalid input: /, '');
  }
  return new InputError(reason, { file, line: p.length > 0 ? lineOf(p) : 1, field: p.length > 0 ? fieldOf(p) : undefined });
}

/**
 * The line of a key path in a JSON text: the first `"key"` of the path's deepest string key found
 * after the lines of its parents (a heuristic for messages: exact for the flat files read here).
 */
export function jsonLineOf(text: string): (p: IssuePath) => number | undefined {
  return (p) => {
    let from = 0;
    let line: number | undefined;
    for (const k of p) {
      if (typeof k !== 'string') continue;
      const i = text.indexOf(JSON.stringify(k), from);
      if (i < 0) break;
      from = i;
      line = text.slice(0, i).split('\n').length;
    }
    return line;
  };
}
