/**
 * The oracle predictor: the true output length (an upper bound on any predictor's value).
 */
import type { Predictor, PredictorEntry, PredictorQuality } from '../../sim/predictor.ts';
import type { Trace } from '../../sim/trace.ts';
import { OptionReader } from '../options.ts';

/** Predicts each request's true output length exactly. */
export class OraclePredictor implements Predictor {
  readonly name = 'oracle';
  readonly refineEvery = Infinity;
  readonly cost = undefined;
  private output: Int32Array = new Int32Array(0);

  attach(trace: Trace): void {
    this.output = trace.output_tokens;
  }

  predicted(id: number): number {
    return this.output[id];
  }

  bucket(): number {
    return -1;
  }

  remaining(id: number, generated: number): number {
    return Math.max(0, this.output[id] - generated);
  }

  quality(): PredictorQuality {
    return { kendall_tau: 1, mae_tokens: 0, bucket_accuracy: null };
  }
}

/** Registry entry for the oracle predictor. */
export const oracle: PredictorEntry = {
  name: 'oracle',
  description: 'the true output length (clairvoyant bound)',
  source: 'docs/spec.md §12 (oracles)',
  create(opts) {
    new OptionReader('--predictor-opt', 'oracle', opts, []);
    return new OraclePredictor();
  },
};
