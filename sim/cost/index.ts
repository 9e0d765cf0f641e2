/**
 * The cost-model package: the engine's interface, model and GPU specs, the analytical and linear
 * cost models, the measured-profile cost model (its format and interpolation), KV-cache
 * capacity, pipeline-parallel stage pricing, and the GPU-hours and cost of a run. Re-exports only.
 */
export * from './cost-model.ts';
export * from './models.ts';
export * from './gpus.ts';
export * from './analytical.ts';
export * from './linear.ts';
export * from './memory.ts';
export * from './interpolate.ts';
export * from './profile-format.ts';
export * from './profile.ts';
export * from './pipeline.ts';
export * from './price.ts';
export * from './work.ts';
export * from './link.ts';
