/**
 * The cost model of a run: the shipped measured profiles (calibrate/profiles/) and the rule that
 * picks one by default, else the analytical model with fitted efficiencies (docs/calibration.md
 * §7). Every choice comes with a one-line description of what prices the iterations and where its
 * numbers come from, for the run's header and config.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AnalyticalCostModel, ANALYTICAL_DEFAULTS, ANALYTICAL_FITTED, OPERATORS } from '../sim/cost/analytical.ts';
import type { CostModel } from '../sim/cost/cost-model.ts';
import type { GpuSpec } from '../sim/cost/gpus.ts';
import { LinearCostModel, type CostModelSpec } from '../sim/cost/linear.ts';
import type { ModelSpec } from '../sim/cost/models.ts';
import type { Profile } from '../sim/cost/profile-format.ts';
import { architectureDiff, ProfileCostModel, type Logger } from '../sim/cost/profile.ts';
import { packageRoot, readProfile } from './profile.ts';

/** One shipped profile: its file (absolute) and its validated content. */
export interface ShippedProfile {
  file: string;
  profile: Profile;
}

/** The folder of the shipped profiles: `calibrate/profiles/` under the package root. */
export function shippedProfilesDir(): string {
  return path.join(packageRoot() ?? '.', 'calibrate', 'profiles');
}

const cache = new Map<string, ShippedProfile[]>();

/**
 * The profiles in `dir` (default {@link shippedProfilesDir}), every `*.json` read and validated,
 * sorted by file name; read once per folder per process. A missing folder holds none.
 * @throws InputError naming the file for a malformed profile (a broken installation).
 */
export function shippedProfiles(dir: string = shippedProfilesDir()): readonly ShippedProfile[] {
  const hit = cache.get(dir);
  if (hit) return hit;
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch {
    names = [];
  }
  const list = names.map((n) => {
    const file = path.join(dir, n);
    return { file, profile: readProfile(file) };
  });
  cache.set(dir, list);
  return list;
}

/**
 * Whether profile `p` measured this run's shapes: same tensor-parallel degree, its `gpu` is the
 * run's GPU, and its `architecture` equals the model's (layers, hidden, heads, KV heads, head
 * width, intermediate, vocabulary: Llama-3.1-8B matches a Llama-3-8B profile); a profile without
 * `gpu` or `architecture` matches nothing.
 */
export function profileMatches(p: Profile, model: ModelSpec, gpu: GpuSpec, tp: number): boolean {
  const diff = architectureDiff(p, model);
  return p.tp === tp && p.gpu === gpu.name && diff !== undefined && diff.length === 0;
}

/**
 * The shipped profile for a run, if one matches ({@link profileMatches}); of several, one whose
 * `model` names the run's model, else the first by file name.
 */
export function matchShippedProfile(model: ModelSpec, gpu: GpuSpec, tp: number, dir?: string): ShippedProfile | undefined {
  const all = shippedProfiles(dir).filter((s) => profileMatches(s.profile, model, gpu, tp));
  return all.find((s) => s.profile.model === model.name) ?? all[0];
}

const f = (x: number): string => String(x);

/** ANALYTICAL_FITTED in words, with where it came from. */
export function fittedDescription(): string {
  const e = ANALYTICAL_FITTED;
  return (
    `efficiencies fitted to Vidur's A100 tables (ANALYTICAL_FITTED, sim/cost/analytical.ts; docs/calibration.md §6): ` +
    `linear operators compute ${f(e.computeEfficiency)}, bandwidth ${f(e.bandwidthEfficiency)} (mlp.csv of Llama-2-7B, Llama-3-8B, Llama-2-70B, tp 1-8); ` +
    `prefill attention ${f(e.prefillAttnComputeEfficiency)}/${f(e.prefillAttnBandwidthEfficiency)}, decode attention ${f(e.decodeAttnComputeEfficiency)}/${f(e.decodeAttnBandwidthEfficiency)} (Llama-2-70B tp=2 attention table)`
  );
}

/** A run's cost model and what it is, in one line. */
export interface CostChoice {
  cost: CostModel;
  /** What prices the iterations and where its numbers come from (the header's `cost model:` line, config.json's `cost-model-used`). */
  description: string;
}

/** What a profile leaves to the analytical model at tp, in words (empty when it covers everything; no all-reduce at tp = 1). */
function leftOver(p: Profile, tp: number): string {
  const missing = OPERATORS.filter((op) => p.operators[op] === undefined && (op !== 'all_reduce' || tp > 1));
  return missing.length === 0 ? '' : `; not in it: ${missing.join(', ')} (analytical, fitted efficiencies)`;
}

function profileChoice(file: string, profile: Profile, model: ModelSpec, gpu: GpuSpec, tp: number, log: Logger | undefined, why: string): CostChoice {
  const cost = new ProfileCostModel({ profile, file, model, gpu, tp, log, analytical: { ...ANALYTICAL_FITTED } });
  const root = packageRoot();
  const shown = root !== undefined && file.startsWith(root + path.sep) ? path.relative(root, file) : file;
  return { cost, description: `measured profile ${shown} (${why}; source ${profile.source.split(' (')[0]})${leftOver(profile, tp)}` };
}

/**
 * Picks a run's cost model from `--cost-model` and `--profile`:
 * - `--profile FILE`: that profile (operators it lacks analytical with ANALYTICAL_FITTED);
 * - `auto` (the default): the shipped profile matching the model, GPU and tp
 *   ({@link matchShippedProfile}), else `fitted`;
 * - `fitted`: the analytical model with ANALYTICAL_FITTED;
 * - `analytical`: the analytical model with ANALYTICAL_DEFAULTS (llmsched's original constants);
 * - `linear:…`: the linear validation model.
 * @param dir folder of shipped profiles (tests); default {@link shippedProfilesDir}.
 * @throws InputError for an unreadable or malformed profile, or a bad tp.
 */
export function chooseCostModel(spec: CostModelSpec, profileFile: string | undefined, model: ModelSpec, gpu: GpuSpec, tp: number, log?: Logger, dir?: string): CostChoice {
  if (profileFile !== undefined) return profileChoice(profileFile, readProfile(profileFile), model, gpu, tp, log, '--profile');
  switch (spec.kind) {
    case 'linear':
      return { cost: new LinearCostModel(spec), description: 'linear validation model (--cost-model linear:...)' };
    case 'analytical':
      return {
        cost: new AnalyticalCostModel({ model, gpu, tp }),
        description: `analytical at ANALYTICAL_DEFAULTS (compute ${f(ANALYTICAL_DEFAULTS.computeEfficiency)}, bandwidth ${f(ANALYTICAL_DEFAULTS.bandwidthEfficiency)}, attention the same; --cost-model analytical)`,
      };
    case 'fitted':
      return { cost: new AnalyticalCostModel({ model, gpu, tp, ...ANALYTICAL_FITTED, label: 'fitted' }), description: `analytical with ${fittedDescription()} (--cost-model fitted)` };
    case 'auto': {
      const s = matchShippedProfile(model, gpu, tp, dir);
      if (s) return profileChoice(s.file, s.profile, model, gpu, tp, log, `shipped, chosen by default: measured for ${model.name}'s shapes on ${gpu.name} at tp=${tp}`);
      return {
        cost: new AnalyticalCostModel({ model, gpu, tp, ...ANALYTICAL_FITTED, label: 'fitted' }),
        description: `analytical with ${fittedDescription()}; chosen by default: no shipped profile measured ${model.name} on ${gpu.name} at tp=${tp}`,
      };
    }
  }
}
