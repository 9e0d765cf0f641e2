/**
 * Skip-ahead: where nothing can change the batch — no arrival, completion, preemption or policy
 * re-keying due — the engine advances over many identical decode iterations at once, with results
 * identical to stepping them one by one (test/conformance.test.ts checks every registered policy).
 * Each step is priced exactly as stepping would price it; KV blocks are charged as each member
 * crosses a block boundary (the free-slot histogram).
 */
import type { CostModel } from './cost/cost-model.ts';
import type { ReplicaState } from './replica-state.ts';
import type { PipelineReplica } from './pipeline.ts';
import { iterationBytes, iterationFlops } from './cost/work.ts';

/**
 * Whether the batch just formed in `s` may be extended by skip-ahead: decode-only, nothing admitted, swapped
 * or preempted, no extra server time, and (admit mode) every running request in it.
 * @param extra_s server time policies added to this iteration (s).
 */
export function canSkipAhead(s: ReplicaState, extra_s: number): boolean {
  const b = s.batch;
  return (
    b.shape.prefillSeqs === 0 &&
    b.swapBytes === 0 &&
    extra_s === 0 &&
    !s.preempted &&
    !s.admitted &&
    (s.policy.batching.mode === 'rank' || b.count === s.running.count)
  );
}

/**
 * Extends the decode-only batch of `s` (step 1 already allocated and priced, ending at `t` s) over
 * further identical iterations: until the first completion is due, the KV cache would need a
 * preemption, the policy's keys may change (`stableIterations`, `stableUntil`), or an iteration
 * would end after `horizon` (s). Charges the extra steps to `s.stats` and the KV cache.
 * @param hist scratch of `blockSize` entries.
 * @param pipe the pipeline-parallel replica `s` is a virtual engine of, when it has one: each step
 *   is then timed through its stages (the caller bundles only while no other virtual engine can
 *   use them) and committed to them.
 * @returns the end time of the last step (s); sets `s.batch.steps`.
 */
export function skipAhead(s: ReplicaState, t: number, horizon: number, cost: CostModel, hist: Int32Array, pipe?: PipelineReplica): number {
  const { R, kv, policy, batch } = s;
  const ids = batch.ids.ids;
  const B = batch.count;
  const now = s.now;
  let kMax = policy.stableIterations ? policy.stableIterations(now) : Infinity;
  for (let i = 0; i < B; i++) {
    const left = R.output[ids[i]] - R.generated[ids[i]];
    if (left < kMax) kMax = left;
  }
  // Not at block granularity (cannot happen after a whole prefill): step normally.
  if (!kv.slotHistogram(ids, B, hist)) return t;
  if (kMax <= 1) return t;
  const until = policy.stableUntil ? policy.stableUntil(now, ids, B) : Infinity;
  const sh = batch.shape;
  const st = s.stats;
  const bs = kv.blockSize;
  const kv1 = sh.decodeKvTokens;
  const work = s.cfg.work;
  let free = kv.freeBlocks;
  let used = kv.usedBlocks;
  // With limited preemption on a full batch, a waiting head that still fits the KV cache (but
  // was not admitted for lack of token budget) could become "full" as decodes grow: stop before.
  const head = s.waiting.peek();
  const headFloor =
    head >= 0 && policy.batching.mode === 'admit' && policy.mayPreemptForHead && s.running.count < s.cfg.maxNumSeqs
      ? kv.blocksFor(R.prompt[head] + R.generated[head]) + kv.watermark
      : -Infinity;
  const itl = R.itl;
  const firstEnd = t;
  let laterMax = -1;
  let steps = 1;
  while (steps < kMax && t < until) {
    const cross = hist[(steps - 1) % bs];
    if (cross > free || free - cross < headFloor) break;
    sh.decodeKvTokens = kv1 + steps * B;
    let e: number;
    let dt: number;
    if (pipe) {
      e = pipe.end(t, sh, 0, 0);
      dt = e - t;
    } else {
      dt = cost.iterationTime(sh);
      e = t + dt;
    }
    // The bundle ends by the next event: whoever looks at this replica then (a router) sees
    // the state stepping would show.
    if (e > horizon) break;
    pipe?.commit();
    free -= cross;
    used += cross;
    // Every member samples a token at the end of this step: B gaps of the time since the last
    // step's end (computed from the two end times, as stepping would).
    const gap = e - t;
    itl.add(gap, B);
    if (gap > laterMax) laterMax = gap;
    t = e;
    st.iterations++;
    st.batchSizeSum += B;
    st.kvBlockSeconds += used * dt;
    // Each step's work as stepping adds it (decodeKvTokens grows by B a step).
    if (work) {
      st.modelFlops += iterationFlops(work, sh);
      st.hbmBytes += iterationBytes(work, sh);
    }
    steps++;
  }
  if (used > st.kvMaxBlocks) st.kvMaxBlocks = used;
  if (steps > 1) kv.growAll(ids, B, steps);
  batch.steps = steps;
  batch.firstStepEnd = firstEnd;
  batch.laterMaxGap = laterMax;
  return t;
}
