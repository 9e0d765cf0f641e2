/**
 * Every token's latency: inter-token latency (ITL, the gap between a request's consecutive output
 * tokens), per-request max TBT, the exact histogram they are kept in, and the summary figures
 * beside them (e2e SLO in goodput, total-token throughput).
 *
 * Truths: hand-worked timelines with a linear cost model whose coefficients are powers of two (so
 * every time is exact in binary); an independent per-token list recorded by a policy wrapper in a
 * run that steps every iteration, summarized by d3-array (latencyStats); skip-ahead on ≡ off.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { GapHistogram } from '../sim/gap-histogram.ts';
import { histogramStats, latencyStats, requestMetrics, summarize } from '../sim/metrics.ts';
import type { Policy } from '../sim/policy.ts';
import { normalizeOptions, buildRun } from '../app/config.ts';
import type { RunOptions } from '../app/config.ts';
import { makeTrace, engineConfig, runDifferences } from './helpers.ts';
import type { Trace } from '../sim/trace.ts';
import seedrandom from 'seedrandom';

/** t = 1/8 s per prefill token + 1/4 s per decoding sequence + 1/64 s per KV token read. */
const cost = () => new LinearCostModel({ base: 0, prefill: 1 / 8, decode: 1 / 4, kv: 1 / 64 });

/** The run's ITL multiset as a plain sorted list (each value repeated its count). */
function expand(h: GapHistogram): number[] {
  const { values, counts } = h.sorted();
  const out: number[] = [];
  values.forEach((v, j) => {
    for (let c = 0; c < counts[j]; c++) out.push(v);
  });
  return out;
}

describe('GapHistogram and histogramStats', () => {
  it('counts values bit for bit, grows, and gives the stats of the expanded list (d3 quantiles)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.oneof(fc.constantFrom(0, -0, 0.1, 0.2, 0.30000000000000004, 0.3, 1e-300), fc.double({ min: 0, max: 1e6, noNaN: true })), fc.integer({ min: 1, max: 5 })), {
          minLength: 1,
          maxLength: 300,
        }),
        (adds) => {
          const h = new GapHistogram(4);
          const flat: number[] = [];
          for (const [v, c] of adds) {
            h.add(v, c);
            for (let k = 0; k < c; k++) flat.push(v + 0);
          }
          expect(h.total).toBe(flat.length);
          expect(h.size).toBe(new Set(flat).size);
          const want = latencyStats(Float64Array.from(flat));
          const got = histogramStats(h);
          for (const k of ['p50', 'p90', 'p95', 'p99', 'max'] as const) expect(got[k], k).toBe(want[k]);
          expect(got.mean!).toBeCloseTo(want.mean!, 6);
          expect(expand(h)).toEqual([...flat].sort((a, b) => a - b));
        },
      ),
      { numRuns: 200, seed: 13 },
    );
  });

  it('an empty histogram has null stats; a non-finite value is refused', () => {
    expect(histogramStats(new GapHistogram())).toEqual({ mean: null, p50: null, p90: null, p95: null, p99: null, max: null });
    expect(() => new GapHistogram().add(NaN, 1)).toThrow(/non-finite/);
    expect(() => new GapHistogram().add(Infinity, 1)).toThrow(/non-finite/);
  });
});

describe('ITL, hand-worked (linear cost: 1/8 s per prefill token, 1/4 s per decode, 1/64 s per KV token)', () => {
  it('a decode stalled by a prefill-only iteration: its ITL spans the stall', () => {
    // A (P=4, D=4) at 0, B (P=8, D=2) at 1. Prefill priority, FCFS, unlimited KV.
    // It1 [0, 0.5]: A's prefill (4/8) -> A token 1.
    // It2 [0.5, 0.828125]: A decodes, KV 5: 1/4 + 5/64 = 21/64 -> A token 2 (ITL 21/64).
    //   (Skip-ahead would end its next step at 1.171875, after B's arrival at 1: no bundle.)
    // It3 [0.828125, 1.171875]: A decodes, KV 6: 22/64 -> A token 3 (ITL 22/64).
    // It4 [1.171875, 2.171875]: B's prefill alone (8/8 = 1 s) -> B token 1; A waits.
    // It5 [2.171875, 2.921875]: both decode, KV 7 + 9: 2/4 + 16/64 = 0.75 -> A token 4 (done, ITL
    //   2.921875 - 1.171875 = 1.75), B token 2 (done, ITL 0.75).
    for (const skipAhead of [true, false]) {
      const res = simulate({ trace: makeTrace([0, 1], [4, 8], [4, 2]), policy: new Fcfs(), cost: cost(), engine: engineConfig({ skipAhead }) });
      const R = res.requests;
      expect(expand(R.itl)).toEqual([21 / 64, 22 / 64, 0.75, 1.75]);
      expect(Array.from(R.maxTbt)).toEqual([1.75, 0.75]);
      expect(Array.from(R.lastToken)).toEqual([2.921875, 2.921875]);
      const m = requestMetrics(R);
      const s = summarize(res, m, { kvBlocks: 1, unlimitedKv: true, slo: {} });
      // [21/64, 22/64, 0.75, 1.75]: p50 at 1.5 -> 22/64 + (0.75 - 22/64)/2; p90 at 2.7; p99 at 2.97.
      expect(s.itl_s).toMatchObject({ mean: 3.171875 / 4, p50: 0.546875, max: 1.75 });
      expect(s.itl_s.p90!).toBeCloseTo(1.45, 14);
      expect(s.itl_s.p95!).toBeCloseTo(1.6, 14);
      expect(s.itl_s.p99!).toBeCloseTo(1.72, 14);
      // A request's ITLs average to its TPOT: A (21/64 + 22/64 + 1.75) / 3.
      expect(m.tpot[0]).toBeCloseTo((21 / 64 + 22 / 64 + 1.75) / 3, 15);
      expect(m.maxTbt[1]).toBe(0.75);
      // Total-token throughput: (4 + 4 + 8 + 2) tokens / 2.921875 s.
      expect(s.throughput.total_tokens_per_s).toBe(18 / 2.921875);
    }
  });

  it('skip-ahead bundles decode steps whose durations differ (the context grows): each step its own ITL', () => {
    // A (P=4, D=6) alone. It1 prefill 0.5 s. Then 5 decodes with KV 5..9: (16 + k)/64 s for k = 5..9;
    // with skip-ahead the last 4 are one bundle (steps = 5), each token keeps its own step's gap.
    for (const skipAhead of [true, false]) {
      const records: number[] = [];
      const res = simulate({ trace: makeTrace([0], [4], [6]), policy: new Fcfs(), cost: cost(), engine: engineConfig({ skipAhead }), observer: (r) => records.push(r.steps) });
      expect(records).toEqual(skipAhead ? [1, 5] : [1, 1, 1, 1, 1, 1]);
      expect(expand(res.requests.itl)).toEqual([21, 22, 23, 24, 25].map((k) => k / 64));
      expect(res.requests.maxTbt[0]).toBe(25 / 64);
      const s = summarize(res, requestMetrics(res.requests), { kvBlocks: 1, unlimitedKv: true, slo: {} });
      expect(s.itl_s.p50).toBe(23 / 64);
      expect(s.itl_s.mean).toBe(115 / 64 / 5);
    }
  });

  it('recompute preemption: the first token after the re-prefill has an ITL from the token before the preemption', () => {
    // KV of 6 one-token blocks, no watermark. A (P=2, D=4), B (P=2, D=3) at 0.
    // It1 [0, 0.5]: both prefills (4/8) -> token 1 each; 4 blocks.
    // It2 [0.5, 1.09375]: both decode, KV 3 + 3: 2/4 + 6/64 = 38/64 -> token 2 each; 6 blocks.
    // It3: no room for two more tokens: B (newest) preempted by recompute, frees 3 blocks; A decodes
    //   (KV 4: 20/64 = 0.3125) [1.09375, 1.40625] -> A token 3.
    // It4: B needs 4 blocks to re-prefill, 2 free: A decodes (KV 5: 21/64) [1.40625, 1.734375] -> A token 4, done.
    // It5 [1.734375, 2.234375]: B re-prefills prompt + 2 generated (4/8) -> B token 3, done:
    //   its ITL is 2.234375 - 1.09375 = 1.140625, the preemption included.
    for (const skipAhead of [true, false]) {
      const res = simulate({
        trace: makeTrace([0, 0], [2, 2], [4, 3]),
        policy: new Fcfs(),
        cost: cost(),
        engine: engineConfig({ skipAhead, blockSize: 1, kvBlocks: 6 }),
      });
      const R = res.requests;
      expect(R.preemptions[1]).toBe(1);
      expect(Array.from(R.completion)).toEqual([1.734375, 2.234375]);
      expect(expand(R.itl)).toEqual([0.3125, 21 / 64, 38 / 64, 38 / 64, 1.140625]);
      expect(Array.from(R.maxTbt)).toEqual([38 / 64, 1.140625]);
    }
  });

  it('chunked prefill: the chunks before the first token add no ITL; one-token outputs have none', () => {
    // Budget 4. A (P=6, D=2), B (P=2, D=1) at 0. It1: A's chunk of 4 (0.5 s). It2: A's last 2 and
    // B's 2 (0.5 s, KV read 4 by A's chunk: + 4/64) -> both first tokens at 1.0625, B done.
    // It3: A decodes (KV 7: 23/64) -> 1.421875, A's second token: its only ITL.
    const res = simulate({
      trace: makeTrace([0, 0], [6, 2], [2, 1]),
      policy: new Fcfs(),
      cost: cost(),
      engine: engineConfig({ chunkedPrefill: true, maxNumBatchedTokens: 4, maxNumSeqs: 4 }),
    });
    expect(Array.from(res.requests.firstToken)).toEqual([1.0625, 1.0625]);
    expect(expand(res.requests.itl)).toEqual([23 / 64]);
    const m = requestMetrics(res.requests);
    expect(Array.from(m.maxTbt)).toEqual([23 / 64, -1]);
  });
});

describe('goodput with an end-to-end SLO', () => {
  it('counts a request good only when TTFT, TPOT and e2e are all within their SLOs', () => {
    // The first hand-worked run: A e2e 2.921875, TTFT 0.5; B e2e 1.921875, TTFT 1.171875.
    const res = simulate({ trace: makeTrace([0, 1], [4, 8], [4, 2]), policy: new Fcfs(), cost: cost(), engine: engineConfig() });
    const m = requestMetrics(res.requests);
    const good = (slo: Parameters<typeof summarize>[2]['slo']) => summarize(res, m, { kvBlocks: 1, unlimitedKv: true, slo }).goodput;
    expect(good({ e2e_s: 2 })).toMatchObject({ slo_attainment: 0.5, slo_e2e_s: 2, slo_ttft_s: null });
    expect(good({ e2e_s: 3 }).slo_attainment).toBe(1);
    expect(good({ e2e_s: 1.921875 }).slo_attainment).toBe(0.5); // within means <=
    expect(good({ e2e_s: 3, ttft_s: 1 }).slo_attainment).toBe(0.5);
    expect(good({ e2e_s: 2, ttft_s: 1 }).slo_attainment).toBe(0);
    expect(good({}).slo_e2e_s).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Exactness against a run that steps every iteration

/** Wraps a policy so that every token sampled is recorded as a plain per-token list (stepping only: one token per request per iteration). */
function recordingTokens(p: Policy, gaps: number[], maxTbt: Map<number, number>): Policy {
  let R: SimulationResult['requests'];
  let seen: Int32Array;
  let last: Float64Array;
  const attach: Policy['attach'] = (ctx) => {
    R = ctx.requests;
    seen = new Int32Array(R.n);
    last = new Float64Array(R.n).fill(-1);
    p.attach(ctx);
  };
  const onIterationEnd: NonNullable<Policy['onIterationEnd']> = (ids, count, steps, now) => {
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      if (R.generated[id] === seen[id]) continue;
      expect(R.generated[id] - seen[id]).toBe(1);
      seen[id] = R.generated[id];
      if (last[id] >= 0) {
        gaps.push(now - last[id]);
        maxTbt.set(id, Math.max(maxTbt.get(id) ?? -1, now - last[id]));
      }
      last[id] = now;
    }
    p.onIterationEnd?.(ids, count, steps, now);
  };
  // Everything else goes to the policy itself (its methods keep `this` = the policy).
  return new Proxy(p, {
    get(target, prop) {
      if (prop === 'attach') return attach;
      if (prop === 'onIterationEnd') return onIterationEnd;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** 160 requests at about 6/s with bursts, over a 6000-token KV cache: preemptions and prefill stalls. */
function workload(): Trace {
  const rng = seedrandom.alea('itl-exactness');
  const a: number[] = [];
  const p: number[] = [];
  const o: number[] = [];
  let t = 0;
  for (let i = 0; i < 160; i++) {
    if (i % 20 > 3) t += -Math.log(1 - rng()) / 6;
    a.push(t);
    p.push(1 + Math.floor(rng() * 900));
    o.push(rng() < 0.7 ? 1 + Math.floor(rng() * 60) : 60 + Math.floor(rng() * 300));
  }
  return makeTrace(a, p, o);
}

describe('ITL is exact against a run that steps every iteration', () => {
  const trace = workload();
  const policies: Partial<RunOptions>[] = [
    { policy: 'fcfs' },
    { policy: 'srpt' },
    { policy: 'ltr' },
    { policy: 'mlfq', 'policy-opt': ['quantum=0.05'] },
    { policy: 'trail' },
    { policy: 'plas', 'policy-opt': ['q0=0.05'] },
  ];
  // Both batch-formation modes and preemption mechanisms; and pipeline parallelism (2 stages: two
  // virtual engines whose micro-batches overlap, so a request's tokens are not one iteration apart).
  const modes: Partial<RunOptions>[] = [
    { 'chunked-prefill': false, preemption: 'recompute' },
    { 'chunked-prefill': true, preemption: 'swap' },
    { 'chunked-prefill': true, preemption: 'recompute', pp: 2 },
  ];
  for (const pol of policies) {
    for (const mode of modes) {
      it(`${pol.policy} | ${mode['chunked-prefill'] ? `chunked prefill, ${mode.preemption}` : 'prefill priority, recompute'}${mode.pp ? `, pp ${mode.pp}` : ''}`, () => {
        const opts = normalizeOptions({ synthetic: 'poisson', model: 'llama-3.1-8b', 'kv-tokens': 6000, 'max-num-seqs': 16, 'prefix-caching': 'off', ...pol, ...mode });
        const run = (skipAhead: boolean, wrap?: (p: Policy) => Policy) => {
          const r = buildRun(opts, trace);
          return simulate({ trace, policy: wrap ? r.policies.map(wrap) : r.policies, router: r.router, cost: r.cost, pipeline: r.pipeline, engine: { ...r.engine, skipAhead } });
        };
        const gaps: number[] = [];
        const maxTbt = new Map<number, number>();
        const stepped = run(false, (p) => recordingTokens(p, gaps, maxTbt));
        const skipped = run(true);
        expect(runDifferences(skipped, stepped).join('\n')).toBe('');
        expect(skipped.stats.preemptions + skipped.stats.swapOuts).toBeGreaterThan(0);
        // The histogram holds exactly the per-token list, and its stats are d3's of that list.
        expect(expand(skipped.requests.itl)).toEqual([...gaps].sort((x, y) => x - y));
        const want = latencyStats(Float64Array.from(gaps));
        const got = histogramStats(skipped.requests.itl);
        for (const k of ['p50', 'p90', 'p95', 'p99', 'max'] as const) expect(got[k], k).toBe(want[k]);
        expect(got.mean!).toBeCloseTo(want.mean!, 12);
        for (let i = 0; i < trace.n; i++) expect(skipped.requests.maxTbt[i], `request ${i}`).toBe(maxTbt.get(i) ?? -1);
        // One gap per token after the first of every completed request.
        let tokens = 0;
        for (let i = 0; i < trace.n; i++) if (skipped.requests.completion[i] >= 0) tokens += trace.output_tokens[i] - 1;
        expect(skipped.requests.itl.total).toBe(tokens);
      }, 60_000);
    }
  }
});
