/**
 * `workload-aware`: a router after Jain et al., "Intelligent Router for LLM Workloads: Improving
 * Performance Through Workload-Aware Load Balancing" (arXiv 2408.13510). Each request goes to the
 * replica where adding it has the smallest estimated total latency impact: its own estimated
 * latency there plus the delay it adds to the requests already there, both priced with the run's
 * own cost model from the replica's current prefill/decode mix and the predicted output lengths.
 *
 * What follows the paper's public description (abstract and summaries; the full text was not
 * available): routing by a response-length prediction, and choosing the instance by an estimate
 * of the latency impact of mixing the new request's prefill and decode with the instance's
 * current work. What is this project's formulation: the estimator itself (below, and
 * docs/policies.md "workload-aware router"), the use of the simulator's cost model and predictors,
 * and a greedy choice in place of the paper's heuristic-guided reinforcement-learning policy.
 *
 * Estimate for request r (prompt p tokens, of which h cached on the replica; predicted output
 * d = max(1, predictor.predicted(r)) tokens) on a replica holding requests j with predicted
 * remaining output m_j = max(1, predictor.remaining(j, generated_j)) and context c_j = prompt_j +
 * generated_j tokens (t is the cost model's iteration time, seconds):
 * - τ_q = Σ t(iterations prefilling the replica's pending prefills, gathered in scan order into
 *   iterations of at most 4,096 tokens, vLLM's prefill-priority default budget; a longer prompt in
 *   chunks), 0 if none;
 * - τ_p = the same for r alone: p − h tokens after h cached;
 * - overlap o_j = min(m_j, d) decode steps; O = Σ o_j; b = O / d (mean co-running decodes per step
 *   of r); k = Σ o_j (c_j + o_j / 2) / d (their mean KV tokens read per step);
 * - δ₁ = step(b + 1, k + p + d/2): r's mean decode-step time, where step(x, kv) interpolates
 *   linearly between t(decode of ⌊x⌋ seqs) and t(decode of ⌈x⌉ seqs) (0 for 0 seqs), the kv
 *   tokens split evenly over the seqs;
 * - Δ = step(b' + 1, k' + p + d/2) − step(b', k'), b' = max(1, b), k' = k·b'/b (Δ = 0 if O = 0):
 *   what r adds to a decode step it shares with at least one other request;
 * - own = τ_q + τ_p + d·δ₁ (queue, prefill, decode of r);
 * - others = N·τ_p + O·Δ (N = requests on the replica: each is stalled by r's prefill, and each
 *   step one of them shares with r is longer by Δ);
 * - impact = own + w·others (w: option `others-weight`, default 1). Least impact wins; ties go to
 *   the lowest index.
 */
import type { BatchShape, CostModel } from '../sim/cost/cost-model.ts';
import { addPrefillChunk, clearBatchShape, emptyBatchShape } from '../sim/cost/cost-model.ts';
import type { Predictor } from '../sim/predictor.ts';
import type { ReplicaLoad, Router, RouterContext } from '../sim/router.ts';
import { SWAPPED } from '../sim/requests.ts';
import type { RequestTable } from '../sim/requests.ts';

/** Tokens per priced pending-prefill iteration: vLLM's default prefill-priority token budget. */
const PREFILL_GROUP = 4096;

/** The parts of one replica's estimate for one request (seconds; steps and counts unitless). */
export interface ImpactEstimate {
  /** Time of the iterations prefilling the replica's pending prefills (τ_q), s. */
  queuePrefill_s: number;
  /** Prefill time of the new request, s. */
  prefill_s: number;
  /** Mean decode-step time of the new request's steps (δ₁), s. */
  stepWith_s: number;
  /** What it adds to each step it shares with another request (Δ), s. */
  marginalStep_s: number;
  /** Unfinished requests on the replica (N). */
  requests: number;
  /** Decode steps they share with the new request (O). */
  overlapSteps: number;
  /** Estimated latency of the new request there, s. */
  own_s: number;
  /** Estimated delay added to the replica's other requests, summed, s. */
  others_s: number;
  /** own + w·others, s. */
  impact_s: number;
}

/**
 * Estimates the latency impact of adding request `id` to `replica` (see the module comment for
 * the formulas). Allocation-free after construction; O(unfinished requests on the replica) per
 * call, plus at most six cost-model calls and one per 4,096 pending prefill tokens.
 */
export class ImpactEstimator {
  private readonly R: RequestTable;
  private readonly cost: CostModel;
  private readonly predictor: Predictor;
  private readonly pending: BatchShape = emptyBatchShape();
  private readonly decode: BatchShape = emptyBatchShape();
  // Scan accumulators (the visitor below is built once).
  private d = 1;
  private n = 0;
  private overlap = 0;
  private kvOverlap = 0;
  private queued = 0;
  private readonly visit: (j: number) => void;

  /** @param requests the run's request table; @param cost prices an iteration; @param predictor attached to the trace. */
  constructor(requests: RequestTable, cost: CostModel, predictor: Predictor) {
    this.R = requests;
    this.cost = cost;
    this.predictor = predictor;
    this.visit = (j) => {
      const R = this.R;
      const g = R.generated[j];
      const c = R.prompt[j] + g;
      const left = c - R.computed[j];
      // Pending prefill: a waiting or running request with more than its one decode token to compute.
      if (R.state[j] !== SWAPPED && left > 0 && !(left === 1 && g >= 1)) this.addPending(R.computed[j], left);
      const m = Math.max(1, this.predictor.remaining(j, g));
      const o = Math.min(m, this.d);
      this.n++;
      this.overlap += o;
      this.kvOverlap += o * (c + o / 2);
    };
  }

  /** The estimate for request `id` on `replica` at the present state; `out` is filled and returned. */
  estimate(id: number, replica: ReplicaLoad, w: number, out: ImpactEstimate): ImpactEstimate {
    const R = this.R;
    const d = Math.max(1, this.predictor.predicted(id));
    this.d = d;
    this.n = 0;
    this.overlap = 0;
    this.kvOverlap = 0;
    this.queued = 0;
    clearBatchShape(this.pending);
    replica.forEachRequest(this.visit);
    this.flushPending();
    const queuePrefill = this.queued;
    const p = R.prompt[id];
    const h = Math.min(replica.cachedPrefixTokens(id), p - 1);
    const before = this.queued;
    this.addPending(h, p - h);
    this.flushPending();
    const prefill = this.queued - before;
    const b = this.overlap / d;
    const k = this.kvOverlap / d;
    const cNew = p + d / 2;
    const stepWith = this.step(b + 1, k + cNew);
    // Each shared step holds at least one co-runner: the marginal step cost of r is taken at b' = max(1, b).
    const b1 = Math.max(1, b);
    const k1 = b > 0 ? (k * b1) / b : 0;
    const marginal = this.overlap > 0 ? this.step(b1 + 1, k1 + cNew) - this.step(b1, k1) : 0;
    const own = queuePrefill + prefill + d * stepWith;
    const others = this.n * prefill + this.overlap * marginal;
    out.queuePrefill_s = queuePrefill;
    out.prefill_s = prefill;
    out.stepWith_s = stepWith;
    out.marginalStep_s = marginal;
    out.requests = this.n;
    out.overlapSteps = this.overlap;
    out.own_s = own;
    out.others_s = others;
    out.impact_s = own + w * others;
    return out;
  }

  /**
   * Gathers a prefill of `tokens` after `prefix` cached tokens into the pending iteration, in
   * pieces of at most PREFILL_GROUP tokens; a full iteration is priced (flushed) first.
   */
  private addPending(prefix: number, tokens: number): void {
    while (tokens > 0) {
      const c = Math.min(tokens, PREFILL_GROUP);
      if (this.pending.prefillSeqs > 0 && this.pending.prefillTokens + c > PREFILL_GROUP) this.flushPending();
      addPrefillChunk(this.pending, prefix, c);
      prefix += c;
      tokens -= c;
    }
  }

  /** Adds the price of the pending-prefill iteration being gathered to `queued` and empties it. */
  private flushPending(): void {
    if (this.pending.prefillSeqs > 0) this.queued += this.cost.iterationTime(this.pending);
    clearBatchShape(this.pending);
  }

  /** Decode-step time for x (≥ 0, fractional) sequences reading kv tokens in all: linear between ⌊x⌋ and ⌈x⌉ sequences (0 for none). */
  private step(x: number, kv: number): number {
    if (x <= 0) return 0;
    const lo = Math.floor(x);
    const hi = Math.ceil(x);
    const tLo = lo === 0 ? 0 : this.decodeTime(lo, (kv * lo) / x);
    if (hi === lo) return tLo;
    const tHi = this.decodeTime(hi, (kv * hi) / x);
    return tLo + (x - lo) * (tHi - tLo);
  }

  /** One decode iteration of `seqs` sequences reading `kv` KV tokens. */
  private decodeTime(seqs: number, kv: number): number {
    const s = this.decode;
    clearBatchShape(s);
    s.decodeSeqs = seqs;
    s.decodeKvTokens = Math.round(kv);
    s.sampledSeqs = seqs;
    return this.cost.iterationTime(s);
  }
}

/** A zeroed {@link ImpactEstimate}. */
export function emptyEstimate(): ImpactEstimate {
  return { queuePrefill_s: 0, prefill_s: 0, stepWith_s: 0, marginalStep_s: 0, requests: 0, overlapSteps: 0, own_s: 0, others_s: 0, impact_s: 0 };
}

/**
 * The `workload-aware` router over `ctx` with weight `w` (≥ 0) on the delay to other requests.
 * @throws Error if `ctx` lacks the cost model or the predictor (a caller bug: the CLI passes both).
 */
export function workloadAwareRouter(ctx: RouterContext, w: number): Router {
  if (!ctx.cost || !ctx.predictor) throw new Error('router workload-aware needs the run cost model and a length predictor in its RouterContext');
  const est = new ImpactEstimator(ctx.requests, ctx.cost, ctx.predictor);
  const reps = ctx.replicas;
  const e = emptyEstimate();
  return {
    name: 'workload-aware',
    route(id) {
      let best = 0;
      let bestImpact = Infinity;
      for (let i = 0; i < reps.length; i++) {
        const v = est.estimate(id, reps[i], w, e).impact_s;
        if (v < bestImpact) {
          best = i;
          bestImpact = v;
        }
      }
      return best;
    },
  };
}
