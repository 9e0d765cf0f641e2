/**
 * The policy regression check behind `sim regress`: runs a checked-in scenario set
 * (`sim/regress/scenarios.json`: the repo's Azure conv sample and a window of it × the key
 * policies × seeds) in process, and compares each scenario's summary metrics with a baseline
 * (`sim/regress/baseline.json`) within per-metric relative and absolute tolerances.
 * Format of both files: docs/regress.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeOptions, buildRun, loadTrace } from '../config.ts';
import type { RunOptions } from '../config.ts';
import type { Summary } from '../metrics.ts';
import type { Trace } from '../../traces/trace.ts';
import { InputError } from '../errors.ts';
import { runResolved } from '../run.ts';

/** Tolerance of one metric: a value passes when |now − baseline| ≤ max(abs, rel·|baseline|). Units: the metric's. */
export interface Tolerance {
  /** Relative tolerance, a fraction of |baseline| (0.001 = 0.1%). */
  rel: number;
  /** Absolute tolerance, in the metric's unit (seconds, requests, tokens…). */
  abs: number;
}

/** One expanded scenario: a name and the run options (trace path already absolute). */
export interface Scenario {
  /** `group/case/sSEED`, e.g. `azure-conv/ltr+rank-tau/s1`. */
  name: string;
  options: Partial<RunOptions>;
}

/** A loaded scenario set: the metrics compared, with their tolerances, and the scenarios. */
export interface ScenarioSet {
  /** File the set came from (absolute). */
  file: string;
  /** Dotted Summary paths (`e2e_s.p99`, `predictor.kendall_tau`) → tolerance. */
  metrics: Record<string, Tolerance>;
  scenarios: Scenario[];
}

/** Metric values of one scenario (null where the summary has none, e.g. no predictor). */
export type MetricValues = Record<string, number | null>;

/** A baseline file's content: scenario name → metric → value. */
export interface Baseline {
  /** How to regenerate it. */
  note: string;
  scenarios: Record<string, MetricValues>;
}

/** One metric of one scenario outside its tolerance (or present on one side only). */
export interface Drift {
  scenario: string;
  metric: string;
  /** Baseline value; undefined when the scenario or metric is not in the baseline. */
  baseline: number | null | undefined;
  /** Current value; undefined when the scenario is no longer in the scenario set. */
  now: number | null | undefined;
  /** (now − baseline) / |baseline| × 100, when both are numbers and baseline ≠ 0. */
  changePct: number | null;
  tolerance: Tolerance | undefined;
}

/** Outcome of a comparison. */
export interface RegressReport {
  /** Scenarios run. */
  scenarios: number;
  /** Metric values compared (scenarios × metrics). */
  metrics: number;
  drifts: Drift[];
  /** Wall-clock seconds spent simulating. */
  wall_s: number;
}

/** Repository root: the nearest ancestor of this module holding package.json (works from sim/ and dist/sim/). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Default scenario file: `sim/regress/scenarios.json` under the repository root. */
export const defaultScenariosFile = (): string => path.join(repoRoot(), 'sim', 'regress', 'scenarios.json');
/** Default baseline file: `sim/regress/baseline.json` under the repository root. */
export const defaultBaselineFile = (): string => path.join(repoRoot(), 'sim', 'regress', 'baseline.json');

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read: ${(e as Error).message}`, { file });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`not valid JSON: ${(e as Error).message}`, { file });
  }
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Reads and expands a scenario file (format: docs/regress.md). Trace paths are relative to the file.
 * @throws InputError naming the file and field for a malformed set, a bad tolerance, or a duplicate name.
 */
export function loadScenarios(file: string): ScenarioSet {
  const abs = path.resolve(file);
  const j = readJson(abs);
  if (!isObj(j)) throw new InputError('expected a JSON object', { file: abs });
  if (!isObj(j.metrics)) throw new InputError('expected an object of metric → {rel, abs}', { file: abs, field: 'metrics' });
  const metrics: Record<string, Tolerance> = {};
  for (const [k, t] of Object.entries(j.metrics)) {
    if (!isObj(t) || typeof t.rel !== 'number' || typeof t.abs !== 'number' || !(t.rel >= 0) || !(t.abs >= 0)) {
      throw new InputError('expected {rel, abs} with non-negative numbers', { file: abs, field: `metrics.${k}` });
    }
    metrics[k] = { rel: t.rel, abs: t.abs };
  }
  if (!Array.isArray(j.groups) || j.groups.length === 0) throw new InputError('expected a non-empty array', { file: abs, field: 'groups' });
  const scenarios: Scenario[] = [];
  const seen = new Set<string>();
  j.groups.forEach((g: unknown, gi: number) => {
    const where = `groups[${gi}]`;
    if (!isObj(g) || typeof g.name !== 'string') throw new InputError('expected {name, options, seeds, cases}', { file: abs, field: where });
    const base = isObj(g.options) ? { ...g.options } : {};
    for (const k of ['trace', 'lengths-from', 'profile']) {
      if (typeof base[k] === 'string') base[k] = path.resolve(path.dirname(abs), base[k] as string);
    }
    const seeds = g.seeds ?? [1];
    if (!Array.isArray(seeds) || !seeds.every((s) => Number.isInteger(s))) throw new InputError('expected an array of integers', { file: abs, field: `${where}.seeds` });
    if (!Array.isArray(g.cases) || g.cases.length === 0) throw new InputError('expected a non-empty array', { file: abs, field: `${where}.cases` });
    g.cases.forEach((c: unknown, ci: number) => {
      if (!isObj(c) || typeof c.policy !== 'string') throw new InputError('expected {policy, ...options}', { file: abs, field: `${where}.cases[${ci}]` });
      const label = typeof c.label === 'string' ? c.label : `${c.policy}${typeof c.predictor === 'string' ? `+${c.predictor}` : ''}`;
      const { label: _drop, ...copts } = c;
      void _drop;
      for (const seed of seeds as number[]) {
        const name = `${g.name}/${label}/s${seed}`;
        if (seen.has(name)) throw new InputError(`duplicate scenario '${name}' (give the case a distinct "label")`, { file: abs, field: `${where}.cases[${ci}]` });
        seen.add(name);
        scenarios.push({ name, options: { ...base, ...copts, seed } as Partial<RunOptions> });
      }
    });
  });
  return { file: abs, metrics, scenarios };
}

/** Reads a dotted path (`e2e_s.p99`) of a summary; null when absent or not a finite number. */
export function metricValue(s: Summary, metric: string): number | null {
  let x: unknown = s;
  for (const k of metric.split('.')) {
    if (!isObj(x)) return null;
    x = x[k];
  }
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

/** Options of {@link runScenarios}. */
export interface RunScenariosOptions {
  /** Rewrites a scenario's options before it runs (tests inject a behaviour change with it). */
  override?: (scenario: Scenario) => Partial<RunOptions>;
}

/**
 * Runs every scenario in process (normalizeOptions → loadTrace, cached per distinct trace
 * options → buildRun → simulate → summarize) and extracts the set's metrics.
 * Deterministic: same code and scenario file give the same values.
 * @returns scenario name → metric values, and the wall time in seconds.
 * @throws InputError from the run configuration (unknown policy, bad trace…), prefixed with the scenario name.
 */
export async function runScenarios(set: ScenarioSet, o: RunScenariosOptions = {}): Promise<{ values: Record<string, MetricValues>; wall_s: number }> {
  const t0 = performance.now();
  const traces = new Map<string, Trace>();
  const values: Record<string, MetricValues> = {};
  for (const sc of set.scenarios) {
    let opts: RunOptions;
    let trace: Trace;
    try {
      opts = normalizeOptions(o.override ? o.override(sc) : sc.options);
      const key = JSON.stringify([opts.trace, opts.format, opts.synthetic, opts['num-requests'], opts.rate, opts.cv, opts.prompt, opts.output, opts['lengths-from'], opts['rate-scale'], opts.limit, opts.start, opts.duration, opts.synthetic ? opts.seed : 0]);
      let t = traces.get(key);
      if (!t) {
        t = await loadTrace(opts);
        traces.set(key, t);
      }
      trace = t;
    } catch (e) {
      if (e instanceof InputError) throw new InputError(`scenario ${sc.name}: ${e.message}`, { file: set.file });
      throw e;
    }
    const r = buildRun(opts, trace, () => {});
    const s = runResolved(r).summary;
    const v: MetricValues = {};
    for (const m of Object.keys(set.metrics)) v[m] = metricValue(s, m);
    values[sc.name] = v;
  }
  return { values, wall_s: (performance.now() - t0) / 1000 };
}

/** Whether `now` is within `tol` of `base` (both null counts as equal; one null does not). */
export function withinTolerance(base: number | null, now: number | null, tol: Tolerance): boolean {
  if (base === null || now === null) return base === now;
  return Math.abs(now - base) <= Math.max(tol.abs, tol.rel * Math.abs(base));
}

/**
 * Compares current values with a baseline over the set's metrics. A scenario or metric on one
 * side only is a drift too.
 */
export function compare(set: ScenarioSet, baseline: Baseline, values: Record<string, MetricValues>, wall_s = 0): RegressReport {
  const drifts: Drift[] = [];
  let n = 0;
  for (const sc of set.scenarios) {
    const b = baseline.scenarios[sc.name];
    const v = values[sc.name];
    for (const [m, tol] of Object.entries(set.metrics)) {
      n++;
      const bv = b === undefined || !(m in b) ? undefined : b[m];
      const nv = v[m];
      if (bv !== undefined && withinTolerance(bv, nv, tol)) continue;
      const changePct = typeof bv === 'number' && nv !== null && bv !== 0 ? (100 * (nv - bv)) / Math.abs(bv) : null;
      drifts.push({ scenario: sc.name, metric: m, baseline: bv, now: nv, changePct, tolerance: tol });
    }
  }
  const names = new Set(set.scenarios.map((s) => s.name));
  for (const name of Object.keys(baseline.scenarios)) {
    if (!names.has(name)) drifts.push({ scenario: name, metric: '(scenario)', baseline: undefined, now: undefined, changePct: null, tolerance: undefined });
  }
  return { scenarios: set.scenarios.length, metrics: n, drifts, wall_s };
}

/**
 * Reads a baseline file.
 * @throws InputError naming the file for a missing or malformed baseline (hint: `sim regress --update`).
 */
export function readBaseline(file: string): Baseline {
  if (!fs.existsSync(file)) throw new InputError('no baseline: create it with `sim regress --update`', { file });
  const j = readJson(file);
  if (!isObj(j) || !isObj(j.scenarios)) throw new InputError('expected {"scenarios": {name: {metric: value}}}', { file, field: 'scenarios' });
  for (const [name, v] of Object.entries(j.scenarios)) {
    if (!isObj(v) || !Object.values(v).every((x) => x === null || typeof x === 'number')) {
      throw new InputError('expected an object of metric → number or null', { file, field: `scenarios.${name}` });
    }
  }
  return { note: typeof j.note === 'string' ? j.note : '', scenarios: j.scenarios as Record<string, MetricValues> };
}

/** Writes a baseline file (scenarios in set order, metrics in set order; 2-space JSON, trailing newline). */
export function writeBaseline(file: string, set: ScenarioSet, values: Record<string, MetricValues>): void {
  const scenarios: Record<string, MetricValues> = {};
  for (const sc of set.scenarios) {
    const v: MetricValues = {};
    for (const m of Object.keys(set.metrics)) v[m] = values[sc.name][m];
    scenarios[sc.name] = v;
  }
  const b: Baseline = { note: 'Written by `sim regress --update` from sim/regress/scenarios.json; review the diff before committing (docs/regress.md).', scenarios };
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(b, null, 2) + '\n');
}

const num = (x: number | null | undefined): string => (x === undefined ? '(absent)' : x === null ? 'null' : Math.abs(x) >= 1000 || Number.isInteger(x) ? String(Math.round(x * 1000) / 1000) : x.toPrecision(6));

/** A readable fixed-width table of drifts: scenario, metric, baseline, now, change %, tolerance. */
export function formatDrifts(drifts: readonly Drift[]): string {
  const rows = [['scenario', 'metric', 'baseline', 'now', 'change', 'tolerance']];
  for (const d of drifts) {
    rows.push([
      d.scenario,
      d.metric,
      num(d.baseline),
      num(d.now),
      d.changePct === null ? '-' : `${d.changePct >= 0 ? '+' : ''}${d.changePct.toFixed(2)}%`,
      d.tolerance ? `±max(${(100 * d.tolerance.rel).toPrecision(2)}%, ${d.tolerance.abs})` : '-',
    ]);
  }
  const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => r.map((c, j) => (j === r.length - 1 ? c : j >= 2 && j <= 4 ? c.padStart(w[j]) + '  ' : c.padEnd(w[j] + 2))).join('').trimEnd()).join('\n') + '\n';
}

/** Options of {@link regress}. */
export interface RegressOptions extends RunScenariosOptions {
  /** Scenario file; default sim/regress/scenarios.json. */
  scenarios?: string;
  /** Baseline file; default sim/regress/baseline.json. */
  baseline?: string;
  /** Rewrite the baseline with the current values instead of comparing. */
  update?: boolean;
}

/**
 * Runs the scenario set and compares it with the baseline (or, with `update`, rewrites the
 * baseline and reports no drift).
 * @throws InputError for a bad scenario or baseline file.
 */
export async function regress(o: RegressOptions = {}): Promise<RegressReport> {
  const set = loadScenarios(o.scenarios ?? defaultScenariosFile());
  const baselineFile = o.baseline ?? defaultBaselineFile();
  const baseline = o.update ? undefined : readBaseline(baselineFile);
  const { values, wall_s } = await runScenarios(set, o);
  if (o.update || !baseline) {
    writeBaseline(baselineFile, set, values);
    return { scenarios: set.scenarios.length, metrics: set.scenarios.length * Object.keys(set.metrics).length, drifts: [], wall_s };
  }
  return compare(set, baseline, values, wall_s);
}
