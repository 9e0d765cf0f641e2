/**
 * TRAIL: shortest predicted remaining length first with limited preemption, on refined
 * embedding-probe predictions (Shahout et al., "Don't Stop Me Now: Embedding Based Scheduling for
 * LLMs", arXiv 2410.01035, ICLR'25; code harvard-cns/TRAIL-llm-scheduling; docs/spec.md
 * §5, and its exact-prediction oracle §12.6).
 */
import type { Policy, PolicyContext, PolicyEntry } from '../sim/policy.ts';
import { ADMIT } from '../sim/policy.ts';
import type { Predictor } from '../sim/predictor.ts';
import type { RequestTable } from '../sim/requests.ts';
import { RUNNING } from '../sim/requests.ts';
import { OptionReader, needPredictor, iterationsUntilAnyRefinement, chargePrediction } from './options.ts';

/** TRAIL's settings (§5 table). */
export interface TrailOptions {
  /** c: a running request is preemptible only while generated <= c · max(ŷ0, 1) (default 0.8; in [0, 1]; 0 = never). */
  c: number;
  /** A waiting request displaces a running one only if r̂_w + margin < r̂_run (tokens; default 0). */
  margin: number;
  /** Most preemptions per request before it is never displaced again (0 = unlimited, the default). */
  maxPreemptions: number;
}

/** The paper's defaults. */
export const TRAIL_DEFAULTS: TrailOptions = { c: 0.8, margin: 0, maxPreemptions: 0 };

/**
 * TRAIL in the engine's vLLM mode with limited preemption on a full batch (docs/engine.md): running
 * requests keep running; waiting requests are admitted in key order; when the head of the queue
 * does not fit (the batch is full: sequence budget or KV cache), the displaceable running request
 * with the largest key is preempted if its key is larger than the head's — one victim per
 * admitted request (the SGLang port's rule). Key: the predictor's remaining-length estimate
 * r̂ = `remaining(id, generated)` in tokens, re-keyed after every iteration a request runs in (a
 * refining predictor's new estimate takes effect every `refineEvery` tokens; in between it counts
 * down); running requests are keyed r̂ − margin, so a waiting request displaces a running one only
 * if r̂_w + margin < r̂_run. A waiting request with generated > c · ŷ0 gets key +Infinity (§5 text).
 *
 * Limited preemption: `mayPreemptForHead(id)` is generated <= c · max(ŷ0, 1) (ŷ0 = the initial
 * prediction, `predicted(id)`, as the port's `_is_trail_preemptible`), and false once the request
 * has been preempted `max-preemptions` times; c = 0 turns preemption off (the port's
 * `trail_preemption_enabled`): non-preemptive SJF on the initial prediction; c = 1 is SPRPT.
 * The victim is preempted by recompute (the paper's prototype releases its KV; the port keeps it
 * in a prefix cache, which this simulator does not model yet).
 *
 * Skip-ahead: the engine may skip ahead until any running request's estimate may next be refined
 * (generated reaches a multiple of `refineEvery`).
 */
export class Trail implements Policy {
  readonly name = 'TRAIL';
  readonly batching = ADMIT;
  private readonly predictor: Predictor;
  private readonly o: TrailOptions;
  private ctx!: PolicyContext;
  private R!: RequestTable;
  /** c · max(ŷ0, 1) per request: the last generated count at which it may be displaced (−1 when c = 0). */
  private limit!: Float64Array;

  /**
   * @param predictor the run's (attached) length predictor.
   * @param options c, margin, max-preemptions (defaults: TRAIL_DEFAULTS).
   * @throws RangeError if c is outside [0, 1] (the registry reports it as an InputError).
   */
  constructor(predictor: Predictor, options: Partial<TrailOptions> = {}) {
    this.predictor = predictor;
    this.o = { ...TRAIL_DEFAULTS, ...options };
    if (!(this.o.c >= 0 && this.o.c <= 1)) throw new RangeError(`TRAIL c must be in [0, 1] (got ${this.o.c})`);
  }

  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
    this.R = ctx.requests;
    this.limit = new Float64Array(this.R.n);
  }

  priority(id: number): number {
    chargePrediction(this.ctx, this.predictor, id);
    // The code's cutoff: c · max(ŷ0, 1); c = 0 turns preemption off altogether.
    this.limit[id] = this.o.c > 0 ? this.o.c * Math.max(this.predictor.predicted(id), 1) : -1;
    return this.predictor.remaining(id, this.R.generated[id]);
  }

  mayPreemptForHead(id: number): boolean {
    return this.R.generated[id] <= this.limit[id] && (this.o.maxPreemptions === 0 || this.R.preemptions[id] < this.o.maxPreemptions);
  }

  onIterationEnd(batch: Int32Array, count: number): void {
    const R = this.R;
    for (let i = 0; i < count; i++) {
      const id = batch[i];
      if (R.state[id] === RUNNING) this.ctx.setPriority(id, this.predictor.remaining(id, R.generated[id]) - this.o.margin);
    }
  }

  onPreempt(id: number): void {
    const g = this.R.generated[id];
    this.ctx.setPriority(id, g > this.limit[id] ? Infinity : this.predictor.remaining(id, g));
  }

  stableIterations(): number {
    return iterationsUntilAnyRefinement(this.ctx, this.predictor);
  }
}

/** Registry entry for TRAIL. */
export const trail: PolicyEntry = {
  name: 'trail',
  description: 'TRAIL: shortest predicted remaining first, preempting one victim per admission on a full batch, only while generated <= c x initial prediction',
  source: 'Shahout et al., arXiv 2410.01035 (ICLR 2025), harvard-cns/TRAIL-llm-scheduling; docs/spec.md §5, §12.6',
  predictor: 'optional',
  defaultPredictor: 'trail',
  create(opts, predictor) {
    const o = new OptionReader('--policy-opt', 'trail', opts, ['c', 'margin', 'max-preemptions']);
    const options: TrailOptions = {
      c: o.number('c', TRAIL_DEFAULTS.c, { min: 0, max: 1 }),
      margin: o.number('margin', TRAIL_DEFAULTS.margin, { min: 0 }),
      maxPreemptions: o.number('max-preemptions', TRAIL_DEFAULTS.maxPreemptions, { min: 0, integer: true }),
    };
    return new Trail(needPredictor('trail', predictor), options);
  },
};
