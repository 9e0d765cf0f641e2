/**
 * `trail`: TRAIL's length predictions (Shahout et al., arXiv 2410.01035, ICLR'25; §5 of
 * docs/spec.md): an initial prediction ŷ0 from the prompt, then refined predictions of
 * the remaining length every k decode tokens, counting down by one token in between.
 */
import type { Predictor, PredictorEntry, PredictorQuality } from '../../sim/predictor.ts';
import type { Trace } from '../../sim/trace.ts';
import { counterNormal, drawSeed32 } from './counter-random.ts';
import { calibrateLogNormalSigma, sigmaForMaeRatio } from './lognormal-noise.ts';
import { OptionReader } from '../options.ts';
import { finiteOrNull, kendallTauB, meanAbsoluteError } from './quality.ts';

/** TRAIL's noise models: `ar1` (log-space AR(1), [OURS]) or `iid` (the authors' TRAIL+ oracle). */
export type TrailNoise = 'ar1' | 'iid';

/** Options of {@link TrailPredictor}. */
export interface TrailOptions {
  /** Noise model. */
  noise: TrailNoise;
  /** Tokens between refinements (the code's PREDICT_EVERY = 8; the paper refines every token). */
  k: number;
  /** Target MAE of the initial prediction ŷ0, tokens (DistilBERT on Alpaca: 46.1). */
  mae0: number;
  /** Target MAE of the refined remaining-length predictions, tokens (layer-11 probe: 33.9). */
  maeDecode: number;
  /** Per-token autocorrelation of the log error (ar1 only), in [0, 1). */
  rho: number;
}

/** Defaults: §5 of docs/spec.md (official port's measured MAEs, code's PREDICT_EVERY). */
export const TRAIL_DEFAULTS: TrailOptions = { noise: 'ar1', k: 8, mae0: 46.1, maeDecode: 33.9, rho: 0.98 };

/**
 * TRAIL's predictor. Request i of true length L_i gets a per-request 32-bit seed from the run's
 * source at attach (one uniform per request, in id order); all its noise is a counter-based
 * function of that seed and the refinement step j, so `remaining(id, g)` is a pure function of
 * (id, g), whatever the order and number of calls.
 *
 * Refinement j >= 1 happens at g_j = j·k generated tokens while tokens remain (g_j < L_i) and
 * predicts the remaining length r_j = L_i − g_j; `remaining(id, g)` = max(0, r̂_j − (g − g_j)) for
 * j = floor(g/k) >= 1, max(0, ŷ0 − g) before the first refinement, 0 once g_j >= L_i.
 *
 * - `ar1` ([OURS], §5 (b)): a standard-normal log error path e_0, e_1, … with
 *   e_j = φ·e_{j−1} + sqrt(1 − φ²)·η_j, φ = ρ^k (the per-token AR(1) sampled every k tokens; e_j is
 *   N(0, 1) at every step). ŷ0 = max(1, L·exp(σ0·e_0)), r̂_j = r_j·exp(σ_d·e_j). σ0 is calibrated
 *   on the run's draws so the MAE of ŷ0 over the trace is `mae0` exactly; σ_d solves
 *   E|exp(σZ) − 1| = mae-decode / mean(r_j) (closed form, see lognormal-noise.ts), so the MAE of the
 *   refined predictions pooled over all refinement points of the trace is `mae-decode` in
 *   expectation. The path is generated lazily: the last (j, e_j) per request is cached (O(n)
 *   memory), and an earlier step is recomputed from e_0.
 * - `iid` (the authors' TRAIL+ oracle, §5 (a)): r̂_j = clip(round(r_j + σ_d·η_j), 0, r_j) and
 *   ŷ0 = clip(round(L + σ0·η_0), 1, L), independent per step, with σ = MAE·sqrt(π/2). Because of
 *   the clip at the truth the model never over-predicts and its realised MAE is about half the
 *   nominal one (≈ 23 and 17 tokens for 46.1 and 33.9 on long requests).
 */
export class TrailPredictor implements Predictor {
  readonly name = 'trail';
  readonly cost = undefined;
  readonly refineEvery: number;
  readonly options: TrailOptions;
  /** σ of the initial prediction's noise from the last attach (log scale for ar1, tokens for iid). */
  sigma0 = 0;
  /** σ of the refinements' noise from the last attach (log scale for ar1, tokens for iid). */
  sigmaDecode = 0;
  private L: Int32Array = new Int32Array(0);
  private seeds: Uint32Array = new Uint32Array(0);
  private y0: Float64Array = new Float64Array(0);
  /** ar1 path cache: last step computed and its error, per request. */
  private lastStep: Int32Array = new Int32Array(0);
  private lastError: Float64Array = new Float64Array(0);
  private phi = 0;
  private innovation = 1;
  private cachedQuality: PredictorQuality | undefined;

  constructor(options: Partial<TrailOptions> = {}) {
    this.options = { ...TRAIL_DEFAULTS, ...options };
    this.refineEvery = this.options.k;
  }

  attach(trace: Trace, rng: () => number): void {
    const n = trace.n;
    const L = trace.output_tokens;
    const { k, noise, mae0, maeDecode, rho } = this.options;
    this.L = L;
    this.seeds = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.seeds[i] = drawSeed32(rng);
    this.y0 = new Float64Array(n);
    this.cachedQuality = undefined;
    if (noise === 'ar1') {
      const e0 = new Float64Array(n);
      for (let i = 0; i < n; i++) e0[i] = counterNormal(this.seeds[i], 0);
      this.sigma0 = calibrateLogNormalSigma(L, e0, mae0, 1);
      for (let i = 0; i < n; i++) this.y0[i] = Math.max(1, L[i] * Math.exp(this.sigma0 * e0[i]));
      let sumR = 0;
      let points = 0;
      for (let i = 0; i < n; i++) {
        const J = Math.floor((L[i] - 1) / k);
        points += J;
        sumR += J * L[i] - (k * J * (J + 1)) / 2;
      }
      this.sigmaDecode = points > 0 ? sigmaForMaeRatio(maeDecode / (sumR / points)) : 0;
      this.phi = rho ** k;
      this.innovation = Math.sqrt(1 - this.phi * this.phi);
      this.lastStep = new Int32Array(n);
      this.lastError = e0;
    } else {
      this.sigma0 = mae0 * Math.sqrt(Math.PI / 2);
      this.sigmaDecode = maeDecode * Math.sqrt(Math.PI / 2);
      for (let i = 0; i < n; i++) {
        const y = Math.round(L[i] + this.sigma0 * counterNormal(this.seeds[i], 0));
        this.y0[i] = Math.min(L[i], Math.max(1, y));
      }
    }
  }

  /** Initial prediction ŷ0 of request `id`'s output length, tokens (>= 1). */
  predicted(id: number): number {
    return this.y0[id];
  }

  bucket(): number {
    return -1;
  }

  remaining(id: number, generated: number): number {
    const g = Math.max(0, Math.floor(generated));
    const k = this.options.k;
    const j = Math.floor(g / k);
    if (j === 0) return Math.max(0, this.y0[id] - g);
    const r = this.L[id] - j * k;
    if (r <= 0) return 0;
    return Math.max(0, this.refined(id, j, r) - (g - j * k));
  }

  /** Refined prediction r̂_j of the remaining length at refinement j >= 1 (true remaining r > 0). */
  private refined(id: number, j: number, r: number): number {
    const seed = this.seeds[id];
    if (this.options.noise === 'iid') {
      return Math.min(r, Math.max(0, Math.round(r + this.sigmaDecode * counterNormal(seed, j))));
    }
    let step = this.lastStep[id];
    let e = this.lastError[id];
    if (step > j) {
      step = 0;
      e = counterNormal(seed, 0);
    }
    while (step < j) {
      step++;
      e = this.phi * e + this.innovation * counterNormal(seed, step);
    }
    this.lastStep[id] = step;
    this.lastError[id] = e;
    return r * Math.exp(this.sigmaDecode * e);
  }

  /**
   * Kendall's τ-b and MAE (tokens) of the initial prediction ŷ0 against the true length; no
   * buckets. The refinements' quality is {@link TrailPredictor.decodeMae}.
   */
  quality(): PredictorQuality {
    if (this.cachedQuality === undefined) {
      this.cachedQuality = {
        kendall_tau: finiteOrNull(kendallTauB(this.y0, this.L)),
        mae_tokens: finiteOrNull(meanAbsoluteError(this.y0, this.L)),
        bucket_accuracy: null,
      };
    }
    return this.cachedQuality;
  }

  /**
   * Realised MAE of the refined remaining-length predictions, tokens: mean of |r̂_j − r_j| pooled
   * over every refinement point (request i, step j >= 1 with j·k < L_i) of the trace; NaN when there
   * is none. O(Σ L_i / k) time, O(1) extra memory.
   */
  decodeMae(): number {
    const k = this.options.k;
    let sum = 0;
    let points = 0;
    for (let i = 0; i < this.L.length; i++) {
      for (let j = 1; j * k < this.L[i]; j++) {
        const r = this.L[i] - j * k;
        sum += Math.abs(this.refined(i, j, r) - r);
        points++;
      }
    }
    return points > 0 ? sum / points : NaN;
  }
}

/** Registry entry: `--predictor trail [--predictor-opt noise=ar1|iid,k=8,mae0=46.1,mae-decode=33.9,rho=0.98]`. */
export const trail: PredictorEntry = {
  name: 'trail',
  description: "TRAIL: initial prediction (MAE 46.1) refined every k tokens during decode (MAE 33.9); AR(1) or authors' iid noise",
  source: 'Shahout et al., arXiv 2410.01035 (ICLR 2025); docs/spec.md §5',
  create(opts) {
    const o = new OptionReader('--predictor-opt', 'trail', opts, ['noise', 'k', 'mae0', 'mae-decode', 'rho']);
    const noise = o.choice('noise', TRAIL_DEFAULTS.noise, ['ar1', 'iid'] as const);
    if (noise === 'iid' && o.has('rho')) throw o.error('rho applies to noise=ar1 only');
    const positive = { min: 0, minExclusive: true };
    return new TrailPredictor({
      noise,
      k: o.number('k', TRAIL_DEFAULTS.k, { min: 1, integer: true }),
      mae0: o.number('mae0', TRAIL_DEFAULTS.mae0, positive),
      maeDecode: o.number('mae-decode', TRAIL_DEFAULTS.maeDecode, positive),
      rho: o.number('rho', TRAIL_DEFAULTS.rho, { min: 0, max: 1, maxExclusive: true }),
    });
  },
};
