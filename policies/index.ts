/**
 * The policy table: every policy the simulator knows, by CLI name. A new policy is one file plus
 * one line here.
 */
import type { PolicyEntry } from '../sim/policy.ts';
import { checkChoice } from '../sim/errors.ts';
import { fcfs } from './fcfs.ts';
import { sjf } from './sjf.ts';
import { srpt } from './srpt.ts';
import { ssjf } from './ssjf.ts';
import { ltr } from './ltr.ts';
import { trail } from './trail.ts';
import { skippredict } from './skippredict.ts';
import { las } from './las.ts';
import { mlfq } from './mlfq.ts';
import { plas, atlas, autellixMlfq } from './plas.ts';
import { prebleMpq } from './preble-mpq.ts';

export type { Policy, PolicyContext, PolicyEntry, Displacement } from '../sim/policy.ts';
export { Fcfs } from './fcfs.ts';

/** All registered policies, in the order `sim policies` lists them. */
export const POLICIES: readonly PolicyEntry[] = [fcfs, sjf, srpt, ssjf, ltr, trail, skippredict, las, mlfq, plas, atlas, autellixMlfq, prebleMpq];

/**
 * Looks a policy up by CLI name.
 * @throws InputError listing the valid names when unknown.
 */
export function getPolicy(name: string): PolicyEntry {
  const names = POLICIES.map((p) => p.name);
  checkChoice('policy', name, names);
  return POLICIES.find((p) => p.name === name)!;
}
