/**
 * Several replicas behind a router: each router's decision rule on hand-built loads, an exact
 * queueing oracle (random routing splits a Poisson stream into independent M/G/1 queues), exact
 * makespans under saturation, and, over random workloads and program DAGs, the invariants of one
 * replica on every replica (work conservation, KV within capacity, every request once) plus
 * skip-ahead ≡ stepping with load-reading routers.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import type { IterationRecord } from '../sim/engine-types.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { OraclePredictor } from '../policies/predictors/index.ts';
import { ROUTERS, getRouter } from '../policies/routers.ts';
import type { ReplicaLoad, RouterContext } from '../sim/router.ts';
import { RequestTable } from '../sim/requests.ts';
import type { Trace, TracePrograms } from '../sim/trace.ts';
import { makeTrace, engineConfig, poissonGeometricTrace, batchMeans, runSim, expectSameRun, expectEngineInvariants } from './helpers.ts';

/** A router of `name` over `replicas`, with default options and a seeded generator. */
function routerOver(name: string, replicas: ReplicaLoad[], requests: RequestTable, opts: Record<string, string> = {}) {
  const ctx: RouterContext = { replicas, requests, random: seedrandom.alea('router-test') };
  return getRouter(name).create(opts)(ctx);
}

const load = (outstandingRequests: number, outstandingTokens: number, freeness: number): ReplicaLoad => ({ outstandingRequests, outstandingTokens, freeness, freenessRequests: outstandingRequests, cachedPrefixTokens: () => 0, forEachRequest: () => {} });

/** The oracle predictor attached to `trace` (what the workload-aware router reads here). */
function oracleOn(trace: Trace): OraclePredictor {
  const p = new OraclePredictor();
  p.attach(trace);
  return p;
}

/** Runs `trace` on `n` replicas of FCFS behind router `name`. */
function cluster(trace: Trace, n: number, name: string, engine = engineConfig(), cost = new LinearCostModel({ base: 0, prefill: 0, decode: 0.01, kv: 0 }), observer?: (r: IterationRecord) => void): SimulationResult {
  return simulate({
    trace,
    policy: Array.from({ length: n }, () => new Fcfs()),
    router: (replicas, requests) => getRouter(name).create({})({ replicas, requests, random: seedrandom.alea(`${name}:1`), cost, predictor: oracleOn(trace) }),
    cost,
    engine,
    observer,
  });
}

describe('routers', () => {
  const requests = new RequestTable(makeTrace([0, 0, 0, 0], [100, 3000, 3000, 10], [5, 5, 5, 5]));

  it('round-robin cycles; least-requests, least-tokens and llumnix take the extreme load, ties to the lowest index', () => {
    const replicas = [load(3, 50, 2), load(1, 900, 7), load(1, 40, 9)];
    const rr = routerOver('round-robin', replicas, requests);
    expect([0, 1, 2, 3, 4].map((i) => rr.route(i % 4, 0))).toEqual([0, 1, 2, 0, 1]);
    expect(routerOver('least-requests', replicas, requests).route(0, 0)).toBe(1);
    expect(routerOver('least-tokens', replicas, requests).route(0, 0)).toBe(2);
    expect(routerOver('llumnix', replicas, requests).route(0, 0)).toBe(2);
  });

  it('power-of-two samples two distinct replicas and keeps the less loaded of them', () => {
    const replicas = [load(5, 0, 0), load(0, 0, 0), load(9, 0, 0), load(2, 0, 0)];
    const p2c = routerOver('power-of-two', replicas, requests);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 6000; i++) counts[p2c.route(0, 0)]++;
    // Replica 2 (the most loaded) is never chosen; replica 1 (least) wins every pair it is in:
    // P = 1/2 (it is in 3 of the 6 pairs); replica 3 beats 0 and 2: 2/6; replica 0 beats 2: 1/6.
    expect(counts[2]).toBe(0);
    expect(counts[1] / 6000).toBeCloseTo(1 / 2, 1);
    expect(counts[3] / 6000).toBeCloseTo(2 / 6, 1);
    expect(counts[0] / 6000).toBeCloseTo(1 / 6, 1);
  });

  it("autellix sends short calls to the least used replica and pins a program's long calls to one replica", () => {
    // Four one-call "programs" here, so use a program trace: two calls of one program, both long.
    const trace = makeTrace([0, 0, 0], [3000, 3000, 100], [5, 5, 5]);
    const programs: TracePrograms = {
      count: 2,
      program: Int32Array.from([0, 0, 1]),
      programIds: ['a', 'b'],
      callIds: ['a0', 'a1', 'b0'],
      parentStart: Int32Array.from([0, 0, 1, 1]),
      parents: Int32Array.from([0]),
      delay_s: new Float64Array(3),
    };
    const R = new RequestTable({ ...trace, programs });
    const replicas = [load(2, 0, 0), load(0, 0, 0)];
    const r = routerOver('autellix', replicas, R);
    expect(r.route(0, 0)).toBe(1); // long, first of its program: least used, recorded
    replicas[1] = load(7, 0, 0);
    expect(r.route(1, 0)).toBe(1); // long, same program: pinned even though replica 1 is now busier
    expect(r.route(2, 0)).toBe(0); // short: least used
    expect(routerOver('autellix', replicas, R, { threshold: '5000' }).route(1, 0)).toBe(0); // under the threshold: least used
  });

  it('rejects unknown routers and options, naming the flag', () => {
    expect(() => getRouter('nope')).toThrow(/unknown router 'nope'; valid: round-robin/);
    expect(() => getRouter('autellix').create({ threshold: '-1' })).toThrow(/--router-opt.*threshold/);
    expect(() => getRouter('random').create({ x: '1' })).toThrow(/--router-opt.*unknown random option x/);
  });
});

describe('cluster queueing and saturation', () => {
  it('random routing of Poisson arrivals over 4 batch-1 replicas: each is M/G/1 at λ/4 (Pollaczek-Khinchine)', () => {
    const n = 120_000;
    const warmup = 8000;
    const tau = 0.01;
    const { trace, EK, EK2 } = poissonGeometricTrace(n, 1, 40, 'random-split');
    const EX = EK * tau;
    const EX2 = EK2 * tau * tau;
    const lambda = (4 * 0.7) / EX; // ρ = 0.7 per replica
    for (let i = 0; i < n; i++) trace.arrival_s[i] /= lambda;
    const perReplica = lambda / 4;
    const expected = EX + (perReplica * EX2) / (2 * (1 - 0.7));
    const res = cluster(trace, 4, 'random', engineConfig({ maxNumSeqs: 1 }), new LinearCostModel({ base: 0, prefill: 0, decode: tau, kv: 0 }));
    const R = res.requests;
    const t = new Float64Array(n - warmup);
    for (let i = warmup; i < n; i++) t[i - warmup] = R.completion[i] - R.arrival[i];
    const { mean, se } = batchMeans(t);
    expect(Math.abs(mean - expected)).toBeLessThan(3 * se);
    expect(se / expected).toBeLessThan(0.05);
    // Least outstanding requests (join the shortest queue) beats random splitting by far at ρ = 0.7.
    const jsq = cluster(trace, 4, 'least-requests', engineConfig({ maxNumSeqs: 1 }), new LinearCostModel({ base: 0, prefill: 0, decode: tau, kv: 0 }));
    let s = 0;
    for (let i = warmup; i < n; i++) s += jsq.requests.completion[i] - jsq.requests.arrival[i];
    expect(s / (n - warmup)).toBeLessThan(0.75 * expected);
  });

  it.each(['round-robin', 'least-requests', 'least-tokens', 'llumnix', 'autellix', 'prefix-affinity', 'preble'])(
    '%s keeps all 4 replicas busy under saturation: 40 equal requests at t=0 finish at exactly 10 service times',
    (name) => {
      // Each request: 1-token prompt, 11 output tokens = prefill iteration (samples token 1) + 10 decodes.
      const trace = makeTrace(new Array(40).fill(0), new Array(40).fill(1), new Array(40).fill(11));
      const res = cluster(trace, 4, name, engineConfig({ maxNumSeqs: 1 }), new LinearCostModel({ base: 0.5, prefill: 0, decode: 0.5, kv: 0 }));
      // Prefill iteration 0.5 s, each decode 1 s: 10.5 s per request, 10 per replica, back to back.
      expect(res.end_s).toBeCloseTo(105, 9);
      for (const st of res.replicas) expect(st.busy_s).toBeCloseTo(105, 9);
      const perReplica = [0, 0, 0, 0];
      for (let i = 0; i < 40; i++) perReplica[res.requests.replica[i]]++;
      expect(perReplica).toEqual([10, 10, 10, 10]);
    },
  );
});

describe('load seen by routers', () => {
  it('least-tokens sees the tokens generated up to an arrival even while a replica skips ahead', () => {
    // r0 gets two 50-token prompts, r1 one 120-token prompt (least tokens at each t = 0 arrival).
    // Iterations cost 0.01 s + 0.01 s per decoding sequence: by t = 1.5 s, r0 (2 sequences) has
    // run ~50 decode steps and holds ~100 + 2·50 = 200 tokens, r1 ~75 steps: ~120 + 75 = 195, so
    // the 4th request goes to r1. A replica that bundled its decode steps past the arrival would
    // still show 102 vs 121 tokens and send it to r0.
    for (const skipAhead of [true, false]) {
      const trace = makeTrace([0, 0, 0, 1.5], [50, 120, 50, 10], [100, 100, 100, 10]);
      const res = cluster(trace, 2, 'least-tokens', engineConfig({ skipAhead }), new LinearCostModel({ base: 0.01, prefill: 0, decode: 0.01, kv: 0 }));
      expect(Array.from(res.requests.replica)).toEqual([0, 1, 0, 1]);
    }
  });
});

const workload = fc
  .array(
    fc.record({
      gap: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2, noNaN: true })),
      prompt: fc.integer({ min: 1, max: 300 }),
      output: fc.integer({ min: 1, max: 80 }),
      parent: fc.option(fc.nat(), { nil: undefined }),
      delay: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
    { minLength: 1, maxLength: 50 },
  )
  .chain((rows) => fc.tuple(fc.constant(rows), fc.boolean()))
  .map(([rows, asPrograms]) => {
    let t = 0;
    const arrival = rows.map((r) => (t += r.gap));
    const trace = makeTrace(arrival, rows.map((r) => r.prompt), rows.map((r) => r.output));
    if (!asPrograms) return trace;
    // Call i depends on an earlier call (same program) when `parent` is set: chains and fan-outs.
    const program = new Int32Array(rows.length);
    const parentStart = new Int32Array(rows.length + 1);
    const parents: number[] = [];
    let count = 0;
    rows.forEach((r, i) => {
      if (i > 0 && r.parent !== undefined) {
        const p = r.parent % i;
        parents.push(p);
        program[i] = program[p];
        trace.arrival_s[i] = trace.arrival_s[p];
      } else program[i] = count++;
      parentStart[i + 1] = parents.length;
    });
    const programs: TracePrograms = {
      count,
      program,
      programIds: Array.from({ length: count }, (_, g) => `p${g}`),
      callIds: rows.map((_, i) => `c${i}`),
      parentStart,
      parents: Int32Array.from(parents),
      delay_s: Float64Array.from(rows.map((r) => r.delay)),
    };
    return { ...trace, programs };
  });

const setup = fc.record({
  replicas: fc.integer({ min: 1, max: 4 }),
  router: fc.constantFrom(...ROUTERS.map((r) => r.name)),
  maxNumSeqs: fc.integer({ min: 1, max: 6 }),
  kvTokens: fc.integer({ min: 64, max: 1500 }),
  chunked: fc.boolean(),
});

describe('cluster invariants (property-based)', () => {
  it('on every replica: each request finishes or is rejected once, KV within capacity, time monotone, no idling while it holds work', () => {
    fc.assert(
      fc.property(workload, setup, (trace, s) => {
        const engine = engineConfig({ maxNumSeqs: s.maxNumSeqs, maxNumBatchedTokens: s.maxNumSeqs + 128, chunkedPrefill: s.chunked, blockSize: 4, kvBlocks: Math.floor(s.kvTokens / 4) });
        const records: IterationRecord[] = [];
        const res = cluster(trace, s.replicas, s.router, engine, new LinearCostModel({ base: 0.01, prefill: 0.001, decode: 0.01, kv: 0 }), (r) => records.push(r));
        expectEngineInvariants(res, records, engine);
      }),
      { numRuns: 250, seed: 2026 },
    );
  });

  it('skip-ahead gives results identical to stepping, with every router and program DAGs', () => {
    fc.assert(
      fc.property(workload, setup, (trace, s) => {
        const engine = engineConfig({ maxNumSeqs: s.maxNumSeqs, maxNumBatchedTokens: s.maxNumSeqs + 128, chunkedPrefill: s.chunked, blockSize: 4, kvBlocks: Math.floor(s.kvTokens / 4) });
        const cost = new LinearCostModel({ base: 0.01, prefill: 0.001, decode: 0.01, kv: 1e-5 });
        const a = cluster(trace, s.replicas, s.router, { ...engine, skipAhead: true }, cost);
        const b = cluster(trace, s.replicas, s.router, { ...engine, skipAhead: false }, cost);
        expect(Array.from(a.requests.replica)).toEqual(Array.from(b.requests.replica));
        expectSameRun(a, b);
      }),
      { numRuns: 250, seed: 11 },
    );
  });
});

describe('sim --replicas', () => {
  it('writes per-replica metrics and reports a bad replica count', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-cluster-'));
    const { code } = await runSim('--trace', 'traces/azure-conv-2000.csv', '--limit', '300', '--replicas', '3', '--router', 'least-tokens', '--out', dir);
    expect(code).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary.replicas).toHaveLength(3);
    const rows = fs.readFileSync(path.join(dir, 'replicas.csv'), 'utf8').trim().split('\n');
    expect(rows[0].split(',')[0]).toBe('replica');
    expect(rows).toHaveLength(4);
    const routed = rows.slice(1).reduce((a, r) => a + Number(r.split(',')[1]), 0);
    expect(routed).toBe(300);
    expect(summary.replicas.reduce((a: number, r: { completed: number }) => a + r.completed, 0)).toBe(summary.requests.completed);
    const bad = await runSim('--trace', 'traces/azure-conv-2000.csv', '--replicas', '0');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--replicas: must be an integer in \[1, 1024\]/);
    const badRouter = await runSim('--trace', 'traces/azure-conv-2000.csv', '--replicas', '2', '--router', 'nope');
    expect(badRouter.err).toMatch(/unknown router 'nope'/);
  });
});
