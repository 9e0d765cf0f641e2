/**
 * Accuracy of a cost model against Vidur's measured A100 operator times, and the fit of the
 * analytical model's achieved-compute and achieved-bandwidth fractions (computeEfficiency,
 * bandwidthEfficiency; per attention operator too), including the fit behind
 * ANALYTICAL_FITTED. See docs/calibration.md §6.
 */
import { AnalyticalCostModel, ANALYTICAL_DEFAULTS, ANALYTICAL_FITTED, type AnalyticalOptions, type OperatorName } from '../sim/cost/analytical.ts';
import { addPrefillChunk, emptyBatchShape, type BatchShape } from '../sim/cost/cost-model.ts';
import { getGpu, type GpuSpec } from '../sim/cost/gpus.ts';
import type { ModelSpec } from '../sim/cost/models.ts';
import { checkTp } from '../sim/cost/models.ts';
import { InputError } from '../sim/errors.ts';
import { readProfile } from './profile.ts';
import { ProfileCostModel, stderrLogger, type Logger } from '../sim/cost/profile.ts';
import { findVidurAttention, readVidurTable, resolveVidurModel, vidurSeries, vidurTps, VIDUR_OPERATORS, type Series, type Table2D } from './vidur.ts';

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

/** The shape of an iteration of one prefill chunk of `chunk` tokens after `prefix` cached ones, sampling once. */
export function prefillShape(prefix: number, chunk: number): BatchShape {
  const b = emptyBatchShape();
  addPrefillChunk(b, prefix, chunk);
  b.sampledSeqs = 1;
  return b;
}

/** The shape of an iteration of T prefill tokens in one request that samples once. */
export function tokensShape(T: number): BatchShape {
  return prefillShape(0, T);
}

/** The shape of an iteration of `batch` decodes, each attending `context` tokens. */
export function decodeShape(batch: number, context: number): BatchShape {
  return { ...emptyBatchShape(), decodeSeqs: batch, decodeKvTokens: batch * context, sampledSeqs: batch };
}

/**
 * Seconds the cost model gives `op` for shape `b`, in the unit Vidur measures: per layer
 * (all-layer time / layers) for per-layer operators, per iteration for `embedding`.
 */
export function perUnitTimeOf(m: AnalyticalCostModel, op: OperatorName, b: BatchShape): number {
  const t = m.breakdown(b)[op];
  return op === 'embedding' ? t : t / m.model.layers;
}

/** {@link perUnitTimeOf} at T prefill tokens of one request ({@link tokensShape}). */
export function perUnitTime(m: AnalyticalCostModel, op: OperatorName, T: number): number {
  return perUnitTimeOf(m, op, tokensShape(T));
}

/**
 * Roofline terms of an operator at each shape, read off the analytical model itself (so that the
 * fit uses exactly its FLOP and byte accounting): `compute[i]` = seconds at peak FLOP/s (memory
 * free), `memory[i]` = seconds at peak bandwidth (compute free), per layer.
 */
export function shapeTerms(model: ModelSpec, gpu: GpuSpec, tp: number, op: OperatorName, shapes: readonly BatchShape[]): { compute: number[]; memory: number[] } {
  const c = new AnalyticalCostModel({ model, gpu: { ...gpu, memBandwidth: Infinity }, tp, computeEfficiency: 1, minKernelTime_s: 0 });
  const m = new AnalyticalCostModel({ model, gpu: { ...gpu, bf16Flops: Infinity }, tp, bandwidthEfficiency: 1, minKernelTime_s: 0 });
  return { compute: shapes.map((b) => perUnitTimeOf(c, op, b)), memory: shapes.map((b) => perUnitTimeOf(m, op, b)) };
}

/** {@link shapeTerms} of a linear operator at each token count ({@link tokensShape}). */
export function rooflineTerms(model: ModelSpec, gpu: GpuSpec, tp: number, op: OperatorName, tokens: readonly number[]): { compute: number[]; memory: number[] } {
  return shapeTerms(model, gpu, tp, op, tokens.map(tokensShape));
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
  /** Vidur columns compared against, e.g. `attn_pre_proj`, `input_layernorm+…+2*add` or `attn_decode`. */
  vidur: string;
  /** Where the predictions come from. */
  source: 'analytical (fitted)' | 'analytical (defaults)' | 'profile' | 'analytical fallback';
  /**
   * Points fitted on (every third token count, or every third measured cell of an attention
   * table in row-major order) and evaluated on; for unfitted operators 0 and all.
   */
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
  /** MAPE of the analytical model at ANALYTICAL_FITTED (the default without a matching profile) on the same evaluation points. */
  mape_fitted?: number;
}

/** A validation report (what `--json` prints). */
export interface ValidationReport {
  /** `analytical` or the profile file validated. */
  validated: string;
  /** The Vidur table it was checked against (path relative to Vidur's profiling root when recognisable). */
  against: string;
  /** The attention table also checked against, when one has rows for the model and tp. */
  attention?: string;
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
  /** Attention table; default the `attention*.csv` beside mlp.csv with rows for the model and tp (none: attention not checked). */
  attention?: string;
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
  op === 'decode_attn' ? 'attn_decode' : op === 'prefill_attn' ? 'attn_prefill' : (VIDUR_OPERATORS[op] ?? []).map(([v, w]) => (w === 1 ? v : `${w}*${v}`)).join('+');

/** Indices of the fitting split: every third distinct token count (0, 3, 6, …); the rest evaluate. */
export function splitThirds(n: number): { fit: number[]; evaluate: number[] } {
  const fit: number[] = [];
  const evaluate: number[] = [];
  for (let i = 0; i < n; i++) (i % 3 === 0 ? fit : evaluate).push(i);
  return { fit, evaluate };
}

const pick = <T>(xs: readonly T[], idx: readonly number[]): T[] => idx.map((i) => xs[i]);

/** Measured points of one operator: the iteration shape of each and its median time per layer (s). */
export interface MeasuredPoints {
  op: OperatorName;
  shapes: BatchShape[];
  measured: number[];
}

/**
 * The measured cells of an attention table in row-major order, as shapes: decode (batch,
 * context) → {@link decodeShape}; prefill (prefix, chunk) → {@link prefillShape}.
 */
export function attentionPoints(op: 'decode_attn' | 'prefill_attn', t: Table2D): MeasuredPoints {
  const shapes: BatchShape[] = [];
  const measured: number[] = [];
  t.median.forEach((row, i) =>
    row.forEach((y, j) => {
      shapes.push(op === 'decode_attn' ? decodeShape(t.xs[i], t.ys[j]) : prefillShape(t.xs[i], t.ys[j]));
      measured.push(y);
    }),
  );
  return { op, shapes, measured };
}

/** The measured series of a linear or small operator, as shapes ({@link tokensShape}). */
function seriesPoints(op: OperatorName, s: Series): MeasuredPoints {
  return { op, shapes: s.tokens.map(tokensShape), measured: s.median };
}

/** The analytical options whose efficiencies of `op` are `ce` and `be` (the attention operators have their own). */
export function efficienciesFor(op: OperatorName, ce: number, be: number): Partial<AnalyticalOptions> {
  if (op === 'prefill_attn') return { prefillAttnComputeEfficiency: ce, prefillAttnBandwidthEfficiency: be };
  if (op === 'decode_attn') return { decodeAttnComputeEfficiency: ce, decodeAttnBandwidthEfficiency: be };
  return { computeEfficiency: ce, bandwidthEfficiency: be };
}

/**
 * Fits (computeEfficiency, bandwidthEfficiency) of one operator on every third measured point
 * ({@link splitThirds}) and evaluates the analytical model built with them on the rest; also the
 * error at ANALYTICAL_DEFAULTS and at ANALYTICAL_FITTED on the same held-out points.
 */
export function fitOperator(model: ModelSpec, gpu: GpuSpec, tp: number, pts: MeasuredPoints): OperatorValidation {
  const { op, shapes, measured } = pts;
  const { fit, evaluate } = splitThirds(shapes.length);
  const terms = shapeTerms(model, gpu, tp, op, pick(shapes, fit));
  const f = fitEfficiencies(terms.compute, terms.memory, pick(measured, fit));
  const predict = (m: AnalyticalCostModel, idx: number[]) => idx.map((i) => perUnitTimeOf(m, op, shapes[i]));
  const fitted = new AnalyticalCostModel({ model, gpu, tp, ...efficienciesFor(op, f.computeEfficiency, f.bandwidthEfficiency) });
  const yEval = pick(measured, evaluate);
  const pred = predict(fitted, evaluate);
  return {
    op,
    vidur: vidurLabel(op),
    source: 'analytical (fitted)',
    n_fit: fit.length,
    n_eval: evaluate.length,
    computeEfficiency: f.computeEfficiency,
    bandwidthEfficiency: f.bandwidthEfficiency,
    mape_fit: mape(predict(fitted, fit), pick(measured, fit)),
    mape: mape(pred, yEval),
    max_ape: maxApe(pred, yEval),
    mape_defaults: mape(predict(new AnalyticalCostModel({ model, gpu, tp }), evaluate), yEval),
    mape_fitted: mape(predict(new AnalyticalCostModel({ model, gpu, tp, ...ANALYTICAL_FITTED }), evaluate), yEval),
  };
}

/**
 * Checks a cost model against a Vidur `mlp.csv` (DIR: the model folder) at one tp, and against
 * the attention table beside it when one has rows for the model and tp.
 *
 * `validated = 'analytical'`: for each linear operator (qkv_proj, attn_out_proj, mlp_gate_up,
 * mlp_down) and each attention operator (decode_attn over batch × context, prefill_attn over
 * prefix × chunk) fits computeEfficiency and bandwidthEfficiency on every third point (token
 * count, or measured cell in row-major order) and reports the MAPE of the analytical model with
 * those constants on the other two thirds (and, for comparison, at ANALYTICAL_DEFAULTS and at
 * ANALYTICAL_FITTED); also one pair fitted on the four linear operators together. The other
 * operators Vidur measures (mlp_act, norm_rope_residual, embedding) are reported at the defaults
 * over all token counts.
 *
 * `validated = <profile file>`: the profile's cost model (interpolated operators, analytical for
 * the rest) against every point, per operator; attention without the profile's batch_overhead
 * (the tables time one kernel call). For a profile imported from the same tables the error is ~0.
 * @throws InputError for unreadable tables or profiles, unknown names, or a tp the table lacks.
 */
export function validateAgainstVidur(validated: string, dir: string, opts: ValidateOptions = {}): ValidationReport {
  const log = opts.log ?? stderrLogger;
  const table = readVidurTable(dir);
  const model = resolveVidurModel(table, opts.model, log);
  const gpu = gpuFor(table.device, opts.gpu, table.file);
  const tp = checkTp(model, opts.tp ?? 1);
  const series = vidurSeries(table, tp);
  const attn = findVidurAttention(table, model, tp, opts.attention);
  const report: ValidationReport = { validated, against: table.relative, model: model.name, gpu: gpu.name, tp, operators: [] };
  if (attn) report.attention = attn.relative;
  const points: MeasuredPoints[] = [...series].map(([op, s]) => seriesPoints(op, s));
  if (attn?.decode) points.push(attentionPoints('decode_attn', attn.decode));
  if (attn?.prefill) points.push(attentionPoints('prefill_attn', attn.prefill));

  if (validated !== 'analytical') {
    const profile = readProfile(validated);
    const pm = new ProfileCostModel({ profile, file: validated, model, gpu, tp, log });
    for (const { op, shapes, measured } of points) {
      const overhead = 1 + (profile.operators[op]?.batch_overhead ?? 0);
      const pred = shapes.map((b) => {
        const t = perUnitTimeOf(pm, op, b);
        const batched = op === 'decode_attn' ? b.decodeSeqs > 1 : op === 'prefill_attn' && b.prefillSeqs > 1;
        return batched ? t / overhead : t;
      });
      report.operators.push({
        op,
        vidur: vidurLabel(op),
        source: pm.profiled.includes(op) ? 'profile' : 'analytical fallback',
        n_fit: 0,
        n_eval: shapes.length,
        mape: mape(pred, measured),
        max_ape: maxApe(pred, measured),
      });
    }
    return report;
  }

  const defaults = new AnalyticalCostModel({ model, gpu, tp });
  const joint: { c: number[]; m: number[]; y: number[]; evals: { pts: MeasuredPoints; idx: number[] }[] } = { c: [], m: [], y: [], evals: [] };
  for (const pts of points) {
    const { op, shapes, measured } = pts;
    const fittedOp = (LINEAR_OPERATORS as readonly string[]).includes(op) || op === 'decode_attn' || op === 'prefill_attn';
    if (!fittedOp) {
      const pred = shapes.map((b) => perUnitTimeOf(defaults, op, b));
      report.operators.push({ op, vidur: vidurLabel(op), source: 'analytical (defaults)', n_fit: 0, n_eval: shapes.length, mape: mape(pred, measured), max_ape: maxApe(pred, measured) });
      continue;
    }
    report.operators.push(fitOperator(model, gpu, tp, pts));
    if (op === 'decode_attn' || op === 'prefill_attn') continue;
    const { fit, evaluate } = splitThirds(shapes.length);
    const terms = shapeTerms(model, gpu, tp, op, pick(shapes, fit));
    joint.c.push(...terms.compute);
    joint.m.push(...terms.memory);
    joint.y.push(...pick(measured, fit));
    joint.evals.push({ pts, idx: evaluate });
  }
  if (joint.y.length > 0) report.joint = fitJoint(model, gpu, tp, joint);
  return report;
}

/** One (computeEfficiency, bandwidthEfficiency) pair fitted on the pooled fitting points; MAPE on the pooled held-out points. */
function fitJoint(model: ModelSpec, gpu: GpuSpec, tp: number, joint: { c: number[]; m: number[]; y: number[]; evals: { pts: MeasuredPoints; idx: number[] }[] }): NonNullable<ValidationReport['joint']> {
  const f = fitEfficiencies(joint.c, joint.m, joint.y);
  const fitted = new AnalyticalCostModel({ model, gpu, tp, computeEfficiency: f.computeEfficiency, bandwidthEfficiency: f.bandwidthEfficiency });
  const pred: number[] = [];
  const meas: number[] = [];
  for (const e of joint.evals) {
    for (const i of e.idx) {
      pred.push(perUnitTimeOf(fitted, e.pts.op, e.pts.shapes[i]));
      meas.push(e.pts.measured[i]);
    }
  }
  return { computeEfficiency: f.computeEfficiency, bandwidthEfficiency: f.bandwidthEfficiency, mape_fit: f.mape, mape: mape(pred, meas), n_fit: joint.y.length, n_eval: meas.length };
}

/** What {@link fitAnalyticalDefaults} returns: the constants and their held-out errors. */
export interface DefaultsFit {
  /** The fitted options (what ANALYTICAL_FITTED should hold). */
  efficiencies: Required<Pick<AnalyticalOptions, 'computeEfficiency' | 'bandwidthEfficiency' | 'prefillAttnComputeEfficiency' | 'prefillAttnBandwidthEfficiency' | 'decodeAttnComputeEfficiency' | 'decodeAttnBandwidthEfficiency'>>;
  /** Held-out MAPE of the linear operators pooled over every table and tp, and points fitted/evaluated. */
  linear: { mape: number; n_fit: number; n_eval: number };
  /** Per attention operator: the fit's report line (held-out MAPE on two thirds of the cells). */
  attention: OperatorValidation[];
}

/**
 * The fit behind ANALYTICAL_FITTED: one (computeEfficiency, bandwidthEfficiency) pair for the
 * linear operators, fitted jointly on every third token count of the four linear operators of
 * every `mlp.csv` given at every tp it holds (its model told from the folder, on its device's
 * GPU), and one pair per attention operator fitted on every third cell of the one attention table
 * found beside them (see {@link fitOperator}).
 * @param dirs Vidur model folders (compute/<device>/<org>/<model>).
 * @throws InputError for unreadable tables; RangeError when no attention table is found.
 */
export function fitAnalyticalDefaults(dirs: readonly string[], log: Logger = stderrLogger): DefaultsFit {
  const joint: { c: number[]; m: number[]; y: number[]; evals: { pts: MeasuredPoints; idx: number[]; model: ModelSpec; gpu: GpuSpec; tp: number }[] } = { c: [], m: [], y: [], evals: [] };
  const attention: OperatorValidation[] = [];
  for (const dir of dirs) {
    const table = readVidurTable(dir);
    const model = resolveVidurModel(table, undefined, log);
    const gpu = gpuFor(table.device, undefined, table.file);
    for (const tp of vidurTps(table)) {
      for (const [op, s] of vidurSeries(table, tp)) {
        if (!(LINEAR_OPERATORS as readonly string[]).includes(op)) continue;
        const pts = seriesPoints(op, s);
        const { fit, evaluate } = splitThirds(s.tokens.length);
        const terms = shapeTerms(model, gpu, tp, op, pick(pts.shapes, fit));
        joint.c.push(...terms.compute);
        joint.m.push(...terms.memory);
        joint.y.push(...pick(pts.measured, fit));
        joint.evals.push({ pts, idx: evaluate, model, gpu, tp });
      }
      const attn = findVidurAttention(table, model, tp, undefined);
      if (attn?.decode) attention.push(fitOperator(model, gpu, tp, attentionPoints('decode_attn', attn.decode)));
      if (attn?.prefill) attention.push(fitOperator(model, gpu, tp, attentionPoints('prefill_attn', attn.prefill)));
    }
  }
  const dec = attention.find((o) => o.op === 'decode_attn');
  const pre = attention.find((o) => o.op === 'prefill_attn');
  if (!dec || !pre) throw new RangeError('fitAnalyticalDefaults: no attention table with decode and prefill rows beside the given mlp.csv files');
  const f = fitEfficiencies(joint.c, joint.m, joint.y);
  const pred: number[] = [];
  const meas: number[] = [];
  for (const e of joint.evals) {
    const m = new AnalyticalCostModel({ model: e.model, gpu: e.gpu, tp: e.tp, computeEfficiency: f.computeEfficiency, bandwidthEfficiency: f.bandwidthEfficiency });
    for (const i of e.idx) {
      pred.push(perUnitTimeOf(m, e.pts.op, e.pts.shapes[i]));
      meas.push(e.pts.measured[i]);
    }
  }
  return {
    efficiencies: {
      computeEfficiency: f.computeEfficiency,
      bandwidthEfficiency: f.bandwidthEfficiency,
      prefillAttnComputeEfficiency: pre.computeEfficiency!,
      prefillAttnBandwidthEfficiency: pre.bandwidthEfficiency!,
      decodeAttnComputeEfficiency: dec.computeEfficiency!,
      decodeAttnBandwidthEfficiency: dec.bandwidthEfficiency!,
    },
    linear: { mape: mape(pred, meas), n_fit: joint.y.length, n_eval: meas.length },
    attention,
  };
}

const pct = (x: number | undefined): string => (x === undefined ? '' : `${(100 * x).toFixed(1)}%`);
const eff = (x: number | undefined): string => (x === undefined ? '' : x.toFixed(4));

/** A validation report as an aligned text table (one line per operator), newline-terminated. */
export function formatValidation(r: ValidationReport): string {
  const head = `${r.validated === 'analytical' ? 'analytical model' : `profile ${r.validated}`} against ${r.against}${r.attention ? ` and ${r.attention}` : ''} (${r.model} on ${r.gpu}, tp=${r.tp})`;
  const rows: string[][] = [['operator', 'vidur columns', 'source', 'fit/eval', 'compute eff', 'bandwidth eff', 'MAPE fit', 'MAPE', 'max APE', 'MAPE defaults', 'MAPE fitted defaults']];
  for (const o of r.operators) {
    rows.push([o.op, o.vidur, o.source, `${o.n_fit}/${o.n_eval}`, eff(o.computeEfficiency), eff(o.bandwidthEfficiency), pct(o.mape_fit), pct(o.mape), pct(o.max_ape), pct(o.mape_defaults), pct(o.mape_fitted)]);
  }
  if (r.joint) {
    const j = r.joint;
    rows.push(['linear (joint)', '4 linear ops', 'analytical (fitted)', `${j.n_fit}/${j.n_eval}`, eff(j.computeEfficiency), eff(j.bandwidthEfficiency), pct(j.mape_fit), pct(j.mape), '', '', '']);
  }
  // Leave out columns empty in every row (e.g. the fit columns when validating a profile).
  const keep = rows[0].map((_, j) => rows.slice(1).some((row) => row[j] !== ''));
  const shown = rows.map((row) => row.filter((_, j) => keep[j]));
  const widths = shown[0].map((_, j) => Math.max(...shown.map((row) => row[j].length)));
  const lines = shown.map((row) => row.map((c, j) => (j === row.length - 1 ? c : c.padEnd(widths[j] + 2))).join('').trimEnd());
  const foot =
    r.validated === 'analytical'
      ? 'MAPE: fitted operators on the held-out two thirds of the token counts or attention cells (fit on every third); others at ANALYTICAL_DEFAULTS on all token counts. Fitted defaults: ANALYTICAL_FITTED.'
      : 'MAPE over every token count and attention cell of the tables (attention without the profile\'s batch_overhead).';
  return [head, ...lines, foot].join('\n') + '\n';
}
