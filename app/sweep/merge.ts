/**
 * `sim merge` as a library: gathers a sweep's `DIR/tasks/<id>.json` results into one table, one row
 * per task sorted by id: `id`, `version`, the config columns (options by CLI flag name), then the
 * summary metrics flattened with dots (`ttft_s.p99`, `throughput.requests_per_s`, ...). Written as
 * CSV, or Parquet (hyparquet-writer) when the file name ends in `.parquet`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import { InputError } from '../../sim/errors.ts';
import { prepareOutputFile, readTextFile, writeFileAtomic } from '../../sim/files.ts';
import { checkRecord, isResultName } from './record.ts';
import type { TaskRecord } from './record.ts';
import { ENGINE_KEYS } from './grid.ts';

/** A cell of the merged table: null where a task has no such value. */
export type Cell = string | number | boolean | null;

/** The merged table: column names and rows of cells in that order. */
export interface Table {
  columns: string[];
  rows: Cell[][];
}

/** Config columns in this order (others, if any, after them, sorted). */
const CONFIG_ORDER = ['policy', 'policy-opt', 'predictor', 'predictor-opt', 'trace', 'rate-scale', 'seed', ...ENGINE_KEYS];

/**
 * Reads every result file `DIR/tasks/<id>.json`, sorted by id, each checked as a resumed sweep
 * checks it (app/sweep/record.ts). Other names in tasks/ (temporary files of an interrupted write,
 * anything else) are not results and are ignored.
 * @throws InputError naming the folder when it has no tasks/ folder, or the first file that is
 *   not a valid result (cut short, empty, not its task's), with the way to redo it.
 */
export function readResults(dir: string): TaskRecord[] {
  const tasks = path.join(dir, 'tasks');
  let names: string[];
  try {
    names = fs.readdirSync(tasks);
  } catch {
    throw new InputError(`no readable tasks/ folder: is this the --out folder of sim sweep?`, { file: dir });
  }
  const out: TaskRecord[] = [];
  for (const name of names.filter(isResultName).sort()) {
    const file = path.join(tasks, name);
    const text = readTextFile(file, 'result', true);
    const c = checkRecord(text, name.slice(0, 16));
    if ('problem' in c) throw new InputError(`not a valid sweep result: ${c.problem}; re-run the sweep (it redoes such files) or delete it`, { file });
    out.push(c.record);
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Flattens nested objects into dotted keys (`{a: {b: 1}}` → `{'a.b': 1}`); arrays become one
 * comma-joined string (`policy-opt`); undefined is dropped.
 */
export function flatten(x: Record<string, unknown>, prefix = '', out: Record<string, Cell> = {}): Record<string, Cell> {
  for (const [k, v] of Object.entries(x)) {
    const key = prefix + k;
    if (v === undefined) continue;
    if (Array.isArray(v)) out[key] = v.map(String).join(',');
    else if (v !== null && typeof v === 'object') flatten(v as Record<string, unknown>, key + '.', out);
    else out[key] = v as Cell;
  }
  return out;
}

/** Builds the merged table of `records` (already sorted by id). */
export function mergeTable(records: readonly TaskRecord[]): Table {
  const configs = records.map((r) => flatten(r.config as unknown as Record<string, unknown>));
  const summaries = records.map((r) => flatten(r.summary as unknown as Record<string, unknown>));
  const configKeys = new Set(configs.flatMap((c) => Object.keys(c)));
  const configCols = [...CONFIG_ORDER.filter((k) => configKeys.has(k)), ...[...configKeys].filter((k) => !CONFIG_ORDER.includes(k)).sort()];
  const summaryCols: string[] = [];
  const seen = new Set<string>();
  for (const s of summaries) for (const k of Object.keys(s)) if (!seen.has(k)) (seen.add(k), summaryCols.push(k));
  const columns = ['id', 'version', ...configCols, ...summaryCols];
  const rows = records.map((r, i) => [r.id, r.version ?? null, ...configCols.map((k) => configs[i][k] ?? null), ...summaryCols.map((k) => summaries[i][k] ?? null)]);
  return { columns, rows };
}

function csvField(c: Cell): string {
  if (c === null) return '';
  const s = String(c);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The table as CSV (RFC 4180 quoting, header first, empty fields for null, `\n` line ends). */
export function toCsv(t: Table): string {
  return [t.columns, ...t.rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

/**
 * The table as a Parquet file (bytes): a column of numbers is DOUBLE, of booleans BOOLEAN,
 * anything else STRING; all columns nullable.
 */
export function toParquet(t: Table): ArrayBuffer {
  const columnData: ColumnSource[] = t.columns.map((name, j) => {
    const vals = t.rows.map((r) => r[j]);
    const present = vals.filter((v) => v !== null);
    if (present.length > 0 && present.every((v) => typeof v === 'number')) return { name, data: vals, type: 'DOUBLE', nullable: true };
    if (present.length > 0 && present.every((v) => typeof v === 'boolean')) return { name, data: vals, type: 'BOOLEAN', nullable: true };
    return { name, data: vals.map((v) => (v === null ? null : String(v))), type: 'STRING', nullable: true };
  });
  return parquetWriteBuffer({ columnData });
}

/**
 * Merges sweep folder `dir` into `file`: Parquet when it ends in `.parquet`, else CSV. The output
 * file is checked writable before any result is read, and written atomically.
 * @returns the number of rows written.
 * @throws InputError (field `--out`) for an output that cannot be written, or as {@link readResults}.
 */
export function mergeSweep(dir: string, file: string): number {
  prepareOutputFile(file, '--out');
  const table = mergeTable(readResults(dir));
  const body = file.toLowerCase().endsWith('.parquet') ? new Uint8Array(toParquet(table)) : toCsv(table);
  writeFileAtomic(file, body);
  return table.rows.length;
}
