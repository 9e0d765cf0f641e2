/**
 * Test helpers: build traces and engine settings directly, independent of the trace readers and
 * the CLI, so engine tests check the engine alone.
 */
import seedrandom from 'seedrandom';
import { expect } from 'vitest';
import { Writable } from 'node:stream';
import { InputError } from '../sim/errors.ts';
import { main } from '../app/cli.ts';
import type { Trace } from '../sim/trace.ts';
import type { EngineConfig } from '../sim/engine-types.ts';
import type { SimulationResult } from '../sim/simulator.ts';

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

/** Mean and standard error by batch means over `batches` contiguous batches of `xs`. */
export function batchMeans(xs: ArrayLike<number>, batches = 20): { mean: number; se: number } {
  const size = Math.floor(xs.length / batches);
  const means: number[] = [];
  for (let b = 0; b < batches; b++) {
    let s = 0;
    for (let i = b * size; i < (b + 1) * size; i++) s += xs[i];
    means.push(s / size);
  }
  const mean = means.reduce((a, b) => a + b, 0) / batches;
  const v = means.reduce((a, m) => a + (m - mean) ** 2, 0) / (batches - 1);
  return { mean, se: Math.sqrt(v / batches) };
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
 * A discrete job-size distribution on the lattice k·τ (seconds): `p[k]` = P(X = kτ), k = 1..K
 * (`p[0]` = 0). For the exact queueing oracles of docs/spec.md §12, evaluated for the
 * very distribution a test samples (moved here from test/policy-oracles.test.ts to be shared).
 */
export interface Lattice {
  /** Lattice step τ, seconds (one decode token). */
  tau: number;
  /** Probabilities by multiple of τ. */
  p: Float64Array;
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

/** E[X] (s) and E[X²] (s²) of a lattice distribution. */
export function latticeMoments(d: Lattice): { EX: number; EX2: number } {
  let EX = 0;
  let EX2 = 0;
  for (let k = 1; k < d.p.length; k++) {
    const x = k * d.tau;
    EX += x * d.p[k];
    EX2 += x * x * d.p[k];
  }
  return { EX, EX2 };
}

/** M/G/1 FCFS mean response time (s), Pollaczek–Khinchine (§12.1): E[X] + λE[X²]/(2(1 − ρ)); λ in 1/s. */
export function fcfsOracle(d: Lattice, lam: number): number {
  const { EX, EX2 } = latticeMoments(d);
  return EX + (lam * EX2) / (2 * (1 - lam * EX));
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

/**
 * `n` Poisson(λ) arrivals (λ in 1/s) with sizes drawn from `d`: output = 1 + K tokens (the prefill
 * samples the first), prompt 1 token; seeded.
 */
export function sampleLatticeTrace(n: number, lam: number, d: Lattice, seed: string): Trace {
  const rng = seedrandom.alea(seed);
  const cdf = new Float64Array(d.p.length);
  for (let k = 1; k < d.p.length; k++) cdf[k] = cdf[k - 1] + d.p[k];
  const arrival: number[] = [];
  const output: number[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += -Math.log(1 - rng()) / lam;
    arrival.push(t);
    const u = rng() * cdf[cdf.length - 1];
    let lo = 1;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] >= u) hi = mid;
      else lo = mid + 1;
    }
    output.push(1 + lo);
  }
  return makeTrace(arrival, new Array(n).fill(1), output);
}

/** X = τ·K, K ~ Geometric on {1, 2, ...} with P(K > k) = e^{−k/meanK} (K = ⌈Exp(meanK)⌉), truncated at 40·meanK. */
export function geometricLattice(meanK: number, tau: number): Lattice {
  const q = 1 - Math.exp(-1 / meanK);
  const K = Math.ceil(meanK * 40);
  const p = new Float64Array(K + 1);
  for (let k = 1; k <= K; k++) p[k] = q * (1 - q) ** (k - 1);
  return { tau, p };
}

/**
 * Expects two runs of one workload (e.g. skip-ahead on and off) to be identical: per request
 * completion, first token, first scheduling and preemptions; iterations, batch-size sum, KV peak
 * and KV block-seconds exactly; busy time to 1e-9 s.
 */
export function expectSameRun(a: SimulationResult, b: SimulationResult): void {
  expect(Array.from(a.requests.completion)).toEqual(Array.from(b.requests.completion));
  expect(Array.from(a.requests.firstToken)).toEqual(Array.from(b.requests.firstToken));
  expect(Array.from(a.requests.firstScheduled)).toEqual(Array.from(b.requests.firstScheduled));
  expect(Array.from(a.requests.preemptions)).toEqual(Array.from(b.requests.preemptions));
  expect(a.stats.iterations).toBe(b.stats.iterations);
  expect(a.stats.batchSizeSum).toBe(b.stats.batchSizeSum);
  expect(a.stats.kvMaxBlocks).toBe(b.stats.kvMaxBlocks);
  expect(a.stats.kvBlockSeconds).toBe(b.stats.kvBlockSeconds);
  expect(a.stats.busy_s).toBeCloseTo(b.stats.busy_s, 9);
}
