/**
 * Shared machinery of predictors whose predictions are all fixed at attach time (every predictor
 * here but TRAIL): storage, the `Predictor` accessors, and the quality report.
 */
import type { PredictionCost, Predictor, PredictorQuality } from '../../sim/predictor.ts';
import type { Trace } from '../../sim/trace.ts';
import { bucketAccuracy, finiteOrNull, kendallTauB, meanAbsoluteError } from './quality.ts';

/**
 * A predictor whose initial prediction (a length in tokens, > 0) and optional bucket are computed
 * once in `attach`; `remaining(id, g)` = max(0, predicted − g) and it never refines.
 * Subclasses implement `attach` and call {@link FixedPredictor.store}.
 */
export abstract class FixedPredictor implements Predictor {
  abstract readonly name: string;
  readonly refineEvery = Infinity;
  abstract readonly cost: PredictionCost | undefined;
  /** True output lengths, tokens. */
  protected truth: Int32Array = new Int32Array(0);
  /** Initial length estimates, tokens. */
  protected estimate: Float64Array = new Float64Array(0);
  /** Predicted buckets (classifiers only). */
  protected predictedBuckets: Int32Array | undefined;
  /** True buckets (classifiers only), for the bucket accuracy. */
  protected trueBuckets: Int32Array | undefined;
  /** Whether Kendall's τ-b is of the predicted bucket (a classifier's ranking) or of the estimate. */
  private tauOfBuckets = false;
  private cachedQuality: PredictorQuality | undefined;

  abstract attach(trace: Trace, rng: () => number): void;

  /**
   * Stores a run's predictions (and forgets any quality computed for an earlier attach).
   * `buckets.tau`: 'bucket' when the predicted bucket is the classifier's ranking (SSJF), 'estimate'
   * when the length estimate is (SkipPredict's expensive prediction beside its cheap bit).
   */
  protected store(
    truth: Int32Array,
    estimate: Float64Array,
    buckets?: { predicted: Int32Array; truth: Int32Array; tau: 'bucket' | 'estimate' },
  ): void {
    this.truth = truth;
    this.estimate = estimate;
    this.predictedBuckets = buckets?.predicted;
    this.trueBuckets = buckets?.truth;
    this.tauOfBuckets = buckets?.tau === 'bucket';
    this.cachedQuality = undefined;
  }

  predicted(id: number): number {
    return this.estimate[id];
  }

  bucket(id: number): number {
    return this.predictedBuckets === undefined ? -1 : this.predictedBuckets[id];
  }

  remaining(id: number, generated: number): number {
    return Math.max(0, this.estimate[id] - generated);
  }

  /**
   * Kendall's τ-b between the true length and the estimate (or the predicted bucket, see
   * {@link FixedPredictor.store}); MAE of the estimate in tokens; bucket accuracy for classifiers.
   * Computed once per attach (O(n log n)).
   */
  quality(): PredictorQuality {
    if (this.cachedQuality === undefined) {
      const ranked = this.tauOfBuckets && this.predictedBuckets ? this.predictedBuckets : this.estimate;
      this.cachedQuality = {
        kendall_tau: finiteOrNull(kendallTauB(ranked, this.truth)),
        mae_tokens: finiteOrNull(meanAbsoluteError(this.estimate, this.truth)),
        bucket_accuracy:
          this.predictedBuckets && this.trueBuckets
            ? finiteOrNull(bucketAccuracy(this.predictedBuckets, this.trueBuckets))
            : null,
      };
    }
    return this.cachedQuality;
  }
}
