/**
 * Test helpers: build traces and engine settings directly, independent of the trace readers and
 * the CLI, so engine tests check the engine alone.
 */
import seedrandom from 'seedrandom';
import { afterAll, expect } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { InputError } from '../sim/errors.ts';
import { main } from '../app/cli.ts';
import type { Trace, TracePrefix } from '../sim/trace.ts';
import type { EngineConfig, EngineStats, IterationRecord } from '../sim/engine-types.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import { FINISHED, REJECTED } from '../sim/requests.ts';
import { latticeMoments } from '../app/reproduce/lattice.ts';
import type { Lattice } from '../app/reproduce/lattice.ts';

// The job-size lattices, their sampling, the Pollaczek–Khinchine oracle and batch means live with
// the SkipPredict reproduction, which uses them too.
export { batchMeans, latticeMoments, fcfsOracle, sampleLatticeTrace, geometricLattice } from '../app/reproduce/lattice.ts';
export type { Lattice } from '../app/reproduce/lattice.ts';

/** A trace from plain arrays (arrivals must be sorted). */
export function makeTrace(arrival: number[], prompt: number[], output: number[]): Trace {
  return {
    source: 'test',
    format: 'generic',
    n: arrival.length,
    arrival_s: Float64Array.from(arrival),
    prompt_tokens: Int32Array.from(prompt),
    output_tokens: Int32Array.from(output),
    extra: {},
    skipped: {},
    warnings: [],
  };
}

/** Engine settings for tests: unlimited unless overridden. */
export function engineConfig(over: Partial<EngineConfig> = {}): EngineConfig {
  return {
    maxNumSeqs: Number.MAX_SAFE_INTEGER,
    maxNumBatchedTokens: Number.MAX_SAFE_INTEGER,
    blockSize: 16,
    kvBlocks: 2 ** 40,
    watermarkBlocks: 0,
    chunkedPrefill: false,
    preemption: 'recompute',
    swapBlocks: 0,
    blockBytes: 1,
    pcieBandwidth: 1,
    skipAhead: true,
    ...over,
  };
}

/**
 * Poisson arrivals at rate `lambda` with output lengths 1 + K, K ~ Geometric(p) on {1, 2, ...}
 * (the ceiling of an exponential with mean `meanK`), prompts of 1 token.
 * Returns the trace and the exact moments of K: E[K] = 1/p, E[K²] = (2 − p)/p².
 */
export function poissonGeometricTrace(n: number, lambda: number, meanK: number, seed: string) {
  const rng = seedrandom.alea(seed);
  const p = 1 - Math.exp(-1 / meanK);
  const arrival: number[] = [];
  const output: number[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += -Math.log(1 - rng()) / lambda;
    arrival.push(t);
    output.push(1 + Math.ceil(-Math.log(1 - rng()) * meanK) || 2);
  }
  return { trace: makeTrace(arrival, new Array(n).fill(1), output), EK: 1 / p, EK2: (2 - p) / (p * p) };
}

/** Runs `f`, expects it to throw an InputError, and returns the error (for its message and fields). */
export function inputError(f: () => unknown): InputError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

/** Awaits `p`, expects it to reject with an InputError, and returns the error. */
export async function inputErrorAsync(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError, but it resolved');
}

/** A writable stream (not a TTY) that hands each chunk written to `f`. */
export function sink(f: (s: string) => void): NodeJS.WriteStream {
  return Object.assign(new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } }), { isTTY: false }) as unknown as NodeJS.WriteStream;
}

/** Runs the `sim` CLI in process, capturing its exit code, stdout and stderr. */
export async function runSim(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, sink((s) => (out += s)), sink((s) => (err += s)));
  return { code, out, err };
}

/**
 * X = τ·⌈Y/τ⌉, Y hyperexponential with mean `mean` (s), SCV 4 and balanced means (§12's second
 * example), truncated at 40× the long branch's mean (the cut mass is negligible).
 */
export function h2Lattice(mean: number, tau: number): Lattice {
  const p1 = 0.5 * (1 + Math.sqrt(3 / 5));
  const m1 = mean / (2 * p1);
  const m2 = mean / (2 * (1 - p1));
  const K = Math.ceil((m2 * 40) / tau);
  const p = new Float64Array(K + 1);
  for (let k = 1; k <= K; k++) {
    const a = (k - 1) * tau;
    const b = k * tau;
    p[k] = p1 * (Math.exp(-a / m1) - Math.exp(-b / m1)) + (1 - p1) * (Math.exp(-a / m2) - Math.exp(-b / m2));
  }
  return { tau, p };
}

/** M/G/1 processor-sharing mean response time (s) (§12.2): E[X]/(1 − ρ); λ in 1/s. */
export function psOracle(d: Lattice, lam: number): number {
  const { EX } = latticeMoments(d);
  return EX / (1 - lam * EX);
}

/**
 * M/G/1 FB / LAS mean response time (s) (§12.7), for the lattice distribution with a one-τ
 * quantum: E over x of λE[min(X,x)²]/(2(1 − ρ̄(x))²) + x/(1 − ρ̄(x)), ρ̄(x) = λE[min(X, x)].
 */
export function fbOracle(d: Lattice, lam: number): number {
  const K = d.p.length - 1;
  let r = 0;
  let m2 = 0;
  let P = 0;
  let ET = 0;
  for (let k = 1; k <= K; k++) {
    const x = k * d.tau;
    r += x * d.p[k];
    m2 += x * x * d.p[k];
    P += d.p[k];
    const rb = lam * (r + x * (1 - P));
    ET += d.p[k] * ((lam * (m2 + x * x * (1 - P))) / (2 * (1 - rb) ** 2) + x / (1 - rb));
  }
  return ET;
}

/** Expects two runs of one workload (e.g. skip-ahead on and off) to be identical: {@link runDifferences} finds none. */
export function expectSameRun(a: SimulationResult, b: SimulationResult): void {
  expect(runDifferences(a, b).join('\n')).toBe('');
}

/**
 * The engine invariants of one finished run, given every record its observer saw; returns the
 * violations found (the first few, as readable lines; empty when none):
 * - each request finished (all its output generated, its KV freed, on a replica in range) or was
 *   rejected, exactly one of the two, and the rejections are the ones counted;
 * - per request, arrival (submission) <= first scheduled <= first token <= completion;
 * - per replica, records in time order (an iteration starts no earlier than the previous ended),
 *   each with a non-empty batch of at most `maxNumSeqs`, at most `maxNumBatchedTokens` tokens
 *   (prefill priority lets one oversized prefill run alone, as vLLM v0), KV blocks in use within
 *   capacity; the counters agree with the records (iterations = Σ steps, batch-size sum =
 *   Σ steps·batch, KV peak = the largest use recorded); bundled records (steps > 1) are
 *   decode-only and appear only with skip-ahead on;
 * - no idling while work waits: a replica's first iteration and every iteration after an idle gap
 *   start at a submission to it, and every request sent to it by the gap's start had finished.
 * Under pipeline parallelism (records of several virtual engines per replica) the time-order and
 * idling checks are per virtual engine (each has one micro-batch in flight at a time), the
 * replica's micro-batches come out in the order they were formed (the stages serve them first
 * come, first served), and the replica's KV peak lies between its virtual engines' largest peak
 * and the sum of their peaks (it is sampled as micro-batches are formed, all engines together).
 * Plain comparisons (a run has thousands of records), so a caller asserts on the list once.
 * `ignore` sets aside the violations it returns true for (a documented known bug).
 */
export function engineViolations(res: SimulationResult, records: readonly IterationRecord[], cfg: EngineConfig, ignore?: (violation: string) => boolean): string[] {
  const out: string[] = [];
  const fail = (msg: string) => {
    if (out.length < 10 && !ignore?.(msg)) out.push(msg);
  };
  const R = res.requests;
  const N = res.replicas.length;
  const rejected = new Array<number>(N).fill(0);
  let unsubmitted = 0;
  for (let i = 0; i < R.n; i++) {
    const at = `request ${i}`;
    if (R.state[i] === FINISHED) {
      if (R.generated[i] !== R.output[i]) fail(`${at}: finished with ${R.generated[i]} of ${R.output[i]} tokens`);
      if (R.blocks[i] !== 0 || R.swappedBlocks[i] !== 0) fail(`${at}: holds KV blocks after completion`);
      if (!(R.replica[i] >= 0 && R.replica[i] < N)) fail(`${at}: replica ${R.replica[i]} of ${N}`);
      if (!(R.arrival[i] <= R.firstScheduled[i] && R.firstScheduled[i] <= R.firstToken[i] && R.firstToken[i] <= R.completion[i])) {
        fail(`${at}: times out of order: arrival ${R.arrival[i]}, first scheduled ${R.firstScheduled[i]}, first token ${R.firstToken[i]}, completion ${R.completion[i]}`);
      }
    } else if (R.state[i] === REJECTED) {
      if (R.replica[i] >= 0) rejected[R.replica[i]]++;
      else unsubmitted++; // a program call whose ancestor was rejected: counted where that ancestor was
    } else fail(`${at}: state ${R.state[i]} at the end (neither finished nor rejected)`);
  }
  const counted = res.replicas.reduce((a, s) => a + s.rejected, 0);
  if (counted !== rejected.reduce((a, b) => a + b, 0) + unsubmitted) fail(`rejections: ${counted} counted, ${rejected.reduce((a, b) => a + b, 0) + unsubmitted} rejected`);
  if (unsubmitted === 0 && rejected.some((x, r) => x !== res.replicas[r].rejected)) fail(`rejections per replica: counted ${res.replicas.map((s) => s.rejected)}, rejected ${rejected}`);
  if (res.stats.rejected !== counted) fail(`rejections: total ${res.stats.rejected}, per replica ${counted}`);
  // Virtual engines per replica (1 without pipeline parallelism): engine e = replica · V + virtual engine.
  let V = 1;
  for (const r of records) if (r.virtualEngine + 1 > V) V = r.virtualEngine + 1;
  for (let i = 0; i < R.n; i++) if (R.virtualEngine[i] + 1 > V) V = R.virtualEngine[i] + 1;
  // Per engine: each request's submission time, in order, to find the unfinished ones at a gap.
  const byEngine: number[][] = Array.from({ length: N * V }, () => []);
  for (let i = 0; i < R.n; i++) if (R.replica[i] >= 0) byEngine[R.replica[i] * V + R.virtualEngine[i]].push(i);
  for (const ids of byEngine) ids.sort((a, b) => R.arrival[a] - R.arrival[b]);
  const submittedAt = byEngine.map((ids) => new Set(ids.map((i) => R.arrival[i])));
  const prevEnd = new Array<number>(N * V).fill(-Infinity);
  const lastOut = new Array<number>(N).fill(-Infinity);
  const iterations = new Array<number>(N).fill(0);
  const batchSum = new Array<number>(N).fill(0);
  const kvPeak = new Array<number>(N * V).fill(0);
  for (const r of records) {
    const at = `replica ${r.replica}${V > 1 ? ` virtual engine ${r.virtualEngine}` : ''} iteration at ${r.start}`;
    if (!(r.replica >= 0 && r.replica < N && r.virtualEngine >= 0)) {
      fail(`${at}: replica index out of range`);
      continue;
    }
    const e = r.replica * V + r.virtualEngine;
    if (r.end < lastOut[r.replica]) fail(`${at}: its tokens come out at ${r.end}, before those of a micro-batch formed earlier (${lastOut[r.replica]})`);
    lastOut[r.replica] = r.end;
    const prev = prevEnd[e];
    if (!(r.start >= prev)) fail(`${at}: starts before the previous iteration ended (${prev})`);
    if (!(r.end >= r.start)) fail(`${at}: ends (${r.end}) before it starts`);
    if (!(r.batchSize > 0 && r.batchSize <= cfg.maxNumSeqs)) fail(`${at}: batch of ${r.batchSize} (max-num-seqs ${cfg.maxNumSeqs})`);
    const oversizedAlone = !cfg.chunkedPrefill && r.batchSize === 1 && r.decodeSeqs === 0;
    if (!oversizedAlone && r.prefillTokens + r.decodeSeqs > cfg.maxNumBatchedTokens) {
      fail(`${at}: ${r.prefillTokens} prefill + ${r.decodeSeqs} decode tokens over the budget of ${cfg.maxNumBatchedTokens}`);
    }
    if (!(r.kvBlocksUsed <= r.kvBlocks) || r.kvBlocks !== cfg.kvBlocks) fail(`${at}: ${r.kvBlocksUsed} KV blocks in use of ${r.kvBlocks} (capacity ${cfg.kvBlocks})`);
    if (!(r.kvBlocksCached >= 0 && r.kvBlocksUsed + r.kvBlocksCached <= r.kvBlocks)) fail(`${at}: ${r.kvBlocksUsed} KV blocks in use + ${r.kvBlocksCached} cached exceed the capacity ${r.kvBlocks}`);
    if (!cfg.prefixCaching && r.kvBlocksCached !== 0) fail(`${at}: ${r.kvBlocksCached} cached blocks without prefix caching`);
    if (!(Number.isInteger(r.steps) && r.steps >= 1)) fail(`${at}: steps ${r.steps}`);
    if (r.steps > 1 && !cfg.skipAhead) fail(`${at}: ${r.steps} iterations bundled with skip-ahead off`);
    if (r.steps > 1 && (r.prefillTokens !== 0 || r.decodeSeqs !== r.batchSize)) fail(`${at}: a bundle of ${r.steps} that is not all decodes`);
    if (r.start > prev) {
      // The replica was idle (or had not started): it woke at a submission to it...
      if (!submittedAt[e].has(r.start)) fail(`${at}: after idling since ${prev}, woke at no submission`);
      // ...and nothing sent to it by the gap's start was still unfinished.
      if (prev > -Infinity) {
        for (const i of byEngine[e]) {
          if (R.arrival[i] > prev) break;
          if (R.state[i] === FINISHED && R.completion[i] > prev) fail(`${at}: idle since ${prev} while request ${i} (submitted ${R.arrival[i]}) was unfinished`);
        }
      }
    }
    prevEnd[e] = r.end;
    iterations[r.replica] += r.steps;
    batchSum[r.replica] += r.steps * r.batchSize;
    if (r.kvBlocksUsed > kvPeak[e]) kvPeak[e] = r.kvBlocksUsed;
  }
  res.replicas.forEach((s, r) => {
    if (s.iterations !== iterations[r]) fail(`replica ${r}: ${s.iterations} iterations counted, Σ steps ${iterations[r]}`);
    if (s.batchSizeSum !== batchSum[r]) fail(`replica ${r}: batch-size sum ${s.batchSizeSum} counted, Σ steps·batch ${batchSum[r]}`);
    const peaks = kvPeak.slice(r * V, r * V + V);
    const [most, sum] = [Math.max(...peaks), peaks.reduce((a, b) => a + b, 0)];
    if (V === 1 ? s.kvMaxBlocks !== most : !(s.kvMaxBlocks >= most && s.kvMaxBlocks <= sum)) fail(`replica ${r}: KV peak ${s.kvMaxBlocks} counted, ${V === 1 ? most : `virtual engines' peaks ${peaks.join(', ')}`} recorded`);
  });
  return out;
}

/** Expects {@link engineViolations} to find none; `label` names the run in the failure message. */
export function expectEngineInvariants(res: SimulationResult, records: readonly IterationRecord[], cfg: EngineConfig, label = ''): void {
  expect(engineViolations(res, records, cfg).join('\n'), `${label}: engine invariants`).toBe('');
}

/** Per-request fields two equivalent runs must agree on exactly. */
const SAME_REQUEST_FIELDS = ['state', 'generated', 'replica', 'arrival', 'firstScheduled', 'firstToken', 'lastToken', 'completion', 'maxTbt', 'preemptions'] as const;

/**
 * Differences between two runs of one workload that must be identical (skip-ahead on and off, or
 * the same seed twice), as readable lines; empty when they agree. Per request: state, tokens
 * generated, replica, submission, first scheduled, first and last token, completion, max TBT,
 * preemptions, exactly; the run's inter-token latencies (the histogram of every token's gap).
 * Engine counters, in total and per replica, exactly, except busy time, which skip-ahead sums in
 * one subtraction instead of one per iteration: equal to 1e-9 relative unless `exactBusy`.
 */
export function runDifferences(a: SimulationResult, b: SimulationResult, exactBusy = false): string[] {
  const out: string[] = [];
  if (a.requests.n !== b.requests.n) return [`request count ${a.requests.n} vs ${b.requests.n}`];
  for (const f of SAME_REQUEST_FIELDS) {
    const x = a.requests[f];
    const y = b.requests[f];
    let differ = 0;
    let first = -1;
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) {
        differ++;
        if (first < 0) first = i;
      }
    }
    if (differ > 0) out.push(`${f}: ${differ} requests differ, first request ${first}: ${x[first]} vs ${y[first]}`);
  }
  const stats = (where: string, s: EngineStats, t: EngineStats) => {
    for (const k of Object.keys(s) as (keyof EngineStats)[]) {
      const same = k === 'busy_s' && !exactBusy ? Math.abs(s[k] - t[k]) <= 1e-9 * Math.max(1, Math.abs(s[k])) : Object.is(s[k], t[k]);
      if (!same) out.push(`${where}${k}: ${s[k]} vs ${t[k]}`);
    }
  };
  // Every token's inter-token latency: the same multiset, value for value.
  const ha = a.requests.itl.sorted();
  const hb = b.requests.itl.sorted();
  if (ha.values.length !== hb.values.length || ha.values.some((v, j) => !Object.is(v, hb.values[j]) || ha.counts[j] !== hb.counts[j])) {
    out.push(`ITL histogram: ${ha.values.length} distinct values (${a.requests.itl.total} gaps) vs ${hb.values.length} (${b.requests.itl.total})`);
  }
  stats('', a.stats, b.stats);
  if (a.replicas.length !== b.replicas.length) out.push(`replicas: ${a.replicas.length} vs ${b.replicas.length}`);
  else if (a.replicas.length > 1) a.replicas.forEach((s, r) => stats(`replica ${r} `, s, b.replicas[r]));
  return out;
}

/** Prefix segments (sim/trace.ts `TracePrefix`) from per-request lists of [content id, tokens]. */
export function prefixSegments(rows: [number, number][][]): TracePrefix {
  const start = new Int32Array(rows.length + 1);
  const id: number[] = [];
  const tokens: number[] = [];
  rows.forEach((r, i) => {
    for (const [c, k] of r) {
      id.push(c);
      tokens.push(k);
    }
    start[i + 1] = id.length;
  });
  return { start, id: Int32Array.from(id), tokens: Int32Array.from(tokens) };
}

/** `t` with request i declaring the prefix segments rows[i] ([content id, tokens] each). */
export function withSegments(t: Trace, rows: [number, number][][]): Trace {
  return { ...t, prefix: prefixSegments(rows) };
}

/**
 * A temporary folder for one test file, removed after its tests, and a writer of numbered files
 * in it: `write(content, name)` writes `<n>-<name>` and returns its path.
 */
export function tempFiles(prefix: string): (content: string, name: string) => string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let fileNo = 0;
  return (content, name) => {
    const p = join(dir, `${fileNo++}-${name}`);
    writeFileSync(p, content);
    return p;
  };
}

/** A trace of requests arriving `gap` seconds after the one before (the first at its gap), with their prompt and output tokens. */
export function gapTrace(reqs: readonly { gap: number; prompt: number; output: number }[]): Trace {
  let t = 0;
  const arrival = reqs.map((r) => (t += r.gap));
  return makeTrace(arrival, reqs.map((r) => r.prompt), reqs.map((r) => r.output));
}
