/**
 * The length-aware policies (policies/{sjf,srpt,ssjf,ltr,trail,skippredict,las,mlfq}.ts):
 * - small schedules worked by hand (one sequence per batch, 1 s per decode token or per iteration);
 * - skip-ahead is used: the policies whose keys allow it let the engine bundle decode iterations;
 * - TRAIL never displaces a request past c · ŷ0;
 * - bad options are InputErrors naming the valid ones.
 * Skip-ahead equivalence, the engine invariants and determinism for every registered policy (with
 * its defaults and with the option variants that switch on its time- and iteration-based rules)
 * are checked by test/conformance.test.ts.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { InputError } from '../sim/errors.ts';
import { FINISHED } from '../sim/requests.ts';
import type { EngineConfig } from '../sim/engine-types.ts';
import type { Policy } from '../sim/policy.ts';
import type { Predictor, PredictorQuality } from '../sim/predictor.ts';
import { POLICIES, getPolicy } from '../policies/index.ts';
import { OptionReader } from '../policies/options.ts';
import { getRouter } from '../policies/routers.ts';
import { getPredictor } from '../policies/predictors/index.ts';
import { readNumber, numberProblem, describeInterval } from '../sim/values.ts';
import { OraclePredictor } from '../policies/predictors/oracle.ts';
import { Sjf } from '../policies/sjf.ts';
import { Srpt } from '../policies/srpt.ts';
import { Ssjf } from '../policies/ssjf.ts';
import { Ltr } from '../policies/ltr.ts';
import { Trail } from '../policies/trail.ts';
import { SkipPredict } from '../policies/skippredict.ts';
import { Las } from '../policies/las.ts';
import { Mlfq } from '../policies/mlfq.ts';
import { Fcfs } from '../policies/fcfs.ts';
import type { Trace } from '../sim/trace.ts';
import { makeTrace, engineConfig } from './helpers.ts';

/** 1 s per decoding sequence, free prefill: a request's service is output − 1 seconds. */
const perToken = new LinearCostModel({ base: 0, prefill: 0, decode: 1, kv: 0 });
/** 1 s per iteration, prefill or decode. */
const perIteration = new LinearCostModel({ base: 1, prefill: 0, decode: 0, kv: 0 });
const batch1 = engineConfig({ maxNumSeqs: 1 });

/** A trace of requests with 1-token prompts. */
function reqs(arrival: number[], output: number[]): Trace {
  return makeTrace(arrival, arrival.map(() => 1), output);
}

function oracle(trace: Trace): OraclePredictor {
  const p = new OraclePredictor();
  p.attach(trace);
  return p;
}

function completions(trace: Trace, policy: Policy, cost = perToken, engine: EngineConfig = batch1): number[] {
  return Array.from(simulate({ trace, policy, cost, engine }).requests.completion);
}

describe('hand-worked schedules (batch 1)', () => {
  it('sjf serves the shortest waiting request first and never preempts', () => {
    const t = reqs([0, 0, 0], [5, 2, 3]);
    expect(completions(t, new Sjf(oracle(t)))).toEqual([7, 1, 3]);
    expect(completions(t, new Fcfs())).toEqual([4, 5, 7]);
    // A short arrival waits for the running long request.
    const u = reqs([0, 2.5], [10, 3]);
    expect(completions(u, new Sjf(oracle(u)))).toEqual([9, 11]);
  });

  it('srpt preempts on remaining length; ltr (exact scores) on total length', () => {
    // B (3 tokens) arrives at 2.5; at t = 3 A has 6 left: both preempt A.
    const t = reqs([0, 2.5], [10, 3]);
    expect(completions(t, new Srpt(oracle(t)))).toEqual([11, 5]);
    expect(completions(t, new Ltr(oracle(t)))).toEqual([11, 5]);
    // B (8 tokens): SRPT keeps A (6 left < 8); LTR preempts (8 < A's 10 total).
    const u = reqs([0, 2.5], [10, 8]);
    expect(completions(u, new Srpt(oracle(u)))).toEqual([9, 16]);
    expect(completions(u, new Ltr(oracle(u)))).toEqual([16, 10]);
  });

  it("ssjf's starvation guard takes a request that waited > coef x its predicted time (or > wait) first", () => {
    // S0 at 0, L (4 tokens: predicted exec 4 s with const 0 and 1 s/token) at 0.5, shorts of 3 tokens
    // every 2 s. SJF serves every short first; the guard (coef 2: starving after 8 s) takes L at t = 10.
    const arrival = [0, 0.5, 1, 3, 5, 7, 9, 11];
    const output = [3, 4, 3, 3, 3, 3, 3, 3];
    const t = reqs(arrival, output);
    const L = 1;
    const base = { const_s: 0, perToken_s: 1 };
    const off = completions(t, new Ssjf(oracle(t), { ...base, starvation: false }));
    expect(off[L]).toBe(17);
    const coef = completions(t, new Ssjf(oracle(t), { ...base, starvationCoef: 2, starvationWait_s: 100 }));
    expect(coef[L]).toBe(13);
    expect(coef).toEqual([2, 13, 4, 6, 8, 10, 15, 17]);
    const wait = completions(t, new Ssjf(oracle(t), { ...base, starvationCoef: Infinity, starvationWait_s: 9 }));
    expect(wait[L]).toBe(13);
    // At t = 8 L has waited 7.5 s < 8: not yet.
    const late = completions(t, new Ssjf(oracle(t), { ...base, starvationCoef: Infinity, starvationWait_s: 9.6 }));
    expect(late[L]).toBe(15);
  });

  it('ssjf keys bucket predictors by the bucket index', () => {
    // Buckets from a test classifier: A (long, 2 tokens) bucket 1, B (longer, 5) bucket 0: B first.
    const t = reqs([0, 0, 0], [9, 2, 5]);
    const p = new TestPredictor({ refineEvery: Infinity, buckets: [1, 1, 0] });
    p.attach(t, seedrandom.alea('b'));
    expect(completions(t, new Ssjf(p, { starvation: false }))).toEqual([12, 13, 4]);
  });

  it("ltr's starvation control promotes a request idle for S iterations for Q executed iterations", () => {
    // 1 s per iteration. L (20 tokens) and S1 (8 tokens) at t = 0; S = 3, Q = 2.
    // Iterations 1-3: S1. At iteration 4 L has been idle 3 iterations: promoted, runs 4-5, demoted.
    // S1: 6-8; L idle again 6, 7, 8 -> promoted at 9: runs 9-10; S1: 11-12 (done at 12); L: 13-28.
    const t = reqs([0, 0], [20, 8]);
    const run = (on: boolean) => simulate({ trace: t, policy: new Ltr(oracle(t), { starvationControl: on, starvation: 3, quantum: 2 }), cost: perIteration, engine: batch1 }).requests;
    const on = run(true);
    expect(Array.from(on.completion)).toEqual([28, 12]);
    expect(Array.from(on.firstToken)).toEqual([4, 1]);
    const off = run(false);
    expect(Array.from(off.completion)).toEqual([28, 8]);
    expect(Array.from(off.firstToken)).toEqual([9, 1]);
  });

  it('trail preempts only while generated <= c x initial prediction (default recompute)', () => {
    // A: 10 tokens (c·ŷ0 = 5 with c = 0.5). B (2 tokens) at 2.5: A has 4 tokens at t = 3: displaced
    // (recompute: its free re-prefill samples its 5th token at t = 4), done at 9; B done at 4.
    const early = reqs([0, 2.5], [10, 2]);
    const r1 = simulate({ trace: early, policy: new Trail(oracle(early), { c: 0.5 }), cost: perToken, engine: batch1 }).requests;
    expect(Array.from(r1.completion)).toEqual([9, 4]);
    expect(r1.preemptions[0]).toBe(1);
    // B at 6.5: A has 8 > 5 tokens at t = 7: never displaced; B waits until 9.
    const late = reqs([0, 6.5], [10, 2]);
    const r2 = simulate({ trace: late, policy: new Trail(oracle(late), { c: 0.5 }), cost: perToken, engine: batch1 }).requests;
    expect(Array.from(r2.completion)).toEqual([9, 10]);
    expect(r2.preemptions[0]).toBe(0);
    // max-preemptions 1: once preempted, A is pinned even while preemptible.
    const twice = reqs([0, 1.5, 3.5], [10, 2, 2]);
    const r3 = simulate({ trace: twice, policy: new Trail(oracle(twice), { c: 1, maxPreemptions: 1 }), cost: perToken, engine: batch1 }).requests;
    expect(r3.preemptions[0]).toBe(1);
    const r4 = simulate({ trace: twice, policy: new Trail(oracle(twice), { c: 1 }), cost: perToken, engine: batch1 }).requests;
    expect(r4.preemptions[0]).toBe(2);
  });

  it('skippredict serves predicted-short first (FCFS among them), predicted-long by SPRPT', () => {
    // threshold 5 tokens: A (10) long at 0; S1 (4) and S2 (2) short at 0.5 and 0.6.
    // t = 1: S1 preempts A (strict priority), then S2 (FCFS, although shorter), then A.
    const t = reqs([0, 0.5, 0.6], [10, 4, 2]);
    expect(completions(t, new SkipPredict(oracle(t), { threshold: 5 }))).toEqual([13, 4, 5]);
    // Two long ones: L2 (7) arrives at 0.5; at t = 1 L1 (10) has 8 predicted left > 7: L2 preempts.
    const u = reqs([0, 0.5], [10, 7]);
    expect(completions(u, new SkipPredict(oracle(u), { threshold: 5 }))).toEqual([15, 7]);
    // The median of the predictions is the default threshold.
    const sp = new SkipPredict(oracle(t));
    simulate({ trace: t, policy: sp, cost: perToken, engine: batch1 });
    expect(sp.threshold_tokens).toBe(4);
    expect([0, 1, 2].map((i) => sp.isLong(i))).toEqual([true, true, false]);
  });

  it("skippredict's server cost model adds c1 (everyone) and c2 (predicted long) at arrival; external adds nothing", () => {
    const t = reqs([0, 10], [3, 2]);
    const server = new SkipPredict(oracle(t), { threshold: 3, c1_s: 0.5, c2_s: 1, costMode: 'server' });
    expect(completions(t, server)).toEqual([3.5, 11.5]);
    const external = new SkipPredict(oracle(t), { threshold: 3, c1_s: 0.5, c2_s: 1 });
    expect(completions(t, external)).toEqual([2, 11]);
    expect(external.externalCost_s).toBe(0.5 + 0.5 * 1);
  });

  it("a predictor's on-server cost is charged at arrival (costOf per request when it has one)", () => {
    const t = reqs([0, 10], [3, 2]);
    const costly = (onServer: boolean) => {
      const p = oracle(t) as OraclePredictor & { cost: unknown; costOf?: (id: number) => number };
      Object.defineProperty(p, 'cost', { value: { perRequest_s: 0.25, onServer } });
      return p;
    };
    expect(completions(t, new Sjf(costly(true)))).toEqual([2.25, 11.25]);
    expect(completions(t, new Sjf(costly(false)))).toEqual([2, 11]);
    const perRequest = costly(true);
    perRequest.costOf = (id: number) => (id === 0 ? 1 : 0.5);
    expect(completions(t, new Ltr(perRequest))).toEqual([3, 11.5]);
    // SkipPredict: the predictor's cost applies when the policy's own c1, c2 are 0; else only the policy's.
    expect(completions(t, new SkipPredict(perRequest, { threshold: 3 }))).toEqual([3, 11.5]);
    expect(completions(t, new SkipPredict(perRequest, { threshold: 3, c1_s: 0.1, costMode: 'server' }))).toEqual([2.1, 11.1]);
  });

  it('las serves the least-served request first; equal service takes turns', () => {
    const t = reqs([0, 2.5], [6, 3]);
    expect(completions(t, new Las())).toEqual([7, 5]);
    // Equal service: A and B alternate token by token (ties in arrival order).
    const u = reqs([0, 0.5], [5, 5]);
    expect(completions(u, new Las())).toEqual([7, 8]);
  });

  it('mlfq demotes a request once its processing time exceeds quantum x thres^level', () => {
    // 1 s per iteration, quantum 2.5 s, thres 2. A (20 tokens) at 0 is demoted after 3 iterations
    // (t = 3). B (5) arrives at 3.5, enters level 0, runs 4-7, is demoted at 7 to the front of
    // level 1 (most recently run first), finishes at 9; A runs 9-25, reaching level 2 at t = 14.
    const t = reqs([0, 3.5], [20, 5]);
    const m = new Mlfq({ quantum_s: 2.5, thres: 2 });
    const r = simulate({ trace: t, policy: m, cost: perIteration, engine: batch1 }).requests;
    expect(Array.from(r.completion)).toEqual([25, 9]);
    expect(Array.from(r.firstToken)).toEqual([1, 5]);
    expect(m.levelOf(0)).toBe(2);
    expect(m.levelOf(1)).toBe(1);
    // With one level MLFQ is FCFS with the running request kept in front.
    expect(completions(t, new Mlfq({ levels: 1 }), perIteration)).toEqual([20, 25]);
  });

  it('mlfq starvation prevention moves a request idle for `starvation` seconds to the top', () => {
    // 1 s per iteration; 2 levels, quantum 1 s at both (thres 1); checks every 4 iterations.
    // A (8 tokens) is demoted at t = 2; B (20) arrives at 1.5, runs from 2, is demoted at 4 but,
    // most recently run, stays ahead of A. Off: B done at 22, A at 28. On (starvation 5 s): at the
    // check at t = 8 A has been idle 6 s: promoted to level 0, runs 8-14 (demoted at 10, then ahead
    // of B); B, idle 4 s at the check at 12, resumes at 14 and is done at 28.
    const t = reqs([0, 1.5], [8, 20]);
    const base = { quantum_s: 1, thres: 1, levels: 2, starvation_s: 5, starvationPeriod: 4 };
    expect(completions(t, new Mlfq({ ...base, starvationControl: false }), perIteration)).toEqual([28, 22]);
    expect(completions(t, new Mlfq({ ...base, starvationControl: true }), perIteration)).toEqual([14, 28]);
  });
});

/**
 * A deterministic test predictor: noisy initial estimates (×[0.5, 1.5]) and, if `refineEvery` is
 * finite, refined remaining-length estimates every `refineEvery` tokens that can jump up; buckets
 * as given or (initial estimate >= 20 tokens).
 */
class TestPredictor implements Predictor {
  readonly name = 'test';
  readonly refineEvery: number;
  readonly cost = undefined;
  private out: Int32Array = new Int32Array(0);
  private noise: Float64Array = new Float64Array(0);
  private readonly buckets: number[] | undefined;
  constructor(o: { refineEvery: number; buckets?: number[] }) {
    this.refineEvery = o.refineEvery;
    this.buckets = o.buckets;
  }
  attach(trace: Trace, rng: () => number): void {
    this.out = trace.output_tokens;
    this.noise = new Float64Array(trace.n * 64);
    for (let i = 0; i < this.noise.length; i++) this.noise[i] = 0.5 + rng();
  }
  private estimate(id: number, m: number): number {
    return Math.max(1, Math.round((this.out[id] - m * (Number.isFinite(this.refineEvery) ? this.refineEvery : 0)) * this.noise[id * 64 + (m % 64)]));
  }
  predicted(id: number): number {
    return this.estimate(id, 0);
  }
  bucket(id: number): number {
    return this.buckets ? this.buckets[id] : this.predicted(id) >= 20 ? 1 : 0;
  }
  remaining(id: number, generated: number): number {
    if (!Number.isFinite(this.refineEvery)) return Math.max(0, this.predicted(id) - generated);
    const m = Math.floor(generated / this.refineEvery);
    return Math.max(0, this.estimate(id, m) - (generated - m * this.refineEvery));
  }
  quality(): PredictorQuality {
    return { kendall_tau: null, mae_tokens: null, bucket_accuracy: null };
  }
}

/** Policies built through their registry entries with options that exercise their time- and iteration-based rules. */
const variants: { name: string; opts: Record<string, string>; refine: number }[] = [
  { name: 'sjf', opts: {}, refine: Infinity },
  { name: 'srpt', opts: {}, refine: 4 },
  { name: 'srpt', opts: { displacement: 'recompute' }, refine: Infinity },
  { name: 'ssjf', opts: { const: '0', 'per-token': '0.05', 'starvation-wait': '3', 'starvation-coef': '2' }, refine: Infinity },
  { name: 'ltr', opts: {}, refine: Infinity },
  { name: 'ltr', opts: { 'starvation-control': 'on', starvation: '4', quantum: '3' }, refine: Infinity },
  { name: 'trail', opts: { margin: '2', 'max-preemptions': '3' }, refine: 4 },
  { name: 'trail', opts: { c: '1' }, refine: 3 },
  { name: 'skippredict', opts: { c1: '0.01', c2: '0.05', 'cost-mode': 'server' }, refine: Infinity },
  { name: 'skippredict', opts: { threshold: '30', displacement: 'recompute' }, refine: Infinity },
  { name: 'las', opts: {}, refine: Infinity },
  { name: 'las', opts: { displacement: 'swap' }, refine: Infinity },
  { name: 'mlfq', opts: { quantum: '0.05', 'starvation-control': 'on', starvation: '0.5', 'starvation-period': '5' }, refine: Infinity },
  { name: 'mlfq', opts: { quantum: '0.05', levels: '3', 'starvation-control': 'on', starvation: '1', 'starvation-period': '7' }, refine: Infinity },
];

function build(v: (typeof variants)[number], trace: Trace): Policy {
  const entry = getPolicy(v.name);
  let predictor: Predictor | undefined;
  if (entry.predictor !== 'none') {
    predictor = new TestPredictor({ refineEvery: v.refine });
    predictor.attach(trace, seedrandom.alea('predictor'));
  }
  return entry.create(v.opts, predictor);
}

describe('skip-ahead', () => {
  it('skip-ahead is actually used (fewer loop events) by the policies whose keys allow it', () => {
    const n = 300;
    const rng = seedrandom.alea('skip');
    const arrival: number[] = [];
    let t = 0;
    for (let i = 0; i < n; i++) arrival.push((t += -Math.log(1 - rng()) * 0.5));
    const trace = makeTrace(arrival, arrival.map(() => 50), arrival.map(() => 20 + Math.floor(rng() * 200)));
    const cost = new LinearCostModel({ base: 0.01, prefill: 0.0001, decode: 0.001, kv: 0 });
    const events = (v: (typeof variants)[number], skipAhead: boolean): SimulationResult =>
      simulate({ trace, policy: build(v, trace), cost, engine: engineConfig({ maxNumSeqs: 8, skipAhead }) });
    for (const v of variants.filter((x) => !(x.name === 'mlfq' || x.name === 'ssjf'))) {
      const a = events(v, true);
      const b = events(v, false);
      // Refining predictors bound the skips by their refinement interval (3-4 tokens here); LAS
      // with swap displacement swaps at every crossing of attained service (no skip over swaps).
      const bounded = Number.isFinite(v.refine) || (v.name === 'las' && v.opts.displacement === 'swap');
      expect(a.events, `${v.name} ${JSON.stringify(v.opts)}`).toBeLessThan(b.events * (bounded ? 0.9 : 0.5));
      expect(Array.from(a.requests.completion)).toEqual(Array.from(b.requests.completion));
    }
  });
});

describe('trail limited preemption', () => {
  it('never displaces a request that has generated more than c x its initial prediction', () => {
    class Watched extends Trail {
      readonly at: { g: number; limit: number; pressure: boolean }[] = [];
      private req!: Parameters<Trail['attach']>[0]['requests'];
      private pred: Predictor;
      private c: number;
      constructor(p: Predictor, c: number) {
        super(p, { c });
        this.pred = p;
        this.c = c;
      }
      override attach(ctx: Parameters<Trail['attach']>[0]): void {
        super.attach(ctx);
        this.req = ctx.requests;
      }
      override onPreempt(id: number): void {
        this.at.push({ g: this.req.generated[id], limit: this.c * this.pred.predicted(id), pressure: false });
        super.onPreempt(id);
      }
    }
    fc.assert(
      fc.property(
        fc.array(fc.record({ gap: fc.double({ min: 0, max: 1, noNaN: true }), output: fc.integer({ min: 1, max: 80 }) }), { minLength: 2, maxLength: 40 }),
        fc.constantFrom(0, 0.3, 0.5, 0.8, 1),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        (rows, c, seqs, chunked) => {
          let t = 0;
          const trace = makeTrace(rows.map((r) => (t += r.gap)), rows.map(() => 8), rows.map((r) => r.output));
          const p = new TestPredictor({ refineEvery: 4 });
          p.attach(trace, seedrandom.alea('w'));
          const policy = new Watched(p, c);
          // Unlimited KV: every preemption is a displacement by rank, never memory pressure.
          const res = simulate({ trace, policy, cost: perToken, engine: engineConfig({ maxNumSeqs: seqs, maxNumBatchedTokens: 64, chunkedPrefill: chunked }) });
          for (const e of policy.at) expect(e.g).toBeLessThanOrEqual(e.limit);
          for (let i = 0; i < trace.n; i++) expect(res.requests.state[i]).toBe(FINISHED);
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });
});

describe('options', () => {
  function inputError(fn: () => unknown): InputError {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).field).toBe('--policy-opt');
      return e as InputError;
    }
    throw new Error('expected an InputError');
  }
  const p = new OraclePredictor();

  it('unknown options name the valid ones', () => {
    const valid: Record<string, string[]> = {
      sjf: [],
      srpt: ['displacement'],
      ssjf: ['const', 'per-token', 'starvation', 'starvation-wait', 'starvation-coef'],
      ltr: ['starvation-control', 'starvation', 'quantum'],
      trail: ['c', 'margin', 'max-preemptions'],
      skippredict: ['threshold', 'c1', 'c2', 'cost-mode', 'displacement'],
      las: ['displacement'],
      mlfq: ['quantum', 'thres', 'levels', 'starvation-control', 'starvation', 'starvation-period', 'displacement'],
    };
    for (const [name, keys] of Object.entries(valid)) {
      const e = inputError(() => getPolicy(name).create({ bogus: '1' }, p));
      expect(e.message).toContain('bogus');
      for (const k of keys) expect(e.message).toContain(k);
      if (keys.length === 0) expect(e.message).toContain('no options');
    }
  });

  it('values out of range or not among the choices name the range or the choices', () => {
    const cases: [string, Record<string, string>, string][] = [
      ['trail', { c: '1.5' }, '[0, 1]'],
      ['trail', { c: 'x' }, '[0, 1]'],
      ['trail', { 'max-preemptions': '1.5' }, 'integer'],
      ['trail', { margin: '-1' }, '[0, ∞)'],
      ['srpt', { displacement: 'drop' }, 'pause, recompute, swap'],
      ['las', { displacement: '' }, 'pause, recompute, swap'],
      ['ltr', { 'starvation-control': 'yes' }, 'on, off'],
      ['ltr', { starvation: '0' }, 'integer in [1, ∞)'],
      ['ltr', { quantum: '2.5' }, 'integer in [1, ∞)'],
      ['ssjf', { const: '-0.1' }, '[0, ∞)'],
      ['ssjf', { 'per-token': 'fast' }, '[0, ∞)'],
      ['ssjf', { starvation: 'maybe' }, 'on, off'],
      ['skippredict', { 'cost-mode': 'gpu' }, 'external, server'],
      ['skippredict', { c1: '-1' }, '[0, ∞)'],
      ['skippredict', { threshold: '0' }, '(0, ∞)'],
      ['mlfq', { quantum: '0' }, '(0, ∞)'],
      ['mlfq', { thres: '0.5' }, '[1, ∞)'],
      ['mlfq', { levels: '0' }, 'integer in [1, ∞]'],
      ['mlfq', { 'starvation-period': '0' }, 'integer in [1, ∞)'],
    ];
    for (const [name, opts, text] of cases) {
      const e = inputError(() => getPolicy(name).create(opts, p));
      expect(e.message, `${name} ${JSON.stringify(opts)}`).toContain(text);
      expect(e.message).toContain(Object.keys(opts)[0]);
    }
    // Accepted forms.
    expect(() => getPolicy('mlfq').create({ levels: 'inf', thres: '10' }, p)).not.toThrow();
    expect(() => getPolicy('ssjf').create({ 'starvation-wait': 'inf', 'starvation-coef': '3' }, p)).not.toThrow();
    expect(() => getPolicy('trail').create({ c: '0', margin: '5', 'max-preemptions': '2' }, p)).not.toThrow();
  });

  it('one reader for policies, predictors and routers: same words, located at each flag', () => {
    const message = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as InputError).message;
      }
      throw new Error('expected an InputError');
    };
    expect(message(() => getPolicy('trail').create({ c: '2' }, p))).toBe("--policy-opt: trail option c must be a number in [0, 1] (got '2')");
    expect(message(() => getPredictor('rank-tau').create({ tau: '2' }))).toBe("--predictor-opt: rank-tau option tau must be a number in (-1, 1] (got '2')");
    expect(message(() => getRouter('autellix').create({ threshold: '1.5' }))).toBe("--router-opt: autellix option threshold must be an integer in [0, ∞) (got '1.5')");
    expect(message(() => getPolicy('ssjf').create({ starve: '1' }, p))).toBe('--policy-opt: unknown ssjf option starve; valid: const, per-token, starvation, starvation-wait, starvation-coef');
    expect(message(() => getPolicy('fcfs').create({ x: '1', y: '2' }, p))).toBe('--policy-opt: unknown fcfs option x, y; fcfs takes no options');
    expect(message(() => getPredictor('oracle').create({ x: '1' }))).toBe('--predictor-opt: unknown oracle option x; oracle takes no options');
    expect(message(() => getRouter('random').create({ x: '1' }))).toBe('--router-opt: unknown random option x; random takes no options');
    expect(message(() => getPolicy('ltr').create({ 'starvation-control': 'ON' }, p))).toBe("--policy-opt: ltr option starvation-control must be one of on, off (got 'ON')");
    // Unknown keys are refused before any value is read, and inherited names are not options.
    expect(message(() => getPolicy('trail').create({ c: '2', bogus: '1' }, p))).toContain('unknown trail option bogus');
    expect(message(() => getPolicy('las').create({ constructor: 'x' }, p))).toContain('unknown las option constructor');
  });

  it('the reader: strict decimals, inf only when allowed, exclusive bounds, defaults, declared keys only', () => {
    const o = new OptionReader('--router-opt', 'r', { a: ' 2.5e1 ', b: 'INF', c: '1', h: '0x10', s: '  ' }, ['a', 'b', 'c', 'd', 'h', 's', 't']);
    expect(o.number('a', 0, { min: 0 })).toBe(25);
    expect(o.number('b', 0, { min: 0, integer: true, allowInfinity: true })).toBe(Infinity);
    expect(() => o.number('b', 0, { min: 0 })).toThrow("r option b must be a number in [0, ∞) (got 'INF')");
    expect(() => o.number('c', 0, { min: 0, max: 1, maxExclusive: true })).toThrow("r option c must be a number in [0, 1) (got '1')");
    expect(() => o.number('h', 0)).toThrow("r option h must be a number in (-∞, ∞) (got '0x10')");
    expect(o.number('d', 7, { min: 10 })).toBe(7); // absent: the default, unchecked
    expect(() => o.string('s', 'x')).toThrow('r option s must not be empty');
    expect(o.string('t', 'dflt')).toBe('dflt');
    expect(o.has('a')).toBe(true);
    expect(o.has('d')).toBe(false);
    expect(() => o.number('nope', 0)).toThrow(/not declared/);
    expect(o.error('x and y exclude each other')).toMatchObject({ field: '--router-opt', message: '--router-opt: r: x and y exclude each other' });
    expect(describeInterval({ min: 0, minExclusive: true, allowInfinity: true })).toBe("a number in (0, ∞] ('inf' allowed)");
  });

  it('sim/values.ts reads allowInfinity and maxExclusive specs the same way for flags and files', () => {
    expect(readNumber('inf', '--x', { min: 0, allowInfinity: true })).toBe(Infinity);
    expect(readNumber(Infinity, '--x', { allowInfinity: true, integer: true })).toBe(Infinity);
    expect(() => readNumber('inf', '--x', { min: 0 })).toThrow("--x: must be a non-negative number, written in decimal (got 'inf')");
    expect(() => readNumber('1', '--x', { max: 1, maxExclusive: true })).toThrow("--x: must be less than 1 (got '1')");
    expect(() => readNumber('inf', '--x', { max: 5, allowInfinity: true })).toThrow('must be at most 5');
    expect(numberProblem(0.5, { min: 0, max: 1, maxExclusive: true })).toBeUndefined();
    expect(numberProblem(NaN, { integer: true, min: 1, allowInfinity: true })).toBe("must be a positive integer or 'inf', written in decimal");
  });

  it('length-aware policies without a predictor are an InputError on --predictor', () => {
    for (const e of POLICIES.filter((x) => x.predictor !== 'none')) {
      expect(() => e.create({}, undefined)).toThrow(InputError);
      try {
        e.create({}, undefined);
      } catch (err) {
        expect((err as InputError).field).toBe('--predictor');
      }
    }
  });

  it('the registry lists every policy with a source and a predictor requirement', () => {
    const names = POLICIES.map((e) => e.name);
    expect(names).toEqual(['fcfs', 'sjf', 'srpt', 'ssjf', 'ltr', 'trail', 'skippredict', 'las', 'mlfq', 'plas', 'atlas', 'autellix-mlfq', 'preble-mpq']);
    for (const e of POLICIES) {
      expect(e.description.length).toBeGreaterThan(10);
      expect(e.source).toMatch(/docs\/spec\.md §\d/);
      if (e.predictor === 'optional') expect(e.defaultPredictor).toBeTruthy();
    }
  });
});
