/**
 * Counter-based random numbers: a uniform (or normal) variate that is a pure function of a 32-bit
 * seed and a counter, so a predictor can regenerate the noise of any request at any step, in any
 * order, without storing it (TRAIL's refinements, §5 of docs/spec.md).
 */
import { normalQuantile } from './normal.ts';

/**
 * A 32-bit integer mixing function (xor-shift-multiply; the "lowbias32" constants found by
 * C. Wellons' hash-prospector search, 2018): a bijection of [0, 2^32) with good avalanche.
 */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * A uniform variate in (0, 1) determined by `seed` (a 32-bit integer, e.g. drawn once per request
 * from the run's seeded source) and `counter` (a non-negative integer, e.g. the refinement step):
 * (mix32(mix32(counter) ⊕ seed) + 0.5)/2^32, so the values lie in [1.2e-10, 1 − 1.2e-10].
 */
export function counterUniform(seed: number, counter: number): number {
  return (mix32((mix32(counter >>> 0) ^ seed) >>> 0) + 0.5) / 4294967296;
}

/** A standard normal variate Φ⁻¹(counterUniform(seed, counter)) (|value| < 6.4). */
export function counterNormal(seed: number, counter: number): number {
  return normalQuantile(counterUniform(seed, counter));
}

/** A 32-bit seed drawn from a uniform source in [0, 1) (one call). */
export function drawSeed32(rng: () => number): number {
  return Math.floor(rng() * 4294967296) >>> 0;
}
