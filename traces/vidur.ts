/**
 * Vidur's trace CSV (microsoft/vidur, `data/processed_traces/*.csv`, read by
 * `vidur/request_generator/trace_replay_request_generator.py`): a header containing
 * `arrived_at,num_prefill_tokens,num_decode_tokens` (any order; other columns kept in `extra`, as
 * pandas would read them). `arrived_at` is in seconds (any finite decimal; made relative to the
 * earliest), `num_prefill_tokens` the prompt and `num_decode_tokens` the output tokens, decimal
 * integers >= 1 (Vidur's `num_decode_tokens` counts the token sampled by the prefill too, as our
 * output tokens do).
 *
 * Vidur's `max_tokens` clipping (`TraceRequestGeneratorConfig.max_tokens`, default 4096) is applied
 * only when asked (`vidurMaxTokens`, the `--vidur-max-tokens` flag): as Vidur's trace replay does,
 * a request whose prompt + output exceeds it keeps its output and loses the excess from its prompt
 * (prompt − max(0, prompt + output − max_tokens)). A request whose output alone reaches
 * `max_tokens` would keep no prompt (Vidur would replay a prompt of 0 or fewer tokens): an error
 * naming the row. Clipped rows are counted in a warning.
 */
import { InputError } from '../sim/errors.ts';
import { columnIndex, extraColumns, type CsvFormat, type RowReader } from './csv-format.ts';
import { plainTimestamp, positiveTokenCount } from './fields.ts';

/** Columns a Vidur trace must have (any order; extra columns allowed). */
export const VIDUR_COLUMNS = ['arrived_at', 'num_prefill_tokens', 'num_decode_tokens'] as const;

/** The Vidur CSV format (detected when the header contains the three required columns). */
export const vidurFormat: CsvFormat = {
  name: 'vidur',
  expected: `${VIDUR_COLUMNS.join(',')} (any order, extra columns kept)`,
  arrivalField: 'arrived_at',
  matches: (header) => VIDUR_COLUMNS.every((c) => header.includes(c)),
  bind(header, file, b, opts): RowReader {
    const [T, P, O] = VIDUR_COLUMNS.map((c) => columnIndex(header, c, file, this.expected));
    const extras = extraColumns(header, VIDUR_COLUMNS, file, b);
    const maxTokens = opts.vidurMaxTokens;
    let clipped = 0;
    let firstClipped = 0;
    const reader: RowReader = (rec, line, b) => {
      const t = plainTimestamp(rec[T], { file, line, field: 'arrived_at' }, 'seconds');
      let p = positiveTokenCount(rec[P], { file, line, field: 'num_prefill_tokens' }, 'prompt');
      const o = positiveTokenCount(rec[O], { file, line, field: 'num_decode_tokens' }, 'output');
      if (maxTokens !== undefined && p + o > maxTokens) {
        if (o >= maxTokens) {
          throw new InputError(`num_decode_tokens ${o} leaves no prompt under --vidur-max-tokens ${maxTokens} (Vidur's clipping shortens only the prompt)`, {
            file,
            line,
            field: 'num_decode_tokens',
          });
        }
        p = maxTokens - o;
        if (clipped++ === 0) firstClipped = line;
      }
      b.push(t, 0, p, o, line);
      for (const e of extras) e.col.push(rec[e.i]);
    };
    return Object.assign(reader, {
      done: () => {
        if (clipped > 0) b.warnings.push(`${file}: ${clipped} prompts shortened (first on line ${firstClipped}) so that prompt + output <= --vidur-max-tokens ${maxTokens}, as Vidur's trace replay clips`);
      },
    });
  },
};
