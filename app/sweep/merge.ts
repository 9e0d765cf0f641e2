/**
 * `sim merge` as a library: gathers a sweep's `DIR/tasks/<id>.json` results into one table, one row
 * per task sorted by id: `id`, `version`, the config columns (options by CLI flag name in snake_case:
 * `rate_scale`, `policy_opt`), then the summary metrics flattened with dots (`ttft_s.p99`,
 * `throughput.requests_per_s`, ...). Written as CSV, or Parquet (hyparquet-writer) when the file
 * name ends in `.parquet`, with typed columns (INT64 counts, DOUBLE measures, BOOLEAN, STRING).
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
import { RUN_OPTION_SPECS } from '../config.ts';
import { SUMMARY_COUNT_FIELDS } from '../../sim/metrics.ts';

/** A cell of the merged table: null where a task has no such value. */
export type Cell = string | number | boolean | null;

/**
 * What a column holds: `int` (counts, tokens, seeds: Parquet INT64), `float` (measures: DOUBLE),
 * `bool` (BOOLEAN) or `string` (STRING). Known from the option's spec or the summary field, not
 * from the values, so a column's type does not depend on the sweep (a rate scale of 1, 2, 4 is
 * still `float`; a column null in every task still has its type).
 */
export type ColumnType = 'int' | 'float' | 'bool' | 'string';

/** The merged table: column names, their types, and rows of cells in that order. */
export interface Table {
  columns: string[];
  types: ColumnType[];
  rows: Cell[][];
}

/** Summary fields that count things (integers); every other numeric one is a measure. */
const COUNT_FIELDS: ReadonlySet<string> = new Set(SUMMARY_COUNT_FIELDS);

/** Summary fields that hold text. */
const STRING_SUMMARY_FIELDS: ReadonlySet<string> = new Set(['predictor.name']);

/**
 * A merged table's name for a config key: the flag name in snake_case (`rate-scale` → `rate_scale`,
 * `policy-opt` → `policy_opt`). Summary columns are already snake_case, joined by dots.
 */
export function columnName(key: string): string {
  return key.replace(/-/g, '_');
}

/** The declared type of config key `key` (a run option by flag name, or a record key such as `trace-sha256`). */
function configType(key: string): ColumnType | undefined {
  const spec = (RUN_OPTION_SPECS as Readonly<Record<string, (typeof RUN_OPTION_SPECS)[keyof typeof RUN_OPTION_SPECS]>>)[key];
  if (!spec) return undefined;
  if (spec.kind === 'number') return spec.spec.integer ? 'int' : 'float';
  if (spec.kind === 'boolean') return 'bool';
  if (spec.kind === 'kv-tokens') return 'int'; // a token count, or 'unlimited' (then the column is text)
  return 'string';
}

/** The declared type of summary field `field` (a dotted path). */
function summaryType(field: string): ColumnType | undefined {
  if (COUNT_FIELDS.has(field)) return 'int';
  if (STRING_SUMMARY_FIELDS.has(field)) return 'string';
  return undefined;
}

/**
 * The type a column gets: `declared` when every non-null value fits it, else what the values are
 * (all numbers: `float`; all booleans: `bool`; else `string`). A column with no declared type and
 * only nulls is `float` (the summary's optional fields are numbers), unless `nullDefault` says.
 */
function columnType(declared: ColumnType | undefined, values: readonly Cell[], nullDefault: ColumnType): ColumnType {
  const present = values.filter((v) => v !== null);
  const fits = (t: ColumnType) =>
    present.every((v) =>
      t === 'int' ? typeof v === 'number' && Number.isSafeInteger(v) : t === 'float' ? typeof v === 'number' : t === 'bool' ? typeof v === 'boolean' : true,
    );
  if (declared && fits(declared)) return declared;
  if (present.length === 0) return declared ?? nullDefault;
  if (fits('float')) return 'float';
  if (fits('bool')) return 'bool';
  return 'string';
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
 * Flattens nested objects into dotted keys (`{a: {b: 1}}` → `{'a.b': 1}`); arrays of plain values
 * become one comma-joined string (`policy-opt`); arrays of objects (the summary's per-replica
 * `replicas` list, which is not one cell: each task's result file and `replicas.csv` hold it) and
 * undefined are left out.
 */
export function flatten(x: Record<string, unknown>, prefix = '', out: Record<string, Cell> = {}): Record<string, Cell> {
  for (const [k, v] of Object.entries(x)) {
    const key = prefix + k;
    if (v === undefined) continue;
    if (Array.isArray(v)) {
      if (!v.some((e) => e !== null && typeof e === 'object')) out[key] = v.map(String).join(',');
    } else if (v !== null && typeof v === 'object') flatten(v as Record<string, unknown>, key + '.', out);
    else out[key] = v as Cell;
  }
  return out;
}

/**
 * Builds the merged table of `records` (already sorted by id): columns named in snake_case
 * ({@link columnName}), each with its {@link ColumnType}.
 */
export function mergeTable(records: readonly TaskRecord[]): Table {
  const configs = records.map((r) => flatten(r.config as unknown as Record<string, unknown>));
  const summaries = records.map((r) => flatten(r.summary as unknown as Record<string, unknown>));
  const configKeys = new Set(configs.flatMap((c) => Object.keys(c)));
  const configCols = [...CONFIG_ORDER.filter((k) => configKeys.has(k)), ...[...configKeys].filter((k) => !CONFIG_ORDER.includes(k)).sort()];
  const summaryCols: string[] = [];
  const seen = new Set<string>();
  for (const s of summaries) for (const k of Object.keys(s)) if (!seen.has(k)) (seen.add(k), summaryCols.push(k));
  const columns = ['id', 'version', ...configCols.map(columnName), ...summaryCols];
  const rows = records.map((r, i) => [r.id, r.version ?? null, ...configCols.map((k) => configs[i][k] ?? null), ...summaryCols.map((k) => summaries[i][k] ?? null)]);
  const declared = [undefined, undefined, ...configCols.map(configType), ...summaryCols.map(summaryType)];
  const nullDefault = (j: number): ColumnType => (j < 2 + configCols.length ? 'string' : 'float');
  const types = columns.map((_, j) => (j < 2 ? 'string' : columnType(declared[j], rows.map((r) => r[j]), nullDefault(j))));
  return { columns, types, rows };
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
 * The table as a Parquet file (bytes), one column per table column by its {@link ColumnType}:
 * `int` INT64 (signed), `float` DOUBLE, `bool` BOOLEAN, `string` STRING (UTF-8 BYTE_ARRAY); all
 * columns nullable (OPTIONAL), null where a task has no value.
 */
export function toParquet(t: Table): ArrayBuffer {
  const columnData: ColumnSource[] = t.columns.map((name, j) => {
    const vals = t.rows.map((r) => r[j]);
    switch (t.types[j]) {
      case 'int':
        return { name, data: vals.map((v) => (v === null ? null : BigInt(v as number))), type: 'INT64', nullable: true };
      case 'float':
        return { name, data: vals, type: 'DOUBLE', nullable: true };
      case 'bool':
        return { name, data: vals, type: 'BOOLEAN', nullable: true };
      default:
        return { name, data: vals.map((v) => (v === null ? null : String(v))), type: 'STRING', nullable: true };
    }
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
