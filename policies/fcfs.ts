/**
 * FCFS: first come, first served, the vLLM default (docs/spec.md §1).
 */
import type { Policy, PolicyContext, PolicyEntry } from '../sim/policy.ts';
import { ADMIT } from '../sim/policy.ts';
import type { RequestTable } from '../sim/requests.ts';
import { OptionReader } from './options.ts';

/**
 * FCFS as in vLLM v0's scheduler: the key is the arrival time, fixed at arrival; running requests
 * are never displaced; under KV pressure the newest running request is preempted, and a request
 * preempted by recompute keeps its place at the head (its key is unchanged).
 */
export class Fcfs implements Policy {
  readonly name = 'FCFS';
  readonly batching = ADMIT;
  private requests: RequestTable | undefined;

  attach(ctx: PolicyContext): void {
    this.requests = ctx.requests;
  }

  priority(id: number): number {
    return this.requests!.arrival[id];
  }
}

/** Registry entry for FCFS. */
export const fcfs: PolicyEntry = {
  name: 'fcfs',
  description: 'first come, first served; newest running request is the preemption victim',
  source: 'vLLM v0 scheduler (Kwon et al., SOSP 2023, §4.5); docs/spec.md §1',
  predictor: 'none',
  create(opts) {
    new OptionReader('--policy-opt', 'fcfs', opts, []);
    return new Fcfs();
  },
};
