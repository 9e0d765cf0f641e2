/**
 * The figure model of the sweep kinds (`rate`, `ttft-tpot`): a merged table's rows grouped into
 * lines, one per configuration, each line's points aggregated over seeds and sorted, before any
 * drawing. A configuration is every column of the table that is an option (docs/sweeps.md,
 * "Merged table") and varies across it, except the seed and the load/x axes. `sim merge` writes
 * `id`, `version`, the options, then the summary, whose first column is dotted (`requests.total`):
 * so the options are the columns before the first dotted one, `id` and `version` excepted.
 */
import { mean, deviation } from 'd3-array';
import { InputError } from '../../sim/errors.ts';
import { parseDecimal } from '../../sim/values.ts';

/** A CSV table: its file, header and rows of raw strings. */
export interface Table {
  file: string;
  columns: string[];
  rows: Record<string, string>[];
}

/** The rate-scale column, as `sim merge` writes it (`rate_scale`) or as tables merged before the snake_case names spell it (`rate-scale`). */
export const RATE_SCALE_COLUMNS = ['rate_scale', 'rate-scale'] as const;

/** The seed columns: several seeds of one configuration at one x are one point (their mean). */
export const SEED_COLUMNS = ['seed'] as const;

/**
 * The option columns of a merged table: those before its first dotted (summary) column, except
 * `id` and `version` (all of them, when no column is dotted).
 */
export function optionColumns(columns: readonly string[]): string[] {
  const first = columns.findIndex((c) => c.includes('.'));
  return columns.slice(0, first < 0 ? columns.length : first).filter((c) => c !== 'id' && c !== 'version');
}

/** The rate-scale column of a table (either spelling), if any. */
export function rateScaleColumn(columns: readonly string[]): string | undefined {
  return RATE_SCALE_COLUMNS.find((c) => columns.includes(c));
}

/**
 * Two-sided 95% Student-t quantiles t(0.975, df) for df = 1…30 (standard table, e.g. NIST/SEMATECH
 * e-Handbook of Statistical Methods §1.3.6.7.2); above 30 degrees of freedom 1.96 (normal).
 */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** A y value of a point: the mean over seeds and its 95% t-interval (lo = hi = mean for one seed). */
export interface Stat {
  mean: number;
  lo: number;
  hi: number;
}

/** One point of a line: x (mean over seeds), the load value it sits at, the seeds count, and each y. */
export interface Point {
  x: number;
  at: number;
  n: number;
  y: Record<string, Stat>;
}

/** One line of the figure: its label, the option values that define it, and its sorted points. */
export interface Line {
  label: string;
  key: Record<string, string>;
  points: Point[];
}

/** What to group, aggregate and sort. */
export interface LineSpec {
  /** x column (numeric). */
  x: string;
  /** y columns (numeric): averaged over seeds; an empty cell leaves that y out of the point. */
  ys: string[];
  /** Column named first in each label (default `policy`); always part of the configuration. */
  series?: string;
  /** Load column the seeds are pooled at (default x); excluded from the configuration. */
  at?: string;
  /** Sort each line's points on x (default) or on the load column. */
  sortBy?: 'x' | 'at';
  /** Columns defining a line (`--group`), instead of every varying option; rows that differ only in other columns are pooled like seeds. */
  group?: string[];
}

/** 95% interval of the mean of `v` (t-distribution; the mean itself for one value). */
export function meanInterval(v: readonly number[]): Stat {
  const m = mean(v)!;
  if (v.length < 2) return { mean: m, lo: m, hi: m };
  const half = (T975[v.length - 2] ?? 1.96) * (deviation(v)! / Math.sqrt(v.length));
  return { mean: m, lo: m - half, hi: m + half };
}

/** The configuration columns of `t` for `spec`: options (not results) that vary across the rows. */
export function configColumns(t: Table, spec: LineSpec): string[] {
  if (spec.group) {
    const missing = spec.group.filter((c) => !t.columns.includes(c));
    if (missing.length) throw new InputError(`no column ${missing.join(', ')} to group by; its option columns: ${optionColumns(t.columns).join(', ')}`, { file: t.file, field: '--group' });
    return [...spec.group];
  }
  const series = spec.series ?? 'policy';
  const skip = new Set<string>([spec.x, spec.at ?? spec.x, ...SEED_COLUMNS, ...spec.ys]);
  const varies = (c: string) => new Set(t.rows.map((r) => r[c])).size > 1;
  const rest = optionColumns(t.columns).filter((c) => c !== series && !skip.has(c) && varies(c));
  return t.columns.includes(series) ? [series, ...rest] : rest;
}

const basename = (s: string) => s.split(/[\\/]/).pop() ?? s;

/** A line's label: the series value, `+predictor`, then `key=value` for every other varying option. */
function labelOf(key: Record<string, string>, cols: string[], series: string): string {
  const parts: string[] = [];
  if (series in key) parts.push(key[series] + (cols.includes('predictor') && series !== 'predictor' && key.predictor ? `+${key.predictor}` : ''));
  for (const c of cols) {
    if (c === series || (c === 'predictor' && series in key)) continue;
    const v = c === 'trace' ? basename(key[c]) : key[c];
    parts.push(`${c}=${v === '' ? '–' : v}`);
  }
  return parts.join(' ') || 'all';
}

/**
 * Groups the rows of merged table `t` into lines, one per configuration (every option column that
 * varies across the table, seeds excepted), pools the seeds of one configuration at one load value
 * into one point (the mean of each y and of x, with its 95% t-interval), and sorts each line's
 * points on x (or on the load column). Lines are in order of first appearance in the table.
 * @throws InputError naming the file, line and column for an x or load cell that is not a number.
 */
export function groupLines(t: Table, spec: LineSpec): Line[] {
  const series = spec.series ?? 'policy';
  const at = spec.at ?? spec.x;
  const cols = configColumns(t, spec);
  const num = (r: Record<string, string>, c: string, i: number): number => {
    const s = r[c] ?? '';
    const v = s === '' ? NaN : parseDecimal(s);
    if (!Number.isFinite(v)) throw new InputError(`not a number: '${s}'`, { file: t.file, line: i + 2, field: c });
    return v;
  };
  const lines = new Map<string, { key: Record<string, string>; at: Map<number, { x: number[]; y: Record<string, number[]> }> }>();
  t.rows.forEach((r, i) => {
    const key = Object.fromEntries(cols.map((c) => [c, r[c] ?? '']));
    const id = JSON.stringify(cols.map((c) => key[c]));
    const line = lines.get(id) ?? { key, at: new Map() };
    lines.set(id, line);
    const a = num(r, at, i);
    const p = line.at.get(a) ?? { x: [], y: Object.fromEntries(spec.ys.map((c) => [c, [] as number[]])) };
    line.at.set(a, p);
    p.x.push(at === spec.x ? a : num(r, spec.x, i));
    for (const c of spec.ys) {
      const s = r[c] ?? '';
      const v = s === '' ? NaN : parseDecimal(s);
      if (Number.isFinite(v)) p.y[c].push(v);
    }
  });
  return [...lines.values()].map(({ key, at: pts }) => {
    const points: Point[] = [...pts].map(([a, p]) => ({
      x: mean(p.x)!,
      at: a,
      n: p.x.length,
      y: Object.fromEntries(Object.entries(p.y).filter(([, v]) => v.length > 0).map(([c, v]) => [c, meanInterval(v)])),
    }));
    const by = spec.sortBy ?? 'x';
    points.sort((p, q) => p[by] - q[by] || p.at - q.at);
    return { label: labelOf(key, cols, series), key, points };
  });
}

/**
 * The rows of `t` that match every filter `col=value` (`--filter`); several filters on one column
 * keep a row matching any of them (a trace cell also matches its file name).
 * @throws InputError (field `--filter`) for a filter that is not `col=value`, a column the table
 *   lacks (naming its option columns), or filters that leave no row.
 */
export function filterRows(t: Table, filters: readonly string[]): Table {
  if (filters.length === 0) return t;
  const want = new Map<string, Set<string>>();
  for (const f of filters) {
    const m = /^([^=]+)=(.*)$/.exec(f);
    if (!m) throw new InputError(`'${f}' is not col=value`, { field: '--filter' });
    const [col, val] = [m[1].trim(), m[2].trim()];
    if (!t.columns.includes(col)) throw new InputError(`no column '${col}' to filter on; its option columns: ${optionColumns(t.columns).join(', ')}`, { file: t.file, field: '--filter' });
    want.set(col, (want.get(col) ?? new Set()).add(val));
  }
  const rows = t.rows.filter((r) => [...want].every(([c, vs]) => vs.has(r[c]) || (c === 'trace' && vs.has(basename(r[c])))));
  if (rows.length === 0) throw new InputError(`no row matches ${filters.join(' and ')}`, { file: t.file, field: '--filter' });
  return { ...t, rows };
}

/**
 * The facets of `t` by column `col` (`--facet`): one sub-table per distinct value, in order of
 * first appearance, each with its header `col=value`.
 * @throws InputError (field `--facet`) when the table has no such column.
 */
export function facetRows(t: Table, col: string): { header: string; table: Table }[] {
  if (!t.columns.includes(col)) throw new InputError(`no column '${col}' to facet by; its option columns: ${optionColumns(t.columns).join(', ')}`, { file: t.file, field: '--facet' });
  return [...new Set(t.rows.map((r) => r[col]))].map((v) => ({ header: `${col}=${col === 'trace' ? basename(v) : v}`, table: { ...t, rows: t.rows.filter((r) => r[col] === v) } }));
}

/**
 * Pairs of lines that would hide one another: the same x values and every y mean equal within a
 * relative `tol` (default 0.5%). Each pair is [earlier label, later label].
 */
export function coincidentLines(lines: readonly Line[], tol = 0.005): [string, string][] {
  const same = (a: number, b: number) => Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b)) + 1e-12;
  const out: [string, string][] = [];
  lines.forEach((b, j) => {
    for (const a of lines.slice(0, j)) {
      if (a.points.length !== b.points.length || a.points.length === 0) continue;
      const eq = a.points.every((p, i) => {
        const q = b.points[i];
        const ys = Object.keys(p.y);
        return same(p.x, q.x) && ys.length === Object.keys(q.y).length && ys.every((c) => c in q.y && same(p.y[c].mean, q.y[c].mean));
      });
      if (eq) {
        out.push([a.label, b.label]);
        break;
      }
    }
  });
  return out;
}

/** The columns a caption names, in order, with the words it uses for them. */
const CAPTION_COLUMNS: [string, string][] = [['model', 'model'], ['gpu', 'GPU'], ['tp', 'TP'], ['pp', 'PP'], ['replicas', 'replicas'], ['trace', 'trace'], ['synthetic', 'synthetic']];

/** Caption columns left out at their default of 1 (one GPU per stage, one replica). */
const ONE_DEFAULT = new Set(['tp', 'pp', 'replicas']);

/**
 * The caption line of a figure from a table's config columns: model, GPU, TP/PP, replicas and
 * trace (file name), each as its single value, or `N values` where it varies; columns the table
 * lacks or leaves empty, and TP, PP and replicas of 1, are left out. Undefined when none is there.
 */
export function captionOf(t: Table): string | undefined {
  const parts: string[] = [];
  for (const [c, word] of CAPTION_COLUMNS) {
    if (!t.columns.includes(c)) continue;
    const vals = [...new Set(t.rows.map((r) => r[c]).filter((v) => v !== undefined && v !== ''))];
    if (vals.length === 0 || (vals.length === 1 && ONE_DEFAULT.has(c) && vals[0] === '1')) continue;
    parts.push(`${word} ${vals.length === 1 ? (c === 'trace' ? basename(vals[0]) : vals[0]) : `(${vals.length} values)`}`);
  }
  return parts.length ? parts.join(' · ') : undefined;
}
