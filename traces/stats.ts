/**
 * Arrival statistics of a trace: mean rate and burstiness (coefficient of variation of the gaps).
 */

/**
 * Mean arrival rate in requests per second, defined as (n − 1) / (last − first arrival): the
 * reciprocal of the mean inter-arrival gap. This is the rate that `transformTrace`'s `rate` option
 * sets exactly.
 * @param arrival_s  arrival times in seconds, non-decreasing
 * @returns the rate, or NaN when n < 2 or every arrival is at the same instant
 */
export function meanRate(arrival_s: ArrayLike<number>): number {
  const n = arrival_s.length;
  if (n < 2) return NaN;
  const span = arrival_s[n - 1] - arrival_s[0];
  return span > 0 ? (n - 1) / span : NaN;
}

/**
 * Coefficient of variation (population standard deviation / mean) of the n − 1 inter-arrival gaps:
 * 1 for a Poisson process, larger for burstier traffic. Unitless.
 * @returns the CV, or NaN when n < 2 or the mean gap is 0
 */
export function interArrivalCv(arrival_s: ArrayLike<number>): number {
  const n = arrival_s.length;
  if (n < 2) return NaN;
  const m = (arrival_s[n - 1] - arrival_s[0]) / (n - 1);
  if (!(m > 0)) return NaN;
  let ss = 0;
  for (let i = 1; i < n; i++) {
    const d = arrival_s[i] - arrival_s[i - 1] - m;
    ss += d * d;
  }
  return Math.sqrt(ss / (n - 1)) / m;
}
