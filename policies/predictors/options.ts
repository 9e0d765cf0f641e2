/**
 * The prediction-cost options several predictors share (`cost`, `cost-mode`), read with the one
 * option reader, {@link OptionReader} (policies/options.ts), so their errors name `--predictor-opt`.
 */
import type { OptionReader } from '../options.ts';
import type { PredictionCost } from '../../sim/predictor.ts';

/** Keys of the per-request prediction cost options (see {@link readCost}); add them to a predictor's keys. */
export const COST_KEYS = ['cost', 'cost-mode'] as const;

/**
 * The prediction cost from `cost=SECONDS` (>= 0, default 0) and `cost-mode=server|external`
 * (default server: the predictor runs on the serving GPU). Source: SkipPredict's two cost models
 * and LTR's predictor overhead (docs/spec.md §4, §7).
 * @param o the predictor's reader, built with {@link COST_KEYS} among its keys.
 * @returns `{perRequest_s, onServer}` (seconds per request), or undefined when the cost is 0.
 * @throws InputError (field `--predictor-opt`) for a negative or non-numeric cost or an unknown mode.
 */
export function readCost(o: OptionReader): PredictionCost | undefined {
  const perRequest_s = o.number('cost', 0, { min: 0 });
  const mode = o.choice('cost-mode', 'server', ['server', 'external'] as const);
  return perRequest_s > 0 ? { perRequest_s, onServer: mode === 'server' } : undefined;
}
