/**
 * SRPT: shortest (predicted) remaining processing time first, preemptive — the optimal M/G/1
 * policy for mean response time with exact sizes (Schrage & Miller 1966; docs/spec.md
 * §12.5), and SPRPT (shortest *predicted* remaining time) with a noisy predictor.
 */
import type { Policy, PolicyContext, PolicyEntry, Displacement, RankBatching } from '../sim/policy.ts';
import type { Predictor } from '../sim/predictor.ts';
import type { RequestTable } from '../sim/requests.ts';
import { FINISHED } from '../sim/requests.ts';
import { OptionReader, DISPLACEMENTS, needPredictor, iterationsUntilAnyRefinement, chargePrediction } from './options.ts';

/**
 * Preemptive SRPT in the engine's rank mode: the key is the predictor's remaining-output estimate
 * in tokens, `remaining(id, generated)`, set at arrival and re-keyed after every iteration a
 * request runs in (O(batch · log n) per iteration). Running requests that fall out of the selected
 * prefix are displaced by `displacement` (default `pause`: preempt-resume with the KV kept).
 *
 * Skip-ahead: keys that only decrease keep the batch the same, so the engine may skip ahead until
 * a running request's estimate may next be refined (its generated count reaches a multiple of
 * `refineEvery`); for non-refining predictors that is never.
 */
export class Srpt implements Policy {
  readonly name = 'SRPT';
  readonly batching: RankBatching;
  private readonly predictor: Predictor;
  private ctx!: PolicyContext;
  private R!: RequestTable;

  /**
   * @param predictor the run's (attached) length predictor.
   * @param displacement fate of a displaced running request.
   */
  constructor(predictor: Predictor, displacement: Displacement = 'pause') {
    this.predictor = predictor;
    this.batching = { mode: 'rank', displacement, stallFree: false };
  }

  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
    this.R = ctx.requests;
  }

  priority(id: number): number {
    chargePrediction(this.ctx, this.predictor, id);
    return this.predictor.remaining(id, this.R.generated[id]);
  }

  onIterationEnd(batch: Int32Array, count: number): void {
    const R = this.R;
    for (let i = 0; i < count; i++) {
      const id = batch[i];
      if (R.state[id] !== FINISHED) this.ctx.setPriority(id, this.predictor.remaining(id, R.generated[id]));
    }
  }

  stableIterations(): number {
    return iterationsUntilAnyRefinement(this.ctx, this.predictor);
  }
}

/** Registry entry for SRPT. */
export const srpt: PolicyEntry = {
  name: 'srpt',
  description: 'shortest predicted remaining output first, preemptive (rank mode); re-keyed as tokens are generated',
  source: 'Schrage & Miller 1966 (SRPT); SPRPT with predictions (Mitzenmacher 2020); docs/spec.md §12.5',
  predictor: 'optional',
  defaultPredictor: 'oracle',
  create(opts, predictor) {
    const o = new OptionReader('--policy-opt', 'srpt', opts, ['displacement']);
    const displacement = o.choice('displacement', 'pause', DISPLACEMENTS);
    return new Srpt(needPredictor('srpt', predictor), displacement);
  },
};
