/**
 * The cost model of a measured profile: the analytical model with the profiled operators replaced
 * by interpolation over their measured grids (docs/calibration.md §3).
 */
import path from 'node:path';
import type { BatchShape } from './cost-model.ts';
import type { ModelSpec } from './models.ts';
import type { GpuSpec } from './gpus.ts';
import { AnalyticalCostModel, type AnalyticalOptions, type OperatorName, type OperatorTimeFn } from './analytical.ts';
import { GridInterpolator1D, GridInterpolator2D } from './interpolate.ts';
import type { OperatorProfile, Profile, TimeUnit } from './profile-format.ts';

/** Receives one warning line (no trailing newline). */
export type Logger = (message: string) => void;

/** Default logger: `sim: warning: …` on stderr. */
export const stderrLogger: Logger = (m) => {
  process.stderr.write(`sim: warning: ${m}\n`);
};

/** Construction options of {@link ProfileCostModel}. */
export interface ProfileCostModelOptions {
  /** A validated profile (see readProfile / validateProfile in calibrate/profile.ts). */
  profile: Profile;
  /** File it came from, for names and warnings. */
  file: string;
  /** The run's model, GPU and tensor-parallel degree (the analytical fallback prices these). */
  model: ModelSpec;
  gpu: GpuSpec;
  tp: number;
  /** Warnings (model or tp mismatch, extrapolation); default {@link stderrLogger}. */
  log?: Logger;
  /** Analytical options for the operators the profile does not cover (efficiencies, overhead). */
  analytical?: Omit<AnalyticalOptions, 'model' | 'gpu' | 'tp' | 'overrides' | 'overridesReadShapeOnly'>;
}

/**
 * How many times a profiled value counts in one iteration: `layer` → model.layers, `iteration` → 1,
 * `call` (all-reduce) → 2·layers + 1 at tp > 1 (after the attention output and MLP down
 * projections of every layer, and after the vocabulary-parallel embedding), 0 at tp = 1.
 */
export function unitMultiplier(per: TimeUnit, model: ModelSpec, tp: number): number {
  if (per === 'layer') return model.layers;
  if (per === 'iteration') return 1;
  return tp > 1 ? 2 * model.layers + 1 : 0;
}

/**
 * Equivalent per-request prefill length of a batch's prefill attention: the s whose full causal
 * prefill has the batch's mean query-key pairs, s(s+1)/2 = prefillAttnPairs / prefillSeqs. A
 * chunk of c tokens after p cached ones (c·(p + (c+1)/2) pairs) is thus priced by its attention
 * FLOPs. Returns 0 for a shape without prefills.
 */
export function equivalentSeqLen(b: BatchShape): number {
  if (b.prefillSeqs <= 0) return 0;
  const pairs = b.prefillAttnPairs / b.prefillSeqs;
  return pairs > 0 ? (Math.sqrt(1 + 8 * pairs) - 1) / 2 : 0;
}

/**
 * An {@link AnalyticalCostModel} whose operators covered by a profile are priced by interpolating
 * the profile (per operator: the grid value times {@link unitMultiplier}); operators the profile
 * does not cover stay analytical. Axis values taken from the shape: `tokens` = prefillTokens +
 * decodeSeqs; `seqs` = sampledSeqs; `seq_len` = {@link equivalentSeqLen}, and prefill attention
 * costs prefillSeqs × the per-request time; `prefix` × `chunk` = each prefill chunk's
 * (prefillPrefix[k], prefillChunk[k]), and prefill attention costs the sum over the chunks;
 * `batch` = decodeSeqs and `context` = decodeKvTokens / decodeSeqs. An attention operator with a
 * `batch_overhead` f costs (1 + f) × that when the iteration holds more than one of its requests.
 * An operator with a zero count (no prefill, no decode, nothing sampled) costs 0. Shapes outside a
 * grid are extrapolated (interpolate.ts) and logged once per operator. Name:
 * `profile(<file name>, <model>, tp=<tp>)`.
 */
export class ProfileCostModel extends AnalyticalCostModel {
  override readonly name: string = '';
  /** The profile interpolated. */
  readonly profile: Profile;
  /** The operators it prices from the profile (the rest are analytical). */
  readonly profiled: readonly OperatorName[];

  /** Warns (through `opts.log`) when the profile's model, architecture or tp differ from the run's. */
  constructor(opts: ProfileCostModelOptions) {
    const log = opts.log ?? stderrLogger;
    const { profile, model, tp } = opts;
    const where = `profile ${opts.file}`;
    const diff = architectureDiff(profile, model);
    if (profile.model !== model.name && (diff === undefined || diff.length > 0)) {
      log(`${where} was measured for model '${profile.model}', this run simulates '${model.name}'`);
    } else if (diff !== undefined && diff.length > 0) {
      log(`${where}: architecture differs from ${model.name} in ${diff.join(', ')}`);
    }
    if (profile.tp !== tp) log(`${where} was measured at tp=${profile.tp}, this run uses tp=${tp}`);
    const overrides: Partial<Record<OperatorName, OperatorTimeFn>> = {};
    for (const [name, op] of Object.entries(profile.operators) as [OperatorName, OperatorProfile][]) {
      overrides[name] = operatorFn(name, op, unitMultiplier(op.per, model, tp), where, log);
    }
    super({ ...opts.analytical, model, gpu: opts.gpu, tp, overrides, overridesReadShapeOnly: true });
    this.name = `profile(${path.basename(opts.file)}, ${model.name}, tp=${tp})`;
    this.profile = profile;
    this.profiled = Object.keys(overrides) as OperatorName[];
  }
}

/** The architecture fields compared between a profile and a model. */
export const ARCHITECTURE_FIELDS = ['layers', 'hidden', 'heads', 'kvHeads', 'headDim', 'intermediate', 'vocab'] as const;

/**
 * The fields of {@link ARCHITECTURE_FIELDS} in which `profile.architecture` differs from `model`
 * (empty: the profile timed this model's shapes, whatever its name), plus `experts` for a mixture
 * of experts (a profile times dense MLPs); undefined when the profile records no architecture.
 */
export function architectureDiff(profile: Profile, model: ModelSpec): string[] | undefined {
  const a = profile.architecture;
  if (a === undefined) return undefined;
  const diff: string[] = ARCHITECTURE_FIELDS.filter((k) => a[k] !== model[k]);
  // Profiles time dense MLPs: a mixture of experts never matches one (Mixtral has Mistral-7B's widths).
  if ((model.experts ?? 1) > 1) diff.push('experts');
  return diff;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(6);
}

/** The override of one operator: interpolate, multiply, warn once when outside the grid. */
function operatorFn(name: OperatorName, op: OperatorProfile, mult: number, where: string, log: Logger): OperatorTimeFn {
  let warned = false;
  const warn = (shape: string, grid: string): void => {
    warned = true;
    log(`${where}: ${name}: ${shape} is outside the measured grid ${grid}; extrapolating linearly from the nearest two points (warned once per operator)`);
  };
  const range = (g: number[]) => `[${fmt(g[0])}, ${fmt(g[g.length - 1])}]`;
  const batched = 1 + (op.batch_overhead ?? 0);
  if (op.axes[0] === 'prefix') {
    const f = new GridInterpolator2D(op.grid[0], op.grid[1], op.times_s as number[][]);
    const g = `prefix ${range(op.grid[0])} × chunk ${range(op.grid[1])}`;
    return (b) => {
      const n = b.prefillSeqs;
      if (n <= 0 || b.prefillTokens <= 0) return 0;
      let t = 0;
      for (let k = 0; k < n; k++) {
        t += f.at(b.prefillPrefix[k], b.prefillChunk[k]);
        if (f.outside && !warned) warn(`prefix=${fmt(b.prefillPrefix[k])}, chunk=${fmt(b.prefillChunk[k])}`, g);
      }
      return mult * (n > 1 ? batched : 1) * t;
    };
  }
  if (op.axes.length === 2) {
    const f = new GridInterpolator2D(op.grid[0], op.grid[1], op.times_s as number[][]);
    return (b) => {
      const n = b.decodeSeqs;
      if (n <= 0) return 0;
      const ctx = b.decodeKvTokens / n;
      const t = f.at(n, ctx);
      if (f.outside && !warned) warn(`batch=${fmt(n)}, context=${fmt(ctx)}`, `batch ${range(op.grid[0])} × context ${range(op.grid[1])}`);
      return mult * (n > 1 ? batched : 1) * t;
    };
  }
  const f = new GridInterpolator1D(op.grid[0], op.times_s as number[]);
  const g = range(op.grid[0]);
  switch (op.axes[0]) {
    case 'seq_len':
      return (b) => {
        if (b.prefillSeqs <= 0 || b.prefillTokens <= 0) return 0;
        const s = equivalentSeqLen(b);
        const t = f.at(s);
        if (f.side !== 0 && !warned) warn(`seq_len=${fmt(s)}`, g);
        return mult * (b.prefillSeqs > 1 ? batched : 1) * b.prefillSeqs * t;
      };
    case 'seqs':
      return (b) => {
        if (b.sampledSeqs <= 0) return 0;
        const t = f.at(b.sampledSeqs);
        if (f.side !== 0 && !warned) warn(`seqs=${fmt(b.sampledSeqs)}`, g);
        return mult * t;
      };
    default:
      return (b) => {
        const tokens = b.prefillTokens + b.decodeSeqs;
        if (tokens <= 0) return 0;
        const t = f.at(tokens);
        if (f.side !== 0 && !warned) warn(`tokens=${fmt(tokens)}`, g);
        return mult * t;
      };
  }
}
