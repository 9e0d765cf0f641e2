/**
 * The engine's rank mode (preemptive policies), checked with test-only policies:
 * - SRPT with batch 1 against the Schrage–Miller formula (docs/spec.md §12.5),
 *   computed exactly for the discrete size distribution used;
 * - invariants under random keys, every displacement mode, both batching modes, tight KV.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { simulate } from '../sim/simulator.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import type { Policy, PolicyContext, Displacement, RankBatching } from '../sim/policy.ts';
import type { RequestTable } from '../sim/requests.ts';
import { FINISHED, REJECTED } from '../sim/requests.ts';
import type { IterationRecord } from '../sim/engine-types.ts';
import { engineConfig, makeTrace, poissonGeometricTrace, batchMeans } from './helpers.ts';

/** SRPT on true remaining output tokens (clairvoyant), re-keyed as tokens are generated. */
class Srpt implements Policy {
  readonly name = 'SRPT (test)';
  readonly batching: RankBatching = { mode: 'rank', displacement: 'pause', stallFree: false };
  private R!: RequestTable;
  private ctx!: PolicyContext;
  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
    this.R = ctx.requests;
  }
  priority(id: number): number {
    return this.R.output[id] - this.R.generated[id];
  }
  onIterationEnd(batch: Int32Array, count: number): void {
    for (let i = 0; i < count; i++) this.ctx.setPriority(batch[i], this.R.output[batch[i]] - this.R.generated[batch[i]]);
  }
}

/** Random fixed keys. */
class RandomRank implements Policy {
  readonly name = 'random-rank (test)';
  readonly batching: RankBatching;
  private readonly keys: number[];
  constructor(keys: number[], displacement: Displacement, stallFree = false) {
    this.keys = keys;
    this.batching = { mode: 'rank', displacement, stallFree };
  }
  attach(): void {}
  priority(id: number): number {
    return this.keys[id];
  }
}

describe('rank mode (preemptive policies)', () => {
  it('chunked prefill: the prefix walk lets a top-ranked prefill take the budget; stall-free gives decodes their token first', () => {
    // A and B (keys 1, 2) arrive at 0 with 1-token prompts and decode; C (key 0, the best) arrives
    // at 0.5 with a 20-token prompt. Budget 8 tokens, chunked. Iterations cost 0.1 s flat.
    // Prefix walk: C's chunk takes all 8 tokens and pauses A and B twice; its last 4 leave room for them.
    // Stall-free: A and B decode every iteration, C gets 6, 6, 6, 2 tokens.
    const trace = makeTrace([0, 0, 0.5], [1, 1, 20], [30, 30, 2]);
    const run = (stallFree: boolean) => {
      const records: IterationRecord[] = [];
      simulate({
        trace,
        policy: new RandomRank([1, 2, 0], 'pause', stallFree),
        cost: new LinearCostModel({ base: 0.1, prefill: 0, decode: 0, kv: 0 }),
        engine: engineConfig({ maxNumSeqs: 8, maxNumBatchedTokens: 8, chunkedPrefill: true, skipAhead: false }),
        observer: (r) => records.push(r),
      });
      // The iterations after C arrived (t = 0.5 falls at an iteration boundary), until C's prefill is done.
      return records.filter((r) => r.start >= 0.5 - 1e-9).slice(0, 4).map((r) => [r.prefillTokens, r.decodeSeqs]);
    };
    expect(run(false)).toEqual([[8, 0], [8, 0], [4, 2], [0, 3]]);
    expect(run(true)).toEqual([[6, 2], [6, 2], [6, 2], [2, 2]]);
  });

  /** Non-chunked rank run, budget 8 tokens, 8 sequences, 0.1 s flat iterations: [prefillTokens, decodeSeqs] from `from` s, and the stats. */
  const nonChunked = (trace: ReturnType<typeof makeTrace>, keys: number[], displacement: Displacement, from: number, n: number) => {
    const records: IterationRecord[] = [];
    const res = simulate({
      trace,
      policy: new RandomRank(keys, displacement),
      cost: new LinearCostModel({ base: 0.1, prefill: 0, decode: 0, kv: 0 }),
      engine: engineConfig({ maxNumSeqs: 8, maxNumBatchedTokens: 8, chunkedPrefill: false, skipAhead: false }),
      observer: (r) => records.push(r),
    });
    return { its: records.filter((r) => r.start >= from - 1e-9).slice(0, n).map((r) => [r.prefillTokens, r.decodeSeqs]), res };
  };

  it('no chunked prefill: an oversized prompt runs alone when it is the first prefill, displacing no running request', () => {
    // A and B (keys 1 and 3) arrive at 0 with 1-token prompts and decode 30 tokens; C (key 2)
    // arrives at 0.5 with a 20-token prompt, above the 8-token budget. A's decode ranks first but
    // takes no prefill tokens, so C is the first prefill and runs alone at 0.5; B, ranked after C,
    // only lost its turn and keeps its KV (no preemption, by recompute or swap); then all three decode.
    // (Before: A's token left 7 < 20, so C stopped the walk until A finished, and B, behind the
    // stop, was preempted every iteration.)
    const trace = makeTrace([0, 0, 0.5], [1, 1, 20], [30, 30, 2]);
    for (const d of ['recompute', 'swap', 'pause'] as Displacement[]) {
      const { its, res } = nonChunked(trace, [1, 3, 2], d, 0.5, 3);
      expect(its).toEqual([[20, 0], [0, 3], [0, 2]]);
      expect(res.stats.preemptions).toBe(0);
      expect(res.requests.completion[2]).toBeCloseTo(0.7, 9);
    }
    // C ranked first: alone at once, A and B wait with their KV.
    const top = nonChunked(trace, [1, 3, 0], 'recompute', 0.5, 2);
    expect(top.its).toEqual([[20, 0], [0, 3]]);
    expect(top.res.stats.preemptions).toBe(0);
  });

  it('no chunked prefill: decodes ranked ahead take no tokens from the prefill-only iteration', () => {
    // A and B (keys 0, 1) decode; C and D (keys 2, 3) arrive at 0.5 with 4-token prompts. The
    // iteration is prefill-only, so C and D share all 8 tokens at once (before: A's and B's
    // tokens left 6, D waited for a second prefill iteration).
    const trace = makeTrace([0, 0, 0.5, 0.5], [1, 1, 4, 4], [30, 30, 2, 2]);
    const { its } = nonChunked(trace, [0, 1, 2, 3], 'pause', 0.5, 3);
    expect(its).toEqual([[8, 0], [0, 4], [0, 2]]);
    // The stop-at-first-misfit rule and key order still hold for prefills: D (5 tokens) does not fit
    // what C (4) leaves, so E (1 token, ranked after D) waits too.
    const t2 = makeTrace([0, 0, 0.5, 0.5, 0.5], [1, 1, 4, 5, 1], [30, 30, 2, 2, 2]);
    expect(nonChunked(t2, [0, 1, 2, 3, 4], 'pause', 0.5, 3).its).toEqual([[4, 0], [6, 0], [0, 5]]);
  });

  it('SRPT with batch 1 matches Schrage-Miller within 3 standard errors', () => {
    const N = 150_000;
    const WARMUP = 10_000;
    const tau = 0.005;
    const meanK = 200;
    const { trace } = poissonGeometricTrace(N, 1, meanK, 'srpt');
    // Sizes X = K·τ with K = output − 1 ~ Geometric(p) on {1, 2, ...}.
    const p = 1 - Math.exp(-1 / meanK);
    const EX = tau / p;
    const lambda = 0.7 / EX;
    for (let i = 0; i < N; i++) trace.arrival_s[i] /= lambda;
    // Schrage-Miller for the discrete distribution: rho(x) = λE[X 1{X<=x}], m2(x) = E[X² 1{X<=x}],
    // E[T(x)] = λ(m2(x) + x² P(X>x)) / (2(1−rho(x))²) + ∫_0^x dt/(1−rho(t)), rho(t) a step function.
    let rho = 0, m2 = 0, integral = 0, cdf = 0, ET = 0;
    for (let k = 1; k < 20_000; k++) {
      const pk = p * (1 - p) ** (k - 1);
      const x = k * tau;
      integral += tau / (1 - rho); // over [(k−1)τ, kτ): rho counts sizes <= (k−1)τ
      rho += lambda * x * pk;
      m2 += x * x * pk;
      cdf += pk;
      ET += pk * ((lambda * (m2 + x * x * (1 - cdf))) / (2 * (1 - rho) ** 2) + integral);
    }
    const res = simulate({
      trace,
      policy: new Srpt(),
      cost: new LinearCostModel({ base: 0, prefill: 0, decode: tau, kv: 0 }),
      engine: engineConfig({ maxNumSeqs: 1 }),
    });
    const R = res.requests;
    const t = new Float64Array(N - WARMUP);
    for (let i = WARMUP; i < N; i++) t[i - WARMUP] = R.completion[i] - R.arrival[i];
    const { mean, se } = batchMeans(t);
    expect(Math.abs(mean - ET)).toBeLessThan(3 * se);
    // SRPT is far better than FCFS here (P-K: E[X] + λE[X²]/(2(1−ρ)) ≈ 3.33 E[X]).
    expect(mean).toBeLessThan(2.2 * EX);
  });

  it('invariants hold under random ranks, all displacement modes, tight KV', () => {
    const workload = fc.array(
      fc.record({ gap: fc.double({ min: 0, max: 2, noNaN: true }), prompt: fc.integer({ min: 1, max: 200 }), output: fc.integer({ min: 1, max: 80 }), key: fc.integer({ min: 0, max: 20 }) }),
      { minLength: 1, maxLength: 40 },
    );
    const cfg = fc.record({
      displacement: fc.constantFrom<Displacement>('pause', 'recompute', 'swap'),
      chunked: fc.boolean(),
      stallFree: fc.boolean(),
      blockSize: fc.constantFrom(1, 4, 16),
      kvTokens: fc.integer({ min: 16, max: 2000 }),
      maxNumSeqs: fc.integer({ min: 1, max: 8 }),
      extraBudget: fc.integer({ min: 0, max: 300 }),
      swapBlocks: fc.integer({ min: 0, max: 100 }),
      watermark: fc.integer({ min: 0, max: 2 }),
      skipAhead: fc.boolean(),
    });
    fc.assert(
      fc.property(workload, cfg, (rows, c) => {
        let t = 0;
        const trace = makeTrace(rows.map((r) => (t += r.gap) - rows[0].gap), rows.map((r) => r.prompt), rows.map((r) => r.output));
        const policy = new RandomRank(rows.map((r) => r.key), c.displacement, c.stallFree);
        const records: IterationRecord[] = [];
        const engine = engineConfig({
          blockSize: c.blockSize,
          kvBlocks: Math.max(1, Math.floor(c.kvTokens / c.blockSize)),
          watermarkBlocks: c.watermark,
          maxNumSeqs: c.maxNumSeqs,
          maxNumBatchedTokens: c.maxNumSeqs + c.extraBudget,
          chunkedPrefill: c.chunked,
          preemption: 'recompute',
          swapBlocks: c.swapBlocks,
          skipAhead: c.skipAhead,
        });
        const res = simulate({ trace, policy, cost: new LinearCostModel({ base: 0.01, prefill: 0.001, decode: 0.01, kv: 0 }), engine, observer: (r) => records.push(r) });
        const R = res.requests;
        for (let i = 0; i < R.n; i++) {
          expect(R.state[i] === FINISHED || R.state[i] === REJECTED).toBe(true);
          if (R.state[i] === FINISHED) expect(R.generated[i]).toBe(R.output[i]);
        }
        let prevEnd = 0;
        for (const r of records) {
          expect(r.kvBlocksUsed).toBeLessThanOrEqual(r.kvBlocks);
          expect(r.start).toBeGreaterThanOrEqual(prevEnd);
          expect(r.batchSize).toBeLessThanOrEqual(c.maxNumSeqs);
          // The token budget holds, except for one oversized whole prefill alone.
          if (r.batchSize > 1 || c.chunked) expect(r.prefillTokens + r.decodeSeqs).toBeLessThanOrEqual(engine.maxNumBatchedTokens);
          prevEnd = r.end;
        }
        // Skip-ahead is exact in rank mode too.
        const other = simulate({ trace, policy: new RandomRank(rows.map((r) => r.key), c.displacement, c.stallFree), cost: new LinearCostModel({ base: 0.01, prefill: 0.001, decode: 0.01, kv: 0 }), engine: { ...engine, skipAhead: !c.skipAhead } });
        expect(Array.from(other.requests.completion)).toEqual(Array.from(R.completion));
        expect(other.stats.iterations).toBe(res.stats.iterations);
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});
