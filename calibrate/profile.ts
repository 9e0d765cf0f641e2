/**
 * Measured operator profiles (`sim --profile FILE`): the profile format and the cost model that
 * interpolates it. Placeholder until the calibration issue lands.
 */
import type { CostModel } from '../sim/cost/cost-model.ts';
import type { ModelSpec } from '../sim/cost/models.ts';
import type { GpuSpec } from '../sim/cost/gpus.ts';
import { InputError } from '../sim/errors.ts';

/**
 * Builds a cost model from the profile JSON in `file` for `model` on `gpu` with tensor parallelism `tp`.
 * @throws InputError naming the file and field for a malformed profile.
 */
export function loadProfileCostModel(file: string, model: ModelSpec, gpu: GpuSpec, tp: number): CostModel {
  void model;
  void gpu;
  void tp;
  throw new InputError('profiles are not supported yet', { file, field: '--profile' });
}
