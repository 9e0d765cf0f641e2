/**
 * Learning-to-rank scheduling (Fu et al., "Efficient LLM Scheduling by Learning to Rank",
 * arXiv 2408.15792, NeurIPS'24; code hao-ai-lab/vllm-ltr; docs/spec.md §4).
 */
import type { Policy, PolicyContext, PolicyEntry, RankBatching } from '../sim/policy.ts';
import type { Predictor } from '../sim/predictor.ts';
import type { RequestTable } from '../sim/requests.ts';
import { FINISHED } from '../sim/requests.ts';
import { IndexedHeap } from '../sim/indexed-heap.ts';
import { OptionReader, ON_OFF, needPredictor, chargePrediction } from './options.ts';

/** LTR's starvation control (the fork's `starv200-period10` runs; off in the paper's main results). */
export interface LtrOptions {
  /** Starvation control on or off (default off). */
  starvationControl: boolean;
  /** S: iterations a request may go unexecuted before it is promoted (default 200). */
  starvation: number;
  /** Q: executed iterations a promoted request keeps its promotion (default 10). */
  quantum: number;
}

/** The paper's defaults. */
export const LTR_DEFAULTS: LtrOptions = { starvationControl: false, starvation: 200, quantum: 10 };

/** Promoted keys sit this far below the normal ones (predicted lengths in tokens, < 2^32). */
const PROMOTION_OFFSET = 2 ** 32;

/**
 * Learning-to-rank in the engine's rank mode: every iteration all requests (waiting, running,
 * swapped) are ranked by the predictor's score and the batch is the prefix that fits; the key is
 * the predictor's `predicted(id)` (the score on a length scale: smaller = predicted shorter =
 * first; ties in arrival order), computed once when the request is first seen. Running requests
 * that drop out of the prefix are paused with their KV kept (`pause`), and swapped out only under
 * memory pressure (the engine does that). With exact predictions this is preemptive SJF on total
 * size, not SRPT, since the key does not shrink as tokens are generated (§12.4).
 *
 * Starvation control (`starvation-control=on`): a request not executed for S iterations is
 * promoted (priority −1, ahead of every unpromoted request; among promoted ones by score) for its
 * next Q executed iterations (idle iterations count from the first scheduling decision after its
 * arrival, when the fork first scores it), then returns to score order; a promoted request that again waits S
 * iterations is promoted afresh (the fork's `_get_opt_ordered_requests`). Instead of counting idle
 * iterations for every request each iteration, the policy records the iteration each request last
 * ran and keeps a heap keyed by the iteration at which it would starve (re-keyed for the batch's
 * requests after each iteration), plus a heap of promoted requests by remaining quantum; per
 * iteration that is O(batch · log n) plus O(log n) per promotion, and `stableIterations` stops
 * skip-ahead at the next possible promotion or demotion, so results are exact. With a quantum too
 * short to finish a prefill and a KV cache too small to keep the promoted requests (evicted ones
 * fall back to recompute when the swap space is full), promotions can thrash without progress
 * (seen with S = 4, Q = 3 and a 7-token budget): keep Q at least the iterations a prefill takes.
 */
export class Ltr implements Policy {
  readonly name = 'LTR';
  readonly batching: RankBatching = { mode: 'rank', displacement: 'pause', stallFree: false };
  private readonly predictor: Predictor;
  private readonly o: LtrOptions;
  private ctx!: PolicyContext;
  private R!: RequestTable;
  /** Iterations completed so far. */
  private it = 0;
  /** Normal (score) key per request. */
  private base!: Float64Array;
  /** Last iteration each request ran in (or the count of iterations before it arrived / was promoted). */
  private lastRun!: Float64Array;
  /** Iteration at whose scheduling each request would be promoted, as last computed (heap key). */
  private starveAt!: Float64Array;
  private starving!: IndexedHeap;
  /** Executed iterations of promotion left (heap key). */
  private runs!: Float64Array;
  private promotedHeap!: IndexedHeap;
  /** Requests arrived since the last scheduling decision (first seen at the next one). */
  private readonly arrived: number[] = [];

  /**
   * @param predictor the run's (attached) length predictor (its `predicted` is the ranking score).
   * @param options starvation control (defaults: LTR_DEFAULTS).
   */
  constructor(predictor: Predictor, options: Partial<LtrOptions> = {}) {
    this.predictor = predictor;
    this.o = { ...LTR_DEFAULTS, ...options };
  }

  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
    const R = (this.R = ctx.requests);
    this.base = new Float64Array(R.n);
    if (this.o.starvationControl) {
      this.lastRun = new Float64Array(R.n);
      this.starveAt = new Float64Array(R.n);
      this.starving = new IndexedHeap(R.n, this.starveAt, R.tie);
      this.runs = new Float64Array(R.n);
      this.promotedHeap = new IndexedHeap(R.n, this.runs, R.tie);
    }
  }

  /** Whether request `id` is currently promoted by starvation control. */
  isPromoted(id: number): boolean {
    return this.o.starvationControl && this.promotedHeap.has(id);
  }

  priority(id: number): number {
    chargePrediction(this.ctx, this.predictor, id);
    this.base[id] = this.predictor.predicted(id);
    if (this.o.starvationControl) this.arrived.push(id);
    return this.base[id];
  }

  beforeSchedule(): void {
    if (!this.o.starvationControl) return;
    const i = this.it + 1; // the iteration about to be formed
    const S = this.o.starvation;
    const heap = this.starving;
    // Requests first seen now start with idle count 0 (they may have arrived during a stretch of
    // skipped-over iterations: counting from here keeps the count independent of skip-ahead).
    for (const id of this.arrived) {
      this.lastRun[id] = i - 1;
      this.starveAt[id] = i + S;
      heap.push(id);
    }
    this.arrived.length = 0;
    while (heap.size > 0 && this.starveAt[heap.peek()] <= i) {
      const id = heap.pop();
      const due = this.lastRun[id] + 1 + S;
      if (due > i) {
        // Ran since the entry was made: not starving yet.
        this.starveAt[id] = due;
        heap.push(id);
        continue;
      }
      // Idle for S iterations: promote for Q executed iterations (idle count restarts).
      this.lastRun[id] = i - 1;
      this.starveAt[id] = i + S;
      heap.push(id);
      this.runs[id] = this.o.quantum;
      if (this.promotedHeap.has(id)) this.promotedHeap.update(id);
      else {
        this.promotedHeap.push(id);
        this.ctx.setPriority(id, this.base[id] - PROMOTION_OFFSET);
      }
    }
  }

  onIterationEnd(batch: Int32Array, count: number, steps: number): void {
    this.it += steps;
    if (!this.o.starvationControl) return;
    const R = this.R;
    for (let i = 0; i < count; i++) {
      const id = batch[i];
      if (R.state[id] === FINISHED) continue;
      this.lastRun[id] = this.it;
      this.starveAt[id] = this.it + 1 + this.o.starvation;
      this.starving.update(id);
      if (this.promotedHeap.has(id)) {
        this.runs[id] -= steps;
        if (this.runs[id] <= 0) {
          this.promotedHeap.remove(id);
          this.ctx.setPriority(id, this.base[id]);
        } else this.promotedHeap.update(id);
      }
    }
  }

  onComplete(id: number): void {
    if (!this.o.starvationControl) return;
    this.starving.remove(id);
    this.promotedHeap.remove(id);
  }

  stableIterations(): number {
    if (!this.o.starvationControl) return Infinity;
    const i = this.it + 1; // the iteration being run
    let k = this.starving.size > 0 ? this.starveAt[this.starving.peek()] - i : Infinity;
    if (this.promotedHeap.size > 0) k = Math.min(k, this.runs[this.promotedHeap.peek()]);
    return Math.max(1, k);
  }
}

/** Registry entry for learning-to-rank. */
export const ltr: PolicyEntry = {
  name: 'ltr',
  description: 'learning-to-rank: all requests ranked by predicted length every iteration (rank mode, pause); optional starvation control',
  source: 'Fu et al., arXiv 2408.15792 (NeurIPS 2024), hao-ai-lab/vllm-ltr scheduler.py; docs/spec.md §4',
  predictor: 'optional',
  defaultPredictor: 'rank-tau',
  create(opts, predictor) {
    const o = new OptionReader('--policy-opt', 'ltr', opts, ['starvation-control', 'starvation', 'quantum']);
    const options: LtrOptions = {
      starvationControl: o.choice('starvation-control', 'off', ON_OFF) === 'on',
      starvation: o.number('starvation', LTR_DEFAULTS.starvation, { min: 1, integer: true }),
      quantum: o.number('quantum', LTR_DEFAULTS.quantum, { min: 1, integer: true }),
    };
    return new Ltr(needPredictor('ltr', predictor), options);
  },
};
