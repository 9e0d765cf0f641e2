/**
 * The predictor table: every predictor the simulator knows, by CLI name. A new predictor is one
 * file plus one line here.
 */
import type { PredictorEntry } from '../../sim/predictor.ts';
import { checkChoice } from '../../sim/errors.ts';
import { oracle } from './oracle.ts';
import { ssjfBuckets } from './ssjf-buckets.ts';
import { rankTau } from './rank-tau.ts';
import { noisyLength } from './noisy-length.ts';
import { trail } from './trail.ts';
import { cheapBit } from './cheap-bit.ts';
import { traceColumn } from './trace-column.ts';

export type { Predictor, PredictorEntry, PredictorQuality, PredictionCost } from '../../sim/predictor.ts';
export { OraclePredictor } from './oracle.ts';

/** All registered predictors, in the order `sim predictors` lists them. */
export const PREDICTORS: readonly PredictorEntry[] = [oracle, ssjfBuckets, rankTau, noisyLength, trail, cheapBit, traceColumn];

/**
 * Looks a predictor up by CLI name.
 * @throws InputError listing the valid names when unknown.
 */
export function getPredictor(name: string): PredictorEntry {
  checkChoice('predictor', name, PREDICTORS.map((p) => p.name));
  return PREDICTORS.find((p) => p.name === name)!;
}
