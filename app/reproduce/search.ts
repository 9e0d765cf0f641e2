/**
 * Load searches of the capacity-style reproductions (Sarathi-Serve's capacity under an SLO,
 * Autellix's throughput at equal latency; bench/autellix-check.ts uses them too): the largest rate
 * a configuration sustains, and where a measured latency curve crosses a threshold.
 */

/** Bounds of {@link largestRate}. */
export interface RateSearch {
  /** First rate tried (> 0); below it the answer is 0. */
  lo: number;
  /** First upper rate tried (> lo); doubled while still sustained. */
  hi: number;
  /** Stop when hi / lo ≤ 1 + tol (relative precision, e.g. 0.02). */
  tol: number;
  /** Give up above this rate: the answer is Infinity. */
  max: number;
}

/**
 * The largest rate (to relative precision `tol`) at which `ok(rate)` holds, for a property that
 * holds at low rates and fails above some rate (an SLO met, a latency below a bound): doubles `hi`
 * while `ok(hi)`, then bisects geometrically between the last rate that held and the first that
 * failed. `ok` is called O(log(max/lo) + log(1/tol)) times.
 * @returns the last rate found to hold; 0 when `ok(lo)` fails; Infinity when `ok` holds up to `max`.
 */
export function largestRate(ok: (rate: number) => boolean, s: RateSearch): number {
  if (!ok(s.lo)) return 0;
  let lo = s.lo;
  let hi = s.hi;
  while (ok(hi)) {
    lo = hi;
    hi *= 2;
    if (hi > s.max) return Infinity;
  }
  while (hi / lo > 1 + s.tol) {
    const mid = Math.sqrt(lo * hi);
    if (ok(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * The rate at which a latency curve (points [rate, latency], rate ascending) first exceeds `limit`,
 * linearly interpolated between the last point under it and the first over it.
 * @returns 0 if the first point is already over; Infinity if no point is.
 */
export function crossing(curve: readonly (readonly [number, number])[], limit: number): number {
  if (curve.length === 0 || curve[0][1] > limit) return 0;
  for (let i = 1; i < curve.length; i++) {
    const [r0, t0] = curve[i - 1];
    const [r1, t1] = curve[i];
    if (t1 > limit) return r0 + ((limit - t0) / (t1 - t0)) * (r1 - r0);
  }
  return Infinity;
}
