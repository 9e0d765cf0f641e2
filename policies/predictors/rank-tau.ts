/**
 * `rank-tau`: a learning-to-rank score with a target Kendall τ (Fu et al., arXiv 2408.15792,
 * NeurIPS'24; §4 of docs/spec.md), by the doc's Gaussian-copula noise model.
 */
import type { PredictionCost, PredictorEntry } from '../../sim/predictor.ts';
import type { Trace } from '../../sim/trace.ts';
import { FixedPredictor } from './fixed.ts';
import { normalDeviate, normalQuantile } from './normal.ts';
import { OptionReader } from '../options.ts';
import { COST_KEYS, readCost } from './options.ts';
import { midRanks, sortedOrder, sortedValues } from './ranks.ts';

/** Default target τ: LTR's ListMLE predictor on LMSYS (Table 3, Llama-3-70B). */
export const LTR_DEFAULT_TAU = 0.62;

/**
 * A ranking predictor with Kendall τ ≈ `tau` against the true output length. Gaussian copula
 * (§4, [OURS, checked numerically]): z_i = Φ⁻¹((midrank(L_i) − 0.5)/n) over the trace's true
 * lengths, score_i = r·z_i + sqrt(1 − r²)·ε_i with ε_i ~ N(0, 1) and r = sin(πτ/2), so that
 * τ(score, z) = (2/π)·arcsin r = τ for a bivariate normal; ties in L lower τ-b slightly.
 * `predicted(id)` maps the score's rank back onto the trace's sorted true lengths (the k-th
 * smallest score gets the k-th smallest length): a length on the trace's own scale, monotone in
 * the score, whose MAE is what quality() reports. Scores are oriented "higher = longer" (LTR's
 * own score is the negative). One uniform per request, in id order.
 */
export class RankTauPredictor extends FixedPredictor {
  readonly name = 'rank-tau';
  readonly cost: PredictionCost | undefined;
  /** Target Kendall τ in (−1, 1]. */
  readonly tau: number;
  private scores: Float64Array = new Float64Array(0);

  constructor(tau = LTR_DEFAULT_TAU, cost?: PredictionCost) {
    super();
    this.tau = tau;
    this.cost = cost;
  }

  attach(trace: Trace, rng: () => number): void {
    const n = trace.n;
    const L = trace.output_tokens;
    const r = Math.sin((Math.PI * this.tau) / 2);
    const s = Math.sqrt(Math.max(0, 1 - r * r));
    const rank = midRanks(L);
    const scores = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const z = normalQuantile((rank[i] - 0.5) / n);
      scores[i] = r * z + s * normalDeviate(rng);
    }
    const sortedL = sortedValues(L);
    const order = sortedOrder(scores);
    const estimate = new Float64Array(n);
    for (let k = 0; k < n; k++) estimate[order[k]] = sortedL[k];
    this.scores = scores;
    this.store(L, estimate);
  }

  /** The copula score of request `id` (unitless; higher = predicted longer). */
  score(id: number): number {
    return this.scores[id];
  }
}

/** Registry entry: `--predictor rank-tau [--predictor-opt tau=T,cost=S,cost-mode=M]`. */
export const rankTau: PredictorEntry = {
  name: 'rank-tau',
  description: 'learning-to-rank score with target Kendall tau (default 0.62, LTR on LMSYS), Gaussian copula',
  source: 'Fu et al., arXiv 2408.15792 (NeurIPS 2024) Table 3; docs/spec.md §4',
  create(opts) {
    const o = new OptionReader('--predictor-opt', 'rank-tau', opts, ['tau', ...COST_KEYS]);
    const tau = o.number('tau', LTR_DEFAULT_TAU, { min: -1, max: 1, minExclusive: true });
    return new RankTauPredictor(tau, readCost(o));
  },
};
