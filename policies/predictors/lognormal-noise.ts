/**
 * Multiplicative log-normal noise on lengths, ŷ = L·exp(σ·e) with e ~ N(0, 1) (median-unbiased),
 * and the calibration of σ to a target mean absolute error in tokens ([OURS], used by
 * `noisy-length` and by TRAIL's AR(1) model, §5 of docs/spec.md).
 */
import { normalCdf } from './normal.ts';
import type { Numbers } from './quality.ts';

/**
 * E|exp(σZ) − 1| for Z ~ N(0, 1) and σ >= 0, in closed form: exp(σ²/2)·(2Φ(σ) − 1) (split the
 * expectation at Z = 0 and use E[e^{σZ}; Z > 0] = e^{σ²/2}Φ(σ)). The MAE of r·exp(σZ) as an
 * estimate of r is r times this; it increases from 0 (σ = 0) without bound.
 */
export function logNormalMaeFactor(sigma: number): number {
  return Math.exp((sigma * sigma) / 2) * (2 * normalCdf(sigma) - 1);
}

/**
 * The σ >= 0 with {@link logNormalMaeFactor}(σ) = `ratio` (>= 0), by bisection to 1e-12.
 * @throws RangeError for a negative or non-finite ratio.
 */
export function sigmaForMaeRatio(ratio: number): number {
  if (!(ratio >= 0) || !Number.isFinite(ratio)) throw new RangeError(`sigmaForMaeRatio: ratio must be finite and >= 0, got ${ratio}`);
  if (ratio === 0) return 0;
  let hi = 1;
  while (logNormalMaeFactor(hi) < ratio) hi *= 2;
  let lo = 0;
  for (let it = 0; it < 200 && hi - lo > 1e-12; it++) {
    const mid = (lo + hi) / 2;
    if (logNormalMaeFactor(mid) < ratio) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Mean of |max(floor, L_i·exp(σ·e_i)) − L_i| over i, tokens. */
export function clippedLogNormalMae(lengths: Numbers, e: Numbers, sigma: number, floor: number): number {
  let s = 0;
  for (let i = 0; i < lengths.length; i++) s += Math.abs(Math.max(floor, lengths[i] * Math.exp(sigma * e[i])) - lengths[i]);
  return lengths.length === 0 ? 0 : s / lengths.length;
}

/**
 * The σ >= 0 at which the realised estimates max(floor, L_i·exp(σ·e_i)) have mean absolute error
 * `target` tokens over the given lengths and standard-normal draws (monotone non-decreasing and
 * continuous in σ, so bisection hits it to 1e-9 relative). When the target cannot be reached
 * (every e_i <= 0 and target >= the MAE of predicting `floor` for all), returns a σ at which
 * every estimate is clipped.
 * @throws RangeError for a negative or non-finite target or lengths and draws of different lengths.
 */
export function calibrateLogNormalSigma(lengths: Numbers, e: Numbers, target: number, floor = 1): number {
  if (!(target >= 0) || !Number.isFinite(target)) throw new RangeError(`calibrateLogNormalSigma: bad target ${target}`);
  if (lengths.length !== e.length) throw new RangeError('calibrateLogNormalSigma: lengths differ');
  if (target === 0 || lengths.length === 0) return 0;
  let hi = 1;
  while (clippedLogNormalMae(lengths, e, hi, floor) < target) {
    if (hi > 1e4) return hi;
    hi *= 2;
  }
  let lo = 0;
  for (let it = 0; it < 200 && hi - lo > 1e-12 * hi; it++) {
    const mid = (lo + hi) / 2;
    if (clippedLogNormalMae(lengths, e, mid, floor) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
