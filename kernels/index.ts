/**
 * WGSL kernels and their WebGPU runners: device creation (`gpu.ts`), timing (`timing.ts`), matmul,
 * prefill and paged decode attention, and the layer's small operators. See kernels/README.md.
 */
export * from './gpu.ts';
export * from './timing.ts';
export * from './matmul.ts';
export * from './attention.ts';
export * from './layer-ops.ts';
