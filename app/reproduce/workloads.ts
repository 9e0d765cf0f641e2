/**
 * Workloads of the reproductions: SSJF's released length predictions (the real proxy model's),
 * in-memory request traces laid out as independent blocks (several experiments in one run), and
 * running one configuration on a trace in memory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { InputError } from '../../sim/errors.ts';
import { readTextFile, writeFileAtomic, prepareOutputFile } from '../../sim/files.ts';
import type { Trace } from '../../sim/trace.ts';
import type { IterationObserver } from '../../sim/engine-types.ts';
import { normalizeOptions, buildRun } from '../config.ts';
import type { RunOptions } from '../config.ts';
import { runResolved } from '../run.ts';
import type { RunOutput } from '../run.ts';

/** The released predictions of SSJF's 5-class proxy model, relative to the shared folder. */
export const SSJF_PREDICTIONS = path.join('reference', 'ssjf-predictions', 'predictions_warmup_multi_cls_1000K.csv');

/**
 * SSJF's real predictor output (Qiu et al., arXiv 2404.08509; James-QiuHaoran/LLM-serving-with-proxy-models,
 * Apache-2.0, `model-serving/prediction/final/`): per LMSYS-Chat-1M prompt, the true vicuna-13b
 * output length (tokens, capped at 511) and the class its BERT proxy predicted (0–4, cut at
 * 42/141/294/503 tokens).
 */
export interface SsjfPredictions {
  /** True output tokens (>= 1). */
  output: Int32Array;
  /** Predicted class, 0..4. */
  predictedClass: Int32Array;
}

/**
 * Reads {@link SSJF_PREDICTIONS} under `shared` (columns: index, output_token_length,
 * predicted_length, latency, model); the last file read is kept, so reading it again is free
 * (callers must not modify the arrays).
 * @throws InputError naming the file (and line, field) when it is missing, a column is absent, a
 *   length is not an integer >= 1 or a class not in 0..4.
 */
export function readSsjfPredictions(shared: string): SsjfPredictions {
  const file = path.join(shared, SSJF_PREDICTIONS);
  if (lastRead?.file === file) return lastRead.data;
  const text = readTextFile(file, 'SSJF predictions (shared/reference/ssjf-predictions; give --shared DIR)');
  const rows = parse(text, { relax_column_count: false, skip_empty_lines: true }) as string[][];
  const header = rows[0] ?? [];
  const L = header.indexOf('output_token_length');
  const C = header.indexOf('predicted_length');
  if (L < 0 || C < 0) throw new InputError('expected columns output_token_length and predicted_length', { file, line: 1 });
  const n = rows.length - 1;
  if (n < 1) throw new InputError('no data rows', { file, line: 2 });
  const output = new Int32Array(n);
  const predictedClass = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i + 1];
    const len = Number(r[L]);
    const cls = Number(r[C]);
    if (!Number.isInteger(len) || len < 1) throw new InputError(`expected an integer >= 1, got '${r[L]}'`, { file, line: i + 2, field: 'output_token_length' });
    if (!Number.isInteger(cls) || cls < 0 || cls > 4) throw new InputError(`expected a class 0..4, got '${r[C]}'`, { file, line: i + 2, field: 'predicted_length' });
    output[i] = len;
    predictedClass[i] = cls;
  }
  lastRead = { file, data: { output, predictedClass } };
  return lastRead.data;
}

/** The last predictions file read (a check and a run read the same file once). */
let lastRead: { file: string; data: SsjfPredictions } | undefined;

/** One request of a workload: arrival (s), prompt and output tokens, and optionally a predicted length (tokens). */
export interface RequestRow {
  arrival_s: number;
  prompt: number;
  output: number;
  predicted?: number;
}

/** Column of a trace holding stored predictions (the `trace` predictor's default column). */
export const PREDICTED_COLUMN = 'predicted_output_tokens';

/**
 * A request trace in memory from rows sorted by arrival (the first arrival is moved to 0, as the
 * readers do). Rows with `predicted` fill the {@link PREDICTED_COLUMN} extra column (all or none).
 * @throws Error for rows out of arrival order or a mix of rows with and without predictions
 *   (programming errors).
 */
export function requestTrace(source: string, rows: readonly RequestRow[]): Trace {
  const n = rows.length;
  const t0 = n > 0 ? rows[0].arrival_s : 0;
  const withPred = rows.filter((r) => r.predicted !== undefined).length;
  if (withPred !== 0 && withPred !== n) throw new Error('requestTrace: either every row has a prediction or none');
  const trace: Trace = {
    source,
    format: 'generic',
    n,
    arrival_s: new Float64Array(n),
    prompt_tokens: new Int32Array(n),
    output_tokens: new Int32Array(n),
    extra: withPred > 0 ? { [PREDICTED_COLUMN]: rows.map((r) => String(r.predicted)) } : {},
    skipped: {},
    warnings: [],
  };
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    if (i > 0 && r.arrival_s < rows[i - 1].arrival_s) throw new Error('requestTrace: rows out of arrival order');
    trace.arrival_s[i] = r.arrival_s - t0;
    trace.prompt_tokens[i] = r.prompt;
    trace.output_tokens[i] = r.output;
  }
  return trace;
}

/** Independent experiments in one trace: block b holds requests [start[b], start[b+1]). */
export interface Blocks {
  trace: Trace;
  /** First request index of each block, and n at the end (length blocks + 1). */
  start: number[];
  /** Each block's time origin in the trace (s): its first arrival, or where its arrival process began. */
  origin: number[];
}

/**
 * Lays independent experiments end to end in one trace: block b's arrivals (seconds from its own
 * origin 0) are shifted to start `gap_s` after the previous block's origin, so that one simulation
 * runs them all. They stay independent only if every block drains within the gap: check with
 * {@link checkDrained} after the run.
 * @param blocks each block's rows, arrivals relative to the block's origin, sorted.
 * @param gap_s distance between block origins, seconds.
 */
export function blockTrace(source: string, blocks: readonly (readonly RequestRow[])[], gap_s: number): Blocks {
  const rows: RequestRow[] = [];
  const start: number[] = [];
  const origin: number[] = [];
  blocks.forEach((b, k) => {
    start.push(rows.length);
    origin.push(k * gap_s);
    for (const r of b) rows.push({ ...r, arrival_s: r.arrival_s + k * gap_s });
  });
  start.push(rows.length);
  const shift = rows.length > 0 ? rows[0].arrival_s : 0;
  return { trace: requestTrace(source, rows), start, origin: origin.map((o) => o - shift) };
}

/**
 * Checks that every block of a run finished before the next block's origin, so the blocks were
 * independent experiments.
 * @throws Error naming the block otherwise (the gap is too short: a bug in the reproduction).
 */
export function checkDrained(out: RunOutput, b: Blocks): void {
  const R = out.result.requests;
  for (let k = 0; k + 1 < b.origin.length; k++) {
    let last = -Infinity;
    for (let i = b.start[k]; i < b.start[k + 1]; i++) last = Math.max(last, R.completion[i]);
    if (!(last < b.origin[k + 1])) throw new Error(`block ${k} finished at ${last} s, after the next block's origin ${b.origin[k + 1]} s: widen the gap`);
  }
}

/**
 * Runs one configuration on a trace already in memory (its trace options are ignored).
 * @param observer optional per-iteration callback.
 * @throws InputError for bad options.
 */
export function runOn(trace: Trace, o: Partial<RunOptions>, observer?: IterationObserver): RunOutput {
  const opts = normalizeOptions({ ...o, trace: trace.source });
  return runResolved(buildRun(opts, trace, () => {}), { observer });
}

/** Mean of `xs[i]` over i in [from, to) (the caller's range holds only completed requests). */
export function meanOf(xs: Float64Array, from = 0, to = xs.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += xs[i];
  return s / (to - from);
}

/**
 * Writes a request trace as a generic CSV (docs/traces.md: `arrival_s,prompt_tokens,output_tokens`,
 * plus the predictions column when the trace has one), atomically, its folder created if needed.
 * Reading it back gives the same trace (arrivals are written with JavaScript's shortest exact
 * decimal form).
 * @throws InputError naming the file when it cannot be written.
 */
export function writeGenericCsv(file: string, trace: Trace, field: string): void {
  const pred = trace.extra[PREDICTED_COLUMN];
  const lines = [`arrival_s,prompt_tokens,output_tokens${pred ? `,${PREDICTED_COLUMN}` : ''}`];
  for (let i = 0; i < trace.n; i++) lines.push(`${trace.arrival_s[i]},${trace.prompt_tokens[i]},${trace.output_tokens[i]}${pred ? `,${pred[i]}` : ''}`);
  prepareOutputFile(file, field);
  writeFileAtomic(file, lines.join('\n') + '\n');
}

/** Whether `dir` holds the shared data folder's reference files (for skipping what needs them). */
export function hasSharedReference(dir: string): boolean {
  return fs.existsSync(path.join(dir, SSJF_PREDICTIONS));
}
