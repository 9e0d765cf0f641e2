/**
 * Ranks of a sample: the sorting order and the mid-ranks (ties share the average rank), used to
 * place requests on the trace's own length distribution (Gaussian copula scores, within-bucket
 * positions).
 */
import type { Numbers } from './quality.ts';

/** Indices 0..n−1 sorted by ascending `values[i]`, ties in index order (a stable sort). */
export function sortedOrder(values: Numbers): Int32Array {
  const order = new Int32Array(values.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => (values[a] < values[b] ? -1 : values[a] > values[b] ? 1 : a - b));
}

/**
 * 1-based mid-ranks: the request with the smallest value has rank 1; a run of t tied values at
 * sorted positions p+1..p+t all get p + (t+1)/2.
 */
export function midRanks(values: Numbers): Float64Array {
  const order = sortedOrder(values);
  const ranks = new Float64Array(values.length);
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end++;
    const mid = (start + 1 + end) / 2;
    for (let p = start; p < end; p++) ranks[order[p]] = mid;
    start = end;
  }
  return ranks;
}

/** The values sorted ascending, as a new Float64Array. */
export function sortedValues(values: Numbers): Float64Array {
  return Float64Array.from(values as ArrayLike<number>).sort();
}
