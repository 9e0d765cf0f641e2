/**
 * Errors the simulator reports to a user as one line and exit code 2, with no stack trace.
 */

/**
 * Bad user input: a malformed trace or profile, an unknown name, an impossible configuration.
 * `file`, `line` (1-based, counting the header) and `field` locate the problem when known; the CLI
 * prints `file:line: field: message` and exits with code 2.
 */
export class InputError extends Error {
  /** File the bad input came from, if any. */
  readonly file: string | undefined;
  /** 1-based line number in `file` (the header is line 1), if known. */
  readonly line: number | undefined;
  /** Column, field or option name, if known. */
  readonly field: string | undefined;
  /** The message without its location prefix. */
  readonly reason: string;

  constructor(message: string, where: { file?: string; line?: number; field?: string } = {}) {
    const loc = [where.file, where.line !== undefined ? String(where.line) : undefined]
      .filter((s) => s !== undefined)
      .join(':');
    const prefix = [loc, where.field].filter((s) => s).join(': ');
    super(prefix ? `${prefix}: ${message}` : message);
    this.name = 'InputError';
    this.reason = message;
    this.file = where.file;
    this.line = where.line;
    this.field = where.field;
  }
}

/**
 * Throws an InputError naming the valid choices when `name` is not one of them.
 * @returns `name`, typed as one of the choices.
 */
export function checkChoice<T extends string>(what: string, name: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(name)) {
    throw new InputError(`unknown ${what} '${name}'; valid: ${choices.join(', ')}`, { field: what });
  }
  return name as T;
}

/**
 * Runs `f`; an InputError it throws is thrown again located at `where` instead (e.g. a registry's
 * "unknown policy" error, located at the `--policy` flag or a grid's line).
 * @returns what `f` returns.
 */
export function locate<T>(where: { file?: string; line?: number; field?: string }, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InputError) throw new InputError(e.reason, where);
    throw e;
  }
}
