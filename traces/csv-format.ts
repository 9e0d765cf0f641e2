/**
 * The shape of a CSV trace format: how to recognise its header and how to read one row.
 */
import { InputError } from '../sim/errors.ts';
import type { TraceBuilder } from './builder.ts';

/**
 * Reads one data row (already split into fields, with the file's field count checked) into the
 * builder, or counts it as skipped. Throws InputError naming `file`, `line` and the column.
 * `done`, when present, runs once after the last row (e.g. to add a warning counting rows).
 */
export type RowReader = ((record: string[], line: number, b: TraceBuilder) => void) & { done?: () => void };

/** Reading options a CSV format may use. */
export interface CsvReadOptions {
  /** Vidur's `max_tokens` clipping of prompt + output (traces/vidur.ts); only the Vidur format takes it. */
  vidurMaxTokens?: number;
}

/** A CSV trace format. */
export interface CsvFormat {
  readonly name: 'azure' | 'burstgpt' | 'generic' | 'vidur';
  /** The expected header, as shown in error messages. */
  readonly expected: string;
  /** The arrival column, named when the arrivals span too long. */
  readonly arrivalField: string;
  /** True when the (trimmed) header names are this format's. */
  matches(header: readonly string[]): boolean;
  /**
   * Binds a matching header: returns the row reader and registers any extra columns in `b.extra`.
   * @param opts reading options (only the formats that take one read it)
   * @throws InputError when the header does not match
   */
  bind(header: readonly string[], file: string, b: TraceBuilder, opts: CsvReadOptions): RowReader;
}

/** True when `header` holds exactly the names in `names`, in any order. */
export function sameColumns(header: readonly string[], names: readonly string[]): boolean {
  return header.length === names.length && names.every((c) => header.includes(c));
}

/**
 * Registers every column of `header` not in `known` as an extra column of `b` (kept as strings
 * under its name) and returns where each is read from and the list it fills.
 * @throws InputError (line 1, field `header`) for a column with an empty name.
 */
export function extraColumns(header: readonly string[], known: readonly string[], file: string, b: TraceBuilder): { i: number; col: string[] }[] {
  const extras: { i: number; col: string[] }[] = [];
  header.forEach((name, i) => {
    if (known.includes(name)) return;
    if (name === '') throw new InputError(`column ${i + 1} has an empty name`, { file, line: 1, field: 'header' });
    extras.push({ i, col: (b.extra[name] = []) });
  });
  return extras;
}

/** Index of column `name` in `header`, or an InputError (line 1) listing the expected header. */
export function columnIndex(header: readonly string[], name: string, file: string, expected: string): number {
  const i = header.indexOf(name);
  if (i < 0) {
    throw new InputError(`missing column '${name}'; expected header ${expected}`, { file, line: 1, field: name });
  }
  return i;
}
