/**
 * The policy regression check behind `sim regress`: runs a checked-in scenario set
 * (`app/regress/scenarios.json`: the repo's Azure conv sample and a window of it × the key
 * policies × seeds) in process, and compares each scenario's summary metrics with a baseline
 * (`app/regress/baseline.json`) within per-metric relative and absolute tolerances.
 * Format of both files: docs/regress.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeOptions, buildRun, loadTrace, readRunOption, RUN_KEYS } from '../config.ts';
import type { RunOptions } from '../config.ts';
import { readNumber, readString } from '../../sim/values.ts';
import { readTextFile, prepareOutputFile, writeFileAtomic } from '../../sim/files.ts';
import { parseStructured, fieldName, checkReadableFile } from '../sweep/source.ts';
import type { KeyPath, Structured } from '../sweep/source.ts';
import type { Summary } from '../../sim/metrics.ts';
import type { Trace } from '../../sim/trace.ts';
import { InputError } from '../../sim/errors.ts';
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

/** Repository root: the nearest ancestor of this module holding package.json (works from app/ and dist/app/). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Default scenario file: `app/regress/scenarios.json` under the repository root. */
export const defaultScenariosFile = (): string => path.join(repoRoot(), 'app', 'regress', 'scenarios.json');
/** Default baseline file: `app/regress/baseline.json` under the repository root. */
export const defaultBaselineFile = (): string => path.join(repoRoot(), 'app', 'regress', 'baseline.json');

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

const STATS = ['mean', 'p50', 'p90', 'p95', 'p99', 'max'] as const;

/**
 * Every metric a scenario set or baseline may name: the dotted paths of the run summary's numeric
 * fields (docs/output.md; sim/metrics.ts `Summary`), `programs.*` and `predictor.*` included (null
 * in runs without programs or a predictor; `prefix_cache.*` null with `--prefix-caching off`). Not `sim.wall_s`, which differs between identical
 * runs, nor the per-replica list.
 */
export const SUMMARY_METRICS: readonly string[] = [
  'requests.total',
  'requests.completed',
  'requests.rejected',
  'requests.rejected_too_long',
  'requests.rejected_kv',
  'requests.rejected_ancestor',
  ...['ttft_s', 'tpot_s', 'itl_s', 'e2e_s', 'normalized_latency_s', 'queue_delay_s'].flatMap((m) => STATS.map((q) => `${m}.${q}`)),
  'throughput.requests_per_s',
  'throughput.output_tokens_per_s',
  'throughput.total_tokens_per_s',
  'goodput.requests_per_s',
  'goodput.slo_attainment',
  'goodput.slo_ttft_s',
  'goodput.slo_tpot_s',
  'goodput.slo_e2e_s',
  'makespan_s',
  'gpu_hours',
  'gpu_price_usd_per_hour',
  'usd_per_million_tokens.output',
  'usd_per_million_tokens.total',
  'batch_size_mean',
  'mfu',
  'mbu',
  // The ms block at the default --metric-percentiles (vLLM benchmark_serving's names).
  ...['ttft', 'tpot', 'itl', 'e2el'].flatMap((m) => ['mean', 'median', 'std', 'p50', 'p90', 'p95', 'p99'].map((q) => `ms.${q}_${m}_ms`)),
  'kv_utilization.mean',
  'kv_utilization.max',
  'preemptions',
  'swaps.out',
  'swaps.in',
  'swaps.bytes',
  'swaps.recompute_fallbacks',
  ...['queried_tokens', 'hit_tokens', 'token_hit_rate', 'admissions', 'hit_admissions', 'request_hit_rate', 'evictions'].map((m) => `prefix_cache.${m}`),
  'sim.events',
  'sim.iterations',
  'sim.random_draws',
  'programs.count',
  'programs.completed',
  ...['e2e_s', 'normalized_latency_s', 'waiting_s'].flatMap((m) => STATS.map((q) => `programs.${m}.${q}`)),
  'programs.throughput_per_s',
  'predictor.kendall_tau',
  'predictor.mae_tokens',
  'predictor.bucket_accuracy',
];

/** Levenshtein distance (for "did you mean"). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/**
 * Checks that `metric` is one of {@link SUMMARY_METRICS}.
 * @throws InputError at `where`: an unknown path (with the nearest known one), or `sim.wall_s`.
 */
export function checkMetric(metric: string, where: { file?: string; line?: number; field?: string }): void {
  if (SUMMARY_METRICS.includes(metric)) return;
  if (metric === 'sim.wall_s') throw new InputError("'sim.wall_s' is wall-clock time, different in every run: not a regression metric", where);
  const near = [...SUMMARY_METRICS].sort((x, y) => distance(metric, x) - distance(metric, y))[0];
  throw new InputError(`unknown metric path '${metric}'${distance(metric, near) <= 3 ? ` (did you mean '${near}'?)` : ''}; valid: the summary's numeric fields, e.g. e2e_s.p99, throughput.requests_per_s (docs/regress.md)`, where);
}

/** Reads and parses a JSON file, keeping the lines of its keys. */
function readJson(file: string, what: string): Structured {
  const text = readTextFile(file, what, true);
  if (text.trim() === '') throw new InputError(`empty ${what} file`, { file, line: 1 });
  return parseStructured(text, file, 'json', what);
}

/** Run options holding file paths: relative to the scenario file, checked readable up front. */
const PATH_OPTIONS = { trace: 'trace', 'lengths-from': 'lengths-from trace', profile: 'profile' } as const;

/**
 * Reads, checks and expands a scenario file (format: docs/regress.md), all before anything runs:
 * every key known, every option value read as `sim run` reads that flag, every scenario's options
 * normalized together (a bad `policy-opt` or a model that does not fit fails here), every trace
 * and profile it names readable, every metric a known summary path. Paths are relative to the file.
 * @throws InputError naming the file, line, field (and scenario) for the first problem.
 */
export function loadScenarios(file: string): ScenarioSet {
  const abs = path.resolve(file);
  const { value: j, lineOf } = readJson(abs, 'scenario set');
  const at = (keys: KeyPath) => ({ file: abs, line: lineOf(keys), field: fieldName(keys) });
  const fail = (message: string, keys: KeyPath): never => {
    throw new InputError(message, at(keys));
  };
  if (!isObj(j)) fail('expected a JSON object {description, metrics, groups}', []);
  const top = j as Record<string, unknown>;
  for (const k of Object.keys(top)) if (!['description', 'metrics', 'groups'].includes(k)) fail('unknown key; valid: description, metrics, groups', [k]);
  if (!isObj(top.metrics) || Object.keys(top.metrics).length === 0) fail('expected a non-empty object of metric → {rel, abs}', ['metrics']);
  const metrics: Record<string, Tolerance> = {};
  for (const [k, t] of Object.entries(top.metrics as Record<string, unknown>)) {
    checkMetric(k, at(['metrics', k]));
    if (!isObj(t)) fail('expected {rel, abs} with non-negative numbers', ['metrics', k]);
    const tol = t as Record<string, unknown>;
    for (const tk of Object.keys(tol)) if (tk !== 'rel' && tk !== 'abs') fail('unknown key; valid: rel, abs', ['metrics', k, tk]);
    const read = (tk: 'rel' | 'abs') => {
      const keys = ['metrics', k, tk];
      if (tol[tk] === undefined) fail('required: a non-negative number', keys);
      return readNumber(tol[tk], fieldName(keys), { min: 0 }, { file: abs, line: lineOf(keys) });
    };
    metrics[k] = { rel: read('rel'), abs: read('abs') };
  }
  if (!Array.isArray(top.groups) || top.groups.length === 0) fail('expected a non-empty array', ['groups']);
  const dir = path.dirname(abs);
  const checkedFiles = new Set<string>();
  /** Reads a group's or case's run options (each as its flag), paths resolved and checked readable. */
  const readOptions = (o: Record<string, unknown>, keys: KeyPath, skip: readonly string[]): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (skip.includes(k)) continue;
      const kk = [...keys, k];
      if (k === 'seed') fail("give seeds in the group's \"seeds\" list", kk);
      if (!(RUN_KEYS as readonly string[]).includes(k)) fail(`unknown run option; valid: ${RUN_KEYS.join(', ')}${skip.length > 0 ? `, ${skip.join(', ')}` : ''}`, kk);
      let val = readRunOption(k, v, at(kk));
      if (k in PATH_OPTIONS) {
        if (val === '-') fail('standard input cannot be read by every scenario: give a file', kk);
        val = path.resolve(dir, val as string);
        if (!checkedFiles.has(val as string)) {
          checkReadableFile(val as string, PATH_OPTIONS[k as keyof typeof PATH_OPTIONS], at(kk));
          checkedFiles.add(val as string);
        }
      }
      out[k] = val;
    }
    return out;
  };
  const scenarios: Scenario[] = [];
  const seen = new Set<string>();
  (top.groups as unknown[]).forEach((g: unknown, gi: number) => {
    const gk = ['groups', gi];
    if (!isObj(g)) fail('expected {name, options, seeds, cases}', gk);
    const grp = g as Record<string, unknown>;
    for (const k of Object.keys(grp)) if (!['name', 'description', 'options', 'seeds', 'cases'].includes(k)) fail('unknown key; valid: name, description, options, seeds, cases', [...gk, k]);
    const name = readString(grp.name, fieldName([...gk, 'name']), { file: abs, line: lineOf([...gk, 'name']) ?? lineOf(gk) });
    if (grp.options !== undefined && !isObj(grp.options)) fail('expected an object of run options by flag name', [...gk, 'options']);
    const base = readOptions((grp.options as Record<string, unknown> | undefined) ?? {}, [...gk, 'options'], []);
    const seedsRaw = grp.seeds ?? [1];
    if (!Array.isArray(seedsRaw) || seedsRaw.length === 0) fail('expected a non-empty array of integers', [...gk, 'seeds']);
    const seeds = (seedsRaw as unknown[]).map((x, i) => readRunOption('seed', x, at([...gk, 'seeds', i])) as number);
    if (!Array.isArray(grp.cases) || grp.cases.length === 0) fail('expected a non-empty array', [...gk, 'cases']);
    (grp.cases as unknown[]).forEach((c: unknown, ci: number) => {
      const ck = [...gk, 'cases', ci];
      if (!isObj(c)) fail('expected {policy, ...options}', ck);
      const cas = c as Record<string, unknown>;
      if (cas.policy === undefined) fail('required: a policy', ck);
      const copts = readOptions(cas, ck, ['label']);
      const label = cas.label === undefined ? `${String(copts.policy)}${typeof copts.predictor === 'string' ? `+${copts.predictor}` : ''}` : readString(cas.label, fieldName([...ck, 'label']), { file: abs, line: lineOf([...ck, 'label']) });
      for (const seed of seeds) {
        const sname = `${name}/${label}/s${seed}`;
        if (seen.has(sname)) fail(`duplicate scenario '${sname}' (give the case a distinct "label")`, ck);
        seen.add(sname);
        const options = { ...base, ...copts, seed } as Partial<RunOptions>;
        try {
          normalizeOptions(options);
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          // Point at the option responsible when the case or its group sets it, else at the case.
          const f = (e.field ?? '').replace(/^--/, '');
          const keys = f in cas ? [...ck, f] : isObj(grp.options) && f in grp.options ? [...gk, 'options', f] : ck;
          throw new InputError(`scenario ${sname}: ${e.message}`, at(keys));
        }
        scenarios.push({ name: sname, options });
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
 * Reads a baseline file: `{note, scenarios: {name: {metric: number | null}}}`, every metric a known
 * summary path ({@link SUMMARY_METRICS}).
 * @throws InputError naming the file (line) and scenario for a missing or malformed baseline (hint:
 *   `sim regress --update`), an unknown metric path or a value that is not a number or null.
 */
export function readBaseline(file: string): Baseline {
  if (!fs.existsSync(file)) throw new InputError('no baseline: create it with `sim regress --update`', { file });
  const { value: j, lineOf } = readJson(file, 'baseline');
  const at = (keys: KeyPath) => ({ file, line: lineOf(keys), field: fieldName(keys) });
  if (isObj(j)) for (const k of Object.keys(j)) if (k !== 'note' && k !== 'scenarios') throw new InputError('unknown key; valid: note, scenarios', at([k]));
  if (!isObj(j) || !isObj(j.scenarios)) throw new InputError('expected {"scenarios": {name: {metric: value}}}', at(isObj(j) ? ['scenarios'] : []));
  for (const [name, v] of Object.entries(j.scenarios)) {
    const where = (m?: string) => ({ file, line: lineOf(m === undefined ? ['scenarios', name] : ['scenarios', name, m]), field: `scenarios.${name}` });
    if (!isObj(v)) throw new InputError('expected an object of metric → number or null', where());
    for (const [m, x] of Object.entries(v)) {
      checkMetric(m, where(m));
      if (x !== null && (typeof x !== 'number' || !Number.isFinite(x))) throw new InputError(`metric '${m}': expected a number or null (got ${JSON.stringify(x)})`, where(m));
    }
  }
  return { note: typeof j.note === 'string' ? j.note : '', scenarios: j.scenarios as Record<string, MetricValues> };
}

/**
 * Writes a baseline file atomically (scenarios in set order, metrics in set order; 2-space JSON,
 * trailing newline); its folder is created if needed.
 * @throws InputError (field `--baseline`) when the file cannot be written.
 */
export function writeBaseline(file: string, set: ScenarioSet, values: Record<string, MetricValues>): void {
  const scenarios: Record<string, MetricValues> = {};
  for (const sc of set.scenarios) {
    const v: MetricValues = {};
    for (const m of Object.keys(set.metrics)) v[m] = values[sc.name][m];
    scenarios[sc.name] = v;
  }
  const b: Baseline = { note: 'Written by `sim regress --update` from app/regress/scenarios.json; review the diff before committing (docs/regress.md).', scenarios };
  prepareOutputFile(file, '--baseline');
  writeFileAtomic(file, JSON.stringify(b, null, 2) + '\n');
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
  /** Scenario file; default app/regress/scenarios.json. */
  scenarios?: string;
  /** Baseline file; default app/regress/baseline.json. */
  baseline?: string;
  /** Rewrite the baseline with the current values instead of comparing. */
  update?: boolean;
}

/**
 * Runs the scenario set and compares it with the baseline (or, with `update`, rewrites the
 * baseline atomically and reports no drift). Both files are checked before anything runs.
 * @throws InputError for a bad scenario or baseline file, or (with `update`) a baseline that
 *   cannot be written.
 */
export async function regress(o: RegressOptions = {}): Promise<RegressReport> {
  const set = loadScenarios(o.scenarios ?? defaultScenariosFile());
  const baselineFile = o.baseline ?? defaultBaselineFile();
  // With --update, the baseline is checked writable before anything runs; else it is read first.
  if (o.update) prepareOutputFile(baselineFile, '--baseline');
  const baseline = o.update ? undefined : readBaseline(baselineFile);
  const { values, wall_s } = await runScenarios(set, o);
  if (o.update || !baseline) {
    writeBaseline(baselineFile, set, values);
    return { scenarios: set.scenarios.length, metrics: set.scenarios.length * Object.keys(set.metrics).length, drifts: [], wall_s };
  }
  return compare(set, baseline, values, wall_s);
}
