/**
 * Conformance suite, built from the registries: every policy in POLICIES, every predictor in
 * PREDICTORS and every router in ROUTERS is run, through the CLI's own configuration builders
 * (normalizeOptions, buildRun: the production defaults for everything not set here), on small
 * but stressful workloads, and every run is checked for
 * - skip-ahead ≡ stepping: with `skipAhead` on and off, identical per-request results (state,
 *   tokens, replica, submission, first scheduled, first token, completion, preemptions) and
 *   engine counters, total and per replica (busy time to 1e-9 relative: skip-ahead sums it in one
 *   subtraction); only the bundling itself (loop events, observer records) may differ;
 * - the engine invariants (test/helpers.ts `engineViolations`), with skip-ahead on and off: every
 *   request finished or rejected and counted, times in order, batches within max-num-seqs and the
 *   token budget, KV within capacity, counters agreeing with the observed iterations, no idling
 *   while work waits;
 * - determinism: the same options and seed twice give identical runs;
 * - on the request workloads, that the engine was stressed (preemptions) and the two requests that
 *   cannot fit were rejected.
 *
 * Matrix (a new registry entry joins it the day it is added; the only hand-kept list, the option
 * variants, adds cases and removes none):
 * - every policy, default options (its default predictor): the request workload in the four engine
 *   modes (prefill priority or chunked prefill, x preemption by recompute or swap) and the program
 *   workload in two;
 * - option variants (non-default options that switch on time- and iteration-based rules:
 *   starvation guards, short quanta, multi-step, other displacements, refining predictors): the
 *   request workload in two engine modes, the program workload in one, and on 3 replicas;
 * - every predictor under every policy that takes one, on the request workload (modes by turns);
 * - every router with 3 replicas: every policy on the program workload, and two policies (by
 *   turns, so every policy at least once) on the request workload at three times the rate;
 * - every policy (defaults) and every option variant on small random workloads and engine settings
 *   (fast-check: one sequence per batch, one-token blocks, a tiny token budget, no swap space);
 * - pipeline parallelism (`--pp`, docs/engine.md): every policy (defaults) on the request workload
 *   at pp 2 (engine modes by turns) and the program workload at pp 3, every router on the program
 *   workload over 2 replicas of pp 2, and every policy on small random workloads at pp 2 and 3.
 * - disaggregated prefill and decode (docs/disaggregation.md): every policy over 1 prefill + 2
 *   decode replicas and every router over 2 + 2, on the request workload (skip-ahead and
 *   determinism only; the pools' invariants are in test/disaggregation.test.ts).
 * Workloads: 300 requests overloading an 8000-token KV cache (preemptions, swaps and their
 * fallbacks to recompute), with bursts, two requests that can never fit (rejected) and one prompt
 * over the prefill-priority token budget; 169 program calls from the library's generators
 * (ReAct chains with think time, map-reduce fan-out/fan-in, tree searches), the workload PLAS and
 * ATLAS schedule by.
 *
 * The suite can fail: a locally registered broken policy (learning-to-rank wrapped to re-key every
 * iteration while claiming stable keys) fails the skip-ahead check in every engine mode, a policy
 * keyed by Math.random fails the determinism check, and tampered runs fail the invariant check.
 * It found one engine bug, since fixed: the stall-free walk overran the token budget (see the
 * regression test at the end).
 *
 * Run time: about 12 s for the file on 2 busy cores (about 900 runs of a few milliseconds each on
 * the fixed workloads, about 2000 small random ones).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import type { EngineConfig, IterationRecord } from '../sim/engine-types.ts';
import { FINISHED, WAITING } from '../sim/requests.ts';
import { POLICIES } from '../policies/index.ts';
import type { Policy, PolicyContext, PolicyEntry } from '../policies/index.ts';
import { PREDICTORS } from '../policies/predictors/index.ts';
import { DEFAULT_PREDICTION_COLUMN } from '../policies/predictors/trace-column.ts';
import { ROUTERS } from '../policies/routers.ts';
// The CLI's configuration builders (production defaults for everything not set below).
import { normalizeOptions, buildRun } from '../app/config.ts';
import type { RunOptions } from '../app/config.ts';
import { generatePrograms } from '../traces/generators.ts';
import type { ProgramKind } from '../traces/generators.ts';
import { buildProgramTrace } from '../traces/programs.ts';
import type { ProgramCall } from '../traces/programs.ts';
import type { Trace } from '../sim/trace.ts';
import { makeTrace, engineViolations, runDifferences } from './helpers.ts';

// ---------------------------------------------------------------------------------------------
// Workloads

/** KV capacity of every case (tokens): about a dozen of the request workload's requests at once. */
const KV_TOKENS = 8000;

/**
 * 300 requests, about 8/s (more than 16 sequences of llama-2-7b on an A100 serve), with a burst
 * of 6 simultaneous arrivals every 40 requests; prompts log-normal around 300 tokens (up to
 * 2500), outputs 75% short (1-80) and 25% long (80-400); two rejected requests (one longer than
 * `--max-model-len`, one that can never fit the KV cache), one 4500-token prompt (over the prefill-priority token budget of 4096: it
 * runs alone), and the column the `trace` predictor reads (noisy true lengths).
 */
function requestWorkload(): Trace {
  const rng = seedrandom.alea('conformance:requests');
  const arrival: number[] = [];
  const prompt: number[] = [];
  const output: number[] = [];
  let t = 0;
  for (let i = 0; i < 300; i++) {
    const burst = i % 40 >= 1 && i % 40 <= 5; // arrives with the one before
    if (!burst) t += -Math.log(1 - rng()) / 8;
    arrival.push(t);
    const z = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    prompt.push(Math.min(2500, Math.max(1, Math.round(300 * Math.exp(0.9 * z)))));
    output.push(rng() < 0.75 ? 1 + Math.floor(rng() * 80) : 80 + Math.floor(rng() * 320));
  }
  // Rejected at arrival: longer than --max-model-len 8200 (8500 tokens); and within it (8000) but
  // never fitting the KV cache (prompt + output − 1 > KV capacity less the watermark).
  prompt[57] = 6000;
  output[57] = 2500;
  prompt[211] = 3000;
  output[211] = 5000;
  // Fits the KV cache, but not the prefill-priority token budget (4096).
  prompt[123] = 4500;
  output[123] = 40;
  const trace = makeTrace(arrival, prompt, output);
  trace.extra[DEFAULT_PREDICTION_COLUMN] = output.map((L) => String(Math.max(1, Math.round(L * (0.5 + rng())))));
  return trace;
}

/**
 * 169 calls of 22 programs from the library's generators: ReAct chains with think time,
 * map-reduce fan-out/fan-in, and tree searches (parallel siblings), arriving over 15 s.
 */
function programWorkload(): Trace {
  const calls: ProgramCall[] = [];
  const kinds: [ProgramKind, number, Record<string, unknown>][] = [
    ['react', 10, { max_calls: 10, delay_s: 0.2 }],
    ['map-reduce', 8, { width: 'uniform:2,10' }],
    ['tree-search', 4, { depth: 2, branching: 3, expand_p: 0.8, delay_s: 0.1 }],
  ];
  for (const [kind, programs, over] of kinds) {
    for (const c of generatePrograms({ kind, programs, rate: 1, seed: `conformance:${kind}`, ...over })) {
      calls.push({ ...c, program_id: `${kind}-${c.program_id}` });
    }
  }
  const trace = buildProgramTrace(calls, 'conformance', 'conformance', 'generic');
  trace.extra[DEFAULT_PREDICTION_COLUMN] = Array.from(trace.output_tokens, (L, i) => String(L + (i % 7) * 5));
  return trace;
}

const REQUESTS = requestWorkload();
/** The request workload three times as fast, for 3 replicas (each as loaded as one replica with REQUESTS). */
const CLUSTER_REQUESTS: Trace = { ...REQUESTS, arrival_s: REQUESTS.arrival_s.map((t) => t / 3) };
const PROGRAMS = programWorkload();

// ---------------------------------------------------------------------------------------------
// Cases

/** The engine modes: batch formation by prefill priority or chunked prefill, preemption by recompute or swap, prefix caching off and on. */
const MODES: { name: string; options: Partial<RunOptions> }[] = [
  { name: 'prefill priority, recompute', options: { 'chunked-prefill': false, preemption: 'recompute', 'max-num-batched-tokens': 4096, 'prefix-caching': 'off' } },
  { name: 'prefill priority, swap', options: { 'chunked-prefill': false, preemption: 'swap', 'max-num-batched-tokens': 4096, 'prefix-caching': 'off' } },
  { name: 'chunked prefill, recompute', options: { 'chunked-prefill': true, preemption: 'recompute', 'prefix-caching': 'off' } },
  { name: 'chunked prefill, swap', options: { 'chunked-prefill': true, preemption: 'swap', 'prefix-caching': 'off' } },
  { name: 'prefill priority, recompute, prefix caching', options: { 'chunked-prefill': false, preemption: 'recompute', 'max-num-batched-tokens': 4096, 'prefix-caching': 'on' } },
  { name: 'chunked prefill, swap, prefix caching', options: { 'chunked-prefill': true, preemption: 'swap', 'prefix-caching': 'on' } },
];

/**
 * Options every case shares: a small KV cache and batch, and a 128k-context model with
 * `--max-model-len` 8200, so that one request is too long while another fits the length but never
 * the KV cache, and (with the prefill-priority modes' 4096-token budget) a prompt can be longer
 * than the token budget. The trace options are ignored (buildRun takes the workload as given).
 * Everything else takes the CLI's defaults (4 GiB of swap: 2048 blocks of llama-3.1-8b).
 */
const BASE: Partial<RunOptions> = { synthetic: 'poisson', model: 'llama-3.1-8b', 'max-model-len': 8200, 'kv-tokens': KV_TOKENS, 'max-num-seqs': 16, seed: 1 };

/**
 * Non-default option sets that switch on rules the defaults leave off (starvation guards, short
 * quanta, multi-step scheduling, other displacements, refining predictors), from the lists the
 * per-policy skip-ahead tests kept before this suite. Extra cases only: every registered policy is
 * checked with its defaults whether or not it appears here. They run with 64 GiB of swap: with
 * tiny quanta, a request evicted under memory pressure that falls back to recompute for lack of
 * swap space can lose its progress again and again (a thrash, not a bug in the checks).
 */
const OPTION_VARIANTS: { policy: string; opts: Record<string, string>; predictor?: string; predictorOpts?: Record<string, string> }[] = [
  { policy: 'srpt', opts: { displacement: 'recompute' }, predictor: 'trail', predictorOpts: { k: '3' } },
  { policy: 'srpt', opts: { displacement: 'swap' }, predictor: 'trail', predictorOpts: { k: '4', noise: 'iid' } },
  { policy: 'ssjf', opts: { const: '0', 'per-token': '0.05', 'starvation-wait': '3', 'starvation-coef': '2' }, predictor: 'noisy-length' },
  { policy: 'ltr', opts: { 'starvation-control': 'on', starvation: '4', quantum: '3' } },
  { policy: 'trail', opts: { margin: '2', 'max-preemptions': '3' }, predictorOpts: { k: '4' } },
  { policy: 'trail', opts: { c: '1' }, predictorOpts: { k: '3' } },
  { policy: 'skippredict', opts: { c1: '0.01', c2: '0.05', 'cost-mode': 'server' } },
  { policy: 'skippredict', opts: { threshold: '30', displacement: 'recompute' } },
  { policy: 'las', opts: { displacement: 'swap' } },
  { policy: 'las', opts: { displacement: 'recompute' } },
  { policy: 'mlfq', opts: { quantum: '0.05', 'starvation-control': 'on', starvation: '0.5', 'starvation-period': '5' } },
  { policy: 'mlfq', opts: { quantum: '0.05', levels: '3', 'starvation-control': 'on', starvation: '1', 'starvation-period': '7' } },
  { policy: 'plas', opts: { beta: '2', q0: '0.05', ratio: '2' } },
  { policy: 'plas', opts: { beta: '1', steps: '4', q0: '0.03', queues: '4' } },
  { policy: 'plas', opts: { queues: '0', beta: '2' } },
  { policy: 'atlas', opts: { beta: '5', steps: '2', q0: '0.05' } },
  { policy: 'autellix-mlfq', opts: { beta: '2', steps: '3', q0: '0.02', ratio: '2' } },
  { policy: 'autellix-mlfq', opts: { q0: '0.05' } },
  { policy: 'preble-mpq', opts: { groups: '3', quota: '1' } },
];

/** One conformance case: a workload and run options (policy, predictor, mode, replicas, router). */
interface Case {
  label: string;
  trace: Trace;
  options: Partial<RunOptions>;
  /** Replaces each replica's policy instance (the deliberately broken policies below). */
  wrap?: (p: Policy) => Policy;
  /** The request workload's rejections when not the usual two (one too long, one never fitting the KV cache). */
  rejections?: { rejected: number; rejectedTooLong: number; rejectedKv: number };
}

const keyValues = (o: Record<string, string> | undefined) => (o && Object.keys(o).length > 0 ? Object.entries(o).map(([k, v]) => `${k}=${v}`) : undefined);

/** Predictor option for a policy run with its defaults: none (its own default), or the first registered predictor where it requires one. */
const predictorFor = (e: PolicyEntry) => (e.predictor === 'required' ? PREDICTORS[0].name : undefined);

/** A case of `policy` on a workload in engine mode `mode` (index into MODES), with more run options. */
function policyCase(trace: Trace, traceName: string, policy: string, mode: number, extra: Partial<RunOptions> = {}): Case {
  const o: Partial<RunOptions> = { policy, ...MODES[mode].options, ...extra };
  const what = [policy, o['policy-opt']?.join(','), o.predictor && `predictor ${o.predictor}`, o['predictor-opt']?.join(','), o.replicas && `${o.replicas} replicas, ${o.router}`, o.pp && `pp ${o.pp}`];
  return { label: `${what.filter(Boolean).join(' ')} | ${traceName} | ${MODES[mode].name}`, trace, options: o };
}

// ---------------------------------------------------------------------------------------------
// Running and checking

interface Execution {
  result: SimulationResult;
  records: IterationRecord[];
  engine: EngineConfig;
}

/** Runs a case as the CLI builds it (normalizeOptions, buildRun), with skip-ahead on or off, recording every iteration. */
function execute(c: Case, skipAhead: boolean): Execution {
  const run = buildRun(normalizeOptions({ ...BASE, ...c.options }), c.trace);
  const engine = { ...run.engine, skipAhead };
  const records: IterationRecord[] = [];
  const result = simulate({
    trace: c.trace,
    policy: c.wrap ? run.policies.map(c.wrap) : run.policies,
    router: run.router,
    cost: run.cost,
    pipeline: run.pipeline,
    engine,
    disaggregation: run.disaggregation && { ...run.disaggregation, decodeEngine: { ...run.disaggregation.decodeEngine, skipAhead } },
    observer: (r) => {
      records.push(r);
      if (records.length > 500_000) throw new Error(`${c.label}: runaway simulation (over 500000 iterations)`);
    },
  });
  return { result, records, engine };
}

/** The skip-ahead check: the differences between skip-ahead on and off (empty: none), and both runs. */
function skipAheadCheck(c: Case): { differences: string[]; on: Execution; off: Execution } {
  const on = execute(c, true);
  const off = execute(c, false);
  const differences = runDifferences(on.result, off.result);
  return { differences, on, off };
}

/** The determinism check: differences between `first` and a second run of the case with the same seed (empty: none). */
function determinismCheck(c: Case, first: Execution): string[] {
  const again = execute(c, true);
  const out = runDifferences(first.result, again.result, true);
  if (first.result.events !== again.result.events) out.push(`events: ${first.result.events} vs ${again.result.events}`);
  if (first.records.length !== again.records.length) out.push(`iteration records: ${first.records.length} vs ${again.records.length}`);
  return out;
}

/** The invariant check of one run. */
function invariantCheck(_c: Case, x: Execution): string[] {
  return engineViolations(x.result, x.records, x.engine);
}

/**
 * Checks one case: skip-ahead on ≡ off, the invariants of both runs, determinism; on the request
 * workload, that the engine was stressed (preemptions) and the two requests that cannot fit were
 * rejected.
 */
function check(c: Case): void {
  const { differences, on, off } = skipAheadCheck(c);
  expect(differences.join('\n'), `${c.label}: skip-ahead on vs off`).toBe('');
  expect(invariantCheck(c, on).join('\n'), `${c.label} (skip-ahead on): engine invariants`).toBe('');
  expect(invariantCheck(c, off).join('\n'), `${c.label} (skip-ahead off): engine invariants`).toBe('');
  expect(determinismCheck(c, on).join('\n'), `${c.label}: same seed twice`).toBe('');
  if (c.trace === REQUESTS || c.trace === CLUSTER_REQUESTS) {
    expect(on.result.stats.preemptions, `${c.label}: preemptions`).toBeGreaterThan(0);
    expect(on.result.stats, `${c.label}: rejected`).toMatchObject(c.rejections ?? { rejected: 2, rejectedTooLong: 1, rejectedKv: 1 });
  }
}

/**
 * Small random workloads (up to 40 requests, 1-300-token prompts, 1-80-token outputs, bursts) and
 * engine settings (block size 1, 4 or 16; 1-6 sequences; a token budget down to one token per
 * sequence; 400-3000 KV tokens; both batching modes and preemption mechanisms; no, some or ample
 * swap space unless `swapSpace` is given), through fast-check: the corners the fixed workloads do
 * not reach. Checks skip-ahead on ≡ off and the invariants of both runs.
 */
function randomCheck(label: string, options: Partial<RunOptions>, numRuns: number, seed: number): void {
  const rows = fc.array(
    fc.record({
      gap: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.5, noNaN: true })),
      prompt: fc.integer({ min: 1, max: 300 }),
      output: fc.integer({ min: 1, max: 80 }),
    }),
    { minLength: 1, maxLength: 40 },
  );
  const settings = fc.record({
    'chunked-prefill': fc.boolean(),
    preemption: fc.constantFrom('recompute', 'swap'),
    'block-size': fc.constantFrom(1, 4, 16),
    'max-num-seqs': fc.integer({ min: 1, max: 6 }),
    extraBudget: fc.integer({ min: 0, max: 300 }),
    'kv-tokens': fc.integer({ min: 400, max: 3000 }),
    'swap-space': options['swap-space'] !== undefined ? fc.constant(options['swap-space']) : fc.constantFrom(0, 0.05, 4),
    'prefix-caching': fc.constantFrom('on', 'off'),
  });
  fc.assert(
    fc.property(rows, settings, (rs, { extraBudget, ...engine }) => {
      let t = 0;
      const trace = makeTrace(rs.map((r) => (t += r.gap) - rs[0].gap), rs.map((r) => r.prompt), rs.map((r) => r.output));
      // Shared system prompts: request i begins with content i % 3 (up to 40 tokens of it).
      const start = Int32Array.from({ length: rs.length + 1 }, (_, i) => i);
      trace.prefix = { start, id: Int32Array.from(rs, (_, i) => i % 3), tokens: Int32Array.from(rs, (r, i) => Math.min(r.prompt, 16 + 12 * (i % 3))) };
      trace.extra[DEFAULT_PREDICTION_COLUMN] = rs.map((r, i) => String(r.output + (i % 5) * 7));
      const c: Case = { label: `${label} | random ${JSON.stringify(engine)}`, trace, options: { ...options, ...engine, 'max-num-batched-tokens': engine['max-num-seqs'] + extraBudget } };
      const { differences, on, off } = skipAheadCheck(c);
      expect(differences.join('\n'), `${c.label}: skip-ahead on vs off`).toBe('');
      expect(invariantCheck(c, on).join('\n'), `${c.label} (skip-ahead on): engine invariants`).toBe('');
      expect(invariantCheck(c, off).join('\n'), `${c.label} (skip-ahead off): engine invariants`).toBe('');
    }),
    { numRuns, seed },
  );
}

// ---------------------------------------------------------------------------------------------
// The suite

describe('conformance: the workloads', () => {
  it('the request workload stresses the engine in every mode: preemptions, swaps, rejections, an oversized prefill, skip-ahead', () => {
    for (const [m, mode] of MODES.entries()) {
      const { on, off } = skipAheadCheck(policyCase(REQUESTS, 'requests', POLICIES[0].name, m));
      const s = on.result.stats;
      expect(s.preemptions, mode.name).toBeGreaterThan(0);
      if (mode.options.preemption === 'swap') expect(s.swapOuts, mode.name).toBeGreaterThan(0);
      else expect(s.swapOuts, mode.name).toBe(0);
      expect(s.rejected, mode.name).toBe(2);
      // Skip-ahead bundles iterations (and stepping does not).
      expect(on.records.length, mode.name).toBeLessThan(off.records.length / 2);
      // The 4500-token prompt runs alone in one iteration with prefill priority, in chunks with chunked prefill.
      const big = on.records.some((r) => r.prefillTokens > 4096);
      expect(big, mode.name).toBe(!mode.options['chunked-prefill']);
    }
  });

  it('the program workload has chains with think time, fan-outs, fan-ins and trees', () => {
    const p = PROGRAMS.programs!;
    expect(p.count).toBe(22);
    expect(PROGRAMS.n).toBeGreaterThan(120);
    expect(PROGRAMS.n).toBeLessThan(400);
    const children = new Int32Array(PROGRAMS.n);
    let fanIn = 0;
    for (let i = 0; i < PROGRAMS.n; i++) {
      if (p.parentStart[i + 1] - p.parentStart[i] >= 2) fanIn++;
      for (let k = p.parentStart[i]; k < p.parentStart[i + 1]; k++) children[p.parents[k]]++;
    }
    expect(fanIn).toBeGreaterThan(0);
    expect(children.some((c) => c >= 2)).toBe(true);
    expect(p.delay_s.some((d) => d > 0)).toBe(true);
  });
});

describe('conformance: every registered policy', () => {
  for (const entry of POLICIES) {
    it(`${entry.name} (defaults): 4 engine modes on requests, 2 on programs`, () => {
      const predictor = predictorFor(entry);
      for (const c of [
        ...MODES.map((_, m) => policyCase(REQUESTS, 'requests', entry.name, m, { predictor })),
        policyCase(PROGRAMS, 'programs', entry.name, 0, { predictor }),
        policyCase(PROGRAMS, 'programs', entry.name, 3, { predictor }),
      ]) check(c);
    });

    it(`${entry.name} (defaults): small random workloads and engine settings`, () => {
      randomCheck(entry.name, { policy: entry.name, predictor: predictorFor(entry) }, 40, 7);
    });
  }

  OPTION_VARIANTS.forEach((v, k) => {
    const name = `${v.policy} ${JSON.stringify(v.opts)}${v.predictor ? ` with ${v.predictor}` : ''}${v.predictorOpts ? ` ${JSON.stringify(v.predictorOpts)}` : ''}`;
    it(`${name}: 2 engine modes on requests, 1 on programs, programs on 3 replicas; small random workloads`, () => {
      expect(POLICIES.some((e) => e.name === v.policy), `option variant of an unregistered policy: ${v.policy}`).toBe(true);
      const extra: Partial<RunOptions> = { 'policy-opt': keyValues(v.opts), predictor: v.predictor, 'predictor-opt': keyValues(v.predictorOpts), 'swap-space': 64 };
      // Modes k and k + 2: prefill priority and chunked prefill, recompute or swap by turns.
      for (const c of [
        policyCase(REQUESTS, 'requests', v.policy, k % 4, extra),
        policyCase(REQUESTS, 'requests', v.policy, (k + 2) % 4, extra),
        policyCase(PROGRAMS, 'programs', v.policy, (k + 1) % 4, extra),
        policyCase(PROGRAMS, 'programs', v.policy, (k + 3) % 4, { ...extra, replicas: 3, router: ROUTERS[k % ROUTERS.length].name }),
      ]) check(c);
      randomCheck(name, { policy: v.policy, ...extra }, 25, k);
    });
  });
});

describe('conformance: pipeline parallelism (--pp)', () => {
  // Each of a replica's pp virtual engines holds 1/pp of the 8000 KV tokens: the 4500-token prompt
  // no longer fits one (a third rejection), and the engines are still short of KV (preemptions).
  const rejections = { rejected: 3, rejectedTooLong: 1, rejectedKv: 2 };
  for (const [j, entry] of POLICIES.entries()) {
    it(`${entry.name} (defaults): requests at pp 2, programs at pp 3; small random workloads at pp 2 and 3`, () => {
      const predictor = predictorFor(entry);
      check({ ...policyCase(REQUESTS, 'requests', entry.name, j % MODES.length, { predictor, pp: 2 }), rejections });
      check(policyCase(PROGRAMS, 'programs', entry.name, (j + 1) % MODES.length, { predictor, pp: 3 }));
      randomCheck(`${entry.name} pp 2`, { policy: entry.name, predictor, pp: 2 }, 8, 100 + j);
      randomCheck(`${entry.name} pp 3`, { policy: entry.name, predictor, pp: 3 }, 8, 200 + j);
    });
  }
  ROUTERS.forEach((r, i) => {
    const e = POLICIES[i % POLICIES.length];
    it(`${r.name}: ${e.name} on programs over 2 replicas of pp 2`, () => {
      check(policyCase(PROGRAMS, 'programs', e.name, i % MODES.length, { replicas: 2, router: r.name, pp: 2, predictor: predictorFor(e) }));
    });
  });
});

describe('conformance: disaggregated prefill and decode', () => {
  // Skip-ahead ≡ stepping and determinism for every policy (engine modes by turns) and every router
  // (both pools, policies by turns) over 1 prefill + 2 decode replicas; the engine invariants of
  // test/helpers.ts are for colocated replicas (test/disaggregation.test.ts has the pools' own).
  const disagg = (c: Case) => {
    const { differences, on } = skipAheadCheck(c);
    expect(differences.join('\n'), `${c.label}: skip-ahead on vs off`).toBe('');
    expect(determinismCheck(c, on).join('\n'), `${c.label}: same seed twice`).toBe('');
    expect(on.result.pools!.transfers, `${c.label}: transfers`).toBeGreaterThan(0);
  };
  it(
    'every policy and every router: skip-ahead on = off, deterministic',
    () => {
      POLICIES.forEach((e, i) => disagg(policyCase(REQUESTS, 'requests', e.name, i % MODES.length, { predictor: predictorFor(e), 'prefill-replicas': 1, 'decode-replicas': 2, router: 'least-requests' })));
      ROUTERS.forEach((r, i) => {
        const e = POLICIES[i % POLICIES.length];
        disagg(policyCase(REQUESTS, 'requests', e.name, i % MODES.length, { predictor: predictorFor(e), 'prefill-replicas': 2, 'decode-replicas': 2, router: r.name }));
      });
    },
    120_000,
  );
});

describe('conformance: every registered predictor', () => {
  const users = POLICIES.filter((e) => e.predictor !== 'none');
  it('some registered policies take a predictor', () => expect(users.length).toBeGreaterThan(0));
  PREDICTORS.forEach((p, k) => {
    it(`${p.name}: under every policy that takes a predictor (${users.map((e) => e.name).join(', ')})`, () => {
      for (const [j, e] of users.entries()) check(policyCase(REQUESTS, 'requests', e.name, (j + k) % 4, { predictor: p.name }));
    });
  });
});

describe('conformance: every registered router, 3 replicas', () => {
  ROUTERS.forEach((r, i) => {
    // Every policy on the program workload; two policies (by turns) on the request workload, so
    // every policy also runs behind at least one router on requests.
    const onRequests = [POLICIES[(2 * i) % POLICIES.length], POLICIES[(2 * i + 1) % POLICIES.length]];
    it(`${r.name}: every policy on programs; ${onRequests.map((e) => e.name).join(', ')} on requests`, () => {
      const cluster = (e: PolicyEntry): Partial<RunOptions> => ({ replicas: 3, router: r.name, predictor: predictorFor(e) });
      for (const [j, e] of POLICIES.entries()) check(policyCase(PROGRAMS, 'programs', e.name, (i + j) % 4, cluster(e)));
      for (const [j, e] of onRequests.entries()) check(policyCase(CLUSTER_REQUESTS, 'requests x3 rate', e.name, (i + j + 1) % 4, cluster(e)));
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The suite can fail

/**
 * A policy wrapper that lies about skip-ahead: it re-keys every request of each batch at every
 * iteration end (a pseudo-random key of the request and its tokens generated so far) while
 * keeping the wrapped policy's claim about how long keys stay put. It wraps the policy object
 * (prototype delegation), so every other hook and setting is the registered policy's own.
 */
function rekeysEveryIteration(base: Policy): Policy {
  const w = Object.create(base) as Policy;
  let ctx: PolicyContext;
  w.attach = (c: PolicyContext) => {
    base.attach.call(w, c);
    ctx = c;
  };
  w.onIterationEnd = (batch: Int32Array, count: number, steps: number, now: number) => {
    base.onIterationEnd?.call(w, batch, count, steps, now);
    const R = ctx.requests;
    for (let i = 0; i < count; i++) {
      const id = batch[i];
      if (R.state[id] !== FINISHED) ctx.setPriority(id, ((id * 7919 + R.generated[id] * 104729) % 1009) / 1009);
    }
  };
  return w;
}

/** A policy wrapper whose arrival keys come from Math.random (not from the run's seed). */
function unseededKeys(base: Policy): Policy {
  const w = Object.create(base) as Policy;
  w.priority = () => Math.random();
  return w;
}

describe('conformance: the checks catch broken policies', () => {
  // Registered here only, never in POLICIES: learning-to-rank (whose keys never change without
  // starvation control, so it lets the engine bundle freely) made to re-key every iteration.
  const lying = MODES.map((_, m): Case => ({ ...policyCase(REQUESTS, 'requests', 'ltr', m), wrap: rekeysEveryIteration }));

  it('a wrapper that re-keys every iteration while claiming stable keys fails skip-ahead equivalence, in every engine mode', () => {
    for (const c of lying) {
      // The policy unwrapped passes...
      expect(skipAheadCheck({ ...c, wrap: undefined }).differences, c.label).toEqual([]);
      // ...wrapped, the check reports different completion times,
      const { differences, on } = skipAheadCheck(c);
      expect(differences.some((d) => d.startsWith('completion:')), `${c.label}: ${differences.join('; ')}`).toBe(true);
      // after bundled iterations (where the lie bites); the invariants alone do not catch it.
      expect(on.records.some((r) => r.steps > 1)).toBe(true);
      expect(invariantCheck(c, on)).toEqual([]);
    }
  });

  it('a wrapper keyed by Math.random fails the determinism check', () => {
    const c: Case = { ...policyCase(REQUESTS, 'requests', POLICIES[0].name, 0), wrap: unseededKeys };
    expect(determinismCheck(c, execute(c, true)).length).toBeGreaterThan(0);
  });

  it('the invariant check reports tampered runs: KV over capacity, batch over max-num-seqs, time going back, a lost request, times out of order, a miscount', () => {
    const c = policyCase(REQUESTS, 'requests', POLICIES[0].name, 0);
    expect(invariantCheck(c, execute(c, true))).toEqual([]);
    const tampered: [string, (x: Execution) => void, RegExp][] = [
      ['KV', (x) => (x.records[5] = { ...x.records[5], kvBlocksUsed: x.records[5].kvBlocks + 1 }), /KV blocks in use of/],
      ['batch', (x) => (x.records[5] = { ...x.records[5], batchSize: x.engine.maxNumSeqs + 1 }), /batch of \d+ \(max-num-seqs/],
      ['time', (x) => (x.records[8] = { ...x.records[8], start: x.records[7].start }), /starts before the previous iteration ended/],
      ['lost', (x) => (x.result.requests.state[3] = WAITING), /request 3: state \d+ at the end/],
      ['order', (x) => (x.result.requests.firstToken[4] = x.result.requests.completion[4] + 1), /request 4: times out of order/],
      ['count', (x) => (x.records[10] = { ...x.records[10], steps: x.records[10].steps + 1 }), /iterations counted, Σ steps/],
    ];
    for (const [what, tamper, expected] of tampered) {
      const x = execute(c, true);
      tamper(x);
      const found = invariantCheck(c, x);
      expect(found.some((v) => expected.test(v)), `${what}: ${found.join('; ')}`).toBe(true);
    }
  });

  it('the stall-free walk keeps the token budget (regression: it selected waiting prompts with the whole budget again)', () => {
    // Three 1000-token prompts at once, token budget 512, chunked prefill: the old engine ran
    // iterations of 1024 tokens under the stall-free (Autellix) policies.
    const trace = makeTrace([0, 0, 0], [1000, 1000, 1000], [5, 5, 5]);
    for (const policy of ['plas', 'atlas', 'autellix-mlfq']) {
      const c: Case = { label: policy, trace, options: { policy, 'chunked-prefill': true, 'max-num-batched-tokens': 512 } };
      const x = execute(c, true);
      expect(invariantCheck(c, x), policy).toEqual([]);
      expect(Math.max(...x.records.map((r) => r.prefillTokens + r.decodeSeqs)), policy).toBe(512);
    }
  });
});
