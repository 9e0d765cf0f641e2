/**
 * Azure LLM inference traces (Azure/AzurePublicDataset; Splitwise, ISCA'24), 2023 and 2024.
 *
 * Header `TIMESTAMP,ContextTokens,GeneratedTokens`. `TIMESTAMP` is absolute wall-clock time,
 * `YYYY-MM-DD HH:MM:SS.fffffff` (2023: no zone, read as UTC) or with a UTC offset such as `+00:00`
 * (2024: honoured). `ContextTokens` are prompt tokens, `GeneratedTokens` output tokens; both must be
 * decimal integers >= 1.
 */
import { InputError } from '../sim/errors.ts';
import { columnIndex, sameColumns, type CsvFormat, type RowReader } from './csv-format.ts';
import { positiveTokenCount } from './fields.ts';
import { parseTimestamp, TIMESTAMP_FORMS, type EpochParts } from './timestamp.ts';

/** Azure trace column names, in file order. */
export const AZURE_COLUMNS = ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens'] as const;

/** The Azure CSV format (detected by its exact header). */
export const azureFormat: CsvFormat = {
  name: 'azure',
  expected: AZURE_COLUMNS.join(','),
  arrivalField: 'TIMESTAMP',
  matches: (header) => sameColumns(header, AZURE_COLUMNS),
  bind(header, file): RowReader {
    const [T, P, O] = AZURE_COLUMNS.map((c) => columnIndex(header, c, file, this.expected));
    const ts: EpochParts = { sec: 0, ns: 0 };
    return (rec, line, b) => {
      const text = rec[T];
      if (!parseTimestamp(text, ts)) {
        throw new InputError(`unparsable timestamp '${text}'; expected ${TIMESTAMP_FORMS}`, {
          file,
          line,
          field: 'TIMESTAMP',
        });
      }
      const p = positiveTokenCount(rec[P], { file, line, field: 'ContextTokens' }, 'prompt');
      const o = positiveTokenCount(rec[O], { file, line, field: 'GeneratedTokens' }, 'output');
      b.push(ts.sec, ts.ns, p, o, line);
    };
  },
};
