/**
 * Accuracy of a cost model against Vidur's measured A100 operator times, and the fit of the
 * analytical model's achieved-compute and achieved-bandwidth fractions (computeEfficiency,
 * bandwidthEfficiency). See docs/calibration.md §6.
 */
import { AnalyticalCostModel, ANALYTICAL_DEFAULTS, type OperatorName } from '../sim/cost/analytical.ts';
import type { BatchShape } from '../sim/cost/cost-model.ts';
import { getGpu, type GpuSpec } from '../sim/cost/gpus.ts';
import type { ModelSpec } from '../sim/cost/models.ts';
import { checkTp } from '../sim/cost/models.ts';
import { InputError } from '../sim/errors.ts';
import { readProfile } from './profile.ts';
import { ProfileCostModel, stderrLogger, type Logger } from '../sim/cost/profile.ts';
import { readVidurTable, resolveVidurModel, vidurSeries, VIDUR_OPERATORS, type Series } from './vidur.ts';

/** The linear operators whose efficiencies are fitted (GEMMs). */
export const LINEAR_OPERATORS = ['qkv_proj', 'attn_out_proj', 'mlp_gate_up', 'mlp_down'] as const satisfies readonly OperatorName[];

/**
 * Mean absolute percentage error, a fraction: mean over i of |pred[i] − meas[i]| / meas[i], over
 * the points with meas[i] > 0. Returns 0 for no such point.
 */
export function mape(pred: ArrayLike<number>, meas: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < meas.length; i++) {
    if (!(meas[i] > 0)) continue;
    s += Math.abs(pred[i] - meas[i]) / meas[i];
    n++;
  }
  return n > 0 ? s / n : 0;
}

/** Largest absolute percentage error, a fraction (0 for no point with meas > 0). */
export function maxApe(pred: ArrayLike<number>, meas: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < meas.length; i++) if (meas[i] > 0) m = Math.max(m, Math.abs(pred[i] - meas[i]) / meas[i]);
  return m;
}

/** The shape of an iteration of T prefill tokens in one request that samples once. */
export function tokensShape(T: number): BatchShape {
  return {
    prefillTokens: T,
    prefillSeqs: 1,
    prefillAttnPairs: (T * (T + 1)) / 2,
    prefillCachedTokens: 0,
    decodeSeqs: 0,
    decodeKvTokens: 0,
    sampledSeqs: 1,
  };
}

/**
 * Seconds the cost model gives `op` at T tokens, in the unit Vidur measures: per layer (all-layer
 * time / layers) for per-layer operators, per iteration for `embedding`.
 */
export function perUnitTime(m: AnalyticalCostModel, op: OperatorName, T: number): number {
  const t = m.breakdown(tokensShape(T))[op];
  return op === 'embedding' ? t : t / m.model.layers;
}

/**
 * Roofline terms of a linear operator at each token count, read off the analytical model itself
 * (so that the fit uses exactly its FLOP and byte accounting): `compute[i]` = seconds at peak
 * FLOP/s (memory free), `memory[i]` = seconds at peak bandwidth (compute free), per layer.
 */
export function rooflineTerms(model: ModelSpec, gpu: GpuSpec, tp: number, op: OperatorName, tokens: readonly number[]): { compute: number[]; memory: number[] } {
  const c = new AnalyticalCostModel({ model, gpu: { ...gpu, memBandwidth: Infinity }, tp, computeEfficiency: 1, minKernelTime_s: 0 });
  const m = new AnalyticalCostModel({ model, gpu: { ...gpu, bf16Flops: Infinity }, tp, bandwidthEfficiency: 1, minKernelTime_s: 0 });
  return { compute: tokens.map((T) => perUnitTime(c, op, T)), memory: tokens.map((T) => perUnitTime(m, op, T)) };
}

/** Fitted efficiencies and the training error. */
export interface EfficiencyFit {
  computeEfficiency: number;
  bandwidthEfficiency: number;
  /** MAPE on the fitting points, a fraction. */
  mape: number;
}

/**
 * Fits (computeEfficiency, bandwidthEfficiency) in (0, 1] minimising the MAPE of
 * max(compute/ce, memory/be, floor) against `measured` (all arrays per point, seconds): a grid
 * search at steps of 0.01, then at steps of 0.0005 within ±0.01 of the best. Ties keep the first
 * (smallest) values found.
 * @throws RangeError for arrays of different lengths or no point.
 */
export function fitEfficiencies(compute: readonly number[], memory: readonly number[], measured: readonly number[], floor_s: number = ANALYTICAL_DEFAULTS.minKernelTime_s): EfficiencyFit {
  const n = measured.length;
  if (n === 0 || compute.length !== n || memory.length !== n) throw new RangeError('fitEfficiencies needs equal, non-empty arrays');
  const err = (ce: number, be: number): number => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const p = Math.max(compute[i] / ce, memory[i] / be, floor_s);
      s += Math.abs(p - measured[i]) / measured[i];
    }
    return s / n;
  };
  let best = { computeEfficiency: 1, bandwidthEfficiency: 1, mape: Infinity };
  const search = (lo1: number, hi1: number, lo2: number, hi2: number, step: number): void => {
    for (let a = lo1; a <= hi1 + 1e-12; a += step) {
      for (let b = lo2; b <= hi2 + 1e-12; b += step) {
        const ce = Math.min(1, Number(a.toFixed(6)));
        const be = Math.min(1, Number(b.toFixed(6)));
        const e = err(ce, be);
        if (e < best.mape) best = { computeEfficiency: ce, bandwidthEfficiency: be, mape: e };
      }
    }
  };
  search(0.01, 1, 0.01, 1, 0.01);
  const { computeEfficiency: c0, bandwidthEfficiency: b0 } = best;
  const f = 0.0005;
  search(Math.max(f, c0 - 0.01), Math.min(1, c0 + 0.01), Math.max(f, b0 - 0.01), Math.min(1, b0 + 0.01), f);
  return best;
}

/** One operator's line of a validation report. Errors are fractions (0.05 = 5%). */
export interface OperatorValidation {
  op: OperatorName;
  /** Vidur columns compared against, e.g. `attn_pre_proj` or `input_layernorm+…+2*add`. */
  vidur: string;
  /** Where the predictions come from. */
  source: 'analytical (fitted)' | 'analytical (defaults)' | 'profile' | 'analytical fallback';
  /** Token counts fitted on (every third) and evaluated on; for unfitted operators 0 and all. */
  n_fit: number;
  n_eval: number;
  /** Fitted efficiencies (fitted operators only). */
  computeEfficiency?: number;
  bandwidthEfficiency?: number;
  /** MAPE on the fitting points (fitted operators only). */
  mape_fit?: number;
  /** MAPE on the evaluation points: the held-out two thirds when fitted, else all points. */
  mape: number;
  /** Largest error on the evaluation points. */
  max_ape: number;
  /** MAPE of the analytical model at ANALYTICAL_DEFAULTS on the same evaluation points. */
  mape_defaults?: number;
}

/** A validation report (what `--json` prints). */
export interface ValidationReport {
  /** `analytical` or the profile file validated. */
  validated: string;
  /** The Vidur table it was checked against (path relative to Vidur's profiling root when recognisable). */
  against: string;
  model: string;
  gpu: string;
  tp: number;
  operators: OperatorValidation[];
  /** Analytical mode: one (computeEfficiency, bandwidthEfficiency) pair fitted on all four linear operators together. */
  joint?: { computeEfficiency: number; bandwidthEfficiency: number; mape_fit: number; mape: number; n_fit: number; n_eval: number };
}

/** Options of {@link validateAgainstVidur}. */
export interface ValidateOptions {
  /** Model name; default told from the Vidur folder. */
  model?: string;
  /** GPU name; default from the table's device (`a100` → `a100-80gb`, `h100` → `h100-80gb`). */
  gpu?: string;
  /** Tensor-parallel degree (rows compared); default 1. */
  tp?: number;
  log?: Logger;
}

/** GPU of a Vidur device folder. */
function gpuFor(device: string, name: string | undefined, file: string): GpuSpec {
  if (name !== undefined) return getGpu(name);
  if (device === 'a100') return getGpu('a100-80gb');
  if (device === 'h100') return getGpu('h100-80gb');
  throw new InputError(`cannot tell the GPU of device folder '${device}': give --gpu NAME`, { file, field: '--gpu' });
}

const vidurLabel = (op: OperatorName): string =>
  (VIDUR_OPERATORS[op] ?? []).map(([v, w]) => (w === 1 ? v : `${w}*${v}`)).join('+');

/** Indices of the fitting split: every third distinct token count (0, 3, 6, …); the rest evaluate. */
export function splitThirds(n: number): { fit: number[]; evaluate: number[] } {
  const fit: number[] = [];
  const evaluate: number[] = [];
  for (let i = 0; i < n; i++) (i % 3 === 0 ? fit : evaluate).push(i);
  return { fit, evaluate };
}

const pick = <T>(xs: readonly T[], idx: readonly number[]): T[] => idx.map((i) => xs[i]);

/**
 * Checks a cost model against a Vidur `mlp.csv` (DIR: the model folder) at one tp.
 *
 * `validated = 'analytical'`: for each linear operator (qkv_proj, attn_out_proj, mlp_gate_up,
 * mlp_down) fits computeEfficiency and bandwidthEfficiency on every third token count and reports
 * the MAPE of the analytical model with those constants on the other two thirds (and, for
 * comparison, at ANALYTICAL_DEFAULTS); also one pair fitted on the four together. The other
 * operators Vidur measures (mlp_act, norm_rope_residual, embedding) are reported at the defaults
 * over all token counts.
 *
 * `validated = <profile file>`: the profile's cost model (interpolated operators, analytical for
 * the rest) against every token count, per operator; for a profile imported from the same table
 * the error is ~0 on the grid.
 * @throws InputError for unreadable tables or profiles, unknown names, or a tp the table lacks.
 */
export function validateAgainstVidur(validated: string, dir: string, opts: ValidateOptions = {}): ValidationReport {
  const log = opts.log ?? stderrLogger;
  const table = readVidurTable(dir);
  const model = resolveVidurModel(table, opts.model, log);
  const gpu = gpuFor(table.device, opts.gpu, table.file);
  const tp = checkTp(model, opts.tp ?? 1);
  const series = vidurSeries(table, tp);
  const report: ValidationReport = { validated, against: table.relative, model: model.name, gpu: gpu.name, tp, operators: [] };
  const defaults = new AnalyticalCostModel({ model, gpu, tp });

  if (validated !== 'analytical') {
    const profile = readProfile(validated);
    const pm = new ProfileCostModel({ profile, file: validated, model, gpu, tp, log });
    for (const [op, s] of series) {
      const pred = s.tokens.map((T) => perUnitTime(pm, op, T));
      report.operators.push({
        op,
        vidur: vidurLabel(op),
        source: pm.profiled.includes(op) ? 'profile' : 'analytical fallback',
        n_fit: 0,
        n_eval: s.tokens.length,
        mape: mape(pred, s.median),
        max_ape: maxApe(pred, s.median),
      });
    }
    return report;
  }

  const joint: { c: number[]; m: number[]; y: number[]; evals: { op: OperatorName; s: Series; idx: number[] }[] } = { c: [], m: [], y: [], evals: [] };
  for (const [op, s] of series) {
    const { fit, evaluate } = splitThirds(s.tokens.length);
    const yEval = pick(s.median, evaluate);
    const predDefault = pick(s.tokens, evaluate).map((T) => perUnitTime(defaults, op, T));
    if (!(LINEAR_OPERATORS as readonly string[]).includes(op)) {
      const pred = s.tokens.map((T) => perUnitTime(defaults, op, T));
      report.operators.push({ op, vidur: vidurLabel(op), source: 'analytical (defaults)', n_fit: 0, n_eval: s.tokens.length, mape: mape(pred, s.median), max_ape: maxApe(pred, s.median) });
      continue;
    }
    const terms = rooflineTerms(model, gpu, tp, op, s.tokens);
    const f = fitEfficiencies(pick(terms.compute, fit), pick(terms.memory, fit), pick(s.median, fit));
    joint.c.push(...pick(terms.compute, fit));
    joint.m.push(...pick(terms.memory, fit));
    joint.y.push(...pick(s.median, fit));
    joint.evals.push({ op, s, idx: evaluate });
    // The reported error is the analytical model's own, built with the fitted constants.
    const fitted = new AnalyticalCostModel({ model, gpu, tp, computeEfficiency: f.computeEfficiency, bandwidthEfficiency: f.bandwidthEfficiency });
    const pred = pick(s.tokens, evaluate).map((T) => perUnitTime(fitted, op, T));
    const predFit = pick(s.tokens, fit).map((T) => perUnitTime(fitted, op, T));
    report.operators.push({
      op,
      vidur: vidurLabel(op),
      source: 'analytical (fitted)',
      n_fit: fit.length,
      n_eval: evaluate.length,
      computeEfficiency: f.computeEfficiency,
      bandwidthEfficiency: f.bandwidthEfficiency,
      mape_fit: mape(predFit, pick(s.median, fit)),
      mape: mape(pred, yEval),
      max_ape: maxApe(pred, yEval),
      mape_defaults: mape(predDefault, yEval),
    });
  }
  if (joint.y.length > 0) {
    const f = fitEfficiencies(joint.c, joint.m, joint.y);
    const fitted = new AnalyticalCostModel({ model, gpu, tp, computeEfficiency: f.computeEfficiency, bandwidthEfficiency: f.bandwidthEfficiency });
    const pred: number[] = [];
    const meas: number[] = [];
    for (const e of joint.evals) {
      for (const i of e.idx) {
        pred.push(perUnitTime(fitted, e.op, e.s.tokens[i]));
        meas.push(e.s.median[i]);
      }
    }
    report.joint = {
      computeEfficiency: f.computeEfficiency,
      bandwidthEfficiency: f.bandwidthEfficiency,
      mape_fit: f.mape,
      mape: mape(pred, meas),
      n_fit: joint.y.length,
      n_eval: meas.length,
    };
  }
  return report;
}

const pct = (x: number | undefined): string => (x === undefined ? '' : `${(100 * x).toFixed(1)}%`);
const eff = (x: number | undefined): string => (x === undefined ? '' : x.toFixed(4));

/** A validation report as an aligned text table (one line per operator), newline-terminated. */
export function formatValidation(r: ValidationReport): string {
  const head = `${r.validated === 'analytical' ? 'analytical model' : `profile ${r.validated}`} against ${r.against} (${r.model} on ${r.gpu}, tp=${r.tp})`;
  const rows: string[][] = [['operator', 'vidur columns', 'source', 'fit/eval', 'compute eff', 'bandwidth eff', 'MAPE fit', 'MAPE', 'max APE', 'MAPE defaults']];
  for (const o of r.operators) {
    rows.push([o.op, o.vidur, o.source, `${o.n_fit}/${o.n_eval}`, eff(o.computeEfficiency), eff(o.bandwidthEfficiency), pct(o.mape_fit), pct(o.mape), pct(o.max_ape), pct(o.mape_defaults)]);
  }
  if (r.joint) {
    const j = r.joint;
    rows.push(['linear (joint)', '4 linear ops', 'analytical (fitted)', `${j.n_fit}/${j.n_eval}`, eff(j.computeEfficiency), eff(j.bandwidthEfficiency), pct(j.mape_fit), pct(j.mape), '', '']);
  }
  // Leave out columns empty in every row (e.g. the fit columns when validating a profile).
  const keep = rows[0].map((_, j) => rows.slice(1).some((row) => row[j] !== ''));
  const shown = rows.map((row) => row.filter((_, j) => keep[j]));
  const widths = shown[0].map((_, j) => Math.max(...shown.map((row) => row[j].length)));
  const lines = shown.map((row) => row.map((c, j) => (j === row.length - 1 ? c : c.padEnd(widths[j] + 2))).join('').trimEnd());
  const foot =
    r.validated === 'analytical'
      ? 'MAPE: fitted operators on the held-out two thirds of the token counts (fit on every third); others at ANALYTICAL_DEFAULTS on all token counts.'
      : 'MAPE over every token count of the table.';
  return [head, ...lines, foot].join('\n') + '\n';
}
