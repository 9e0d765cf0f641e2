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
import { newDocument, renderSvg, seriesColor, stackPanels, svgText, WIDTH, HEIGHT } from './figure.ts';
import type { LegendEntry } from './figure.ts';
import { parseDecimal } from '../../sim/values.ts';
import { KINDS, type Kind } from './kind-names.ts';
import { groupLines, optionColumns, rateScaleColumn, RATE_SCALE_COLUMNS, type Table } from './lines.ts';

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
  'predictor.kendall_tau': "predictor Kendall's τ",
  'programs.e2e_s': 'program latency (s)',
  'programs.normalized_latency_s': 'program token latency (s/token)',
  program_rate: 'program rate (programs/s)',
};

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
  /** Legend corner of the rate kind (default top-left; the curves rise to the right). */
  legendAt?: 'left' | 'right';
}

/** Latency CDF: one step line per series; x the metric (s), y the fraction of requests. Returns SVG text. */
export function cdfFigure(series: Series[], o: FigureOptions = {}): string {
  const metric = o.metric ?? 'e2e_s';
  const data = series.flatMap((s) => ecdfPoints(s.values).map((p) => ({ ...p, series: s.name })));
  const names = series.map((s) => s.name);
  const pos = data.filter((d) => d.x > 0).map((d) => d.x);
  const log = o.log ?? false;
  const doc = newDocument();
  const svg = renderSvg(
    doc,
    {
      x: { label: labelOf(metric), type: log ? 'log' : 'linear', grid: true, ...(log ? { tickFormat: '~g', ticks: 5 } : {}), ...(log && pos.length ? { domain: [Math.min(...pos), Math.max(...pos)] } : {}) },
      y: { label: 'fraction of requests', domain: [0, 1], grid: true },
      color: { domain: names, range: names.map((_, i) => seriesColor(i)) },
      marks: [Plot.line(log ? data.filter((d) => d.x > 0) : data, { x: 'x', y: 'y', stroke: 'series', curve: 'step-after', strokeWidth: 1.3 })],
      ...(o.title ? { title: o.title } : {}),
    },
    names.map((n, i) => ({ label: n, color: seriesColor(i) })),
    'right',
  );
  legendBottomRight(svg);
  return svgText(svg);
}

/** CDF legends sit bottom-right (the curves rise from the bottom-left and end top-right). */
function legendBottomRight(svg: SVGSVGElement): void {
  const g = svg.querySelector('g[aria-label="legend"]');
  if (!g) return;
  const rect = g.querySelector('rect')!;
  const h = Number(rect.getAttribute('height'));
  const m = /translate\(([^,]+),/.exec(g.getAttribute('transform') ?? '');
  g.setAttribute('transform', `translate(${m ? m[1] : 0},${HEIGHT - 34 - h - 4})`);
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

/**
 * The lines of the rate kind (the figure model): one per configuration (every option that varies
 * across the table, seeds excepted; lines.ts), `<metric>.mean` and `<metric>.p99` averaged over
 * seeds at each load, points sorted on x. When x is a measured column (e.g.
 * `throughput.requests_per_s`), seeds are pooled at the rate-scale value when the table has one.
 * @throws InputError naming the file and the missing column, or a cell that is not a number.
 */
export function rateLines(t: Table, o: FigureOptions = {}) {
  const metric = o.metric ?? 'e2e_s';
  const xc = rateXColumn(t, o.x);
  need(t, [`${metric}.mean`, `${metric}.p99`], 'rate');
  const at = optionColumns(t.columns).includes(xc) ? xc : (rateScaleColumn(t.columns) ?? xc);
  return groupLines(t, { x: xc, at, ys: [`${metric}.mean`, `${metric}.p99`], series: o.series ?? 'policy' });
}

/**
 * Latency against load: mean (solid, dots) and p99 (dashed) of `<metric>` per line
 * ({@link rateLines}) against the x column, from a merged sweep table; where a point pools several
 * seeds, a shaded band is the 95% interval of the mean. Returns SVG text.
 * @throws InputError as {@link rateLines}.
 */
export function rateFigure(t: Table, o: FigureOptions = {}): string {
  const metric = o.metric ?? 'e2e_s';
  const xc = rateXColumn(t, o.x);
  const lines = rateLines(t, o);
  const names = lines.map((l) => l.label);
  const pts = (stat: string) => lines.flatMap((l) => l.points.filter((p) => p.y[`${metric}.${stat}`]).map((p) => ({ x: p.x, n: p.n, ...p.y[`${metric}.${stat}`], series: l.label })));
  const mean = pts('mean');
  const p99 = pts('p99');
  const band = mean.some((d) => d.hi > d.lo);
  const color = { domain: names, range: names.map((_, i) => seriesColor(i)) };
  const svg = renderSvg(
    newDocument(),
    {
      x: { label: labelOf(xc), grid: true },
      y: { label: `${labelOf(metric)}`, type: o.log ? 'log' : 'linear', grid: true, ...(o.log ? { tickFormat: '~g', ticks: 5 } : { zero: true }) },
      color,
      marks: [
        ...(band ? [Plot.areaY(mean, { x: 'x', y1: 'lo', y2: 'hi', z: 'series', fill: 'series', fillOpacity: 0.18 })] : []),
        Plot.line(mean, { x: 'x', y: 'mean', z: 'series', stroke: 'series', strokeWidth: 1.3 }),
        Plot.dot(mean, { x: 'x', y: 'mean', fill: 'series', r: 2 }),
        Plot.line(p99, { x: 'x', y: 'mean', z: 'series', stroke: 'series', strokeWidth: 1, strokeDasharray: '3,2' }),
      ],
      ...(o.title ? { title: o.title } : {}),
    },
    [
      ...names.map((n, i): LegendEntry => ({ label: n, color: seriesColor(i), dot: true })),
      { label: band ? 'mean (band: 95% CI over seeds)' : 'mean', color: '#555' },
      { label: 'p99', color: '#555', dash: '3,2' },
    ],
    o.legendAt ?? 'left',
  );
  return svgText(svg);
}

/**
 * The lines of the ttft-tpot kind: one per configuration (lines.ts), mean TTFT and mean TPOT
 * averaged over seeds at each rate, points sorted by the rate (the rate-scale column, else `rate`);
 * a table with neither keeps one point per row, in table order.
 * @throws InputError naming the file and the missing column, or a cell that is not a number.
 */
export function ttftTpotLines(t: Table, o: FigureOptions = {}) {
  need(t, [o.series ?? 'policy', 'ttft_s.mean', 'tpot_s.mean'], 'ttft-tpot');
  let at = o.x ?? rateScaleColumn(t.columns) ?? (t.columns.includes('rate') ? 'rate' : undefined);
  let table = t;
  if (at === undefined) {
    at = '#row';
    table = { ...t, columns: [...t.columns, at], rows: t.rows.map((r, i) => ({ ...r, [at as string]: String(i) })) };
  } else need(t, [at], 'ttft-tpot');
  return groupLines(table, { x: 'ttft_s.mean', at, ys: ['tpot_s.mean'], series: o.series ?? 'policy', sortBy: 'at' });
}

/**
 * TTFT against TPOT: one dot per point of {@link ttftTpotLines} (mean TTFT in s on x, mean TPOT
 * in ms on y), a line's points joined in order of rate. Returns SVG text.
 * @throws InputError as {@link ttftTpotLines}.
 */
export function ttftTpotFigure(t: Table, o: FigureOptions = {}): string {
  const lines = ttftTpotLines(t, o);
  const names = lines.map((l) => l.label);
  const data = lines.flatMap((l) => l.points.filter((p) => p.y['tpot_s.mean']).map((p) => ({ x: p.x, y: p.y['tpot_s.mean'].mean * 1000, series: l.label })));
  const multi = lines.some((l) => l.points.length > 1);
  const svg = renderSvg(
    newDocument(),
    {
      x: { label: 'mean TTFT (s)', type: o.log ? 'log' : 'linear', grid: true, ...(o.log ? { tickFormat: '~g', ticks: 5 } : {}) },
      y: { label: 'mean TPOT (ms)', grid: true, zero: true },
      color: { domain: names, range: names.map((_, i) => seriesColor(i)) },
      marks: [
        ...(multi ? [Plot.line(data, { x: 'x', y: 'y', z: 'series', stroke: 'series', strokeWidth: 1 })] : []),
        Plot.dot(data, { x: 'x', y: 'y', fill: 'series', r: 3 }),
      ],
      ...(o.title ? { title: o.title } : {}),
    },
    names.map((n, i) => ({ label: n, color: seriesColor(i), dot: true })),
    'right',
  );
  return svgText(svg);
}

/**
 * Batch size (requests) and KV-cache utilization (%) over simulated time, two stacked panels,
 * from a run's timeseries.csv (at most 2000 evenly spaced rows drawn). Returns SVG text.
 * @throws InputError naming the file and the missing column.
 */
export function timeseriesFigure(t: Table, o: FigureOptions = {}): string {
  need(t, ['start_s', 'batch_size', 'kv_utilization'], 'timeseries');
  const step = Math.max(1, Math.ceil(t.rows.length / 2000));
  const rows = t.rows.filter((_, i) => i % step === 0);
  const d = rows.map((r) => ({ t: num(r.start_s)!, b: num(r.batch_size)!, kv: 100 * (num(r.kv_utilization) ?? 0) }));
  const doc = newDocument();
  const panel = (y: keyof (typeof d)[number], label: string, color: string, xAxis: boolean, legend: LegendEntry[]) =>
    renderSvg(
      doc,
      {
        height: HEIGHT / 2,
        marginBottom: xAxis ? 30 : 6,
        marginTop: 16,
        x: { label: 'simulated time (s)', axis: xAxis ? 'bottom' : null, grid: true, domain: [d[0].t, d[d.length - 1].t] },
        y: { label, grid: true, zero: true, ...(y === 'kv' ? { domain: [0, 100] } : {}) },
        marks: [Plot.line(d, { x: 't', y, stroke: color, curve: 'step-after', strokeWidth: 1 })],
        ...(o.title && !xAxis ? { title: o.title } : {}),
      },
      legend,
      'right',
    );
  const top = panel('b', 'batch size (requests)', seriesColor(0), false, [{ label: 'batch size', color: seriesColor(0) }]);
  const bottom = panel('kv', 'KV cache used (%)', seriesColor(2), true, [{ label: 'KV utilization', color: seriesColor(2) }]);
  void WIDTH;
  return svgText(stackPanels(doc, [top, bottom]));
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
      return { kind: k, svg: cdfFigure(loadCdfSeries(input, o.metric ?? 'e2e_s', o.series ?? 'policy'), o) };
    case 'rate':
      return { kind: k, svg: rateFigure(readTable(input), o) };
    case 'ttft-tpot':
      return { kind: k, svg: ttftTpotFigure(readTable(input), o) };
    case 'timeseries':
      return { kind: k, svg: timeseriesFigure(readTable(input), o) };
  }
}
