/**
 * SkipPredict: a cheap one-bit prediction for every request, an expensive length prediction only
 * for the predicted-long ones (Shahout & Mitzenmacher, "SkipPredict: When to Invest in
 * Predictions for Scheduling", arXiv 2402.03564, NeurIPS'24; docs/spec.md §7).
 */
import type { Policy, PolicyContext, PolicyEntry, Displacement, RankBatching } from '../sim/policy.ts';
import type { Predictor } from '../sim/predictor.ts';
import type { RequestTable } from '../sim/requests.ts';
import { RUNNING } from '../sim/requests.ts';
import { OptionReader, DISPLACEMENTS, needPredictor, chargePrediction } from './options.ts';

/** Where prediction time goes (§7 "Cost models"). */
export type SkipPredictCostMode = 'external' | 'server';

/** SkipPredict's settings. */
export interface SkipPredictOptions {
  /** Cost of the cheap one-bit prediction, seconds (default 0). */
  c1_s: number;
  /** Cost of the expensive prediction, seconds (default 0). */
  c2_s: number;
  /** `external` (default): predictions take no server time; `server`: they are added to the engine's time. */
  costMode: SkipPredictCostMode;
  /**
   * Cheap-bit threshold in tokens, used only when the predictor reports no buckets: predicted
   * short iff `predicted(id) < threshold`. Default (undefined): the median of the run's predictions.
   */
  threshold: number | undefined;
  /** Fate of a displaced running request (default `pause`: preempt-resume). */
  displacement: Displacement;
}

/** The defaults. */
export const SKIPPREDICT_DEFAULTS: SkipPredictOptions = { c1_s: 0, c2_s: 0, costMode: 'external', threshold: undefined, displacement: 'pause' };

/**
 * SkipPredict in the engine's rank mode. The cheap bit is the predictor's `bucket(id)`: 0 =
 * predicted short, anything else = long (the `cheap-bit` predictor gives {0, 1}; a multi-class
 * classifier's class 0 counts as short); for a predictor without buckets it is
 * `predicted(id) < threshold`. Predicted-short requests go first, in arrival order (FCFS), with
 * strict priority over predicted-long ones (key −Infinity, ties in arrival order); predicted-long
 * requests are ordered by SPRPT on the expensive prediction, rank ŷ − attained (ŷ = `predicted(id)`,
 * attained = tokens generated), preemptively, re-keyed after each iteration they run in.
 *
 * Costs: in the `server` mode the cheap prediction (c1) is made for every request and the expensive
 * one (c2) for predicted-long ones at arrival, on the serving GPU: their time is added to the next
 * iteration (`ctx.addIterationTime`). In the `external` mode nothing is added to simulated time; the
 * paper then reports E[T] + c1 + P(long) · c2 as the total cost (`externalCost_s` gives that
 * per-request mean prediction cost for the run). When the policy's c1 and c2 are both 0 (the
 * default), the predictor's own cost applies instead (cheap-bit's `c1`, `c2`, `cost-mode` predictor
 * options, charged per request through its `costOf`), so the two are never added together.
 */
export class SkipPredict implements Policy {
  readonly name = 'SkipPredict';
  readonly batching: RankBatching;
  private readonly predictor: Predictor;
  private readonly o: SkipPredictOptions;
  private ctx!: PolicyContext;
  private R!: RequestTable;
  private long!: Uint8Array;
  private threshold = 0;
  private arrivals = 0;
  private longArrivals = 0;

  /**
   * @param predictor the run's (attached) predictor: `bucket` is the cheap bit, `predicted` the expensive prediction.
   * @param options costs, cost mode, threshold, displacement (defaults: SKIPPREDICT_DEFAULTS).
   */
  constructor(predictor: Predictor, options: Partial<SkipPredictOptions> = {}) {
    this.predictor = predictor;
    this.o = { ...SKIPPREDICT_DEFAULTS, ...options };
    this.batching = { mode: 'rank', displacement: this.o.displacement, stallFree: false };
  }

  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
    const R = (this.R = ctx.requests);
    this.long = new Uint8Array(R.n);
    if (this.o.threshold !== undefined) this.threshold = this.o.threshold;
    else if (R.n > 0 && this.predictor.bucket(0) < 0) {
      // Median of the run's predictions (once per run, O(n log n)).
      const p = new Float64Array(R.n);
      for (let i = 0; i < R.n; i++) p[i] = this.predictor.predicted(i);
      p.sort();
      this.threshold = R.n % 2 === 1 ? p[(R.n - 1) / 2] : (p[R.n / 2 - 1] + p[R.n / 2]) / 2;
    }
  }

  /** Whether request `id` was predicted long by the cheap bit (valid after it arrived). */
  isLong(id: number): boolean {
    return this.long[id] === 1;
  }

  /** Cheap-bit threshold in tokens used for predictors without buckets. */
  get threshold_tokens(): number {
    return this.threshold;
  }

  /** Mean prediction cost per arrived request, c1 + P(long) · c2 seconds (external cost model). */
  get externalCost_s(): number {
    return this.arrivals === 0 ? 0 : this.o.c1_s + (this.longArrivals / this.arrivals) * this.o.c2_s;
  }

  priority(id: number): number {
    const b = this.predictor.bucket(id);
    const isLong = b >= 0 ? b > 0 : this.predictor.predicted(id) >= this.threshold;
    this.long[id] = isLong ? 1 : 0;
    this.arrivals++;
    if (isLong) this.longArrivals++;
    if (this.o.c1_s > 0 || this.o.c2_s > 0) {
      if (this.o.costMode === 'server') this.ctx.addIterationTime(this.o.c1_s + (isLong ? this.o.c2_s : 0));
    } else chargePrediction(this.ctx, this.predictor, id); // the predictor's own cost (cheap-bit's c1, c2)
    return isLong ? this.predictor.predicted(id) - this.R.generated[id] : -Infinity;
  }

  onIterationEnd(batch: Int32Array, count: number): void {
    const R = this.R;
    for (let i = 0; i < count; i++) {
      const id = batch[i];
      if (this.long[id] === 1 && R.state[id] === RUNNING) this.ctx.setPriority(id, this.predictor.predicted(id) - R.generated[id]);
    }
  }
}

/** Registry entry for SkipPredict. */
export const skippredict: PolicyEntry = {
  name: 'skippredict',
  description: 'SkipPredict: cheap bit first (predicted-short FCFS with strict priority), predicted-long by SPRPT on the expensive prediction',
  source: 'Shahout & Mitzenmacher, arXiv 2402.03564 (NeurIPS 2024); docs/spec.md §7',
  predictor: 'optional',
  defaultPredictor: 'cheap-bit',
  create(opts, predictor) {
    const o = new OptionReader('--policy-opt', 'skippredict', opts, ['threshold', 'c1', 'c2', 'cost-mode', 'displacement']);
    const threshold = o.number('threshold', NaN, { min: 0, minExclusive: true });
    const options: SkipPredictOptions = {
      c1_s: o.number('c1', SKIPPREDICT_DEFAULTS.c1_s, { min: 0 }),
      c2_s: o.number('c2', SKIPPREDICT_DEFAULTS.c2_s, { min: 0 }),
      costMode: o.choice<SkipPredictCostMode>('cost-mode', 'external', ['external', 'server']),
      threshold: Number.isNaN(threshold) ? undefined : threshold,
      displacement: o.choice('displacement', 'pause', DISPLACEMENTS),
    };
    return new SkipPredict(needPredictor('skippredict', predictor), options);
  },
};
