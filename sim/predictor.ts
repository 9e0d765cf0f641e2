/**
 * The predictor interface: what a length-aware policy knows about a request's output length before
 * (and while) it runs. Predictors model the quality the papers measured (docs/spec.md
 * §3–§7), or read predictions from the trace; each reports the quality it achieved on the run.
 */
import type { Trace } from './trace.ts';

/** Quality a predictor achieved on a run's requests (null where it does not apply). */
export interface PredictorQuality {
  /** Kendall's τ-b between the initial prediction and the true output length. */
  kendall_tau: number | null;
  /** Mean absolute error of the initial length estimate, tokens. */
  mae_tokens: number | null;
  /** Fraction of requests whose predicted bucket is the true one (classifiers only). */
  bucket_accuracy: number | null;
}

/** Where a predictor's time goes (SkipPredict's two cost models; LTR's predictor overhead). */
export interface PredictionCost {
  /** Seconds of predictor time per request. */
  perRequest_s: number;
  /** true: runs on the serving GPU (added to the iteration that first schedules the request);
   * false: external (delays nothing; reported only). */
  onServer: boolean;
}

/**
 * A length predictor for one run. Predictions are deterministic given the trace and the seeded
 * random source passed to `attach`.
 */
export interface Predictor {
  /** CLI name. */
  readonly name: string;
  /**
   * Called once before the run with the whole trace (predictors may use its length distribution,
   * e.g. quantiles for bucket boundaries) and a seeded uniform source in [0, 1).
   */
  attach(trace: Trace, rng: () => number): void;
  /**
   * Initial prediction of request `id`'s output length, in tokens (> 0), made at arrival from the
   * prompt. Rank-only predictors return a length on the trace's own scale, monotone in their score.
   */
  predicted(id: number): number;
  /** Predicted bucket (class index, 0 = shortest) for classifiers; -1 otherwise. */
  bucket(id: number): number;
  /**
   * Predicted remaining output tokens of `id` after `generated` tokens (>= 0). Refining predictors
   * (TRAIL) change it as decoding proceeds; others return max(0, predicted − generated).
   */
  remaining(id: number, generated: number): number;
  /** Tokens between refinements of `remaining` (Infinity when it never refines). */
  readonly refineEvery: number;
  /** Prediction cost, if the paper models one (`perRequest_s` is the mean over the trace). */
  readonly cost: PredictionCost | undefined;
  /**
   * Seconds of predictor time spent on request `id`, when it varies by request (SkipPredict: c1
   * for the cheap bit, plus c2 for the expensive prediction of predicted-long requests); absent
   * when every request costs `cost.perRequest_s`.
   */
  costOf?(id: number): number;
  /** Quality achieved over the trace (call after attach). */
  quality(): PredictorQuality;
}

/** A registered predictor: its constructor and what `sim predictors` shows. */
export interface PredictorEntry {
  /** CLI name (`--predictor NAME`). */
  name: string;
  /** One line: what it models. */
  description: string;
  /** Paper and section, or data, it comes from. */
  source: string;
  /**
   * Builds a predictor from `--predictor-opt key=value` pairs.
   * @throws InputError (field `--predictor-opt`) for an unknown key or a value out of range.
   */
  create(opts: Record<string, string>): Predictor;
}
