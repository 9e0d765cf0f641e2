/**
 * The workload-aware router (policies/workload-aware.ts, after Jain et al., arXiv 2408.13510):
 * its estimate and choice on the two-instance example derived by hand in docs/policies.md
 * ("workload-aware router"), where it disagrees with least-tokens; and, in whole runs, that
 * `ReplicaLoad.forEachRequest` visits exactly the replica's unfinished requests.
 */
import { describe, it, expect } from 'vitest';
import seedrandom from 'seedrandom';
import { getRouter } from '../policies/routers.ts';
import { ImpactEstimator, emptyEstimate } from '../policies/workload-aware.ts';
import { OraclePredictor } from '../policies/predictors/index.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { RequestTable, RUNNING, WAITING, SWAPPED } from '../sim/requests.ts';
import type { ReplicaLoad, RouterContext } from '../sim/router.ts';
import { simulate } from '../sim/simulator.ts';
import { makeTrace, engineConfig, poissonGeometricTrace } from './helpers.ts';

/** t = 0.01 s + 0.0001 s per prefill token + 0.002 s per decoding sequence (no KV term). */
const COST = new LinearCostModel({ base: 0.01, prefill: 0.0001, decode: 0.002, kv: 0 });

/**
 * The hand-worked example: replica A holds request 0 (prompt 2000, decoding, 5 tokens left),
 * replica B request 1 (prompt 100, decoding, 500 tokens left); request 2 (prompt 1000, output 10)
 * arrives. Oracle predictions.
 */
function example() {
  const trace = makeTrace([0, 0, 1], [2000, 100, 1000], [6, 501, 10]);
  const R = new RequestTable(trace);
  for (const id of [0, 1]) {
    R.state[id] = RUNNING;
    R.generated[id] = 1;
    R.computed[id] = R.prompt[id];
  }
  const replica = (ids: number[]): ReplicaLoad => ({
    outstandingRequests: ids.length,
    outstandingTokens: ids.reduce((s, j) => s + R.prompt[j] + R.generated[j], 0),
    freeness: 0,
    freenessRequests: 0,
    cachedPrefixTokens: () => 0,
    forEachRequest: (visit) => ids.forEach((j) => visit(j)),
  });
  const predictor = new OraclePredictor();
  predictor.attach(trace);
  const ctx: RouterContext = { replicas: [replica([0]), replica([1])], requests: R, random: seedrandom.alea('t'), cost: COST, predictor };
  return { R, ctx, predictor };
}

describe('workload-aware router: the hand-worked two-instance example', () => {
  it('estimates each part as derived in docs/policies.md', () => {
    const { R, ctx, predictor } = example();
    const est = new ImpactEstimator(R, COST, predictor);
    const a = est.estimate(2, ctx.replicas[0], 1, emptyEstimate());
    // A: τ_q = 0; τ_p = 0.01 + 0.1 = 0.11; o = min(5, 10) = 5, b = 0.5;
    // δ₁ = t(1) + 0.5 (t(2) − t(1)) = 0.012 + 0.001 = 0.013; Δ = t(2) − t(1) = 0.002.
    expect(a.queuePrefill_s).toBe(0);
    expect(a.prefill_s).toBeCloseTo(0.11, 12);
    expect(a.overlapSteps).toBe(5);
    expect(a.stepWith_s).toBeCloseTo(0.013, 12);
    expect(a.marginalStep_s).toBeCloseTo(0.002, 12);
    expect(a.own_s).toBeCloseTo(0.11 + 10 * 0.013, 12); // 0.24
    expect(a.others_s).toBeCloseTo(0.11 + 5 * 0.002, 12); // 0.12
    expect(a.impact_s).toBeCloseTo(0.36, 12);
    // B: o = min(500, 10) = 10, b = 1; δ₁ = t(2) = 0.014; Δ = 0.002.
    const b = est.estimate(2, ctx.replicas[1], 1, emptyEstimate());
    expect(b.overlapSteps).toBe(10);
    expect(b.stepWith_s).toBeCloseTo(0.014, 12);
    expect(b.own_s).toBeCloseTo(0.25, 12);
    expect(b.others_s).toBeCloseTo(0.13, 12);
    expect(b.impact_s).toBeCloseTo(0.38, 12);
  });

  it('chooses A, where least-tokens chooses B; with others-weight 0, A still (0.24 < 0.25)', () => {
    const { ctx } = example();
    expect(getRouter('workload-aware').create({})(ctx).route(2, 1)).toBe(0);
    expect(getRouter('least-tokens').create({})(ctx).route(2, 1)).toBe(1);
    expect(getRouter('workload-aware').create({ 'others-weight': '0' })(ctx).route(2, 1)).toBe(0);
  });

  it('counts a pending prefill into the queue term and flips the choice', () => {
    // A waiting request of 1000 prompt tokens (output 2) on A: τ_q = 0.11, N = 2, o = 2 more.
    const trace = makeTrace([0, 0, 1, 0], [2000, 100, 1000, 1000], [6, 501, 10, 2]);
    const { ctx: c0 } = example();
    const R = new RequestTable(trace);
    for (const id of [0, 1]) {
      R.state[id] = RUNNING;
      R.generated[id] = 1;
      R.computed[id] = R.prompt[id];
    }
    R.state[3] = WAITING;
    const predictor = new OraclePredictor();
    predictor.attach(trace);
    const ids = [[0, 3], [1]];
    const replicas = ids.map((l): ReplicaLoad => ({ ...c0.replicas[0], forEachRequest: (visit) => l.forEach((j) => visit(j)) }));
    const est = new ImpactEstimator(R, COST, predictor);
    const a = est.estimate(2, replicas[0], 1, emptyEstimate());
    // τ_q = 0.11; o = 5 + 2 = 7, b = 0.7: δ₁ = 0.012 + 0.7·0.002 = 0.0134, Δ = 0.002;
    // own = 0.11 + 0.11 + 0.134 = 0.354; others = 2·0.11 + 7·0.002 = 0.234; impact 0.588 > B's 0.38.
    expect(a.queuePrefill_s).toBeCloseTo(0.11, 12);
    expect(a.own_s).toBeCloseTo(0.354, 12);
    expect(a.others_s).toBeCloseTo(0.234, 12);
    expect(getRouter('workload-aware').create({})({ ...c0, replicas, requests: R, predictor }).route(2, 1)).toBe(1);
  });

  it('a swapped request is decoding, not a pending prefill', () => {
    const { R, ctx, predictor } = example();
    R.state[0] = SWAPPED;
    R.computed[0] = 0; // whatever its counters say, a swapped request has no prefill to redo
    const a = new ImpactEstimator(R, COST, predictor).estimate(2, ctx.replicas[0], 1, emptyEstimate());
    expect(a.queuePrefill_s).toBe(0);
  });

  it('refuses a context without the cost model or the predictor (a caller bug)', () => {
    const { ctx } = example();
    expect(() => getRouter('workload-aware').create({})({ ...ctx, cost: undefined })).toThrow(/cost model and a length predictor/);
    expect(() => getRouter('workload-aware').create({ 'others-weight': '-1' })).toThrow(/--router-opt.*others-weight/);
  });
});

describe('ReplicaLoad.forEachRequest in whole runs', () => {
  it('visits exactly the unfinished requests of the replica, once each', { timeout: 60_000 }, () => {
    const { trace } = poissonGeometricTrace(300, 6, 40, 'fer');
    let checks = 0;
    simulate({
      trace,
      policy: [new Fcfs(), new Fcfs(), new Fcfs()],
      cost: COST,
      engine: engineConfig({ kvBlocks: 300 }),
      router: (replicas, requests) => ({
        name: 'checker',
        route(id) {
          replicas.forEach((r, i) => {
            const seen = new Set<number>();
            r.forEachRequest((j) => {
              expect(requests.replica[j]).toBe(i);
              seen.add(j);
            });
            expect(seen.size).toBe(r.outstandingRequests);
            checks++;
          });
          return id % 3;
        },
      }),
    });
    expect(checks).toBe(900);
  });
});
