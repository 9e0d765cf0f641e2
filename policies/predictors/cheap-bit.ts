/**
 * `cheap-bit`: SkipPredict's two predictions (Shahout & Mitzenmacher, arXiv 2402.03564,
 * NeurIPS'24; §7 of docs/spec.md): a cheap one-bit short/long prediction for every
 * request and an expensive length prediction, both from the paper's exponential predictor.
 */
import { quantileSorted } from 'd3-array';
import type { PredictionCost, PredictorEntry } from '../../sim/predictor.ts';
import type { Trace } from '../../sim/trace.ts';
import { FixedPredictor } from './fixed.ts';
import { OptionReader } from '../options.ts';
import { sortedValues } from './ranks.ts';

/** Options of {@link CheapBitPredictor}. */
export interface CheapBitOptions {
  /** Short/long threshold T, tokens; undefined = the trace's median output length. */
  threshold_tokens?: number;
  /** When set, the bit is the true bit (L > T) flipped with probability 1 − A, instead of thresholding. */
  bitAccuracy?: number;
  /** Cost of the cheap prediction, seconds per request (every request). */
  c1_s: number;
  /** Cost of the expensive prediction, seconds per request (predicted-long requests only). */
  c2_s: number;
  /** true: predictions run on the serving GPU (server-time model); false: external. */
  onServer: boolean;
}

/**
 * SkipPredict's predictor pair. For request i with true length L_i, two independent draws from
 * the exponential predictor ŷ ~ Exp(mean = L_i) (§7): the cheap estimate x̃_i gives the bit
 * `bucket(i)` = 1 (long) iff x̃_i > T, so P(long | L) = exp(−T/L); the expensive prediction is
 * `predicted(i)` = max(1, ceil(ŷ_i)) tokens. With `bitAccuracy` = A the bit is instead the true bit
 * (L_i > T) flipped with probability 1 − A (SSJF's binary classifier: A = 0.833, §3). Two uniforms
 * per request, in id order (the cheap one is drawn even when `bitAccuracy` replaces it).
 *
 * Cost: the cheap prediction costs c1 for every request and the expensive one c2 for the
 * predicted-long requests only, so the cost varies per request: {@link CheapBitPredictor.costOf}
 * gives c1 + bit·c2 seconds for one request, and `cost.perRequest_s` (set at attach) is its mean
 * over the trace, c1 + P̂(long)·c2, the external model's expected cost per request. `cost` is
 * undefined when c1 = c2 = 0.
 *
 * quality(): τ-b and MAE of the expensive prediction; bucket accuracy of the bit against L > T.
 */
export class CheapBitPredictor extends FixedPredictor {
  readonly name = 'cheap-bit';
  cost: PredictionCost | undefined;
  readonly options: CheapBitOptions;
  /** Threshold used at the last attach, tokens. */
  threshold_tokens = 0;

  constructor(options: Partial<CheapBitOptions> = {}) {
    super();
    this.options = { c1_s: 0, c2_s: 0, onServer: true, ...options };
    const { c1_s, c2_s, onServer } = this.options;
    this.cost = c1_s > 0 || c2_s > 0 ? { perRequest_s: c1_s, onServer } : undefined;
  }

  attach(trace: Trace, rng: () => number): void {
    const n = trace.n;
    const L = trace.output_tokens;
    const { bitAccuracy, c1_s, c2_s } = this.options;
    const T = this.options.threshold_tokens ?? (n === 0 ? 0 : (quantileSorted(Array.from(sortedValues(L)), 0.5) as number));
    this.threshold_tokens = T;
    const bit = new Int32Array(n);
    const trueBit = new Int32Array(n);
    const estimate = new Float64Array(n);
    let longs = 0;
    for (let i = 0; i < n; i++) {
      trueBit[i] = L[i] > T ? 1 : 0;
      const cheap = -L[i] * Math.log(1 - rng());
      const flip = rng();
      bit[i] = bitAccuracy === undefined ? (cheap > T ? 1 : 0) : flip < bitAccuracy ? trueBit[i] : 1 - trueBit[i];
      longs += bit[i];
      estimate[i] = Math.max(1, Math.ceil(-L[i] * Math.log(1 - rng())));
    }
    if (this.cost !== undefined) this.cost = { ...this.cost, perRequest_s: c1_s + (n > 0 ? longs / n : 0) * c2_s };
    this.store(L, estimate, { predicted: bit, truth: trueBit, tau: 'estimate' });
  }

  /** Prediction cost of request `id`, seconds: c1 + (predicted long ? c2 : 0). */
  costOf(id: number): number {
    return this.options.c1_s + this.bucket(id) * this.options.c2_s;
  }
}

/** Registry entry: `--predictor cheap-bit [--predictor-opt T=TOKENS,bit-accuracy=A,c1=S,c2=S,cost-mode=M]`. */
export const cheapBit: PredictorEntry = {
  name: 'cheap-bit',
  description: 'SkipPredict: cheap short/long bit (threshold T, default median) + expensive Exp(mean=L) length prediction',
  source: 'Shahout & Mitzenmacher, arXiv 2402.03564 (NeurIPS 2024); docs/spec.md §7',
  create(opts) {
    const o = new OptionReader('--predictor-opt', 'cheap-bit', opts, ['T', 'bit-accuracy', 'c1', 'c2', 'cost-mode']);
    return new CheapBitPredictor({
      threshold_tokens: o.has('T') ? o.number('T', 0, { min: 0, minExclusive: true }) : undefined,
      bitAccuracy: o.has('bit-accuracy') ? o.number('bit-accuracy', 1, { min: 0, max: 1 }) : undefined,
      c1_s: o.number('c1', 0, { min: 0 }),
      c2_s: o.number('c2', 0, { min: 0 }),
      onServer: o.choice('cost-mode', 'server', ['server', 'external'] as const) === 'server',
    });
  },
};
