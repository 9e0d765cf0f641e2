/**
 * Quality measures of a length predictor against the true output lengths: Kendall's τ-b (rank
 * agreement), mean absolute error in tokens, and bucket accuracy. Pure functions over arrays.
 */

/** A numeric array (plain or typed). */
export type Numbers = ArrayLike<number>;

/**
 * Kendall's τ-b between `x` and `y` (same length n), in O(n log n) by Knight's algorithm
 * (W. R. Knight, "A computer method for calculating Kendall's tau with ungrouped data", JASA 61,
 * 1966): sort by x then y, count the pairs tied in x and tied in both, then count the discordant
 * pairs as the swaps a stable merge sort of the y sequence makes; ties in y are counted on the
 * y-sorted result.
 *
 * τ-b = (C − D) / sqrt((n0 − n1)(n0 − n2)), with n0 = n(n−1)/2, n1 the pairs tied in x, n2 the pairs
 * tied in y, C and D the concordant and discordant pairs (tied pairs count in neither).
 * @returns τ-b in [−1, 1]; NaN when it is undefined (n < 2, or x or y constant).
 * @throws RangeError when the lengths differ or a value is NaN.
 */
export function kendallTauB(x: Numbers, y: Numbers): number {
  const n = x.length;
  if (y.length !== n) throw new RangeError(`kendallTauB: lengths differ (${n} vs ${y.length})`);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(x[i]) || Number.isNaN(y[i])) throw new RangeError(`kendallTauB: NaN at index ${i}`);
  }
  if (n < 2) return NaN;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (x[a] < x[b] ? -1 : x[a] > x[b] ? 1 : y[a] < y[b] ? -1 : y[a] > y[b] ? 1 : 0));

  // Pairs tied in x (n1) and tied in both x and y (n3), from runs in the (x, y)-sorted order.
  let n1 = 0;
  let n3 = 0;
  let xRun = 1;
  let xyRun = 1;
  for (let i = 1; i <= n; i++) {
    const sameX = i < n && x[order[i]] === x[order[i - 1]];
    const sameXY = sameX && y[order[i]] === y[order[i - 1]];
    if (sameXY) xyRun++;
    else {
      n3 += (xyRun * (xyRun - 1)) / 2;
      xyRun = 1;
    }
    if (sameX) xRun++;
    else {
      n1 += (xRun * (xRun - 1)) / 2;
      xRun = 1;
    }
  }

  // Discordant pairs = strict inversions of the y sequence in this order (bottom-up merge sort).
  let ys = new Float64Array(n);
  for (let i = 0; i < n; i++) ys[i] = y[order[i]];
  let buf = new Float64Array(n);
  let swaps = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (ys[i] <= ys[j]) buf[k++] = ys[i++];
        else {
          buf[k++] = ys[j++];
          swaps += mid - i;
        }
      }
      while (i < mid) buf[k++] = ys[i++];
      while (j < hi) buf[k++] = ys[j++];
    }
    [ys, buf] = [buf, ys];
  }

  // Pairs tied in y (n2), from runs in the sorted y values.
  let n2 = 0;
  let yRun = 1;
  for (let i = 1; i <= n; i++) {
    if (i < n && ys[i] === ys[i - 1]) yRun++;
    else {
      n2 += (yRun * (yRun - 1)) / 2;
      yRun = 1;
    }
  }

  const n0 = (n * (n - 1)) / 2;
  const discordant = swaps;
  const concordant = n0 - n1 - n2 + n3 - discordant;
  const denom = Math.sqrt((n0 - n1) * (n0 - n2));
  if (denom === 0) return NaN;
  return (concordant - discordant) / denom;
}

/**
 * Mean absolute error between a length estimate and the true lengths, in the units of the inputs
 * (tokens here): (1/n) Σ |predicted_i − truth_i|.
 * @returns NaN for empty input.
 * @throws RangeError when the lengths differ.
 */
export function meanAbsoluteError(predicted: Numbers, truth: Numbers): number {
  const n = predicted.length;
  if (truth.length !== n) throw new RangeError(`meanAbsoluteError: lengths differ (${n} vs ${truth.length})`);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(predicted[i] - truth[i]);
  return n === 0 ? NaN : s / n;
}

/**
 * Fraction of requests whose predicted bucket (class index) equals the true one, in [0, 1].
 * @returns NaN for empty input.
 * @throws RangeError when the lengths differ.
 */
export function bucketAccuracy(predicted: Numbers, truth: Numbers): number {
  const n = predicted.length;
  if (truth.length !== n) throw new RangeError(`bucketAccuracy: lengths differ (${n} vs ${truth.length})`);
  let hits = 0;
  for (let i = 0; i < n; i++) if (predicted[i] === truth[i]) hits++;
  return n === 0 ? NaN : hits / n;
}

/** `v` when it is a finite number, else null (the summary's "does not apply"). */
export function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}
