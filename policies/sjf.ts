/**
 * SJF: shortest (predicted) job first, non-preemptive — the bound the length-predicting
 * schedulers approach with perfect predictions (docs/spec.md §12.3: SSJF, LTR and
 * TRAIL with c = 0 all reduce to it).
 */
import type { Policy, PolicyContext, PolicyEntry } from '../sim/policy.ts';
import { ADMIT } from '../sim/policy.ts';
import type { Predictor } from '../sim/predictor.ts';
import { OptionReader, needPredictor, chargePrediction } from './options.ts';

/**
 * Non-preemptive SJF in vLLM v0's batch-formation mode: the key is the predictor's initial
 * output-length estimate in tokens, fixed at arrival (ties in arrival order); running requests are
 * never displaced; under KV pressure the running request with the longest prediction is preempted.
 * A predictor with an on-server cost has it charged to the engine at arrival.
 * With the oracle predictor and one sequence per batch this is the M/G/1 SJF queue of
 * docs/spec.md §12.3.
 */
export class Sjf implements Policy {
  readonly name = 'SJF';
  readonly batching = ADMIT;
  private readonly predictor: Predictor;
  private ctx!: PolicyContext;

  /** @param predictor the run's (attached) length predictor. */
  constructor(predictor: Predictor) {
    this.predictor = predictor;
  }

  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
  }

  priority(id: number): number {
    chargePrediction(this.ctx, this.predictor, id);
    return this.predictor.predicted(id);
  }
}

/** Registry entry for SJF. */
export const sjf: PolicyEntry = {
  name: 'sjf',
  description: 'shortest predicted job first, non-preemptive: key = predicted output tokens, fixed at arrival',
  source: 'classic SJF (Conway, Maxwell & Miller 1967); the perfect-prediction limit of SSJF/LTR/TRAIL, docs/spec.md §12.3',
  predictor: 'optional',
  defaultPredictor: 'oracle',
  create(opts, predictor) {
    new OptionReader('--policy-opt', 'sjf', opts, []);
    return new Sjf(needPredictor('sjf', predictor));
  },
};
