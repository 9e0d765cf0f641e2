/**
 * Reading Vidur's measured CUDA operator tables (microsoft/vidur `data/profiling`, MIT License,
 * Copyright (c) Microsoft Corporation; Agrawal et al., "Vidur: A Large-Scale Simulation Framework
 * for LLM Inference", MLSys 2024) and turning them into llmsched profiles. Data only: no Vidur
 * code. See docs/calibration.md §5.
 *
 * `compute/<device>/<org>/<model>/mlp.csv`: one row per (num_tokens, num_tensor_parallel_workers),
 * times in **milliseconds** of one decoder layer's non-attention operators on one tensor-parallel
 * worker, as groups `time_stats.<op>.{min,max,mean,median,std}`. `attention*.csv` beside it: one
 * row per decode shape (batch_size requests of kv_cache_size cached tokens) or prefill shape (a
 * chunk of prefill_chunk_size tokens after kv_cache_size cached ones), attention kernel times of
 * one layer in milliseconds. `network/<topology>/all_reduce.csv`: one row per (size in bytes,
 * num_workers), all-reduce times in milliseconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { CsvError } from 'csv-parse';
import type { OperatorName } from '../sim/cost/analytical.ts';
import { MODELS, checkTp, getModel, type ModelSpec } from '../sim/cost/models.ts';
import { InputError } from '../sim/errors.ts';
import { readTextFile } from '../sim/files.ts';
import { projectVersion } from './profile.ts';
import { PROFILE_FORMAT, PROFILE_VERSION, type OperatorProfile, type Profile } from '../sim/cost/profile-format.ts';
import { stderrLogger, type Logger } from '../sim/cost/profile.ts';
import { parseDecimal } from '../sim/values.ts';

/** Attribution carried by every imported profile's `source` and by calibrate/README.md. */
export const VIDUR_ATTRIBUTION =
  'Vidur profiling data (microsoft/vidur data/profiling), MIT License, Copyright (c) Microsoft Corporation; ' +
  'Agrawal et al., "Vidur: A Large-Scale Simulation Framework for LLM Inference", MLSys 2024';

/**
 * How llmsched operators are built from Vidur's `mlp.csv` columns: the sum of the listed Vidur
 * operators, each times its weight. `add` counts twice: a decoder layer has two residual additions
 * and Vidur's profiling block times one of them. `norm_rope_residual` leaves out the model's final
 * norm (one norm per iteration, under 1% of the operator at 32 layers).
 */
export const VIDUR_OPERATORS: Readonly<Partial<Record<OperatorName, readonly (readonly [string, number])[]>>> = Object.freeze({
  embedding: [['emb', 1]],
  qkv_proj: [['attn_pre_proj', 1]],
  attn_out_proj: [['attn_post_proj', 1]],
  mlp_gate_up: [['mlp_up_proj', 1]],
  mlp_act: [['mlp_act', 1]],
  mlp_down: [['mlp_down_proj', 1]],
  norm_rope_residual: [['input_layernorm', 1], ['post_attention_layernorm', 1], ['attn_rope', 1], ['add', 2]],
});

/** Measured times of one operator over token counts, seconds (per layer, or per iteration for embedding). */
export interface Series {
  /** Grid, strictly increasing (token counts, or tokens-equivalent message sizes for all_reduce). */
  tokens: number[];
  /** Median, seconds. */
  median: number[];
  /** Minimum and maximum, seconds (bounds of the spread). */
  min: number[];
  max: number[];
}

/** One parsed row of mlp.csv: Vidur op → [min, median, max] in milliseconds. */
export interface VidurRow {
  /** 1-based line in the file (header is line 1). */
  line: number;
  tokens: number;
  tp: number;
  ms: Map<string, readonly [number, number, number]>;
}

/** A parsed Vidur `mlp.csv`. */
export interface VidurTable {
  /** Absolute path of mlp.csv. */
  file: string;
  /** Path relative to the Vidur profiling root (`compute/a100/meta-llama/Llama-2-7b-hf/mlp.csv`) when recognisable. */
  relative: string;
  /** Device folder name (`a100`), or `unknown`. */
  device: string;
  /** Model folder name (`Llama-2-7b-hf`). */
  folder: string;
  /** Vidur ops present in the header (all of min, median, max). */
  ops: string[];
  /** The architecture columns of the first row: n_head, n_kv_head, n_embd, n_expanded_embd, vocab_size. */
  arch: { heads: number; kvHeads: number; hidden: number; intermediate: number; vocab: number } | undefined;
  rows: VidurRow[];
}

/** Rounds a millisecond value converted to seconds to 12 significant digits (drops float noise). */
export function msToS(ms: number): number {
  return Number((ms / 1000).toPrecision(12));
}

function readText(file: string): string {
  return readTextFile(file, 'Vidur table', true);
}

/** Parses CSV text into the header and rows of strings; InputError with the line on malformed CSV. */
function parseCsv(text: string, file: string): { header: string[]; rows: { line: number; cells: string[] }[] } {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { info: true, skip_empty_lines: true, relax_column_count: false }) as unknown as typeof records;
  } catch (e) {
    if (e instanceof CsvError) throw new InputError(`malformed CSV (${e.code}): ${e.message}`, { file, line: typeof e.lines === 'number' ? e.lines : undefined });
    throw e;
  }
  if (records.length === 0) throw new InputError('empty file', { file, line: 1 });
  const header = records[0].record.map((h) => h.trim());
  return { header, rows: records.slice(1).map((r) => ({ line: r.info.lines, cells: r.record })) };
}

/**
 * Column lookup of a parsed header: the index of `name`; -1 when absent and not `required`.
 * @throws InputError naming the file, line 1 and the column when a required one is missing.
 */
function columns(header: string[], file: string, what: string): (name: string, required?: boolean) => number {
  return (name, required = true) => {
    const c = header.indexOf(name);
    if (c < 0 && required) throw new InputError(`missing column '${name}' (is this a Vidur ${what}?)`, { file, line: 1, field: name });
    return c;
  };
}

function num(cells: string[], col: number, name: string, file: string, line: number, min: number): number {
  const s = cells[col]?.trim() ?? '';
  const x = parseDecimal(s);
  if (!Number.isFinite(x) || x < min) throw new InputError(`expected a number >= ${min}, got '${s}'`, { file, line, field: name });
  return x;
}

/** `dir/mlp.csv`, or `dir` itself when it names a file. */
function mlpFile(dirOrFile: string): string {
  const p = path.resolve(dirOrFile);
  try {
    if (fs.statSync(p).isDirectory()) return path.join(p, 'mlp.csv');
  } catch {
    throw new InputError('no such file or folder', { file: p, field: '--import-vidur' });
  }
  return p;
}

/**
 * Reads a Vidur `mlp.csv` (DIR is the model folder, or the file).
 * @throws InputError naming the file, line and column for a missing column or a bad number.
 */
export function readVidurTable(dirOrFile: string): VidurTable {
  const file = mlpFile(dirOrFile);
  const { header, rows } = parseCsv(readText(file), file);
  const col = (name: string): number => header.indexOf(name);
  const need = (name: string): number => {
    const c = col(name);
    if (c < 0) throw new InputError(`missing column '${name}' (is this a Vidur mlp.csv?)`, { file, line: 1, field: name });
    return c;
  };
  const cTokens = need('num_tokens');
  const cTp = need('num_tensor_parallel_workers');
  const ops: string[] = [];
  for (const h of header) {
    const m = /^time_stats\.(.+)\.median$/.exec(h);
    if (m && col(`time_stats.${m[1]}.min`) >= 0 && col(`time_stats.${m[1]}.max`) >= 0) ops.push(m[1]);
  }
  if (ops.length === 0) throw new InputError('no time_stats.<op>.{min,median,max} columns', { file, line: 1 });
  const parsed: VidurRow[] = rows.map(({ line, cells }) => {
    if (cells.length !== header.length) throw new InputError(`${cells.length} fields, header has ${header.length}`, { file, line });
    const ms = new Map<string, readonly [number, number, number]>();
    for (const op of ops) {
      const f = (stat: string) => {
        const name = `time_stats.${op}.${stat}`;
        return num(cells, col(name), name, file, line, 0);
      };
      const lo = f('min');
      const med = f('median');
      const hi = f('max');
      if (!(lo <= med && med <= hi)) throw new InputError(`min ${lo} <= median ${med} <= max ${hi} does not hold`, { file, line, field: `time_stats.${op}.median` });
      ms.set(op, [lo, med, hi]);
    }
    return {
      line,
      tokens: num(cells, cTokens, 'num_tokens', file, line, 1),
      tp: num(cells, cTp, 'num_tensor_parallel_workers', file, line, 1),
      ms,
    };
  });
  if (parsed.length === 0) throw new InputError('no data rows', { file, line: 2 });
  const archCols = ['n_head', 'n_kv_head', 'n_embd', 'n_expanded_embd', 'vocab_size'];
  let arch: VidurTable['arch'];
  if (archCols.every((c) => col(c) >= 0)) {
    const [heads, kvHeads, hidden, intermediate, vocab] = archCols.map((c) => num(rows[0].cells, col(c), c, file, rows[0].line, 1));
    arch = { heads, kvHeads, hidden, intermediate, vocab };
  }
  const parts = file.split(path.sep);
  const ci = parts.lastIndexOf('compute');
  return {
    file,
    relative: ci >= 0 ? parts.slice(ci).join('/') : file,
    device: ci >= 0 && ci + 1 < parts.length - 1 ? parts[ci + 1] : 'unknown',
    folder: parts[parts.length - 2] ?? '',
    ops,
    arch,
    rows: parsed,
  };
}

/** Table's tensor-parallel degrees, ascending. */
export function vidurTps(t: VidurTable): number[] {
  return [...new Set(t.rows.map((r) => r.tp))].sort((a, b) => a - b);
}

/**
 * Per-operator series of the rows with `num_tensor_parallel_workers = tp`, in seconds, over the
 * distinct token counts ascending. Rows repeated at one token count (Vidur measured some twice)
 * are merged: mean of the medians, least minimum, greatest maximum. Operators whose Vidur columns
 * are missing are left out.
 * @throws InputError (field `--tp`) when the table has no row at this tp.
 */
export function vidurSeries(t: VidurTable, tp: number): Map<OperatorName, Series> {
  const rows = t.rows.filter((r) => r.tp === tp);
  if (rows.length === 0) {
    throw new InputError(`no rows with num_tensor_parallel_workers = ${tp}; the table has ${vidurTps(t).join(', ')}`, { file: t.file, field: '--tp' });
  }
  const byTokens = new Map<number, VidurRow[]>();
  for (const r of rows) {
    const list = byTokens.get(r.tokens);
    if (list) list.push(r);
    else byTokens.set(r.tokens, [r]);
  }
  const tokens = [...byTokens.keys()].sort((a, b) => a - b);
  const out = new Map<OperatorName, Series>();
  for (const [op, parts] of Object.entries(VIDUR_OPERATORS) as [OperatorName, readonly (readonly [string, number])[]][]) {
    if (!parts.every(([v]) => t.ops.includes(v))) continue;
    const s: Series = { tokens, median: [], min: [], max: [] };
    for (const n of tokens) {
      const group = byTokens.get(n)!;
      let lo = 0;
      let med = 0;
      let hi = 0;
      for (const [v, w] of parts) {
        lo += w * Math.min(...group.map((r) => r.ms.get(v)![0]));
        med += (w * group.reduce((acc, r) => acc + r.ms.get(v)![1], 0)) / group.length;
        hi += w * Math.max(...group.map((r) => r.ms.get(v)![2]));
      }
      s.min.push(msToS(lo));
      s.median.push(msToS(med));
      s.max.push(msToS(hi));
    }
    out.set(op, s);
  }
  return out;
}

/**
 * The model a Vidur table measures: `name` when given (warning through `log` if the table's
 * architecture columns disagree with it); else the folder name normalised (`Llama-2-7b-hf` →
 * `llama-2-7b`, `Meta-Llama-3-8B` → `llama-3-8b`) when it is a known model; else the only known
 * model with the table's heads, KV heads, hidden and intermediate sizes.
 * @throws InputError (field `--model`) for an unknown name, or when the model cannot be told.
 */
export function resolveVidurModel(t: VidurTable, name: string | undefined, log: Logger = stderrLogger): ModelSpec {
  // Vidur's tables time dense MLPs: a mixture of experts (Mixtral has Mistral-7B's widths) matches none.
  const matches = (m: ModelSpec) =>
    (m.experts ?? 1) <= 1 && (t.arch === undefined ||
    (m.heads === t.arch.heads && m.kvHeads === t.arch.kvHeads && m.hidden === t.arch.hidden && m.intermediate === t.arch.intermediate));
  if (name !== undefined) {
    const m = getModel(name);
    if (!matches(m)) log(`${t.file}: the table's architecture (${JSON.stringify(t.arch)}) is not ${m.name}'s`);
    return m;
  }
  const guess = t.folder.toLowerCase().replace(/^meta-/, '').replace(/-hf$/, '');
  if (MODELS[guess] && matches(MODELS[guess])) return MODELS[guess];
  const candidates = Object.values(MODELS).filter((m) => t.arch !== undefined && matches(m));
  if (candidates.length === 1) return candidates[0];
  throw new InputError(
    `cannot tell which model ${t.folder} measures${candidates.length ? ` (candidates: ${candidates.map((m) => m.name).join(', ')})` : ''}: give --model NAME`,
    { file: t.file, field: '--model' },
  );
}

/**
 * All-reduce times per call from a Vidur `network/<topology>/all_reduce.csv`, for `tp` workers on
 * one node (num_workers = devices_per_node = tp), over message sizes converted to tokens:
 * tokens = size / (hidden · 2), the bytes of a tp all-reduce of T tokens of FP16/BF16 activations.
 * Repeated sizes are merged as in {@link vidurSeries}.
 * @returns undefined when the file has no row for tp workers on one node.
 * @throws InputError naming the file, line and column for a malformed table.
 */
export function readVidurAllReduce(file: string, tp: number, hidden: number): Series | undefined {
  const { header, rows } = parseCsv(readText(file), file);
  const col = columns(header, file, 'all_reduce.csv');
  const c = {
    min: col('time_stats.all_reduce.min'),
    med: col('time_stats.all_reduce.median'),
    max: col('time_stats.all_reduce.max'),
    workers: col('num_workers'),
    perNode: col('devices_per_node'),
    size: col('size'),
  };
  const bySize = new Map<number, [number, number, number][]>();
  for (const { line, cells } of rows) {
    const workers = num(cells, c.workers, 'num_workers', file, line, 1);
    const perNode = num(cells, c.perNode, 'devices_per_node', file, line, 1);
    if (workers !== tp || perNode !== tp) continue;
    const size = num(cells, c.size, 'size', file, line, 1);
    const v: [number, number, number] = [
      num(cells, c.min, 'time_stats.all_reduce.min', file, line, 0),
      num(cells, c.med, 'time_stats.all_reduce.median', file, line, 0),
      num(cells, c.max, 'time_stats.all_reduce.max', file, line, 0),
    ];
    const list = bySize.get(size);
    if (list) list.push(v);
    else bySize.set(size, [v]);
  }
  if (bySize.size < 2) return undefined;
  const sizes = [...bySize.keys()].sort((a, b) => a - b);
  const s: Series = { tokens: [], median: [], min: [], max: [] };
  for (const size of sizes) {
    const g = bySize.get(size)!;
    const med = g.reduce((a, v) => a + v[1], 0) / g.length;
    s.tokens.push(Number((size / (2 * hidden)).toPrecision(12)));
    s.median.push(msToS(med));
    s.min.push(Math.min(msToS(Math.min(...g.map((v) => v[0]))), msToS(med)));
    s.max.push(Math.max(msToS(Math.max(...g.map((v) => v[2]))), msToS(med)));
  }
  return s;
}

/**
 * Vidur's batching overhead of decode attention: its execution-time predictor multiplies the
 * predicted decode attention time by 1 + 0.1 when the batch holds more than one decoding request,
 * for models with grouped-query attention (query heads > KV heads) only; 0.1 is the default of
 * `attention_decode_batching_overhead_fraction` (microsoft/vidur
 * `vidur/execution_time_predictor/sklearn_execution_time_predictor.py`,
 * `_get_attention_decode_execution_time`; `vidur/config/config.py`).
 */
export const VIDUR_DECODE_BATCHING_OVERHEAD = 0.1;

/** A 2-D measured table: rows over `xs`, row i measured at the first `median[i].length` points of `ys`. Seconds. */
export interface Table2D {
  xs: number[];
  ys: number[];
  median: number[][];
  min: number[][];
  max: number[][];
}

/** Vidur's attention table read for one model and tp (times per layer, seconds). */
export interface VidurAttention {
  /** Absolute path of the file. */
  file: string;
  /** Path relative to the Vidur profiling root when recognisable. */
  relative: string;
  /** Decode attention over (batch_size, kv_cache_size). */
  decode: Table2D | undefined;
  /** Prefill attention over (kv_cache_size = cached prefix, prefill_chunk_size = chunk). */
  prefill: Table2D | undefined;
  /** Data rows used (after the model/tp/block filter) per kind, before duplicates are merged. */
  rows: { decode: number; prefill: number };
  /** Whether the table has `attn_kv_cache_save`, added to every row's time as Vidur's predictor adds it. */
  kvCacheSave: boolean;
  /** Prefix rows left out for having fewer than 2 measured chunks (their chunk would pass the context). */
  droppedPrefixes: number[];
}

/**
 * Groups (x, y) → [min, median, max] points (seconds) into a {@link Table2D}: rows over the
 * distinct x ascending; each row must be measured at a prefix of the distinct y values (the table
 * ends early where, e.g., prefix + chunk would pass the model's context). Points measured more than
 * once are merged as in {@link vidurSeries}. Rows with fewer than 2 points are left out and
 * returned in `dropped`.
 * @throws InputError (naming the file and `what`) when a row skips a y value measured in rows
 *   that reach further, or fewer than 2 rows remain.
 */
export function gridTable(points: Map<number, Map<number, [number, number, number][]>>, file: string, what: string): { table: Table2D; dropped: number[] } {
  const xsAll = [...points.keys()].sort((a, b) => a - b);
  const ysSet = new Set<number>();
  for (const row of points.values()) for (const y of row.keys()) ysSet.add(y);
  const ys = [...ysSet].sort((a, b) => a - b);
  const table: Table2D = { xs: [], ys, median: [], min: [], max: [] };
  const dropped: number[] = [];
  for (const x of xsAll) {
    const row = points.get(x)!;
    const n = row.size;
    for (let j = 0; j < n; j++) {
      if (!row.has(ys[j])) throw new InputError(`${what}: the row at ${x} has ${n} points but not ${ys[j]}: the table is not a grid measured from its first point on`, { file });
    }
    if (n < 2) {
      dropped.push(x);
      continue;
    }
    table.xs.push(x);
    const med: number[] = [];
    const lo: number[] = [];
    const hi: number[] = [];
    for (let j = 0; j < n; j++) {
      const g = row.get(ys[j])!;
      const m = msToS(g.reduce((a, v) => a + v[1], 0) / g.length);
      med.push(m);
      lo.push(Math.min(m, msToS(Math.min(...g.map((v) => v[0])))));
      hi.push(Math.max(m, msToS(Math.max(...g.map((v) => v[2])))));
    }
    table.median.push(med);
    table.min.push(lo);
    table.max.push(hi);
  }
  if (table.xs.length < 2) throw new InputError(`${what}: fewer than 2 rows with 2 or more points`, { file });
  // The last y must be measured by some row (a grid point nobody reaches is no grid point).
  const reach = Math.max(...table.median.map((r) => r.length));
  table.ys = ys.slice(0, reach);
  return { table, dropped };
}

/**
 * Reads a Vidur attention table (`attention.csv`, or the legacy `attention_tp2_legacy.csv`) for a
 * model at tensor parallelism `tp`: the rows with n_q_head = heads, n_kv_head = KV heads, n_embd =
 * hidden, num_tensor_parallel_workers = tp and block_size 16 (vLLM's default). Decode rows
 * (is_prefill False) give `attn_decode` over (batch_size, kv_cache_size); prefill rows give
 * `attn_prefill` over (kv_cache_size, prefill_chunk_size). When the table has
 * `attn_kv_cache_save`, its time is added to each row, as Vidur's predictor adds it to every
 * batch; `attn_input_reshape` and `attn_output_reshape` are left out, as Vidur's predictor leaves
 * them out (microsoft/vidur `vidur/execution_time_predictor/base_execution_time_predictor.py`).
 * @returns undefined when no row matches the model and tp.
 * @throws InputError naming the file, line and column for a malformed table.
 */
export function readVidurAttention(file: string, model: ModelSpec, tp: number): VidurAttention | undefined {
  const { header, rows } = parseCsv(readText(file), file);
  const col = columns(header, file, 'attention.csv');
  const c = {
    heads: col('n_q_head'),
    kvHeads: col('n_kv_head'),
    hidden: col('n_embd'),
    block: col('block_size'),
    tp: col('num_tensor_parallel_workers'),
    batch: col('batch_size'),
    chunk: col('prefill_chunk_size'),
    kv: col('kv_cache_size'),
    prefill: col('is_prefill'),
  };
  const stat = (op: string, required: boolean) => {
    const cols = ['min', 'median', 'max'].map((st) => col(`time_stats.${op}.${st}`, required));
    return cols.every((x) => x >= 0) ? cols : undefined;
  };
  const dec = stat('attn_decode', true)!;
  const pre = stat('attn_prefill', true)!;
  const save = stat('attn_kv_cache_save', false);
  const decode = new Map<number, Map<number, [number, number, number][]>>();
  const prefill = new Map<number, Map<number, [number, number, number][]>>();
  const counts = { decode: 0, prefill: 0 };
  const add = (m: typeof decode, x: number, y: number, v: [number, number, number]) => {
    let row = m.get(x);
    if (!row) m.set(x, (row = new Map()));
    const list = row.get(y);
    if (list) list.push(v);
    else row.set(y, [v]);
  };
  for (const { line, cells } of rows) {
    if (cells.length !== header.length) throw new InputError(`${cells.length} fields, header has ${header.length}`, { file, line });
    const n = (ci: number, name: string, min: number) => num(cells, ci, name, file, line, min);
    if (n(c.heads, 'n_q_head', 1) !== model.heads || n(c.kvHeads, 'n_kv_head', 1) !== model.kvHeads || n(c.hidden, 'n_embd', 1) !== model.hidden) continue;
    if (n(c.tp, 'num_tensor_parallel_workers', 1) !== tp || n(c.block, 'block_size', 1) !== 16) continue;
    const flag = cells[c.prefill].trim();
    if (flag !== 'True' && flag !== 'False') throw new InputError(`expected True or False, got '${flag}'`, { file, line, field: 'is_prefill' });
    const isPrefill = flag === 'True';
    const cols = isPrefill ? pre : dec;
    const name = isPrefill ? 'attn_prefill' : 'attn_decode';
    const v = cols.map((ci, k) => n(ci, `time_stats.${name}.${['min', 'median', 'max'][k]}`, 0)) as [number, number, number];
    if (!(v[0] <= v[1] && v[1] <= v[2])) throw new InputError(`min ${v[0]} <= median ${v[1]} <= max ${v[2]} does not hold`, { file, line, field: `time_stats.${name}.median` });
    if (save) {
      const s = save.map((ci, k) => n(ci, `time_stats.attn_kv_cache_save.${['min', 'median', 'max'][k]}`, 0));
      for (let k = 0; k < 3; k++) v[k] += s[k];
    }
    const kv = n(c.kv, 'kv_cache_size', 0);
    if (isPrefill) {
      add(prefill, kv, n(c.chunk, 'prefill_chunk_size', 1), v);
      counts.prefill++;
    } else {
      add(decode, n(c.batch, 'batch_size', 1), n(c.kv, 'kv_cache_size', 1), v);
      counts.decode++;
    }
  }
  if (counts.decode + counts.prefill === 0) return undefined;
  const d = decode.size > 0 ? gridTable(decode, file, 'decode attention (batch_size x kv_cache_size)') : undefined;
  const p = prefill.size > 0 ? gridTable(prefill, file, 'prefill attention (kv_cache_size x prefill_chunk_size)') : undefined;
  const parts = file.split(path.sep);
  const ci = parts.lastIndexOf('compute');
  return {
    file,
    relative: ci >= 0 ? parts.slice(ci).join('/') : file,
    decode: d?.table,
    prefill: p?.table,
    rows: counts,
    kvCacheSave: save !== undefined,
    droppedPrefixes: p?.dropped ?? [],
  };
}

/** `attention.csv` in `dir`, else every `attention*.csv` there (sorted), for {@link importVidur}. */
function attentionFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  if (names.includes('attention.csv')) return [path.join(dir, 'attention.csv')];
  return names.filter((n) => /^attention.*\.csv$/.test(n)).sort().map((n) => path.join(dir, n));
}

/** Options of {@link importVidur}. */
export interface VidurImportOptions {
  /** Model name (`sim models`); default: told from the folder (see {@link resolveVidurModel}). */
  model?: string;
  /** Tensor-parallel degree: the rows with num_tensor_parallel_workers = tp (default 1). */
  tp?: number;
  /** all_reduce.csv to use at tp > 1; default: `network/<device>_pairwise_nvlink` then `<device>_dgx` beside `compute/`. */
  network?: string;
  /** Attention table; default: `attention.csv` beside mlp.csv, else the `attention*.csv` there with rows for the model and tp. */
  attention?: string;
  /** Where notes go (model mismatch, no all-reduce table); default stderr. */
  log?: Logger;
  /** Date to record (ISO 8601); default now. */
  date?: string;
}

function deviceArchitecture(device: string): string {
  if (/^(a100|a40|a10|a30)/.test(device)) return 'ampere';
  if (/^(h100|h200|h20)/.test(device)) return 'hopper';
  if (/^l40/.test(device)) return 'ada';
  return '';
}

/** Finds an all_reduce.csv for the table's device with rows for tp workers on one node. */
function findNetworkTable(t: VidurTable, tp: number, hidden: number): { file: string; series: Series } | undefined {
  const parts = t.file.split(path.sep);
  const ci = parts.lastIndexOf('compute');
  if (ci < 0 || t.device === 'unknown') return undefined;
  const root = parts.slice(0, ci).join(path.sep) || path.sep;
  for (const topo of [`${t.device}_pairwise_nvlink`, `${t.device}_dgx`]) {
    const file = path.join(root, 'network', topo, 'all_reduce.csv');
    if (!fs.existsSync(file)) continue;
    const series = readVidurAllReduce(file, tp, hidden);
    if (series) return { file, series };
  }
  return undefined;
}

function relativeToRoot(file: string): string {
  const parts = file.split(path.sep);
  const ni = parts.lastIndexOf('network');
  return ni >= 0 ? parts.slice(ni).join('/') : file;
}

function operatorFromSeries(s: Series, per: 'layer' | 'iteration' | 'call'): OperatorProfile {
  return { per, axes: ['tokens'], grid: [s.tokens], times_s: s.median, min_s: s.min, max_s: s.max };
}

function operatorFromTable(t: Table2D, axes: ['batch', 'context'] | ['prefix', 'chunk'], overhead: number): OperatorProfile {
  const op: OperatorProfile = { per: 'layer', axes, grid: [t.xs, t.ys], times_s: t.median, min_s: t.min, max_s: t.max };
  if (overhead > 0) op.batch_overhead = overhead;
  return op;
}

/** The GPU (`sim gpus` name) of a Vidur device folder: `a100` → `a100-80gb` (Vidur's A100 has 80 GB), `h100` → `h100-80gb`; else undefined. */
export function vidurGpu(device: string): string | undefined {
  if (device === 'a100') return 'a100-80gb';
  if (device === 'h100') return 'h100-80gb';
  return undefined;
}

/**
 * The attention table for `model` at `tp`: `given` (a file), else the one `attention*.csv` beside
 * the mlp.csv of `t` with rows for the model and tp (`attention.csv` first); undefined when none has.
 * @throws InputError (field `--attention`) when `given` has no such rows, or several files do.
 */
export function findVidurAttention(t: VidurTable, model: ModelSpec, tp: number, given: string | undefined): VidurAttention | undefined {
  if (given !== undefined) {
    const file = path.resolve(given);
    const a = readVidurAttention(file, model, tp);
    if (!a) throw new InputError(`no attention rows for ${model.name} (n_q_head ${model.heads}, n_kv_head ${model.kvHeads}, n_embd ${model.hidden}) at tp=${tp}, block 16`, { file, field: '--attention' });
    return a;
  }
  const found = attentionFiles(path.dirname(t.file))
    .map((f) => readVidurAttention(f, model, tp))
    .filter((a): a is VidurAttention => a !== undefined);
  if (found.length > 1) {
    throw new InputError(`${found.length} attention tables have rows for ${model.name} at tp=${tp} (${found.map((a) => path.basename(a.file)).join(', ')}): give --attention FILE`, { file: path.dirname(t.file), field: '--attention' });
  }
  return found[0];
}

/**
 * Imports a Vidur `mlp.csv` (DIR: the model's folder, or the file) as a profile: operators mapped
 * by {@link VIDUR_OPERATORS}, ms → s, the rows at `tp`; at tp > 1 also `all_reduce` (per call)
 * from the network table when one is found; and `decode_attn` (batch × context, with
 * {@link VIDUR_DECODE_BATCHING_OVERHEAD} for grouped-query models) and `prefill_attn` (prefix ×
 * chunk) from the attention table ({@link readVidurAttention}) when one has rows for the model
 * and tp. What no table covers (the LM head; attention without a table) falls back to the
 * analytical model.
 * @throws InputError for an unreadable or malformed table, an unknown model, or a tp the table lacks.
 */
export function importVidur(dir: string, opts: VidurImportOptions = {}): Profile {
  const log = opts.log ?? stderrLogger;
  const t = readVidurTable(dir);
  const model = resolveVidurModel(t, opts.model, log);
  const tp = checkTp(model, opts.tp ?? 1);
  const series = vidurSeries(t, tp);
  const operators: Profile['operators'] = {};
  for (const [op, s] of series) operators[op] = operatorFromSeries(s, op === 'embedding' ? 'iteration' : 'layer');
  const sources = [`vidur:${t.relative}`];
  if (tp > 1) {
    const net = opts.network
      ? (() => {
          const file = path.resolve(opts.network);
          const s = readVidurAllReduce(file, tp, model.hidden);
          if (!s) throw new InputError(`no all-reduce rows for ${tp} workers on one node`, { file, field: '--network' });
          return { file, series: s };
        })()
      : findNetworkTable(t, tp, model.hidden);
    if (net) {
      operators.all_reduce = operatorFromSeries(net.series, 'call');
      sources.push(`vidur:${relativeToRoot(net.file)}`);
    } else {
      log(`${t.file}: no Vidur all_reduce.csv with ${tp} workers on one node found (give --network FILE); all_reduce stays analytical`);
    }
  }
  const notes = [
    `Imported from Vidur's A100 tables: per-layer times of one tensor-parallel worker (tp=${tp}); duplicated token counts merged (mean of medians).`,
    'norm_rope_residual = input_layernorm + post_attention_layernorm + attn_rope + 2 x add; spread is min/max.',
  ];
  const attn = findVidurAttention(t, model, tp, opts.attention);
  if (attn) {
    const overhead = model.heads > model.kvHeads ? VIDUR_DECODE_BATCHING_OVERHEAD : 0;
    if (attn.decode) operators.decode_attn = operatorFromTable(attn.decode, ['batch', 'context'], overhead);
    if (attn.prefill) operators.prefill_attn = operatorFromTable(attn.prefill, ['prefix', 'chunk'], 0);
    sources.push(`vidur:${attn.relative}`);
    notes.push(
      `Attention from ${path.basename(attn.file)} (${attn.rows.decode} decode and ${attn.rows.prefill} prefill rows; repeated shapes merged): decode_attn over batch_size x kv_cache_size` +
        (overhead > 0 ? ` with Vidur's decode batching overhead ${overhead} (grouped-query attention)` : '') +
        '; prefill_attn over kv_cache_size (prefix) x prefill_chunk_size (chunk), rows measured only where prefix + chunk fits max_model_len' +
        (attn.droppedPrefixes.length ? ` (prefix ${attn.droppedPrefixes.join(', ')} left out: one chunk measured)` : '') +
        `; ${attn.kvCacheSave ? 'attn_kv_cache_save added to every row' : 'no attn_kv_cache_save column (Vidur then counts 0)'}; attn_input_reshape and attn_output_reshape not used (Vidur's predictor does not add them).`,
    );
  } else {
    notes.push('Attention (prefill_attn, decode_attn): no attention table with rows for this model and tp: analytical.');
  }
  notes.push('lm_head is not in Vidur\'s tables: analytical.');
  if (t.arch && t.arch.vocab !== model.vocab) notes.push(`Vidur's table was measured with vocab_size ${t.arch.vocab} (model: ${model.vocab}).`);
  return {
    format: PROFILE_FORMAT,
    version: PROFILE_VERSION,
    adapter: {
      vendor: 'NVIDIA',
      architecture: deviceArchitecture(t.device),
      description: `NVIDIA ${t.device.toUpperCase()} (Vidur profiling tables)`,
      backend: 'cuda',
    },
    timer: 'cuda-timer',
    dtype: 'fp16',
    model: model.name,
    tp,
    ...(vidurGpu(t.device) ? { gpu: vidurGpu(t.device) } : {}),
    date: opts.date ?? new Date().toISOString(),
    project_version: projectVersion(),
    source: `${sources.join(' + ')} (${VIDUR_ATTRIBUTION})`,
    architecture: {
      layers: model.layers,
      hidden: model.hidden,
      heads: model.heads,
      kvHeads: model.kvHeads,
      headDim: model.headDim,
      intermediate: model.intermediate,
      vocab: model.vocab,
    },
    notes: notes.join(' '),
    operators,
  };
}
