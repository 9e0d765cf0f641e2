/**
 * The reproduction table: every seed paper `sim reproduce` reruns, in the order of
 * docs/reproductions.md. A new reproduction is one file plus one line here.
 */
import { checkChoice } from '../../sim/errors.ts';
import type { Reproduction } from './reproduction.ts';
import { ssjfReproduction } from './ssjf.ts';
import { trailReproduction } from './trail.ts';
import { ltrReproduction } from './ltr.ts';
import { skipPredictReproduction } from './skippredict.ts';
import { sarathiReproduction } from './sarathi.ts';
import { autellixReproduction } from './autellix.ts';
import { jainReproduction } from './jain.ts';
import { disaggReproduction } from './disagg.ts';
import { llumnixReproduction } from './llumnix.ts';

export type { Reproduction, ReproductionResult, ReproduceContext } from './reproduction.ts';

/** All reproductions, in document order. */
export const REPRODUCTIONS: readonly Reproduction[] = [ssjfReproduction, trailReproduction, ltrReproduction, skipPredictReproduction, sarathiReproduction, autellixReproduction, jainReproduction, disaggReproduction, llumnixReproduction];

/**
 * Looks a reproduction up by name.
 * @throws InputError (field `reproduction`) listing the valid names when unknown.
 */
export function getReproduction(name: string): Reproduction {
  checkChoice('reproduction', name, REPRODUCTIONS.map((r) => r.name));
  return REPRODUCTIONS.find((r) => r.name === name)!;
}
