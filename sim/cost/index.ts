/**
 * The cost-model package: the engine's interface, model and GPU specs, the analytical and linear
 * cost models, and KV-cache capacity. Re-exports only.
 */
export * from './cost-model.ts';
export * from './models.ts';
export * from './gpus.ts';
export * from './analytical.ts';
export * from './linear.ts';
export * from './memory.ts';
