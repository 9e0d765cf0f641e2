/**
 * The verdict of a reproduction: does our improvement agree with the paper's in direction, and is
 * its size within 2× of the paper's? Pure functions on improvement factors (docs/reproductions.md,
 * "How to read a verdict").
 *
 * An **improvement factor** f says how much better the paper's policy does than its baseline:
 * baseline ÷ policy for a lower-is-better metric (latency, JCT, total cost), policy ÷ baseline for a
 * higher-is-better one (capacity, throughput). f > 1: the policy wins; f < 1: it loses. The **gain**
 * is f − 1 (a loss is compared as the gain of the baseline, 1/f − 1), so "2.8× lower latency" is
 * a gain of 1.8 and "−30.5% mean JCT" a gain of 1/(1 − 0.305) − 1 = 0.44.
 */

/** A paper's improvement factor: one figure (lo = hi) or a range lo..hi; unitless, > 0. */
export interface FactorRange {
  lo: number;
  hi: number;
}

/** What a verdict found. */
export interface Verdict {
  /** Our factor is on the same side of 1 as the paper's. */
  direction: boolean;
  /** Our gain is in [½ × the paper's smallest gain, 2 × its largest]; false when the direction disagrees. */
  withinTwoX: boolean;
  /** `agrees`, `direction only` (size outside 2×) or `disagrees` (direction). */
  label: 'agrees' | 'direction only' | 'disagrees';
  /** One line: the label and why, e.g. `agrees: gain 0.35 vs the paper's 0.44–0.66`. */
  text: string;
}

/**
 * The factor of a change given in percent of the baseline for a lower-is-better metric:
 * −30.5 (30.5% lower) → 1/(1 − 0.305) = 1.439.
 * @throws Error for a change of −100% or less (the metric cannot vanish).
 */
export function factorFromChange(percent: number): number {
  if (!(percent > -100) || !Number.isFinite(percent)) throw new Error(`a change of ${percent}% has no factor`);
  return 1 / (1 + percent / 100);
}

/**
 * Improvement factor of `policy` over `baseline` (both > 0, in the metric's unit).
 * @param better `lower` (latency, cost: baseline/policy) or `higher` (capacity: policy/baseline).
 * @throws Error for values that are not positive and finite.
 */
export function improvement(baseline: number, policy: number, better: 'lower' | 'higher'): number {
  if (!(baseline > 0 && policy > 0 && Number.isFinite(baseline) && Number.isFinite(policy))) {
    throw new Error(`improvement needs positive finite values, got baseline ${baseline} and policy ${policy}`);
  }
  return better === 'lower' ? baseline / policy : policy / baseline;
}

const fmt = (g: number) => (Math.abs(g) >= 10 ? g.toFixed(1) : g.toFixed(2));

/**
 * Judges our improvement factor against the paper's: direction (both gains of one sign) and size
 * (our gain within [lo − 1, hi − 1] widened by 2× each way: ≥ half the paper's smallest gain and
 * ≤ twice its largest). A paper factor below 1 (the paper reports a loss) is judged on the
 * inverted factors, so losses are compared like gains.
 * @param paper the paper's factor range (lo ≤ hi, both on one side of 1, neither 1).
 * @param ours our factor (> 0).
 * @throws Error for a paper range that straddles or touches 1, lo > hi, or a factor that is not
 *   positive and finite (programming errors: the ranges are written in the code).
 */
export function verdict(paper: FactorRange, ours: number): Verdict {
  const { lo, hi } = paper;
  if (!(lo > 0 && hi > 0 && Number.isFinite(lo) && Number.isFinite(hi)) || lo > hi) throw new Error(`bad paper factor range ${lo}..${hi}`);
  if (!(ours > 0 && Number.isFinite(ours))) throw new Error(`bad factor ${ours}`);
  if ((lo - 1) * (hi - 1) <= 0) throw new Error(`paper factor range ${lo}..${hi} must lie on one side of 1`);
  const inv = hi < 1;
  const gLo = inv ? 1 / hi - 1 : lo - 1;
  const gHi = inv ? 1 / lo - 1 : hi - 1;
  const g = inv ? 1 / ours - 1 : ours - 1;
  const paperText = gLo === gHi ? fmt(gLo) : `${fmt(gLo)}–${fmt(gHi)}`;
  const what = inv ? 'loss' : 'gain';
  if (!(g > 0)) {
    return { direction: false, withinTwoX: false, label: 'disagrees', text: `disagrees: ${what} ${fmt(g)} where the paper has ${paperText}` };
  }
  if (g < gLo / 2) {
    return { direction: true, withinTwoX: false, label: 'direction only', text: `direction only: ${what} ${fmt(g)} is under half the paper's ${paperText}` };
  }
  if (g > 2 * gHi) {
    return { direction: true, withinTwoX: false, label: 'direction only', text: `direction only: ${what} ${fmt(g)} is over twice the paper's ${paperText}` };
  }
  return { direction: true, withinTwoX: true, label: 'agrees', text: `agrees: ${what} ${fmt(g)} vs the paper's ${paperText}` };
}
