/**
 * The two sides of `sim compare` (docs/compare.md): per-request results of one replay of a trace,
 * read into one shape, from
 * - a run of this simulator (`sim ... --out DIR`: `requests.csv`, and `summary.json` for the ITL
 *   distribution, which requests.csv does not list per token);
 * - Vidur's `request_metrics.csv` (microsoft/vidur `vidur/metrics/metrics_store.py`,
 *   `_store_request_metrics`: the per-request series of `RequestMetricsTimeDistributions` and
 *   `RequestMetricsHistogram` in `vidur/metrics/constants.py`, outer-joined on `Request Id`), and,
 *   when Vidur wrote it (`--metrics_config_store_token_completion_metrics`), its per-token CDF
 *   `plots/decode_token_execution_plus_preemption_time.csv`;
 * - vLLM's serving benchmark result JSON (vllm-project/vllm `benchmarks/benchmark_serving.py
 *   --save-result`, and `vllm bench serve`): per-request lists `input_lens`, `output_lens`,
 *   `ttfts`, `itls` (seconds), `errors`.
 * Times in seconds; -1 where a value does not exist (a request that did not complete, the TPOT of a
 * one-token output). Files are read whole into memory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { InputError } from '../../sim/errors.ts';
import { readJsonFile, readTextFile } from '../../sim/files.ts';
import { parseDecimal } from '../../sim/values.ts';
import { latencyStats } from '../../sim/metrics.ts';
import type { LatencyStats } from '../../sim/metrics.ts';

/** Per-request results of one replay, in trace order (request i is the trace's i-th request). */
export interface Side {
  /** Who produced it: `llmsched`, `vidur` or `vllm`. */
  name: string;
  /** The file the per-request results came from (named in messages). */
  file: string;
  n: number;
  /** Prompt and output tokens of each request as that side saw them. */
  prompt: Int32Array;
  output: Int32Array;
  /** 1 when the request completed (its latencies exist). */
  completed: Uint8Array;
  ttft: Float64Array;
  tpot: Float64Array;
  e2e: Float64Array;
  /**
   * The distribution of every token's inter-token latency (all completed requests), as far as the
   * side gives it (Vidur: quantiles only, no mean); undefined when the side has none.
   */
  itl: LatencyStats | undefined;
  /** Where the ITL figures came from, or why there are none (one line, for the table's notes). */
  itlNote: string;
  /** Where request `i`'s prompt or output length is in the file (file, line, field), for messages. */
  locate(i: number, which: 'prompt' | 'output'): { file: string; line?: number; field: string };
}

/** A CSV read whole: header names, and each record with the line it starts on. */
interface CsvTable {
  file: string;
  header: string[];
  rows: { fields: string[]; line: number }[];
}

/**
 * Reads a CSV file with a header row (csv-parse: quoted fields, CRLF, BOM; blank lines skipped).
 * @throws InputError naming the file (and line) when it cannot be read, is malformed or has no rows.
 */
function readCsv(file: string, what: string): CsvTable {
  const text = readTextFile(file, what);
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, info: true }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw new InputError(`malformed CSV: ${err.message.replace(/^[^:]*: /, '')}`, { file, line: err.lines });
  }
  if (records.length < 2) throw new InputError(`no data rows (a ${what} has a header and one row per request)`, { file, line: 1 });
  const header = records[0].record.map((s) => s.trim());
  // A record spanning several lines (a quoted line break) ends on info.lines; our records are one line each.
  return { file, header, rows: records.slice(1).map((r) => ({ fields: r.record, line: r.info.lines })) };
}

/** Index of each of `cols` in the table's header. @throws InputError (line 1, the column) for a missing one. */
function columns<const C extends readonly string[]>(t: CsvTable, cols: C, what: string): Record<C[number], number> {
  const out = {} as Record<string, number>;
  for (const c of cols) {
    const i = t.header.indexOf(c);
    if (i < 0) throw new InputError(`missing column '${c}'; a ${what} has ${cols.join(', ')}`, { file: t.file, line: 1, field: c });
    out[c] = i;
  }
  return out as Record<C[number], number>;
}

/** A number field: a plain decimal, or null when empty. @throws InputError (file, line, column) otherwise. */
function numberField(text: string | undefined, where: { file: string; line: number; field: string }): number | null {
  const s = (text ?? '').trim();
  if (s === '') return null;
  const x = parseDecimal(s);
  if (!Number.isFinite(x)) throw new InputError(`'${s}' is not a finite decimal number`, where);
  return x;
}

/** A non-negative time field in seconds, or null when empty. */
function secondsField(text: string | undefined, where: { file: string; line: number; field: string }): number | null {
  const x = numberField(text, where);
  if (x !== null && x < 0) throw new InputError(`${x} s is negative`, where);
  return x;
}

/** A token count field: an integer >= `min` (`374.0` is 374). */
function tokensField(text: string | undefined, where: { file: string; line: number; field: string }, min: number): number {
  const x = numberField(text, where);
  if (x === null) throw new InputError('empty token count', where);
  if (!Number.isInteger(x) || x < min || x > 2 ** 31 - 1) throw new InputError(`token count ${x} is not an integer >= ${min}`, where);
  return x;
}

/**
 * A side with `n` requests, nothing completed yet. `fields` names its prompt and output columns:
 * with `lines` (CSV sides) a request is located by its record's line, else by `field[i]` (JSON lists).
 */
function emptySide(name: string, file: string, n: number, fields: { prompt: string; output: string }, lines?: Int32Array): Side {
  return {
    name,
    file,
    n,
    prompt: new Int32Array(n),
    output: new Int32Array(n),
    completed: new Uint8Array(n),
    ttft: new Float64Array(n).fill(-1),
    tpot: new Float64Array(n).fill(-1),
    e2e: new Float64Array(n).fill(-1),
    itl: undefined,
    itlNote: '',
    locate: (i, which) => (lines ? { file, line: lines[i], field: fields[which] } : { file, field: `${fields[which]}[${i}]` }),
  };
}

/** Columns of this simulator's requests.csv that `sim compare` reads (docs/output.md). */
export const RUN_COLUMNS = ['id', 'prompt_tokens', 'output_tokens', 'status', 'ttft_s', 'tpot_s', 'e2e_s'] as const;

/**
 * Reads a run of this simulator: `DIR/requests.csv` (or the `.csv` file itself) and, beside it,
 * `summary.json`'s `itl_s` (every token's inter-token latency).
 * @throws InputError naming the file, line and column for a missing file or column, an `id` out of
 *   order, a bad number, or a completed request without its latencies.
 */
export function readRun(where: string): Side {
  const file = where.endsWith('.csv') ? where : path.join(where, 'requests.csv');
  const t = readCsv(file, 'requests.csv');
  const c = columns(t, RUN_COLUMNS, 'requests.csv');
  const lines = new Int32Array(t.rows.length);
  const s = emptySide('llmsched', file, t.rows.length, { prompt: 'prompt_tokens', output: 'output_tokens' }, lines);
  t.rows.forEach(({ fields: f, line }, i) => {
    const at = (field: string) => ({ file, line, field });
    const id = numberField(f[c.id], at('id'));
    if (id !== i) throw new InputError(`expected id ${i} (rows in trace order, one per request), got ${f[c.id]}`, at('id'));
    lines[i] = line;
    s.prompt[i] = tokensField(f[c.prompt_tokens], at('prompt_tokens'), 1);
    s.output[i] = tokensField(f[c.output_tokens], at('output_tokens'), 1);
    if (f[c.status] !== 'completed') return;
    s.completed[i] = 1;
    for (const [k, arr] of [['ttft_s', s.ttft], ['e2e_s', s.e2e]] as const) {
      const x = secondsField(f[c[k]], at(k));
      if (x === null) throw new InputError('empty for a completed request', at(k));
      arr[i] = x;
    }
    s.tpot[i] = secondsField(f[c.tpot_s], at('tpot_s')) ?? -1;
  });
  const summary = path.join(path.dirname(file), 'summary.json');
  s.itlNote = `every token, from ${summary}`;
  if (!fs.existsSync(summary)) s.itlNote = `no ${summary}: no ITL`;
  else {
    const { value } = readJsonFile(summary, 'summary');
    const itl = typeof value === 'object' && value !== null ? (value as { itl_s?: unknown }).itl_s : undefined;
    if (itl === undefined) s.itlNote = `${summary} has no itl_s (written before ITL was recorded): no ITL`;
    else s.itl = readStatsObject(itl, { file: summary, field: 'itl_s' });
  }
  return s;
}

/** A `{mean, p50, p90, p95, p99, max}` object of numbers or nulls. */
function readStatsObject(v: unknown, where: { file: string; field: string }): LatencyStats {
  if (typeof v !== 'object' || v === null) throw new InputError('expected an object {mean, p50, p90, p95, p99, max}', where);
  const o = v as Record<string, unknown>;
  const out: Record<string, number | null> = {};
  for (const k of ['mean', 'p50', 'p90', 'p95', 'p99', 'max']) {
    const x = o[k];
    if (x !== null && (typeof x !== 'number' || !Number.isFinite(x))) throw new InputError(`${k} must be a number or null`, { ...where, field: `${where.field}.${k}` });
    out[k] = x as number | null;
  }
  return out as unknown as LatencyStats;
}

/**
 * Columns of Vidur's request_metrics.csv that `sim compare` reads (names from
 * `vidur/metrics/constants.py`): the join key, end-to-end time (completed − arrived), prefill
 * end-to-end time (first token − arrived: TTFT), and the token counts recorded at arrival.
 */
export const VIDUR_COLUMNS = ['Request Id', 'request_e2e_time', 'prefill_e2e_time', 'request_num_prefill_tokens', 'request_num_decode_tokens'] as const;

/** Vidur's per-token CDF file, relative to its output folder (written with `--metrics_config_store_token_completion_metrics`). */
export const VIDUR_ITL_FILE = path.join('plots', 'decode_token_execution_plus_preemption_time.csv');

/**
 * Reads Vidur's `request_metrics.csv` (a `.csv` path, or else the output folder holding it). Requests are matched by
 * `Request Id`, Vidur's 0-based creation order, which for its trace replay is the trace's row
 * order. TTFT = `prefill_e2e_time`; e2e = `request_e2e_time`; TPOT = (e2e − TTFT) /
 * (`request_num_decode_tokens` − 1), ours and vLLM's definition (Vidur's own
 * `decode_time_execution_plus_preemption_normalized` divides by the decode tokens, not one less).
 * ITL from the per-token CDF beside it when present (quantiles of a DDSketch at 0.1% relative
 * accuracy, every 1%: p50, p90, p99, max; no mean).
 * @throws InputError naming the file, line and column for a missing column, an id missing,
 *   repeated or out of range, or a bad number.
 */
export function readVidur(where: string): Side {
  const file = where.endsWith('.csv') ? where : path.join(where, 'request_metrics.csv');
  const t = readCsv(file, 'Vidur request_metrics.csv');
  const c = columns(t, VIDUR_COLUMNS, 'Vidur request_metrics.csv');
  const n = t.rows.length;
  const lines = new Int32Array(n);
  const s = emptySide('vidur', file, n, { prompt: 'request_num_prefill_tokens', output: 'request_num_decode_tokens' }, lines);
  const seen = new Uint8Array(n);
  for (const { fields: f, line } of t.rows) {
    const at = (field: string) => ({ file, line, field });
    const id = numberField(f[c['Request Id']], at('Request Id'));
    if (id === null || !Number.isInteger(id) || id < 0 || id >= n) throw new InputError(`Request Id must be an integer in 0..${n - 1} (one row per request), got '${f[c['Request Id']]}'`, at('Request Id'));
    if (seen[id]) throw new InputError(`Request Id ${id} appears twice`, at('Request Id'));
    seen[id] = 1;
    lines[id] = line;
    s.prompt[id] = tokensField(f[c.request_num_prefill_tokens], at('request_num_prefill_tokens'), 1);
    s.output[id] = tokensField(f[c.request_num_decode_tokens], at('request_num_decode_tokens'), 1);
    const e2e = secondsField(f[c.request_e2e_time], at('request_e2e_time'));
    const ttft = secondsField(f[c.prefill_e2e_time], at('prefill_e2e_time'));
    if (e2e === null || ttft === null) continue; // not completed
    if (ttft > e2e) throw new InputError(`prefill_e2e_time ${ttft} exceeds request_e2e_time ${e2e}`, at('prefill_e2e_time'));
    s.completed[id] = 1;
    s.ttft[id] = ttft;
    s.e2e[id] = e2e;
    if (s.output[id] >= 2) s.tpot[id] = (e2e - ttft) / (s.output[id] - 1);
  }
  const cdf = path.join(path.dirname(file), VIDUR_ITL_FILE);
  if (fs.existsSync(cdf)) {
    s.itl = readVidurItl(cdf);
    s.itlNote = `quantiles of Vidur's per-token sketch ${cdf} (no mean)`;
  } else {
    s.itlNote = `no ${cdf} (Vidur writes it with --metrics_config_store_token_completion_metrics): no ITL`;
  }
  return s;
}

/**
 * Reads Vidur's per-token CDF (`cdf` in 0, 0.01, ..., 1 and the metric's quantile; an unnamed
 * index column first, as pandas writes it): p50, p90, p99 and max at cdf 0.5, 0.9, 0.99 and 1.
 * @throws InputError naming the file, line and column for a missing column or quantile, or a bad number.
 */
export function readVidurItl(file: string): LatencyStats {
  const metric = 'decode_token_execution_plus_preemption_time';
  const t = readCsv(file, 'Vidur CDF');
  const c = columns(t, ['cdf', metric] as const, 'Vidur CDF');
  const at = new Map<number, number>();
  for (const { fields: f, line } of t.rows) {
    const q = numberField(f[c.cdf], { file, line, field: 'cdf' });
    const v = secondsField(f[c[metric]], { file, line, field: metric });
    if (q !== null && v !== null) at.set(Math.round(q * 100), v);
  }
  const get = (pct: number): number => {
    const v = at.get(pct);
    if (v === undefined) throw new InputError(`no row with cdf ${pct / 100}`, { file, field: 'cdf' });
    return v;
  };
  return { mean: null, p50: get(50), p90: get(90), p95: get(95), p99: get(99), max: get(100) };
}

/**
 * Reads vLLM's serving benchmark result JSON. Requests are matched by list index (the client's
 * request order, which replays the trace in order). A request failed when its `errors` entry is
 * not empty (or, without `errors`, when its `output_lens` entry is 0). TTFT = `ttfts[i]`; the last
 * token arrives at `ttfts[i] + Σ itls[i]` (the client's `latency` is not in the file), so e2e is
 * that sum and TPOT = Σ itls[i] / (`output_lens[i]` − 1), as benchmark_serving computes it from
 * latency − TTFT. ITL: every entry of every completed request's `itls` (a streamed chunk carrying
 * several tokens is one entry, as vLLM counts it), summarized exactly.
 * @throws InputError naming the file, the line of the key, and the field (`ttfts[12]`) for invalid
 *   JSON, a missing key, lists of different lengths, or a bad value.
 */
export function readVllm(file: string): Side {
  const { value: raw, lineOf } = readJsonFile(file, 'vLLM result');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError('expected a JSON object (benchmark_serving --save-result output)', { file, line: 1 });
  const o = raw as Record<string, unknown>;
  const list = (key: string, required: boolean): unknown[] | undefined => {
    const v = o[key];
    if (v === undefined) {
      if (!required) return undefined;
      throw new InputError(`missing key '${key}' (per-request lists are saved by benchmark_serving --save-result, with --save-detailed in newer versions)`, { file, field: key });
    }
    if (!Array.isArray(v)) throw new InputError('expected a list with one entry per request', { file, line: lineOf(key), field: key });
    return v;
  };
  const ttfts = list('ttfts', true)!;
  const n = ttfts.length;
  const lists: Record<string, unknown[]> = { ttfts };
  for (const key of ['itls', 'input_lens', 'output_lens']) lists[key] = list(key, true)!;
  const errors = list('errors', false);
  if (errors) lists.errors = errors;
  for (const [key, v] of Object.entries(lists)) {
    if (v.length !== n) throw new InputError(`${v.length} entries, but ttfts has ${n}`, { file, line: lineOf(key), field: key });
  }
  if (n === 0) throw new InputError('no requests', { file, line: lineOf('ttfts'), field: 'ttfts' });
  const s = emptySide('vllm', file, n, { prompt: 'input_lens', output: 'output_lens' });
  const where = (key: string, i: number) => ({ file, line: lineOf(key), field: `${key}[${i}]` });
  const seconds = (x: unknown, key: string, i: number): number => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new InputError(`expected seconds (a number >= 0), got ${JSON.stringify(x)}`, where(key, i));
    return x;
  };
  const tokens = (x: unknown, key: string, i: number, min: number): number => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > 2 ** 31 - 1) throw new InputError(`expected an integer >= ${min}, got ${JSON.stringify(x)}`, where(key, i));
    return x;
  };
  const gaps: number[] = [];
  for (let i = 0; i < n; i++) {
    s.prompt[i] = tokens(lists.input_lens[i], 'input_lens', i, 1);
    s.output[i] = tokens(lists.output_lens[i], 'output_lens', i, 0);
    const err = errors?.[i];
    if (err !== undefined && err !== null && typeof err !== 'string') throw new InputError(`expected a string, got ${JSON.stringify(err)}`, where('errors', i));
    const failed = errors ? typeof err === 'string' && err !== '' : s.output[i] === 0;
    const itl = lists.itls[i];
    if (!Array.isArray(itl)) throw new InputError(`expected a list of seconds, got ${JSON.stringify(itl)}`, where('itls', i));
    if (failed) continue;
    if (s.output[i] < 1) throw new InputError('a completed request with 0 output tokens', where('output_lens', i));
    s.completed[i] = 1;
    s.ttft[i] = seconds(ttfts[i], 'ttfts', i);
    let sum = 0;
    for (let k = 0; k < itl.length; k++) {
      const g = seconds(itl[k], 'itls', i);
      sum += g;
      gaps.push(g);
    }
    s.e2e[i] = s.ttft[i] + sum;
    if (s.output[i] >= 2) s.tpot[i] = sum / (s.output[i] - 1);
  }
  s.itl = gaps.length > 0 ? latencyStats(Float64Array.from(gaps)) : undefined;
  s.itlNote = gaps.length > 0 ? `every streamed chunk's gap, from ${file}` : 'no itls entries: no ITL';
  return s;
}
