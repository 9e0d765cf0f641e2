/**
 * BurstGPT traces (HPMLL/BurstGPT; BurstGPT, KDD'25).
 *
 * Header `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`. `Timestamp` is in
 * seconds from the start of the first day. Rows with `Response tokens` = 0 are failed requests: they
 * are skipped and counted in `skipped.failed`. `Model` and `Log Type` are kept in `extra.model` and
 * `extra.log_type`; `Total tokens` is ignored.
 */
import { columnIndex, sameColumns, type CsvFormat, type RowReader } from './csv-format.ts';
import { plainTimestamp, positiveTokenCount, tokenCount } from './fields.ts';

/** BurstGPT column names, in file order. */
export const BURSTGPT_COLUMNS = [
  'Timestamp',
  'Model',
  'Request tokens',
  'Response tokens',
  'Total tokens',
  'Log Type',
] as const;

/** The BurstGPT CSV format (detected by its exact header). */
export const burstgptFormat: CsvFormat = {
  name: 'burstgpt',
  expected: BURSTGPT_COLUMNS.join(','),
  arrivalField: 'Timestamp',
  matches: (header) => sameColumns(header, BURSTGPT_COLUMNS),
  bind(header, file, b): RowReader {
    const [T, M, P, O, , L] = BURSTGPT_COLUMNS.map((c) => columnIndex(header, c, file, this.expected));
    const model: string[] = (b.extra.model = []);
    const logType: string[] = (b.extra.log_type = []);
    return (rec, line, b) => {
      const t = plainTimestamp(rec[T], { file, line, field: 'Timestamp' }, 'seconds');
      const o = tokenCount(rec[O], { file, line, field: 'Response tokens' });
      if (o === 0) {
        // A failed request: BurstGPT logs it with 0 response tokens (and usually 0 request tokens).
        tokenCount(rec[P], { file, line, field: 'Request tokens' });
        b.skip('failed');
        return;
      }
      const p = positiveTokenCount(rec[P], { file, line, field: 'Request tokens' }, 'prompt');
      b.push(t, 0, p, o, line);
      model.push(rec[M]);
      logType.push(rec[L]);
    };
  },
};
