/**
 * Job sizes on a lattice of tokens (k·τ seconds), for the exact M/G/1 oracles of docs/spec.md §12:
 * the distributions, sampling a Poisson workload from one, the Pollaczek–Khinchine mean, and
 * batch-means standard errors. The policy-oracle tests and the SkipPredict reproduction use them.
 */
import seedrandom from 'seedrandom';
import type { Trace } from '../../sim/trace.ts';

/**
 * A discrete job-size distribution on the lattice k·τ (seconds): `p[k]` = P(X = kτ), k = 1..K
 * (`p[0]` = 0). For the exact queueing oracles of docs/spec.md §12, evaluated for the
 * very distribution a test samples (shared by the tests and the SkipPredict
 * reproduction).
 */
export interface Lattice {
  /** Lattice step τ, seconds (one decode token). */
  tau: number;
  /** Probabilities by multiple of τ. */
  p: Float64Array;
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

/**
 * `n` Poisson(λ) arrivals (λ in 1/s) with sizes drawn from `d`: output = 1 + K tokens (the prefill
 * samples the first), prompt 1 token; seeded. Arrivals start at the first gap (not moved to 0).
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
  return {
    source: `lattice: ${n} Poisson arrivals, seed ${seed}`,
    format: 'generic',
    n,
    arrival_s: Float64Array.from(arrival),
    prompt_tokens: new Int32Array(n).fill(1),
    output_tokens: Int32Array.from(output),
    extra: {},
    skipped: {},
    warnings: [],
  };
}

/** X = τ·K, K ~ Geometric on {1, 2, ...} with P(K > k) = e^{−k/meanK} (K = ⌈Exp(meanK)⌉), truncated at 40·meanK. */
export function geometricLattice(meanK: number, tau: number): Lattice {
  const q = 1 - Math.exp(-1 / meanK);
  const K = Math.ceil(meanK * 40);
  const p = new Float64Array(K + 1);
  for (let k = 1; k <= K; k++) p[k] = q * (1 - q) ** (k - 1);
  return { tau, p };
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
