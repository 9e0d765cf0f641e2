/**
 * `ssjf-buckets`: SSJF's proxy-model length classifier (Qiu et al., arXiv 2404.08509; §3 of
 * docs/spec.md), modelled by its real confusion matrix rescaled to the trace.
 */
import { quantileSorted } from 'd3-array';
import type { PredictionCost, PredictorEntry } from '../../sim/predictor.ts';
import type { Trace } from '../../sim/trace.ts';
import { FixedPredictor } from './fixed.ts';
import { normalCdf, normalDeviate, normalQuantile } from './normal.ts';
import { OptionReader } from '../options.ts';
import { COST_KEYS, readCost } from './options.ts';
import { midRanks, sortedValues } from './ranks.ts';
import { SSJF_CONFUSION_2, SSJF_CONFUSION_5, SSJF_COUPLING_2, SSJF_COUPLING_5 } from './ssjf-confusion.ts';

/** Quantile levels of the bucket boundaries: SSJF's p25/p50/p75/p99 (5 classes) or median (2). */
const LEVELS: Record<2 | 5, readonly number[]> = { 5: [0.25, 0.5, 0.75, 0.99], 2: [0.5] };

/** Row-normalised cumulative confusion matrix: cum[t][c] = P(predicted <= c | true t). */
function cumulativeRows(counts: readonly (readonly number[])[]): number[][] {
  return counts.map((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    let s = 0;
    const cum = row.map((c) => (s += c) / total);
    cum[cum.length - 1] = 1;
    return cum;
  });
}

/**
 * SSJF's bucket classifier on a trace. The true bucket of a request is its class under the
 * trace's own output-length quantiles (p25/p50/p75/p99 for 5 classes, p50 for 2, by d3-array's
 * `quantileSorted`, i.e. linear interpolation R-7; L is in class #{boundaries b : L > b}, as SSJF's
 * 42/141/294/503 and 141). The predicted bucket is drawn from row `true` of the real predictor's
 * row-normalised confusion matrix ({@link SSJF_CONFUSION_5}, {@link SSJF_CONFUSION_2}) by inverse
 * CDF at v = Φ(a·Φ⁻¹(u) + sqrt(1−a²)·ε): u in (0, 1) is the request's mid-rank position inside its
 * true bucket, ε ~ N(0, 1) from the run's source, a the within-bucket coupling. v is uniform given
 * the true bucket, so each row of the matrix is reproduced exactly in distribution for any a; a > 0
 * makes longer requests in a bucket more likely to be called longer, as in the real predictor
 * ({@link SSJF_COUPLING_5}).
 *
 * `bucket(id)` = predicted class (0 = shortest); `predicted(id)` = midpoint of the predicted bucket
 * on the trace's scale, bucket edges [0, b1, …, b_{K−1}, max length] (so the top bucket's midpoint
 * is that of [p99, max]; for 2 classes, of [p50, max]). Same uniform source and trace → same
 * predictions (one uniform per request, in id order).
 */
export class SsjfBucketsPredictor extends FixedPredictor {
  readonly name = 'ssjf-buckets';
  readonly cost: PredictionCost | undefined;
  /** Number of classes, 2 or 5. */
  readonly classes: 2 | 5;
  /** Within-bucket coupling a in [0, 1]. */
  readonly coupling: number;
  /** The trace's bucket boundaries from the last attach, tokens (K − 1 values, ascending). */
  boundaries: number[] = [];
  /** Length estimate of each predicted class from the last attach (bucket midpoints), tokens. */
  midpoints: number[] = [];

  /**
   * @param classes  2 (binary at the median) or 5 (p25/p50/p75/p99)
   * @param coupling within-bucket coupling a in [0, 1] (0 = independent of the length given the bucket)
   */
  constructor(classes: 2 | 5 = 5, coupling?: number, cost?: PredictionCost) {
    super();
    this.classes = classes;
    this.coupling = coupling ?? (classes === 5 ? SSJF_COUPLING_5 : SSJF_COUPLING_2);
    this.cost = cost;
  }

  attach(trace: Trace, rng: () => number): void {
    const L = trace.output_tokens;
    const n = trace.n;
    const K = this.classes;
    const sorted = Array.from(sortedValues(L));
    const at = (p: number) => (n === 0 ? 0 : (quantileSorted(sorted, p) as number));
    this.boundaries = LEVELS[K].map(at);
    const edges = [0, ...this.boundaries, at(1)];
    this.midpoints = edges.slice(0, K).map((lo, c) => (lo + edges[c + 1]) / 2);

    const truth = new Int32Array(n);
    const size = new Array<number>(K).fill(0);
    for (let i = 0; i < n; i++) {
      let c = 0;
      while (c < K - 1 && L[i] > this.boundaries[c]) c++;
      truth[i] = c;
      size[c]++;
    }
    const before = size.map((_, c) => size.slice(0, c).reduce((a, b) => a + b, 0));
    const rank = midRanks(L);
    const cum = cumulativeRows(K === 5 ? SSJF_CONFUSION_5 : SSJF_CONFUSION_2);
    const a = this.coupling;
    const s = Math.sqrt(1 - a * a);

    const predicted = new Int32Array(n);
    const estimate = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t = truth[i];
      let v: number;
      if (a === 0) v = rng();
      else {
        const u = (rank[i] - before[t] - 0.5) / size[t];
        v = normalCdf(a * normalQuantile(u) + s * normalDeviate(rng));
      }
      const row = cum[t];
      let c = 0;
      while (c < K - 1 && v >= row[c]) c++;
      predicted[i] = c;
      estimate[i] = this.midpoints[c];
    }
    this.store(L, estimate, { predicted, truth, tau: 'bucket' });
  }
}

/** Registry entry: `--predictor ssjf-buckets [--predictor-opt classes=5|2,coupling=A,cost=S,cost-mode=M]`. */
export const ssjfBuckets: PredictorEntry = {
  name: 'ssjf-buckets',
  description: "SSJF's proxy classifier: 5 percentile buckets (acc. 60.1%, tau-b 0.635) or binary (83.3%), real confusion matrix",
  source: 'Qiu et al., arXiv 2404.08509; docs/spec.md §3; shared/reference/ssjf-predictions',
  create(opts) {
    const o = new OptionReader('--predictor-opt', 'ssjf-buckets', opts, ['classes', 'coupling', ...COST_KEYS]);
    const classes = o.choice('classes', '5', ['5', '2'] as const) === '5' ? 5 : 2;
    const coupling = o.has('coupling') ? o.number('coupling', 0, { min: 0, max: 1 }) : undefined;
    return new SsjfBucketsPredictor(classes, coupling, readCost(o));
  },
};
