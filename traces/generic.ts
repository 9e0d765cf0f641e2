/**
 * The generic CSV trace format: a header containing `arrival_s,prompt_tokens,output_tokens` in any
 * order, plus any extra columns, which are kept as strings in `extra` under their header names.
 * `arrival_s` is in seconds (any finite decimal; made relative to the earliest, and all within
 * 1e9 s of it).
 */
import { InputError } from '../sim/errors.ts';
import { columnIndex, type CsvFormat, type RowReader } from './csv-format.ts';
import { plainTimestamp, positiveTokenCount } from './fields.ts';

/** Columns a generic trace must have (any order; extra columns allowed). */
export const GENERIC_COLUMNS = ['arrival_s', 'prompt_tokens', 'output_tokens'] as const;

/** The generic CSV format (detected when the header contains the three required columns). */
export const genericFormat: CsvFormat = {
  name: 'generic',
  expected: `${GENERIC_COLUMNS.join(',')} (any order, extra columns kept)`,
  arrivalField: 'arrival_s',
  matches: (header) => GENERIC_COLUMNS.every((c) => header.includes(c)),
  bind(header, file, b): RowReader {
    const [T, P, O] = GENERIC_COLUMNS.map((c) => columnIndex(header, c, file, this.expected));
    const extras: { i: number; col: string[] }[] = [];
    header.forEach((name, i) => {
      if ((GENERIC_COLUMNS as readonly string[]).includes(name)) return;
      if (name === '') {
        throw new InputError(`column ${i + 1} has an empty name`, { file, line: 1, field: 'header' });
      }
      extras.push({ i, col: (b.extra[name] = []) });
    });
    return (rec, line, b) => {
      const t = plainTimestamp(rec[T], { file, line, field: 'arrival_s' }, 'seconds');
      const p = positiveTokenCount(rec[P], { file, line, field: 'prompt_tokens' }, 'prompt');
      const o = positiveTokenCount(rec[O], { file, line, field: 'output_tokens' }, 'output');
      b.push(t, 0, p, o, line);
      for (const e of extras) e.col.push(rec[e.i]);
    };
  },
};
