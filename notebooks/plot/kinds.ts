/**
 * The figure kinds of `sim plot`, their inputs, and how a kind is picked from a table's columns.
 * Inputs (docs/plots.md):
 * - `cdf`: a run's requests.csv, a run directory (holding requests.csv), a directory of run
 *   directories (one series each), or a merged per-request CSV with a series column (`policy`);
 * - `rate`: a merged sweep table with `policy`, an x column (`rate-scale` or `rate_scale`, or
 *   `--x COL`), `<metric>.mean` and `<metric>.p99`; rows grouped into lines by ./lines.ts;
 * - `ttft-tpot`: a merged table with `policy`, `ttft_s.mean` and `tpot_s.mean`;
 * - `timeseries`: a run's timeseries.csv (`sim run --out DIR --timeseries`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import * as Plot from '@observablehq/plot';
import { InputError } from '../../sim/errors.ts';
import { readTextFile, tryReadTextFile } from '../../sim/files.ts';
import { composeFigure, newDocument, renderPanel, seriesMarks, seriesStyle, styleEntry, svgText, HEIGHT } from './figure.ts';
import type { SeriesStyle } from './figure.ts';
import { parseDecimal } from '../../sim/values.ts';
import { KINDS, type Kind } from './kind-names.ts';
import { captionOf, coincidentLines, configColumns, facetRows, filterRows, groupLines, optionColumns, rateScaleColumn, RATE_SCALE_COLUMNS } from './lines.ts';
import type { Line, LineSpec, Table } from './lines.ts';

export { KINDS, type Kind };

export type { Table };

/** Latency columns of requests.csv a CDF can show (seconds). */
export const CDF_METRICS = ['e2e_s', 'ttft_s', 'tpot_s', 'normalized_latency_s', 'queue_delay_s'] as const;

/** Human axis labels with units, by column (metric) name. */
const LABELS: Record<string, string> = {
  e2e_s: 'end-to-end latency (s)',
  ttft_s: 'TTFT (s)',
  tpot_s: 'TPOT (s)',
  normalized_latency_s: 'normalized latency (s/token)',
  queue_delay_s: 'queueing delay (s)',
  rate_scale: 'request rate (× trace rate)',
  'rate-scale': 'request rate (× trace rate)',
  rate: 'request rate (req/s)',
  'throughput.requests_per_s': 'throughput (req/s)',
  tau: "predictor Kendall's τ",
  c: "TRAIL's preemption limit c",
  'predictor.kendall_tau': "predictor Kendall's τ",
  'programs.e2e_s': 'program latency (s)',
  'programs.normalized_latency_s': 'program token latency (s/token)',
  program_rate: 'program rate (programs/s)',
};

/** Log-axis tick labels: every tick labelled, 3 significant digits (d3's log tickFormat would blank some). */
const logTick = (d: number): string => String(Number(d.toPrecision(3)));

/**
 * Tick values of a log axis over positive `values`: the coarsest steps of each decade (1; 1-2-5; 1-2-3-5;
 * every 0.5 to 9) giving 3 or more ticks inside their range, else the two ends; so every tick has a label.
 */
export function logTicks(values: readonly number[]): number[] {
  const v = values.filter((x) => x > 0 && Number.isFinite(x));
  if (v.length === 0) return [];
  const [lo, hi] = [Math.min(...v), Math.max(...v)];
  const steps = (ms: number[]) => {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of ms) {
      const t = Number((m * 10 ** e).toPrecision(3));
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) out.push(t);
    }
    return out;
  };
  for (const ms of [[1], [1, 2, 5], [1, 2, 3, 5], [1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9]]) {
    const t = steps(ms);
    if (t.length >= 3) return t;
  }
  return [Number(lo.toPrecision(2)), Number(hi.toPrecision(2))];
}

/** Options of a log axis over `values`: labelled ticks ({@link logTicks}). */
const logAxis = (values: readonly number[]) => ({ type: 'log' as const, ticks: logTicks(values), tickFormat: logTick });

/** Axis label of a column: known units, else the column name. */
export const labelOf = (col: string): string => LABELS[col] ?? col;

/**
 * Reads a CSV file with a header row.
 * @throws InputError naming the file when it cannot be read or parsed, or has no rows.
 */
export function readTable(file: string): Table {
  const text = readTextFile(file, 'table', true);
  let rows: Record<string, string>[];
  try {
    rows = parse(text, { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  } catch (e) {
    throw new InputError(`not a CSV table: ${(e as Error).message}`, { file });
  }
  if (rows.length === 0) throw new InputError('no data rows', { file });
  return { file, columns: Object.keys(rows[0]), rows };
}

/** Numeric value of a field, or null when empty or not a finite number. */
function num(s: string | undefined): number | null {
  if (s === undefined || s === '') return null;
  const x = parseDecimal(s);
  return Number.isFinite(x) ? x : null;
}

function need(t: Table, cols: string[], kind: string): void {
  const missing = cols.filter((c) => !t.columns.includes(c));
  if (missing.length) throw new InputError(`${kind} needs column(s) ${missing.join(', ')}; the table has ${t.columns.join(', ')}`, { file: t.file, field: missing[0] });
}

/** Distinct values of a column in first-appearance order. */
function distinct(t: Table, col: string): string[] {
  return [...new Set(t.rows.map((r) => r[col]))];
}


/** One named sample of values (seconds). */
export interface Series {
  name: string;
  values: number[];
}

/**
 * Loads CDF series from a requests.csv, a run directory, a directory of run directories, or a
 * merged per-request CSV with a `seriesCol` column. Only completed requests (non-empty metric) count.
 * Series are named by the run's config.json policy (+predictor when given), else the directory name.
 * @throws InputError naming the path for a missing file, a missing column or no data.
 */
export function loadCdfSeries(input: string, metric: string = 'e2e_s', seriesCol = 'policy'): Series[] {
  if (!(CDF_METRICS as readonly string[]).includes(metric)) throw new InputError(`unknown metric '${metric}'; valid: ${CDF_METRICS.join(', ')}`, { field: '--metric' });
  const fromFile = (file: string, name: string): Series => {
    const t = readTable(file);
    need(t, [metric], 'cdf');
    return { name, values: t.rows.map((r) => num(r[metric])).filter((x): x is number => x !== null) };
  };
  const runName = (dir: string): string => {
    const cfg = tryReadTextFile(path.join(dir, 'config.json'));
    if ('text' in cfg) {
      try {
        const c = JSON.parse(cfg.text) as { policy?: string; predictor?: string };
        if (c.policy) return c.predictor ? `${c.policy}+${c.predictor}` : c.policy;
      } catch {
        /* fall back to the directory name */
      }
    }
    return path.basename(path.resolve(dir));
  };
  if (!fs.existsSync(input)) throw new InputError('no such file or directory', { file: input });
  let series: Series[];
  if (fs.statSync(input).isDirectory()) {
    if (fs.existsSync(path.join(input, 'requests.csv'))) series = [fromFile(path.join(input, 'requests.csv'), runName(input))];
    else {
      const dirs = fs.readdirSync(input).sort().map((d) => path.join(input, d)).filter((d) => fs.statSync(d).isDirectory() && fs.existsSync(path.join(d, 'requests.csv')));
      if (dirs.length === 0) throw new InputError('no requests.csv in it or in its subdirectories', { file: input });
      const names = dirs.map(runName);
      const unique = new Set(names).size === names.length;
      series = dirs.map((d, i) => fromFile(path.join(d, 'requests.csv'), unique ? names[i] : path.basename(d)));
    }
  } else {
    const t = readTable(input);
    need(t, [metric], 'cdf');
    if (t.columns.includes(seriesCol)) {
      series = distinct(t, seriesCol).map((s) => ({ name: s, values: t.rows.filter((r) => r[seriesCol] === s).map((r) => num(r[metric])).filter((x): x is number => x !== null) }));
    } else {
      const dir = path.dirname(path.resolve(input));
      series = [{ name: runName(dir), values: t.rows.map((r) => num(r[metric])).filter((x): x is number => x !== null) }];
    }
  }
  for (const s of series) if (s.values.length === 0) throw new InputError(`series '${s.name}' has no completed requests with ${metric}`, { file: input, field: metric });
  return series;
}

/** At most `k` evenly spaced order statistics of sorted `v` with their cumulative fractions. */
function ecdfPoints(values: number[], k = 400): { x: number; y: number }[] {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  const pts: { x: number; y: number }[] = [];
  const m = Math.min(n, k);
  for (let j = 0; j < m; j++) {
    const i = m === n ? j : Math.round((j * (n - 1)) / (m - 1));
    pts.push({ x: v[i], y: (i + 1) / n });
  }
  return pts;
}

/** Figure options shared by the kinds. */
export interface FigureOptions {
  /** Log-scale x (cdf) or y (rate). */
  log?: boolean;
  /** Series column (default `policy`). */
  series?: string;
  /** Metric prefix: cdf column, or `<metric>.mean`/`<metric>.p99` for rate (default e2e_s). */
  metric?: string;
  /** rate: x column (default the rate-scale column, `rate-scale` or `rate_scale`); ttft-tpot: the column ordering each line (default the rate-scale column, else `rate`). */
  x?: string;
  /** Figure title (none by default: captions belong to the paper). */
  title?: string;
  /** Columns defining a line (`--group`; default every option that varies). */
  group?: string[];
  /** Row filters `col=value` (`--filter`). */
  filter?: string[];
  /** Column to split into small multiples, one panel (block) per value (`--facet`). */
  facet?: string;
  /** Caption line under the figure (default: model, GPU and trace from the table's config columns; '' for none). */
  caption?: string;
  /** Legacy: legends are always below the panels now; accepted and ignored. */
  legendAt?: 'left' | 'right';
}

/** The caption of a run directory's config.json (model, GPU, TP, trace), if it has one. */
function runCaption(dir: string): string | undefined {
  const cfg = tryReadTextFile(path.join(dir, 'config.json'));
  if (!('text' in cfg)) return undefined;
  try {
    const c = JSON.parse(cfg.text) as Record<string, unknown>;
    const row = Object.fromEntries(Object.entries(c).filter(([, v]) => typeof v === 'string' || typeof v === 'number').map(([k, v]) => [k, String(v)]));
    return captionOf({ file: dir, columns: Object.keys(row), rows: [row] });
  } catch {
    return undefined;
  }
}

/** The caption to draw: the option when given ('' for none), else `auto`. */
const captionText = (o: FigureOptions, auto: () => string | undefined): string | undefined => (o.caption !== undefined ? o.caption || undefined : auto());

/** Notes on lines that coincide (drawn with distinct markers and dashes, but named so no reader misses one). */
function coincidenceNotes(lines: readonly Line[]): string[] {
  return coincidentLines(lines).map(([a, b]) => `${b} coincides with ${a} (within 0.5%)`);
}

/** Note on seeds that changed nothing: every pooled point has several seeds and zero spread. */
function seedNotes(t: Table, lines: readonly Line[]): string[] {
  if (!t.columns.includes('seed')) return [];
  const seeds = new Set(t.rows.map((r) => r.seed)).size;
  const pooled = lines.flatMap((l) => l.points.filter((p) => p.n > 1));
  if (seeds < 2 || pooled.length === 0) return [];
  const flat = pooled.every((p) => Object.values(p.y).every((s) => s.hi === s.lo));
  return flat ? [`${seeds} seeds gave identical results: one value shown`] : [];
}

/** Note on lines with one seed whose runs drew no random number (`sim sweep` ran one seed of them). */
function collapsedNotes(t: Table, lines: readonly Line[]): string[] {
  const col = 'sim.random_draws';
  if (!t.columns.includes(col) || !t.columns.includes('seed') || new Set(t.rows.map((r) => r.seed)).size < 2) return [];
  const single = lines.filter((l) => l.points.every((p) => p.n === 1));
  const keyOf = (r: Record<string, string>, l: Line) => Object.keys(l.key).every((c) => r[c] === l.key[c]);
  const quiet = single.filter((l) => t.rows.filter((r) => keyOf(r, l)).every((r) => r[col] === '0' && !r.synthetic));
  const names = [...new Set(quiet.map((l) => l.label))];
  if (names.length === 0) return [];
  const which = names.length <= 2 ? names.join(', ') : `${names.length} of ${new Set(lines.map((l) => l.label)).size} lines`;
  return [`one seed run for ${which}: the seed changes nothing there (trace file, no random draws)`];
}

/** Style of each label: in order of first appearance across all facets. */
function styleMap(labels: Iterable<string>): Map<string, SeriesStyle> {
  const m = new Map<string, SeriesStyle>();
  for (const l of labels) if (!m.has(l)) m.set(l, seriesStyle(m.size));
  return m;
}

/** Latency CDF: one step line per series; x the metric (s), y the fraction of requests. Returns SVG text. */
export function cdfFigure(series: Series[], o: FigureOptions = {}, caption?: string): string {
  const metric = o.metric ?? 'e2e_s';
  const log = o.log ?? false;
  const pos = series.flatMap((s) => s.values.filter((v) => v > 0));
  const doc = newDocument();
  const styles = series.map((_, i) => seriesStyle(i));
  const marks = series.flatMap((s, i) => {
    const pts = ecdfPoints(s.values).filter((p) => !log || p.x > 0);
    const st = styles[i];
    // Markers at 8 evenly spaced quantiles, so a series under another still shows its shape.
    const every = Math.max(1, Math.floor(pts.length / 8));
    const sparse = pts.filter((_, j) => j % every === Math.floor(every / 2));
    return [Plot.line(pts, { x: 'x', y: 'y', curve: 'step-after', stroke: st.color, strokeWidth: 1.3, ...(st.dash ? { strokeDasharray: st.dash } : {}) }), ...seriesMarks(sparse, st, 'x', 'y', { line: false })];
  });
  const panel = renderPanel(doc, {
    x: { label: labelOf(metric), grid: true, ...(log ? logAxis(pos) : {}), ...(log && pos.length ? { domain: [Math.min(...pos), Math.max(...pos)] } : {}) },
    y: { label: 'fraction of requests', domain: [0, 1], grid: true },
    marks,
  });
  const same = coincidentLines(series.map((s) => ({ label: s.name, key: {}, points: ecdfPoints(s.values, 50).map((p) => ({ x: p.y, at: p.y, n: 1, y: { v: { mean: p.x, lo: p.x, hi: p.x } } })) })));
  return svgText(composeFigure(doc, {
    panels: [panel],
    legend: series.map((s, i) => styleEntry(s.name, styles[i])),
    notes: same.map(([a, b]) => `${b} coincides with ${a} (within 0.5%)`),
    caption: captionText(o, () => caption),
    title: o.title,
  }));
}

/**
 * The x column of the rate kind: `x` when given, else the rate-scale column (`rate-scale` as
 * `sim merge` writes it, or `rate_scale`). Never another column in its place.
 * @throws InputError naming the file and the table's columns when that column is missing.
 */
export function rateXColumn(t: Table, x?: string): string {
  const xc = x ?? rateScaleColumn(t.columns);
  if (xc === undefined || !t.columns.includes(xc)) {
    const want = x === undefined ? `an x column, ${RATE_SCALE_COLUMNS.join(' or ')} (or --x COL)` : `the x column ${x}`;
    throw new InputError(`rate needs ${want}; the table has ${t.columns.join(', ')}`, { file: t.file, field: x ?? RATE_SCALE_COLUMNS[0] });
  }
  return xc;
}

/** The line spec of the rate kind (x, pooled-at column, ys, series, group). */
function rateSpec(t: Table, o: FigureOptions, exclude: string[] = []): LineSpec {
  const metric = o.metric ?? 'e2e_s';
  const xc = rateXColumn(t, o.x);
  need(t, [`${metric}.mean`, `${metric}.p99`], 'rate');
  const at = optionColumns(t.columns).includes(xc) ? xc : (rateScaleColumn(t.columns) ?? xc);
  const spec: LineSpec = { x: xc, at, ys: [`${metric}.mean`, `${metric}.p99`], series: o.series ?? 'policy', group: o.group };
  if (exclude.length && !o.group) spec.group = configColumns(t, spec).filter((c) => !exclude.includes(c));
  return spec;
}

/**
 * The lines of the rate kind (the figure model): one per configuration (every option that varies
 * across the table, seeds excepted; lines.ts; or the `group` columns), `<metric>.mean` and
 * `<metric>.p99` averaged over seeds at each load, points sorted on x. Rows are filtered first
 * (`filter`). When x is a measured column (e.g. `throughput.requests_per_s`), seeds are pooled at
 * the rate-scale value when the table has one.
 * @throws InputError naming the file and the missing column, or a cell that is not a number.
 */
export function rateLines(t: Table, o: FigureOptions = {}): Line[] {
  const f = filterRows(t, o.filter ?? []);
  return groupLines(f, rateSpec(f, o));
}

/**
 * Latency against load from a merged sweep table: two stacked panels, mean (top) and p99
 * (bottom) of `<metric>` per line ({@link rateLines}) against the x column, each line with its own
 * colour, marker and dash; where a point pools several seeds, a shaded band is the 95% interval
 * of the mean. With `facet`, one such block per value of that column. Legend, notes (coinciding
 * lines, seeds that changed nothing) and caption below. Returns SVG text.
 * @throws InputError as {@link rateLines}, and for a facet column the table lacks.
 */
export function rateFigure(t: Table, o: FigureOptions = {}): string {
  const metric = o.metric ?? 'e2e_s';
  const table = filterRows(t, o.filter ?? []);
  const xc = rateXColumn(table, o.x);
  const facets = o.facet ? facetRows(table, o.facet) : [{ header: undefined, table }];
  const spec = rateSpec(table, o, o.facet ? [o.facet] : []);
  const blocks = facets.map((f) => ({ header: f.header, lines: groupLines(f.table, spec) }));
  const styles = styleMap(blocks.flatMap((b) => b.lines.map((l) => l.label)));
  const all = blocks.flatMap((b) => b.lines);
  const band = all.some((l) => l.points.some((p) => Object.values(p.y).some((s) => s.hi > s.lo)));
  const xs = all.flatMap((l) => l.points.map((p) => p.x));
  const doc = newDocument();
  const panels: SVGSVGElement[] = [];
  const headers: (string | undefined)[] = [];
  for (const b of blocks) {
    for (const stat of ['mean', 'p99'] as const) {
      const col = `${metric}.${stat}`;
      const last = stat === 'p99';
      const marks = b.lines.flatMap((l) => {
        const d = l.points.filter((p) => p.y[col]).map((p) => ({ x: p.x, ...p.y[col] }));
        const st = styles.get(l.label)!;
        return [...(band ? [Plot.areaY(d, { x: 'x', y1: 'lo', y2: 'hi', fill: st.color, fillOpacity: 0.15 })] : []), ...seriesMarks(d, st, 'x', 'mean')];
      });
      panels.push(renderPanel(doc, {
        height: last ? 128 : 100,
        marginBottom: last ? 30 : 8,
        x: { label: labelOf(xc), grid: true, axis: last ? 'bottom' : null, domain: [Math.min(...xs), Math.max(...xs)], inset: 4 },
        y: { label: `${stat} ${labelOf(metric)}`, grid: true, ...(o.log ? logAxis(b.lines.flatMap((l) => l.points.flatMap((p) => (p.y[col] ? [p.y[col].lo, p.y[col].hi] : [])))) : { ticks: 4, zero: true }) },
        marks,
      }));
      headers.push(stat === 'mean' ? b.header : undefined);
    }
  }
  const labels = [...styles.keys()];
  return svgText(composeFigure(doc, {
    panels,
    headers,
    legend: labels.map((l) => styleEntry(l, styles.get(l)!)),
    notes: [...(band ? ['band: 95% CI of the mean over seeds'] : []), ...blocks.flatMap((b) => coincidenceNotes(b.lines).map((n) => (b.header ? `${b.header}: ${n}` : n))), ...seedNotes(table, all), ...collapsedNotes(table, all)],
    caption: captionText(o, () => captionOf(table)),
    title: o.title,
  }));
}

/**
 * The lines of the ttft-tpot kind: one per configuration (lines.ts, or the `group` columns),
 * mean TTFT and mean TPOT averaged over seeds at each rate, points sorted by the rate (the
 * rate-scale column, else `rate`); a table with neither keeps one point per row, in table order.
 * Rows are filtered first (`filter`).
 * @throws InputError naming the file and the missing column, or a cell that is not a number.
 */
export function ttftTpotLines(t: Table, o: FigureOptions = {}, exclude: string[] = []): Line[] {
  t = filterRows(t, o.filter ?? []);
  need(t, [o.series ?? 'policy', 'ttft_s.mean', 'tpot_s.mean'], 'ttft-tpot');
  let at = o.x ?? rateScaleColumn(t.columns) ?? (t.columns.includes('rate') ? 'rate' : undefined);
  let table = t;
  if (at === undefined) {
    at = '#row';
    table = { ...t, columns: [...t.columns, at], rows: t.rows.map((r, i) => ({ ...r, [at as string]: String(i) })) };
  } else need(t, [at], 'ttft-tpot');
  const spec: LineSpec = { x: 'ttft_s.mean', at, ys: ['tpot_s.mean'], series: o.series ?? 'policy', sortBy: 'at', group: o.group };
  if (exclude.length && !o.group) spec.group = configColumns(table, spec).filter((c) => !exclude.includes(c));
  return groupLines(table, spec);
}

/**
 * TTFT against TPOT: one marker per point of {@link ttftTpotLines} (mean TTFT in s on x, mean
 * TPOT in ms on y), a line's points joined in order of rate, each line its own colour, marker and
 * dash; with `facet`, one panel per value of that column. Returns SVG text.
 * @throws InputError as {@link ttftTpotLines}.
 */
export function ttftTpotFigure(t: Table, o: FigureOptions = {}): string {
  const table = filterRows(t, o.filter ?? []);
  const facets = o.facet ? facetRows(table, o.facet) : [{ header: undefined, table }];
  const blocks = facets.map((f) => ({ header: f.header, lines: ttftTpotLines(f.table, { ...o, filter: [] }, o.facet ? [o.facet] : []) }));
  const styles = styleMap(blocks.flatMap((b) => b.lines.map((l) => l.label)));
  const doc = newDocument();
  const panels = blocks.map((b) =>
    renderPanel(doc, {
      height: blocks.length > 1 ? 160 : HEIGHT,
      x: { label: 'mean TTFT (s)', grid: true, inset: 4, ...(o.log ? logAxis(b.lines.flatMap((l) => l.points.map((p) => p.x))) : {}) },
      y: { label: 'mean TPOT (ms)', grid: true, zero: true },
      marks: b.lines.flatMap((l) => seriesMarks(l.points.filter((p) => p.y['tpot_s.mean']).map((p) => ({ x: p.x, y: p.y['tpot_s.mean'].mean * 1000 })), styles.get(l.label)!, 'x', 'y', { width: 1 })),
    }),
  );
  const labels = [...styles.keys()];
  return svgText(composeFigure(doc, {
    panels,
    headers: blocks.map((b) => b.header),
    legend: labels.map((l) => styleEntry(l, styles.get(l)!, blocks.some((b) => b.lines.some((x) => x.points.length > 1)))),
    notes: [...blocks.flatMap((b) => coincidenceNotes(b.lines).map((n) => (b.header ? `${b.header}: ${n}` : n))), ...seedNotes(table, blocks.flatMap((b) => b.lines)), ...collapsedNotes(table, blocks.flatMap((b) => b.lines))],
    caption: captionText(o, () => captionOf(table)),
    title: o.title,
  }));
}

/**
 * Batch size (requests) and KV-cache utilization (%) over simulated time, two stacked panels,
 * from a run's timeseries.csv (at most 2000 evenly spaced rows drawn); legend and caption (from
 * the run's config.json beside it) below. Returns SVG text.
 * @throws InputError naming the file and the missing column.
 */
export function timeseriesFigure(t: Table, o: FigureOptions = {}): string {
  need(t, ['start_s', 'batch_size', 'kv_utilization'], 'timeseries');
  const step = Math.max(1, Math.ceil(t.rows.length / 2000));
  const rows = t.rows.filter((_, i) => i % step === 0);
  const d = rows.map((r) => ({ t: num(r.start_s)!, b: num(r.batch_size)!, kv: 100 * (num(r.kv_utilization) ?? 0) }));
  const doc = newDocument();
  const [sb, skv] = [seriesStyle(0), seriesStyle(3)];
  const panel = (y: keyof (typeof d)[number], label: string, color: string, xAxis: boolean) =>
    renderPanel(doc, {
      height: xAxis ? 130 : 100,
      marginBottom: xAxis ? 30 : 8,
      x: { label: 'simulated time (s)', axis: xAxis ? 'bottom' : null, grid: true, domain: [d[0].t, d[d.length - 1].t] },
      y: { label, grid: true, zero: true, ticks: 4, ...(y === 'kv' ? { domain: [0, 100] } : {}) },
      marks: [Plot.line(d, { x: 't', y, stroke: color, curve: 'step-after', strokeWidth: 1 })],
    });
  return svgText(composeFigure(doc, {
    panels: [panel('b', 'batch size (requests)', sb.color, false), panel('kv', 'KV cache used (%)', skv.color, true)],
    legend: [{ label: 'batch size', color: sb.color }, { label: 'KV utilization', color: skv.color }],
    caption: captionText(o, () => runCaption(path.dirname(path.resolve(t.file)))),
    title: o.title,
  }));
}

/** Caption of a CDF input: its run directory's config.json (the first run's, for a directory of runs). */
function cdfCaption(input: string): string | undefined {
  if (!fs.existsSync(input)) return undefined;
  const dir = fs.statSync(input).isDirectory() ? input : path.dirname(path.resolve(input));
  if (fs.existsSync(path.join(dir, 'config.json'))) return runCaption(dir);
  const sub = fs.readdirSync(dir).sort().map((d) => path.join(dir, d)).find((d) => fs.existsSync(path.join(d, 'config.json')));
  return sub ? runCaption(sub) : undefined;
}

/**
 * Picks a kind from an input path: a directory or a table with per-request latency columns → cdf;
 * `start_s` + `batch_size` → timeseries; `<m>.mean` with a rate column varying within a series →
 * rate; `ttft_s.mean` + `tpot_s.mean` → ttft-tpot.
 * @throws InputError naming the file and its columns when nothing fits.
 */
export function detectKind(input: string): Kind {
  if (fs.existsSync(input) && fs.statSync(input).isDirectory()) return 'cdf';
  const t = readTable(input);
  const has = (c: string) => t.columns.includes(c);
  if (has('start_s') && has('batch_size')) return 'timeseries';
  if (CDF_METRICS.some((m) => has(m))) return 'cdf';
  const xc = rateScaleColumn(t.columns);
  const sc = has('policy') ? 'policy' : undefined;
  if (xc && has('e2e_s.mean') && has('e2e_s.p99')) {
    const perSeries = sc ? distinct(t, sc).map((s) => new Set(t.rows.filter((r) => r[sc] === s).map((r) => r[xc])).size) : [new Set(t.rows.map((r) => r[xc])).size];
    if (Math.max(...perSeries) > 1) return 'rate';
  }
  if (has('ttft_s.mean') && has('tpot_s.mean')) return 'ttft-tpot';
  throw new InputError(`cannot tell which figure to draw from columns ${t.columns.join(', ')}; give --kind (${KINDS.join(', ')}), see docs/plots.md`, { file: input });
}

/**
 * Draws the figure of `kind` (default {@link detectKind}) from `input`.
 * @returns the kind drawn and the SVG text.
 * @throws InputError for an unreadable input or missing columns.
 */
export function plotInput(input: string, kind?: Kind, o: FigureOptions = {}): { kind: Kind; svg: string } {
  const k = kind ?? detectKind(input);
  switch (k) {
    case 'cdf':
      return { kind: k, svg: cdfFigure(loadCdfSeries(input, o.metric ?? 'e2e_s', o.series ?? 'policy'), o, cdfCaption(input)) };
    case 'rate':
      return { kind: k, svg: rateFigure(readTable(input), o) };
    case 'ttft-tpot':
      return { kind: k, svg: ttftTpotFigure(readTable(input), o) };
    case 'timeseries':
      return { kind: k, svg: timeseriesFigure(readTable(input), o) };
  }
}
