/**
 * The generic CSV trace format: a header containing `arrival_s,prompt_tokens,output_tokens` in any
 * order, plus any extra columns, which are kept as strings in `extra` under their header names.
 * `arrival_s` is in seconds (any finite decimal; made relative to the earliest, and all within
 * 1e9 s of it). Optional prefix columns, both or neither: `prefix_group` (any string naming a
 * shared prompt prefix; groups get declared prefix ids 0, 1, ... in the order first met) and
 * `prefix_tokens` (1 ..= prompt_tokens): the prompt begins with the first `prefix_tokens` tokens of
 * that group's content (one segment); a row with both blank has none. They are not kept in `extra`.
 */
import { InputError } from '../sim/errors.ts';
import { columnIndex, extraColumns, type CsvFormat, type RowReader } from './csv-format.ts';
import { plainTimestamp, positiveTokenCount } from './fields.ts';
import type { RowSegments } from './prefix.ts';

/** Optional generic columns giving each prompt a shared prefix (both or neither). */
export const PREFIX_COLUMNS = ['prefix_group', 'prefix_tokens'] as const;

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
    const [G, K] = PREFIX_COLUMNS.map((c) => header.indexOf(c));
    if ((G < 0) !== (K < 0)) {
      const [has, lacks] = G < 0 ? PREFIX_COLUMNS.slice().reverse() : PREFIX_COLUMNS;
      throw new InputError(`column '${has}' needs column '${lacks}' (give both prefix columns or neither)`, { file, line: 1, field: has });
    }
    const groups = new Map<string, number>();
    if (G >= 0) b.prefix = [];
    const extras = extraColumns(header, G >= 0 ? [...GENERIC_COLUMNS, ...PREFIX_COLUMNS] : GENERIC_COLUMNS, file, b);
    return (rec, line, b) => {
      const t = plainTimestamp(rec[T], { file, line, field: 'arrival_s' }, 'seconds');
      const p = positiveTokenCount(rec[P], { file, line, field: 'prompt_tokens' }, 'prompt');
      const o = positiveTokenCount(rec[O], { file, line, field: 'output_tokens' }, 'output');
      let seg: RowSegments = [];
      if (G >= 0) {
        const g = rec[G];
        const k = rec[K].trim();
        if ((g === '') !== (k === '')) {
          const [has, lacks] = g === '' ? ['prefix_tokens', 'prefix_group'] : ['prefix_group', 'prefix_tokens'];
          throw new InputError(`${has} is set but ${lacks} is blank (give both or neither)`, { file, line, field: lacks });
        }
        if (g !== '') {
          const n = positiveTokenCount(k, { file, line, field: 'prefix_tokens' }, 'prefix');
          if (n > p) throw new InputError(`prefix_tokens ${n} exceeds prompt_tokens ${p}`, { file, line, field: 'prefix_tokens' });
          let id = groups.get(g);
          if (id === undefined) groups.set(g, (id = groups.size));
          seg = [id, n];
        }
      }
      b.push(t, 0, p, o, line);
      for (const e of extras) e.col.push(rec[e.i]);
      if (b.prefix) b.prefix.push(seg);
    };
  },
};
