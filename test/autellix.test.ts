/**
 * Autellix's schedulers (policies/plas.ts; arXiv 2502.13965 §4, docs/spec.md §6):
 * - PLAS with one-call programs and vanishing quanta is FB / LAS (§12.7): mean and per-size
 *   response times at batch 1 against the FB formula for the discrete sizes simulated;
 * - anti-starvation (β), multi-step scheduling (N) and the MLFQ baseline on hand-worked schedules;
 * - the process table lives in `ctx.shared`: one entry per program across replicas;
 * - multi-step scheduling lets the engine skip ahead between rounds.
 * Skip-ahead equivalence, the engine invariants and determinism (with β, N and short quanta, on
 * program traces, one and three replicas behind every router) are checked by
 * test/conformance.test.ts.
 */
import { describe, it, expect } from 'vitest';
import seedrandom from 'seedrandom';
import { simulate } from '../sim/simulator.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { RequestTable, FINISHED } from '../sim/requests.ts';
import { ProgramLas, programTable, PROGRAM_TABLE_KEY } from '../policies/plas.ts';
import type { ProgramLasOptions } from '../policies/plas.ts';
import { Las } from '../policies/las.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { getPolicy } from '../policies/index.ts';
import type { Policy, PolicyContext } from '../sim/policy.ts';
import { buildProgramTrace, type ProgramCall } from '../traces/programs.ts';
import type { Trace } from '../sim/trace.ts';
import { engineConfig, makeTrace, batchMeans, inputError, geometricLattice, latticeMoments, sampleLatticeTrace } from './helpers.ts';
import type { Lattice } from './helpers.ts';

/** 1 s per iteration (prefill or decode): a call of s output tokens and a 1-token prompt runs s iterations. */
const perIteration = new LinearCostModel({ base: 1, prefill: 0, decode: 0, kv: 0 });
/** Free swaps with room for every call (PLAS swaps out what is not in the batch). */
const freeSwap = { swapBlocks: 1_000_000_000, blockBytes: 0 };

/**
 * Chains of calls, every program submitted at 0, through the library's program-trace builder:
 * steps[g] lists the output tokens (= iterations at 1 s each) of program g's calls, in order.
 * Request ids follow the listing (program 0's calls first).
 */
function chains(steps: number[][]): Trace {
  const calls: ProgramCall[] = [];
  steps.forEach((prog, g) =>
    prog.forEach((s, k) =>
      calls.push({
        program_id: `P${g}`,
        call_id: `c${k}`,
        parents: k === 0 ? [] : [`c${k - 1}`],
        ...(k === 0 ? { arrival_s: 0 } : {}),
        prompt_tokens: 1,
        output_tokens: s,
      }),
    ),
  );
  return buildProgramTrace(calls, 'test', 'test', 'generic');
}

/** Completion times (s) of `trace` under `policy` at batch `seqs`, 1 s per iteration. */
function completions(trace: Trace, policy: Policy, seqs = 1, chunkedPrefill = false): number[] {
  return Array.from(simulate({ trace, policy, cost: perIteration, engine: engineConfig({ maxNumSeqs: seqs, chunkedPrefill, ...freeSwap }) }).requests.completion);
}

/**
 * Mean response time E[T(k)] (s) of a job of k tokens under FB with a one-token quantum, for the
 * *discrete* system the engine simulates in mode A (batch 1, a token takes τ and is not
 * preempted, ties at equal attained service go to the earlier arrival), Poisson arrivals at rate
 * `lam` (1/s), K ~ `d` tokens per job. Returned by k (index 0 unused).
 *
 * Derivation [OURS, exact]: a tagged job J of k tokens starts its last token at D, the end of a
 * busy period started by V = (k − 1)τ plus V_k, the work J finds ahead of it: every earlier job's
 * tokens 1..k (ties at level k go to them) plus the residual of a token of level > k in service
 * (tokens are not preempted); arrivals during D each add their tokens 1..k − 1 (ties go to J).
 * So E[T(k)] = (E[V_k] + (k − 1)τ) / (1 − λτE[min(K, k − 1)]) + τ. V_k is a workload that drains
 * at rate 1 while positive, jumps by min(K, k)τ at Poisson arrivals and by τ whenever a token of
 * level > k starts (only from V_k = 0, at rate λE[(K − k)⁺]); E[d V²/dt] = 0 gives
 * E[V_k] = λτ²(E[min(K, k)²] + E[(K − k)⁺]) / (2(1 − λτE[min(K, k)])), by PASTA also what J
 * finds. As τ → 0 this is §12.7's λE[min(X,x)²]/(2(1 − ρ̄(x))²) + x/(1 − ρ̄(x)); the continuous
 * formula evaluated on the lattice overstates the discrete system by O(τ) (0.12 s of 3.39 at mean
 * 10 tokens), which this form does not (checked against `las` at 600,000 jobs, mean 10 and 5
 * tokens: within 1 SE overall and per size).
 */
function fbDiscrete(d: Lattice, lam: number): Float64Array {
  const K = d.p.length - 1;
  const tau = d.tau;
  let EK = 0;
  for (let k = 1; k <= K; k++) EK += k * d.p[k];
  const out = new Float64Array(K + 1);
  let P = 0; // P(K <= k)
  let m1 = 0; // E[K 1{K <= k}]
  let m2 = 0; // E[K² 1{K <= k}]
  for (let k = 1; k <= K; k++) {
    const minPrev = m1 + (k - 1) * (1 - P); // E[min(K, k − 1)]
    P += d.p[k];
    m1 += k * d.p[k];
    m2 += k * k * d.p[k];
    const min1 = m1 + k * (1 - P);
    const min2 = m2 + k * k * (1 - P);
    const Vk = (lam * tau * tau * (min2 + (EK - min1))) / (2 * (1 - lam * tau * min1));
    out[k] = (Vk + (k - 1) * tau) / (1 - lam * tau * minPrev) + tau;
  }
  return out;
}

/** p-weighted mean of `perK` over sizes lo..hi tokens. */
function binMean(d: Lattice, perK: (k: number) => number, lo: number, hi: number): number {
  let s = 0;
  let w = 0;
  for (let k = lo; k <= Math.min(hi, d.p.length - 1); k++) {
    s += d.p[k] * perK(k);
    w += d.p[k];
  }
  return s / w;
}

describe('PLAS with one-call programs and vanishing quanta is FB (§12.7)', () => {
  it('batch 1, Poisson arrivals at ρ = 0.7, geometric sizes: mean and per-size response times match the discrete FB formula', () => {
    // Sizes K ~ Geometric, mean 20 tokens of τ = 0.05 s (Exp(1)-like: FB's mean equals PS's 3.33
    // in the continuous limit, so the size classes below are what separates FB from FCFS and PS).
    // Queues of width ≤ τ up to 1000 tokens (q0 = τ/2, r = 1.001): a call drops one queue per
    // token it runs, and FCFS within a queue is LAS's tie order, so the schedule is FB's.
    const tau = 0.05;
    const d = geometricLattice(20, tau);
    const lam = 0.7 / latticeMoments(d).EX;
    const n = 100_000;
    const warmup = 5_000;
    const cooldown = 2_000; // the last arrivals see no later ones
    const trace = sampleLatticeTrace(n, lam, d, 'autellix-fb');
    const engine = engineConfig({ maxNumSeqs: 1, ...freeSwap });
    const cost = new LinearCostModel({ base: 0, prefill: 0, decode: tau, kv: 0 });
    const plas = new ProgramLas({ mode: 'plas', queues: 8000, q0: tau / 2, ratio: 1.001 });
    const R = simulate({ trace, policy: plas, cost, engine }).requests;
    const perK = fbDiscrete(d, lam);
    const bins: [number, number][] = [[1, 3], [15, 25], [60, 120]];
    const all: number[] = [];
    const byBin: number[][] = bins.map(() => []);
    for (let i = warmup; i < n - cooldown; i++) {
      expect(R.state[i]).toBe(FINISHED);
      const t = R.completion[i] - R.arrival[i];
      all.push(t);
      const k = R.output[i] - 1;
      bins.forEach(([lo, hi], b) => {
        if (k >= lo && k <= hi) byBin[b].push(t);
      });
    }
    // Overall mean (for this geometric lattice the discrete FB mean is FCFS's, 3.386 s: the
    // per-size checks are the ones with teeth).
    let expected = 0;
    for (let k = 1; k < d.p.length; k++) expected += d.p[k] * perK[k];
    const r = batchMeans(all);
    expect(r.se / expected).toBeLessThan(0.025);
    expect(Math.abs(r.mean - expected)).toBeLessThan(3 * r.se);
    // Per size class: FB within 3 SE; FCFS (Pollaczek–Khinchine: x + W) and PS (x/(1 − ρ)) far off.
    const { EX, EX2 } = latticeMoments(d);
    const W = (lam * EX2) / (2 * (1 - lam * EX));
    bins.forEach(([lo, hi], b) => {
      const s = batchMeans(byBin[b]);
      const fb = binMean(d, (k) => perK[k], lo, hi);
      expect(Math.abs(s.mean - fb), `sizes ${lo}..${hi}: ${s.mean} ± ${s.se} vs FB ${fb}`).toBeLessThan(3 * s.se);
      expect(Math.abs(fb - binMean(d, (k) => k * tau + W, lo, hi))).toBeGreaterThan(4 * s.se);
      expect(Math.abs(fb - binMean(d, (k) => (k * tau) / 0.3, lo, hi))).toBeGreaterThan(4 * s.se);
    });
    // The very schedule of `las` (FB with a one-token quantum), on a prefix of the trace.
    const m = 5_000;
    const prefix = makeTrace(Array.from(trace.arrival_s.subarray(0, m)), Array.from(trace.prompt_tokens.subarray(0, m)), Array.from(trace.output_tokens.subarray(0, m)));
    const a = simulate({ trace: prefix, policy: new ProgramLas({ mode: 'plas', queues: 8000, q0: tau / 2, ratio: 1.001 }), cost, engine }).requests.completion;
    const b = simulate({ trace: prefix, policy: new Las(), cost, engine }).requests.completion;
    expect(Array.from(a)).toEqual(Array.from(b));
  }, 120_000); // the heaviest test here: 3–20 s measured on 2 busy cores (vitest.config.ts)
});

describe('anti-starvation (β)', () => {
  // Batch 1, 1 s per iteration, K = 2 queues with q0 = 1 s: Q1 = [0, 1), Q2 = [1, ∞). A (6
  // iterations) arrives at 0; one-iteration calls S1..S12 arrive at t = 1..12 (each its own
  // program: they enter Q1, run at once and finish). A runs [0, 1), drops to Q2 and, without
  // anti-starvation, waits for the whole stream: S_k ends at k + 1, A runs [13, 18).
  // With β = 2: A's W_call = t − 0 − service, T_call = 1, W_prog = T_prog = 0 (its program has no
  // completed call), so at t = 3 W = 2 ≥ 2·1 and A is promoted to Q1 (resetting W_call, T_call);
  // its key (Q1, submitted at 0) beats S3's, it runs [3, 4), uses Q1's 1 s quantum and drops to
  // Q2 again; it next reaches W_call = 2 ≥ 2·T_call = 2 at t = 6, then 9, 12, 15: A runs
  // [0,1) [3,4) [6,7) [9,10) [12,13) [15,16), ending at 16, and each S waits its turn behind it.
  const arrival = [0, ...Array.from({ length: 12 }, (_, k) => k + 1)];
  const trace = makeTrace(arrival, arrival.map(() => 1), [6, ...Array.from({ length: 12 }, () => 1)]);
  const opts = { queues: 2, q0: 1, ratio: 2 };

  it('β = 2 promotes the starving call every 3 s; β = ∞ (default) leaves it starving', () => {
    const promoted = new ProgramLas({ mode: 'plas', ...opts, beta: 2 });
    expect(completions(trace, promoted)).toEqual([16, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]);
    expect(promoted.promotions).toBe(5);
    const off = new ProgramLas({ mode: 'plas', ...opts });
    expect(completions(trace, off)).toEqual([18, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(off.promotions).toBe(0);
    // With one-call programs the MLFQ baseline's call-level ratio is the same rule.
    expect(completions(trace, new ProgramLas({ mode: 'mlfq', ...opts, beta: 2 }))).toEqual([16, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]);
    // β = 5: first promotion when W = 5·1, at t = 6; then W_call must reach 5 again: at 12. A runs
    // [0,1) [6,7) [12,13) and, once S11 and S12 are served [13, 15), its last 3 iterations [15, 18).
    expect(completions(trace, new ProgramLas({ mode: 'plas', ...opts, beta: 5 }))).toEqual([18, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 14, 15]);
  });
});

describe('multi-step scheduling (steps = N)', () => {
  // Batch 1, 1 s per iteration, K = 2, q0 = 1 s. A (6 iterations) and B (3) both arrive at 0; A
  // goes first (Q1, earlier id). N = 1: A drops to Q2 after [0, 1); B runs [1, 2) and drops too;
  // in Q2 A (submitted first) runs [2, 7), then B [7, 9). N = 2: decisions at iterations 0, 2,
  // 4, …: A keeps Q1 for [0, 2) and is demoted at t = 2; B runs [2, 4) and is demoted at t = 4,
  // behind A in Q2: A [4, 8), B [8, 9). N = 3: A runs [0, 3), demoted at t = 3; B runs [3, 6)
  // and finishes before the round at 6; A [6, 9).
  const trace = makeTrace([0, 0], [1, 1], [6, 3]);
  it.each([
    [1, [7, 9], 1],
    [2, [8, 9], 2],
    [3, [9, 6], 3],
  ])('N = %i: completions %j, B first runs at %i s', (steps, expected, bStart) => {
    const res = simulate({ trace, policy: new ProgramLas({ mode: 'plas', queues: 2, q0: 1, ratio: 4, steps }), cost: perIteration, engine: engineConfig({ maxNumSeqs: 1, ...freeSwap }) });
    expect(Array.from(res.requests.completion)).toEqual(expected);
    expect(res.requests.firstScheduled[1]).toBe(bStart);
  });

  it('promotions wait for the round too', () => {
    // The anti-starvation example (A: 6 iterations at 0; S1..S12: one iteration at t = 1..12;
    // K = 2, q0 = 1 s) with N = 2. The engine is never idle and every iteration takes 1 s, so the
    // rounds fall at even times. β = 2: A runs [0, 2) (its quantum is checked at the round at 2),
    // is demoted at 2 with T_call = 2, and meets W_call ≥ 2·2 at t = 6, a round: promoted, it
    // runs [6, 8), is demoted at 8 (T_call = 2 since the reset), meets the condition again at 12
    // (W_call 4), runs [12, 14) and is done at 14 (6 iterations). S1..S4 run [2, 6), S5..S8
    // [8, 12), S9..S12 [14, 18).
    const arrival = [0, ...Array.from({ length: 12 }, (_, k) => k + 1)];
    const trace = makeTrace(arrival, arrival.map(() => 1), [6, ...Array.from({ length: 12 }, () => 1)]);
    const expected = [14, 3, 4, 5, 6, 9, 10, 11, 12, 15, 16, 17, 18];
    const two = new ProgramLas({ mode: 'plas', queues: 2, q0: 1, ratio: 2, beta: 2, steps: 2 });
    expect(completions(trace, two)).toEqual(expected);
    expect(two.promotions).toBe(2);
    // β = 1.5: the condition now holds at t = 5 (2 + 1.5·2) and 11 (4 + 4 + 1.5·2), between
    // rounds; the promotions still happen at the rounds at 6 and 12: the same schedule.
    expect(completions(trace, new ProgramLas({ mode: 'plas', queues: 2, q0: 1, ratio: 2, beta: 1.5, steps: 2 }))).toEqual(expected);
    // Deciding every iteration (N = 1), β = 1.5 acts at the first iteration boundary after each
    // due time (2.5 → 3, then 5.5 → 6, …): the N = 1, β = 2 schedule of the example above.
    expect(completions(trace, new ProgramLas({ mode: 'plas', queues: 2, q0: 1, ratio: 2, beta: 1.5 }))).toEqual([16, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]);
  });
});

describe('autellix-mlfq on Autellix Figure 2 (batch 2, A={4,3,1,1}, B={3,3,4}, C={1,2}, D={4})', () => {
  const steps = [[4, 3, 1, 1], [3, 3, 4], [1, 2], [4]];
  /** Σ over calls of (first scheduled − submitted), the waiting the paper's figure counts, and Σ of all queued time (completion − submitted − service). */
  function waits(policy: Policy): { first: number; queued: number; completion: number[] } {
    const trace = chains(steps);
    const R = simulate({ trace, policy, cost: perIteration, engine: engineConfig({ maxNumSeqs: 2, chunkedPrefill: true, ...freeSwap }) }).requests;
    let first = 0;
    let queued = 0;
    for (let i = 0; i < R.n; i++) {
      expect(R.state[i]).toBe(FINISHED);
      first += R.firstScheduled[i] - R.arrival[i];
      queued += R.completion[i] - R.arrival[i] - R.service[i];
    }
    return { first, queued, completion: Array.from(R.completion) };
  }

  it('default quanta (q0 = 1 step, r = 4): waiting 2 (16 s queued in all); quanta longer than every call: FCFS, the paper’s 18', () => {
    // Hand-worked, ids A1..A4 = 0..3, B1..B3 = 4..6, C1, C2 = 7, 8, D1 = 9; Q1 = [0, 1) steps,
    // Q2 = [1, 4); every call enters Q1; FCFS by submission within a queue, ties by id.
    // [0,1) A1 B1 → both to Q2 · [1,2) C1 D1: C1 done, C2 submitted at 2; D1 to Q2 ·
    // [2,3) C2 A1: C2 to Q2 · [3,5) A1 B1: both done at 5, A2 and B2 submitted ·
    // [5,6) A2 B2 → Q2 · [6,7) D1 C2: C2 done · [7,9) D1 A2: both done, A3 at 9 ·
    // [9,10) A3 B2: A3 done, A4 at 10 · [10,11) A4 B2: both done, B3 at 11 · [11,15) B3.
    // First-scheduled waits: C1 1, D1 1, all others 0 → 2. Queued time (not in a batch):
    // A1 1, B1 2, C1 1, D1 5, C2 3, A2 1, B2 3 → 16. Time slicing with a one-step first quantum
    // lets every new call start at once; the paper's MLFQ total of 18 (equal to FCFS) is what
    // quanta that no call outlasts give: with q0 = 4 steps nothing is demoted and the schedule is
    // FCFS's.
    const mlfq = waits(getPolicy('autellix-mlfq').create({}, undefined));
    expect(mlfq.first).toBe(2);
    expect(mlfq.queued).toBe(16);
    expect(mlfq.completion).toEqual([5, 9, 10, 11, 5, 11, 15, 2, 7, 9]);
    const long = waits(getPolicy('autellix-mlfq').create({ q0: '4' }, undefined));
    const fcfs = waits(new Fcfs());
    expect(long.first).toBe(18);
    expect(long.completion).toEqual(fcfs.completion);
    expect(getPolicy('autellix-mlfq').create({}, undefined).name).toBe('MLFQ');
  });
});

/** A context for driving a policy by hand: keys set are recorded; nothing runs. */
function fakeContext(requests: RequestTable, shared: Map<string, unknown>): PolicyContext & { keys: Map<number, number> } {
  const keys = new Map<number, number>();
  return {
    requests,
    keys,
    setPriority: (id, key) => void keys.set(id, key),
    running: () => new Int32Array(0),
    runningCount: () => 0,
    waitingCount: () => 0,
    cachedPrefixTokens: () => 0,
    addIterationTime: () => {},
    shared,
  };
}

describe('the process table is shared across replicas (ctx.shared)', () => {
  /**
   * Program 0: root call 0, then calls 1 and 2 in parallel; program 1: call 3. Times and service
   * are written into the request table by hand, as two engines would.
   */
  function table(): RequestTable {
    const calls: ProgramCall[] = [
      { program_id: 'P', call_id: 'r', parents: [], arrival_s: 0, prompt_tokens: 1, output_tokens: 5 },
      { program_id: 'P', call_id: 'a', parents: ['r'], prompt_tokens: 1, output_tokens: 5 },
      { program_id: 'P', call_id: 'b', parents: ['r'], prompt_tokens: 1, output_tokens: 5 },
      { program_id: 'Q', call_id: 'q', parents: [], arrival_s: 0, prompt_tokens: 1, output_tokens: 5 },
    ];
    return new RequestTable(buildProgramTrace(calls, 'test', 'test', 'generic'));
  }
  const opts: Partial<ProgramLasOptions> = { queues: 6, q0: 1, ratio: 4, beta: 2 };

  it("two instances on one map see one program's service and waiting; on separate maps they do not", () => {
    const R = table();
    const shared = new Map<string, unknown>();
    const a = new ProgramLas({ mode: 'plas', ...opts });
    const b = new ProgramLas({ mode: 'plas', ...opts });
    a.attach(fakeContext(R, shared));
    const ctxB = fakeContext(R, shared);
    b.attach(ctxB);
    expect(programTable(shared, R.programCount, 'plas')).toBe(shared.get(PROGRAM_TABLE_KEY));
    // Root call 0 runs on replica A: submitted at 0, 1.5 s of service, done at 11.5 (10 s queued).
    a.priority(0, 0);
    R.service[0] = 1.5;
    R.state[0] = FINISHED;
    a.onComplete(0, 11.5);
    // Call 1 of the same program lands on replica B at 11.5: it starts from p = 1.5 (queue [1, 4)).
    R.arrival[1] = 11.5;
    expect(b.priority(1, 11.5)).toBe(1e9 + 11.5);
    expect(b.startPriority(1)).toBe(1.5);
    expect(b.queueOf(1)).toBe(1);
    // Anti-starvation sees the program's waiting: (10 + 0)/(1.5 + 0) ≥ 2, promoted at the next round.
    b.beforeSchedule(11.5);
    expect(b.queueOf(1)).toBe(0);
    expect(ctxB.keys.get(1)).toBe(11.5);
    // Apart (separate maps), B knows nothing of the root: p = 0, first queue.
    const apart = new ProgramLas({ mode: 'plas', ...opts });
    apart.attach(fakeContext(R, new Map()));
    expect(apart.priority(1, 11.5)).toBe(11.5);
    expect(apart.startPriority(1)).toBe(0);
  });

  it("a sibling's completion on one replica re-checks the program's calls on the other", () => {
    const R = table();
    const shared = new Map<string, unknown>();
    const a = new ProgramLas({ mode: 'atlas', ...opts });
    const b = new ProgramLas({ mode: 'atlas', ...opts });
    a.attach(fakeContext(R, shared));
    b.attach(fakeContext(R, shared));
    // Root: 4 s of service, no waiting, done at 4 → both children start at p = 4 (queue [4, 16)).
    a.priority(0, 0);
    R.service[0] = 4;
    R.state[0] = FINISHED;
    a.onComplete(0, 4);
    R.arrival[1] = R.arrival[2] = 4;
    a.priority(1, 4);
    b.priority(2, 4);
    expect(b.queueOf(2)).toBe(2);
    // Call 2 waits on B: W_prog = 0, T_prog = 4, T_call = 0: promoted once W_call ≥ 2·4, at 12.
    b.beforeSchedule(9);
    expect(b.queueOf(2)).toBe(2);
    // Call 1 finishes on A at 11 after 1 s of service (6 s queued): W_prog = 6, T_prog = 5, so
    // call 2 is due when 6 + W_call ≥ 2·5, i.e. at t = 8 — already past at B's next round.
    R.service[1] = 1;
    R.state[1] = FINISHED;
    a.onComplete(1, 11);
    b.beforeSchedule(11);
    expect(b.queueOf(2)).toBe(0);
    expect(b.promotions).toBe(1);
  });

  it('the MLFQ baseline uses the call-level ratio only', () => {
    const run = (mode: 'plas' | 'mlfq', now: number) => {
      const R2 = table();
      const p = new ProgramLas({ mode, ...opts });
      p.attach(fakeContext(R2, new Map()));
      // Root waited 10 s and ran 1 s; call 1 submitted at 11, runs 1.5 s in its first queue.
      p.priority(0, 0);
      R2.service[0] = 1;
      R2.state[0] = FINISHED;
      p.onComplete(0, 11);
      R2.arrival[1] = 11;
      p.priority(1, 11);
      p.beforeSchedule(11);
      const start = p.queueOf(1);
      R2.service[1] = 1.5;
      p.onIterationEnd(Int32Array.of(1), 1, 1);
      p.beforeSchedule(12.5); // round: 1.5 s of service ≥ the quantum: demoted
      const demoted = p.queueOf(1);
      p.beforeSchedule(now);
      return { start, demoted, after: p.queueOf(1) };
    };
    // MLFQ: enters Q1 although its program has 1 s of service; demoted after 1.5 s; promoted
    // when its own W_call reaches 2·1.5 = 3 s, at 12.5 + 3 = 15.5, not before.
    expect(run('mlfq', 15.4)).toEqual({ start: 0, demoted: 1, after: 1 });
    expect(run('mlfq', 15.5)).toEqual({ start: 0, demoted: 1, after: 0 });
    // PLAS: enters at p = 1 (queue [1, 4)) and is promoted at once (W_prog 10 ≥ 2·T_prog 1);
    // after its 1.5 s in Q1 it is demoted and promoted again at once (10 ≥ 2·(1 + 1.5)).
    expect(run('plas', 12.5)).toEqual({ start: 0, demoted: 0, after: 0 });
  });

  it('a table built for another mode or size is an error', () => {
    const shared = new Map<string, unknown>();
    programTable(shared, 3, 'plas');
    expect(() => programTable(shared, 3, 'atlas')).toThrow(/process table/);
    expect(() => programTable(shared, 4, 'plas')).toThrow(/process table/);
  });
});

describe('options', () => {
  it('beta and steps are read, checked and named in errors', () => {
    for (const name of ['plas', 'atlas', 'autellix-mlfq']) {
      const e = getPolicy(name);
      expect(() => e.create({ beta: 'inf', steps: '8', queues: '0' }, undefined)).not.toThrow();
      expect(inputError(() => e.create({ beta: '0' }, undefined)).message).toContain('beta');
      expect(inputError(() => e.create({ steps: '1.5' }, undefined)).message).toContain('steps');
      expect(inputError(() => e.create({ nope: '1' }, undefined)).message).toMatch(/valid: queues, q0, ratio, beta, steps/);
    }
    expect(() => new ProgramLas({ mode: 'plas', steps: 0 })).toThrow(RangeError);
    expect(() => new ProgramLas({ mode: 'plas', beta: -1 })).toThrow(RangeError);
  });
});

describe('skip-ahead with multi-step', () => {
  it('multi-step lets the engine skip ahead between rounds; with one step, up to the next quantum or due promotion', () => {
    const rng = seedrandom.alea('steps');
    const n = 200;
    const arrival: number[] = [];
    let t = 0;
    for (let i = 0; i < n; i++) arrival.push((t += -Math.log(1 - rng()) * 0.5));
    const trace = makeTrace(arrival, arrival.map(() => 50), arrival.map(() => 20 + Math.floor(rng() * 200)));
    const cost = new LinearCostModel({ base: 0.01, prefill: 0.0001, decode: 0.001, kv: 0 });
    const run = (opts: Record<string, string>, skipAhead: boolean) =>
      simulate({ trace, policy: getPolicy('plas').create(opts, undefined), cost, engine: engineConfig({ maxNumSeqs: 8, skipAhead, ...freeSwap }) });
    const one = run({ q0: '0.05' }, true);
    const oneOff = run({ q0: '0.05' }, false);
    const eight = run({ q0: '0.05', steps: '8' }, true);
    const eightOff = run({ q0: '0.05', steps: '8' }, false);
    expect(Array.from(eight.requests.completion)).toEqual(Array.from(eightOff.requests.completion));
    expect(eight.events).toBeLessThan(eightOff.events * 0.5);
    expect(Array.from(one.requests.completion)).toEqual(Array.from(oneOff.requests.completion));
    expect(one.events).toBeLessThan(oneOff.events * 0.8);
  });
});
