/**
 * `trace`: length predictions read from a column of the trace (e.g. an extra column of the
 * generic CSV format holding a real predictor's output), so measured predictions can be replayed.
 */
import type { PredictorEntry } from '../../sim/predictor.ts';
import type { Trace } from '../../sim/trace.ts';
import { InputError } from '../../sim/errors.ts';
import { FixedPredictor } from './fixed.ts';
import { OptionReader } from '../options.ts';
import { parseDecimal } from '../../sim/values.ts';

/** Default column name. */
export const DEFAULT_PREDICTION_COLUMN = 'predicted_output_tokens';

/**
 * Reads `trace.extra[column]` (strings) as predicted output lengths in tokens: each value must
 * parse as a finite number > 0 (fractions allowed). No randomness.
 * @throws InputError (at attach) when the trace has no such column — naming it and the extra
 *   columns the trace has (field `--predictor-opt`) — or when a value is not a positive number —
 *   naming the column (field), the trace file and the line: row index + 2 for CSV files with a
 *   header, + 1 for Mooncake JSONL (lines count rows as read; a trace whose arrivals were sorted
 *   on read, see `trace.warnings`, may not keep file order).
 */
export class TraceColumnPredictor extends FixedPredictor {
  readonly name = 'trace';
  readonly cost = undefined;
  /** Column holding the predictions. */
  readonly column: string;

  constructor(column = DEFAULT_PREDICTION_COLUMN) {
    super();
    this.column = column;
  }

  attach(trace: Trace): void {
    const values = Object.hasOwn(trace.extra, this.column) ? trace.extra[this.column] : undefined;
    if (values === undefined) {
      const have = Object.keys(trace.extra);
      throw new InputError(
        `trace: the trace has no column '${this.column}' (its extra columns: ${have.length ? have.join(', ') : 'none'}); ` +
          'give column=NAME, with a trace in the generic CSV format carrying the predictions',
        { field: '--predictor-opt' },
      );
    }
    const headerLines = trace.format === 'mooncake' ? 1 : 2;
    const estimate = new Float64Array(trace.n);
    for (let i = 0; i < trace.n; i++) {
      const text = values[i] ?? '';
      const v = parseDecimal(text);
      if (!(Number.isFinite(v) && v > 0)) {
        throw new InputError(`predicted length '${text}' is not a positive number of tokens (--predictor trace)`, {
          file: trace.source,
          line: i + headerLines,
          field: this.column,
        });
      }
      estimate[i] = v;
    }
    this.store(trace.output_tokens, estimate);
  }
}

/** Registry entry: `--predictor trace [--predictor-opt column=NAME]`. */
export const traceColumn: PredictorEntry = {
  name: 'trace',
  description: `predictions read from a trace column (default ${DEFAULT_PREDICTION_COLUMN}), e.g. a generic CSV's extra column`,
  source: 'the trace file itself (docs/traces.md, generic format extra columns)',
  create(opts) {
    const o = new OptionReader('--predictor-opt', 'trace', opts, ['column']);
    return new TraceColumnPredictor(o.string('column', DEFAULT_PREDICTION_COLUMN));
  },
};
