/**
 * What a run's GPUs cost: GPU-hours over the makespan and dollars per million tokens served.
 */

/** GPU-hours and cost of one run (docs/output.md, `summary.json`). */
export interface RunCost {
  /** GPUs held × makespan, hours: replicas × tp × pp GPUs for the whole makespan. */
  gpu_hours: number;
  /** The price used, US dollars per GPU-hour (`--gpu-price` or the GPU's default); null when none is known. */
  gpu_price_usd_per_hour: number | null;
  /**
   * Dollars per million tokens of the completed requests: `output` (their output tokens) and `total`
   * (their prompt + output tokens); null without a price or without such tokens.
   */
  usd_per_million_tokens: { output: number | null; total: number | null };
}

/**
 * GPU-hours and cost per million tokens of a run: `gpu_hours = gpus × makespan_s / 3600`, cost =
 * gpu_hours × price, and cost × 1e6 / tokens for the output and for the total tokens.
 * @param gpus GPUs the run holds (replicas × tp × pp), a positive integer
 * @param makespan_s first arrival to last completion, seconds (>= 0)
 * @param usdPerGpuHour US dollars per GPU-hour, or undefined when no price is known
 * @param tokens output and prompt + output tokens of the completed requests (integers >= 0)
 * @returns the cost; every field finite or null (never NaN)
 */
export function runCost(gpus: number, makespan_s: number, usdPerGpuHour: number | undefined, tokens: { output: number; total: number }): RunCost {
  const gpu_hours = (gpus * makespan_s) / 3600;
  const usd = usdPerGpuHour === undefined ? undefined : gpu_hours * usdPerGpuHour;
  const per = (n: number) => (usd === undefined || n <= 0 ? null : (usd * 1e6) / n);
  return {
    gpu_hours,
    gpu_price_usd_per_hour: usdPerGpuHour ?? null,
    usd_per_million_tokens: { output: per(tokens.output), total: per(tokens.total) },
  };
}
