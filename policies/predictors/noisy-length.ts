/**
 * `noisy-length`: a length estimate with a target mean absolute error, by multiplicative
 * log-normal noise ([OURS]; the default target is SSJF's bucket-midpoint MAE of 75 tokens, §3 of
 * docs/spec.md).
 */
import type { PredictorEntry } from '../../sim/predictor.ts';
import type { Trace } from '../../sim/trace.ts';
import { FixedPredictor } from './fixed.ts';
import { calibrateLogNormalSigma } from './lognormal-noise.ts';
import { normalDeviate } from './normal.ts';
import { OptionReader } from '../options.ts';

/** Default target MAE, tokens: SSJF's 5-bucket midpoints as a length estimate on its data (§3). */
export const DEFAULT_NOISY_MAE_TOKENS = 75;

/** The target: an absolute MAE in tokens, or a fraction of the trace's mean output length. */
export type MaeTarget = { tokens: number } | { fractionOfMean: number };

/**
 * Estimates ŷ_i = max(1, L_i·exp(σ·e_i)) with e_i ~ N(0, 1) (one uniform per request, in id
 * order): errors proportional to the length, median-unbiased, never below 1 token. σ is
 * calibrated by bisection on the run's own draws so that the MAE over the trace equals the target
 * (`mae` tokens, or `mae-frac` × the trace's mean output length) to within 1e-9 relative.
 */
export class NoisyLengthPredictor extends FixedPredictor {
  readonly name = 'noisy-length';
  readonly cost = undefined;
  readonly target: MaeTarget;
  /** σ of ln(ŷ/L) chosen at the last attach. */
  sigma = 0;

  constructor(target: MaeTarget = { tokens: DEFAULT_NOISY_MAE_TOKENS }) {
    super();
    this.target = target;
  }

  attach(trace: Trace, rng: () => number): void {
    const n = trace.n;
    const L = trace.output_tokens;
    const e = new Float64Array(n);
    for (let i = 0; i < n; i++) e[i] = normalDeviate(rng);
    let mean = 0;
    for (let i = 0; i < n; i++) mean += L[i] / n;
    const target = 'tokens' in this.target ? this.target.tokens : this.target.fractionOfMean * mean;
    this.sigma = calibrateLogNormalSigma(L, e, target, 1);
    const estimate = new Float64Array(n);
    for (let i = 0; i < n; i++) estimate[i] = Math.max(1, L[i] * Math.exp(this.sigma * e[i]));
    this.store(L, estimate);
  }
}

/** Registry entry: `--predictor noisy-length [--predictor-opt mae=TOKENS | mae-frac=F]`. */
export const noisyLength: PredictorEntry = {
  name: 'noisy-length',
  description: 'length estimate with log-normal noise calibrated to a target MAE (default 75 tokens, SSJF midpoints)',
  source: 'docs/spec.md §3 (SSJF bucket-midpoint MAE 75 tokens); noise model ours',
  create(opts) {
    const o = new OptionReader('--predictor-opt', 'noisy-length', opts, ['mae', 'mae-frac']);
    if (o.has('mae') && o.has('mae-frac')) throw o.error('give mae=TOKENS or mae-frac=F, not both');
    if (o.has('mae-frac')) return new NoisyLengthPredictor({ fractionOfMean: o.number('mae-frac', 0, { min: 0, minExclusive: true }) });
    return new NoisyLengthPredictor({ tokens: o.number('mae', DEFAULT_NOISY_MAE_TOKENS, { min: 0, minExclusive: true }) });
  },
};
