/**
 * SSJF: speculative shortest-job-first with a proxy-model length predictor (Qiu et al., "Efficient
 * Interactive LLM Serving with Proxy Model-based Sequence Length Prediction", arXiv 2404.08509,
 * AIOps@ASPLOS'24; docs/spec.md §3).
 */
import type { Policy, PolicyContext, PolicyEntry } from '../sim/policy.ts';
import { ADMIT, deadlineBefore } from '../sim/policy.ts';
import type { Predictor } from '../sim/predictor.ts';
import type { RequestTable } from '../sim/requests.ts';
import { WAITING } from '../sim/requests.ts';
import { IndexedHeap } from '../sim/indexed-heap.ts';
import { OptionReader, ON_OFF, needPredictor, chargePrediction } from './options.ts';

/** SSJF's settings (defaults from the authors' `model-serving/util.py`). */
export interface SsjfOptions {
  /** `const_latency`, seconds (default 0.1). */
  const_s: number;
  /** `per_token_latency`, seconds per output token (default 0.02). */
  perToken_s: number;
  /** Starvation guard on (default) or off. */
  starvation: boolean;
  /** SJF_STARVATION_WAITING_TIME_THRES, seconds (default 100). */
  starvationWait_s: number;
  /** The waiting-time coefficient on the predicted execution time (default 10). */
  starvationCoef: number;
}

/** The authors' defaults. */
export const SSJF_DEFAULTS: SsjfOptions = { const_s: 0.1, perToken_s: 0.02, starvation: true, starvationWait_s: 100, starvationCoef: 10 };

/**
 * SSJF as the authors run it on a continuous-batching engine: non-preemptive (vLLM v0 mode); the
 * key, computed once at arrival and never updated, is the predicted execution time
 * `const + L̂ · per-token` seconds (L̂ = the predictor's length estimate), or the predicted bucket
 * index for bucket classifiers (the predictor reports `bucket(id) >= 0`); ties in arrival order.
 *
 * Starvation guard (`util.py`), at each dispatch (`beforeSchedule`): if the longest-waiting
 * request j has waited more than `starvation-wait` seconds or more than `starvation-coef` × its
 * predicted execution time, that decision takes j first (the queue "ordered by waiting time").
 * Applied one admission at a time, this promotes the maximal run of starving requests at the head
 * of the arrival order: each gets a key below every normal key (−Infinity; among themselves
 * arrival order). Waiting time is time since arrival. The policy keeps the not-yet-promoted
 * waiting requests in a heap by arrival (lazy deletion), so a decision costs O(log n) per
 * promotion, never a scan.
 *
 * Skip-ahead: a promotion can change which request the engine admits next (a shorter one may fit
 * the KV cache where the head did not), so the engine bundles decode iterations only until the
 * longest-waiting non-promoted request would starve (`stableUntil`).
 */
export class Ssjf implements Policy {
  readonly name = 'SSJF';
  readonly batching = ADMIT;
  private readonly predictor: Predictor;
  private readonly o: SsjfOptions;
  private ctx!: PolicyContext;
  private R!: RequestTable;
  /** Not-yet-promoted requests that may be waiting, by arrival time (stale entries popped lazily). */
  private fifo!: IndexedHeap;
  private promoted!: Uint8Array;

  /**
   * @param predictor the run's (attached) length predictor.
   * @param options SSJF's settings (defaults: SSJF_DEFAULTS).
   */
  constructor(predictor: Predictor, options: Partial<SsjfOptions> = {}) {
    this.predictor = predictor;
    this.o = { ...SSJF_DEFAULTS, ...options };
  }

  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
    this.R = ctx.requests;
    this.fifo = new IndexedHeap(this.R.n, this.R.arrival, this.R.tie);
    this.promoted = new Uint8Array(this.R.n);
  }

  /** Predicted execution time of request `id`, seconds: const + L̂ · per-token. */
  predictedExec_s(id: number): number {
    return this.o.const_s + this.predictor.predicted(id) * this.o.perToken_s;
  }

  priority(id: number): number {
    chargePrediction(this.ctx, this.predictor, id);
    if (this.o.starvation) this.fifo.push(id);
    const b = this.predictor.bucket(id);
    return b >= 0 ? b : this.predictedExec_s(id);
  }

  beforeSchedule(now: number): void {
    if (!this.o.starvation) return;
    const R = this.R;
    for (;;) {
      const id = this.fifo.peek();
      if (id < 0) break;
      if (R.state[id] !== WAITING) {
        this.fifo.pop(); // admitted (or finished) since: it leaves the guard's queue
        continue;
      }
      const wait = now - R.arrival[id];
      if (!(wait > this.o.starvationWait_s || wait > this.o.starvationCoef * this.predictedExec_s(id))) break;
      this.fifo.pop();
      this.promoted[id] = 1;
      this.ctx.setPriority(id, -Infinity);
    }
  }

  onPreempt(id: number): void {
    // Back in the waiting queue (recompute): the guard sees it again unless already promoted.
    if (this.o.starvation && this.R.state[id] === WAITING && this.promoted[id] === 0 && !this.fifo.has(id)) this.fifo.push(id);
  }

  stableUntil(): number {
    if (!this.o.starvation) return Infinity;
    const R = this.R;
    while (this.fifo.size > 0 && R.state[this.fifo.peek()] !== WAITING) this.fifo.pop();
    const id = this.fifo.peek();
    if (id < 0) return Infinity;
    const wait = Math.min(this.o.starvationWait_s, this.o.starvationCoef * this.predictedExec_s(id));
    return wait === Infinity ? Infinity : deadlineBefore(R.arrival[id] + wait);
  }
}

/** Registry entry for SSJF. */
export const ssjf: PolicyEntry = {
  name: 'ssjf',
  description: 'speculative SJF, non-preemptive: key = const + predicted tokens x per-token seconds (or predicted bucket), fixed at arrival; starvation guard',
  source: 'Qiu et al., arXiv 2404.08509 (AIOps@ASPLOS 2024), model-serving/util.py; docs/spec.md §3',
  predictor: 'optional',
  defaultPredictor: 'ssjf-buckets',
  create(opts, predictor) {
    const o = new OptionReader('--policy-opt', 'ssjf', opts, ['const', 'per-token', 'starvation', 'starvation-wait', 'starvation-coef']);
    const options: SsjfOptions = {
      const_s: o.number('const', SSJF_DEFAULTS.const_s, { min: 0 }),
      perToken_s: o.number('per-token', SSJF_DEFAULTS.perToken_s, { min: 0 }),
      starvation: o.choice('starvation', 'on', ON_OFF) === 'on',
      starvationWait_s: o.number('starvation-wait', SSJF_DEFAULTS.starvationWait_s, { min: 0, allowInfinity: true }),
      starvationCoef: o.number('starvation-coef', SSJF_DEFAULTS.starvationCoef, { min: 0, allowInfinity: true }),
    };
    return new Ssjf(needPredictor('ssjf', predictor), options);
  },
};
