/**
 * The measured-profile format (`sim --profile FILE`, format `llmsched-profile`, version 2; version
 * 1 files still read): the types the profile cost model (profile.ts) reads. Validation, reading and writing are in
 * calibrate/profile.ts; the format is documented field by field in docs/calibration.md §2.
 */
import type { ModelSpec } from './models.ts';
import type { OperatorName } from './analytical.ts';

/** Value of a profile's `format` field. */
export const PROFILE_FORMAT = 'llmsched-profile';
/** The profile format version this code writes. */
export const PROFILE_VERSION = 2;
/**
 * Versions this code reads. Version 2 added prefill attention over (`prefix`, `chunk`), tables
 * whose rows end early, `batch_overhead` and the `gpu` field; a version-1 file is a valid version-2
 * file without them.
 */
export const PROFILE_VERSIONS_READ: readonly number[] = [1, 2];

/**
 * Axis names: `tokens` = tokens through the layer in the iteration (prefillTokens + decodeSeqs);
 * `seqs` = sequences sampled (lm_head); `seq_len` = the length of one request's prefill (prefill
 * attention time is per request, summed over the batch's prefills; version 1's only prefill axis);
 * `prefix` = tokens of one request already in the KV cache before its chunk and `chunk` = the
 * tokens of its chunk (prefill attention over both, version 2, summed over the batch's prefills);
 * `batch` = decoding requests and `context` = their mean context length (decode attention, a 2-D
 * grid).
 */
export type AxisName = 'tokens' | 'seqs' | 'seq_len' | 'prefix' | 'chunk' | 'batch' | 'context';

/**
 * What one profiled time covers: `layer` = one decoder layer (multiplied by the model's layers);
 * `iteration` = the whole iteration, once; `call` = one all-reduce call (multiplied by the calls
 * per iteration, 2·layers + 1 at tp > 1, 0 at tp = 1; all_reduce only).
 */
export type TimeUnit = 'layer' | 'iteration' | 'call';

/** The adapter (GPU and API) the times were measured on. Strings may be empty where unknown. */
export interface ProfileAdapter {
  vendor: string;
  architecture: string;
  description: string;
  /** API or backend: `vulkan`, `metal`, `d3d12`, `opengles`, … for WebGPU sweeps; `cuda` for Vidur. */
  backend: string;
}

/** Architecture numbers of the model swept (counts; the fields of ModelSpec that shape the kernels). */
export type ProfileArchitecture = Pick<ModelSpec, 'layers' | 'hidden' | 'heads' | 'kvHeads' | 'headDim' | 'intermediate' | 'vocab'>;

/**
 * Times of one operator over its grid. 1-D operators: `grid = [xs]`, `times_s` a list with one
 * value per grid point. 2-D (decode_attn; prefill_attn over prefix × chunk): `grid = [xs, ys]`,
 * `times_s[i][j]` at (xs[i], ys[j]); row i may be shorter than ys (measured at its first
 * `times_s[i].length` points only, at least 2). Times are medians in seconds for the unit `per`.
 * Spread, optional, same shape as times_s: `p10_s`/`p90_s` (10th and 90th percentiles of the
 * repeats) and/or `min_s`/`max_s` (extremes, as Vidur's tables give). `batch_overhead`
 * (version 2, attention only, a fraction >= 0): the time is multiplied by 1 + batch_overhead when
 * the iteration holds more than one request of the operator (decodes for decode_attn, prefills
 * for prefill_attn): Vidur's batching overhead (docs/calibration.md §5).
 */
export interface OperatorProfile {
  per: TimeUnit;
  axes: AxisName[];
  grid: number[][];
  times_s: number[] | number[][];
  p10_s?: number[] | number[][];
  p90_s?: number[] | number[][];
  min_s?: number[] | number[][];
  max_s?: number[] | number[][];
  batch_overhead?: number;
}

/** A profile file (format `llmsched-profile`, version 1 or 2). */
export interface Profile {
  format: typeof PROFILE_FORMAT;
  /** 2 when written by this code; 1 for older files (read the same way). */
  version: number;
  adapter: ProfileAdapter;
  /** How times were taken: `timestamp-query`, `wall-clock` (WebGPU sweeps), `cuda-timer` (Vidur). */
  timer: string;
  /** Element type of the measured kernels: `f32`, `f16` (WebGPU), `fp16` (Vidur). */
  dtype: string;
  /** Model name the times are for (a `sim models` name, or e.g. `llama-2-7b/16` for a shrunk sweep). */
  model: string;
  /** Tensor-parallel degree the per-GPU shapes were cut for. */
  tp: number;
  /** The GPU measured, as a `sim gpus` name (version 2, optional; e.g. `a100-80gb` for Vidur's A100). */
  gpu?: string;
  /** When the profile was made, ISO 8601. */
  date: string;
  /** llmsched version (package.json) that made it. */
  project_version: string;
  /** `measured` for a sweep on this adapter, `vidur:<path> (licence)` for an import. */
  source: string;
  /** The architecture swept, when known. */
  architecture?: ProfileArchitecture;
  /** Sweep settings, when measured. */
  sweep?: { warmup: number; repeats: number };
  /** Free-form remarks. */
  notes?: string;
  /** Operators covered; the rest fall back to the analytical model. */
  operators: Partial<Record<OperatorName, OperatorProfile>>;
}
