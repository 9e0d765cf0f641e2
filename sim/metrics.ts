/**
 * Per-request latency metrics and the run summary (the `--json` object and `summary.json`).
 * Field terms follow the serving literature: TTFT, TPOT (mean time between output tokens),
 * inter-token latency (ITL or TBT: the time between consecutive output tokens, every token),
 * end-to-end latency, normalized latency (end-to-end / output tokens, as in vLLM and LTR),
 * queueing delay, goodput under SLOs.
 */
import { quantileSorted } from 'd3-array';
import type { SimulationResult } from './simulator.ts';
import { FINISHED, REJECTED } from './requests.ts';
import type { RequestTable } from './requests.ts';
import type { PredictorQuality } from './predictor.ts';
import type { TracePrograms } from './trace.ts';
import type { EngineStats } from './engine-types.ts';
import type { GapHistogram } from './gap-histogram.ts';
import { InputError } from './errors.ts';
import { parseDecimal } from './values.ts';
import { utilization } from './cost/work.ts';
import type { MigrationStats } from './migration.ts';
import type { ScalingEvent, ScalingStats } from './autoscale.ts';

/** Distribution of one latency over completed requests, in seconds; null when there are none. */
export interface LatencyStats {
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/**
 * Service-level objectives: a request is good when its TTFT, TPOT and end-to-end latency are
 * within those given (seconds; vLLM's benchmark_serving `--goodput ttft:… tpot:… e2el:…`).
 */
export interface Slo {
  ttft_s?: number;
  tpot_s?: number;
  e2e_s?: number;
}

/** The run summary. All times in seconds. */
export interface Summary {
  /**
   * Requests replayed, completed and rejected; the rejected by reason (they sum to `rejected`):
   * prompt + output above `--max-model-len`, never fitting the KV cache, or a call whose ancestor
   * call was rejected.
   */
  requests: { total: number; completed: number; rejected: number; rejected_too_long: number; rejected_kv: number; rejected_ancestor: number };
  ttft_s: LatencyStats;
  /** Over completed requests with at least 2 output tokens. */
  tpot_s: LatencyStats;
  /**
   * Inter-token latency over every output token after a request's first, all requests: the gap
   * from the same request's previous token (exact percentiles of the whole multiset).
   */
  itl_s: LatencyStats;
  e2e_s: LatencyStats;
  normalized_latency_s: LatencyStats;
  queue_delay_s: LatencyStats;
  /** Completed requests, their output tokens, and their prompt + output tokens, per second of makespan. */
  throughput: { requests_per_s: number; output_tokens_per_s: number; total_tokens_per_s: number };
  /** Completed requests meeting the SLOs, per second of makespan, and as a fraction of completed. */
  goodput: { requests_per_s: number; slo_attainment: number | null; slo_ttft_s: number | null; slo_tpot_s: number | null; slo_e2e_s: number | null };
  /** First arrival (0) to the last completion. */
  makespan_s: number;
  /** Mean requests per iteration. */
  batch_size_mean: number;
  /** Time-weighted mean and max of KV blocks in use / capacity (null with unlimited KV). */
  kv_utilization: { mean: number | null; max: number | null };
  preemptions: number;
  swaps: { out: number; in: number; bytes: number; recompute_fallbacks: number };
  /** Prefix caching, when it was on (`--prefix-caching on`). */
  prefix_cache?: PrefixCacheSummary;
  /**
   * The run itself: wall time, events, iterations, and (set by the app) the random numbers drawn
   * from `--seed` (predictor noise, random routing; not a synthetic trace's generation): with a
   * trace file and 0 draws, another seed gives the same run.
   */
  sim: { wall_s: number; events: number; iterations: number; random_draws?: number };
  /**
   * Multi-call programs (when the trace has them): programs, those whose every call completed,
   * program end-to-end latency (first call submitted to last call finished) and waiting time (Σ of
   * its calls' queueing delays) over completed programs, and completed programs per second.
   */
  programs?: {
    count: number;
    completed: number;
    e2e_s: LatencyStats;
    /** Program end-to-end latency / its calls' total output tokens (s/token; Autellix §6's program-level token latency). */
    normalized_latency_s: LatencyStats;
    waiting_s: LatencyStats;
    throughput_per_s: number;
  };
  /** The predictor and the quality it achieved on this run, when the policy used one. */
  predictor?: { name: string } & PredictorQuality;
  /** Per replica, with more than one replica (also `replicas.csv` in `--out`). */
  replicas?: ReplicaSummary[];
  /** Disaggregated prefill and decode (docs/disaggregation.md), when the run was. */
  disaggregation?: DisaggregationSummary;
  /** Live migration, with `--migration on`: {@link migrationSummary}. */
  migration?: MigrationSummary;
  /** Auto-scaling, with `--autoscale on`: {@link autoscaleSummary}. */
  autoscale?: AutoscaleSummary;
  /** Latencies per priority class, when the run gave priorities: {@link prioritySummary}. */
  priority?: { high: PriorityClassSummary; normal: PriorityClassSummary };
  /** GPUs held × makespan, hours (filled by the app, app/run.ts; sim/cost/price.ts). */
  gpu_hours?: number;
  /** US dollars per GPU-hour used for the cost (null when none is known). */
  gpu_price_usd_per_hour?: number | null;
  /** US dollars per million output tokens and per million prompt + output tokens of the completed requests. */
  usd_per_million_tokens?: { output: number | null; total: number | null };
  /** Seconds of idle time `--compress-idle` removed from the trace (only with it). */
  idle_removed_s?: number;
  /**
   * Model FLOPs utilization over busy time, all replicas: Σ model FLOPs / (Σ busy_s × a replica's
   * peak FLOP/s); null without busy time or without the model's shapes (docs/output.md).
   */
  mfu: number | null;
  /** Memory-bandwidth utilization: Σ HBM bytes read (weights + decode KV) / (Σ busy_s × a replica's peak bytes/s). */
  mbu: number | null;
  /**
   * TTFT, TPOT, ITL and end-to-end latency in milliseconds under vLLM benchmark_serving's names
   * (`mean_ttft_ms`, `median_ttft_ms`, `std_ttft_ms`, `p99_ttft_ms`, ..., `p99_e2el_ms`), at the
   * `--metric-percentiles` list: {@link msView}.
   */
  ms: Record<string, number | null>;
}

/**
 * A disaggregated run's pools and KV transfers. Over completed requests: `prefill_s` (first token −
 * first scheduled, on the prefill replica; TTFT = queue delay + prefill_s), and over those that
 * moved (output ≥ 2 tokens): `kv_wait_s` (first token to the start of the transfer: waiting, frozen
 * on the prefill replica, for the decode replica's KV) and `transfer_s` (the transfer).
 */
export interface DisaggregationSummary {
  prefill_replicas: number;
  decode_replicas: number;
  /** KV transfers made, and the bytes each GPU link carried, summed over transfers. */
  transfers: number;
  bytes_per_link: number;
  prefill_s: LatencyStats;
  kv_wait_s: LatencyStats;
  transfer_s: LatencyStats;
}

/** The run's live migrations (docs/output.md). Times in seconds. */
export interface MigrationSummary {
  /** Migrations started, completed (the request resumed at its destination) and abandoned, by reason. */
  started: number;
  completed: number;
  aborted: { memory: number; request: number; stages: number };
  /** KV blocks copied by completed migrations, and by abandoned ones (wasted). */
  blocks: number;
  wasted_blocks: number;
  /** Mean stages per completed migration (null with none). */
  stages_mean: number | null;
  /** Downtime per completed migration: the request frozen at its source until it resumes at its destination. */
  downtime_s: LatencyStats;
}

/** The summary block of a run's migration counters (sim/migration.ts). */
export function migrationSummary(m: MigrationStats): MigrationSummary {
  return {
    started: m.started,
    completed: m.completed,
    aborted: { memory: m.abortedMemory, request: m.abortedRequest, stages: m.abortedStages },
    blocks: m.blocks,
    wasted_blocks: m.wastedBlocks,
    stages_mean: m.completed > 0 ? m.stages / m.completed : null,
    downtime_s: latencyStats(Float64Array.from(m.downtime_s)),
  };
}

/** The run's auto-scaling (docs/output.md). Times in seconds. */
export interface AutoscaleSummary {
  /** Σ over instances of the time each was up (first arrival or scale-up decision to removal or the run's end). */
  instance_seconds: number;
  /** Mean instances up: instance_seconds / makespan (null for a zero makespan). */
  instances_mean: number | null;
  /** Fewest and most instances up at once. */
  instances_min: number;
  instances_max: number;
  /** Scale-up decisions, drains started, instances removed. */
  scale_ups: number;
  scale_downs: number;
  removed: number;
  /** Every action: time, `up`/`ready`/`drain`/`removed`, instance, instances up after it. */
  timeline: ScalingEvent[];
}

/** One priority class's requests and latencies (seconds; over its completed requests, TPOT over those with 2+ output tokens). */
export interface PriorityClassSummary {
  requests: number;
  completed: number;
  ttft_s: LatencyStats;
  tpot_s: LatencyStats;
  e2e_s: LatencyStats;
}

/**
 * The summary's `priority` block: TTFT, TPOT and end-to-end latency of the high-priority
 * (`R.priority` 1) and normal-priority (0) requests apart (Llumnix §4.4; docs/output.md).
 */
export function prioritySummary(R: RequestTable, m: RequestMetrics): { high: PriorityClassSummary; normal: PriorityClassSummary } {
  const of = (p: number): PriorityClassSummary => {
    const pick = (xs: Float64Array) => xs.map((x, i) => (R.priority[i] === p ? x : -1));
    let requests = 0;
    let completed = 0;
    for (let i = 0; i < R.n; i++) {
      if (R.priority[i] !== p) continue;
      requests++;
      if (R.state[i] === FINISHED) completed++;
    }
    return { requests, completed, ttft_s: latencyStats(pick(m.ttft)), tpot_s: latencyStats(pick(m.tpot)), e2e_s: latencyStats(pick(m.e2e)) };
  };
  return { high: of(1), normal: of(0) };
}

/** The summary block of a run's auto-scaling (sim/autoscale.ts) over a makespan of `makespan_s`. */
export function autoscaleSummary(a: ScalingStats, makespan_s: number): AutoscaleSummary {
  return {
    instance_seconds: a.instance_s,
    instances_mean: makespan_s > 0 ? a.instance_s / makespan_s : null,
    instances_min: a.minUp,
    instances_max: a.maxUp,
    scale_ups: a.scaleUps,
    scale_downs: a.scaleDowns,
    removed: a.removed,
    timeline: a.events,
  };
}

/** One replica's share of a run (all times in seconds; rates per second of the run's makespan). */
export interface ReplicaSummary {
  replica: number;
  /** Its pool in a disaggregated run (absent otherwise). */
  pool?: 'prefill' | 'decode';
  /** Requests routed to it, of which completed and rejected. */
  requests: number;
  completed: number;
  rejected: number;
  /** Fraction of the makespan it was running iterations. */
  busy_fraction: number;
  iterations: number;
  batch_size_mean: number;
  /** Time-weighted mean and max of its KV blocks in use / its capacity (null with unlimited KV). */
  kv_utilization_mean: number | null;
  kv_utilization_max: number | null;
  preemptions: number;
  output_tokens_per_s: number;
  ttft_s: LatencyStats;
  e2e_s: LatencyStats;
  /** Prompt tokens found in its prefix cache / looked up (null without prefix caching). */
  prefix_token_hit_rate: number | null;
  /** Its model FLOPs utilization and memory-bandwidth utilization over its busy time (null without busy time or peaks). */
  mfu: number | null;
  mbu: number | null;
}

/** Per-request derived metrics (seconds); -1 where undefined (not completed, or TPOT and max TBT with 1 token). */
export interface RequestMetrics {
  ttft: Float64Array;
  tpot: Float64Array;
  /** Largest gap between two consecutive output tokens of the request (max TBT). */
  maxTbt: Float64Array;
  e2e: Float64Array;
  normalized: Float64Array;
  queueDelay: Float64Array;
  /** First token − first scheduled (the prefill, with any recompute before the first token). */
  prefill: Float64Array;
  /** Disaggregated: first token to the start of its KV transfer, and the transfer (-1 without one). */
  kvWait: Float64Array;
  transfer: Float64Array;
}

/** Computes each request's TTFT, TPOT, max TBT, end-to-end, normalized latency and queueing delay. */
export function requestMetrics(R: RequestTable): RequestMetrics {
  const n = R.n;
  const m: RequestMetrics = {
    ttft: new Float64Array(n).fill(-1),
    tpot: new Float64Array(n).fill(-1),
    maxTbt: new Float64Array(n).fill(-1),
    e2e: new Float64Array(n).fill(-1),
    normalized: new Float64Array(n).fill(-1),
    queueDelay: new Float64Array(n).fill(-1),
    prefill: new Float64Array(n).fill(-1),
    kvWait: new Float64Array(n).fill(-1),
    transfer: new Float64Array(n).fill(-1),
  };
  for (let i = 0; i < n; i++) {
    if (R.state[i] !== FINISHED) continue;
    const a = R.arrival[i];
    m.ttft[i] = R.firstToken[i] - a;
    m.e2e[i] = R.completion[i] - a;
    m.normalized[i] = m.e2e[i] / R.output[i];
    m.queueDelay[i] = R.firstScheduled[i] - a;
    m.prefill[i] = R.firstToken[i] - R.firstScheduled[i];
    if (R.transferStart[i] >= 0) {
      m.kvWait[i] = R.transferStart[i] - R.firstToken[i];
      m.transfer[i] = R.transferEnd[i] - R.transferStart[i];
    }
    if (R.output[i] >= 2) {
      m.tpot[i] = (R.completion[i] - R.firstToken[i]) / (R.output[i] - 1);
      m.maxTbt[i] = R.maxTbt[i];
    }
  }
  return m;
}

/** Mean, population standard deviation, max and quantiles (fractions in [0, 1]) of a sample; see {@link sampleQuantiles}. */
export interface Quantiles {
  mean: number;
  std: number;
  max: number;
  /** One per requested fraction, in order. */
  q: number[];
}

/** Standard summary fractions: p50, p90, p95, p99. */
const STANDARD = [0.5, 0.9, 0.95, 0.99] as const;

/**
 * Mean, population standard deviation (numpy's `std`), max and the quantiles at fractions `ps`
 * (d3-array's `quantileSorted`: position (N − 1)·p, linear between neighbours; numpy's default
 * `percentile` rule) of the values >= 0 in `xs` (negative = undefined, skipped).
 * @returns null when no value is >= 0.
 */
export function sampleQuantiles(xs: Float64Array, ps: readonly number[]): Quantiles | null {
  let k = 0;
  for (let i = 0; i < xs.length; i++) if (xs[i] >= 0) k++;
  if (k === 0) return null;
  const v = new Float64Array(k);
  k = 0;
  let sum = 0;
  for (let i = 0; i < xs.length; i++) {
    if (xs[i] >= 0) {
      v[k++] = xs[i];
      sum += xs[i];
    }
  }
  v.sort();
  const mean = sum / k;
  let ss = 0;
  for (let i = 0; i < k; i++) ss += (v[i] - mean) * (v[i] - mean);
  // d3-array reads any array-like; its typings ask for a plain array.
  const sorted = v as unknown as number[];
  return { mean, std: Math.sqrt(ss / k), max: v[k - 1], q: ps.map((p) => quantileSorted(sorted, p)!) };
}

/** Mean, p50, p90, p95, p99 and max of the values >= 0 in `xs` (negative = undefined, skipped). */
export function latencyStats(xs: Float64Array): LatencyStats {
  return standardStats(sampleQuantiles(xs, STANDARD));
}

/** The {@link LatencyStats} of a {@link Quantiles} taken at {@link STANDARD} (all null for none). */
function standardStats(r: Quantiles | null): LatencyStats {
  if (r === null) return { mean: null, p50: null, p90: null, p95: null, p99: null, max: null };
  return { mean: r.mean, p50: r.q[0], p90: r.q[1], p95: r.q[2], p99: r.q[3], max: r.max };
}

/**
 * Mean, p50, p90, p95, p99 and max of the multiset a {@link GapHistogram} holds (each distinct value
 * repeated its count times), in seconds for inter-token gaps: see {@link histogramQuantiles}.
 */
export function histogramStats(h: GapHistogram): LatencyStats {
  return standardStats(histogramQuantiles(h, STANDARD));
}

/**
 * Mean, population standard deviation, max and the quantiles at fractions `ps` of the multiset a
 * {@link GapHistogram} holds: the quantiles and max exactly as {@link sampleQuantiles} gives them
 * for the expanded list (d3-array's `quantileSorted`: position (N − 1)·p, linear between
 * neighbours), without expanding it; the mean as Σ value·count / N and the variance as
 * Σ count·(value − mean)² / N, summed in ascending order of value, so they depend on the multiset
 * alone (equal to the list's up to rounding). Source of the interpolation rule: d3-array.
 * @returns null when the histogram is empty.
 */
export function histogramQuantiles(h: GapHistogram, ps: readonly number[]): Quantiles | null {
  const N = h.total;
  if (N === 0) return null;
  const { values, counts } = h.sorted();
  let sum = 0;
  for (let j = 0; j < values.length; j++) sum += values[j] * counts[j];
  const mean = sum / N;
  let ss = 0;
  for (let j = 0; j < values.length; j++) ss += counts[j] * (values[j] - mean) * (values[j] - mean);
  // Cumulative counts: the value at sorted position i (0-based) is the first whose cumulative count exceeds i.
  const cum = new Float64Array(values.length);
  let c = 0;
  for (let j = 0; j < values.length; j++) cum[j] = c += counts[j];
  const at = (i: number): number => {
    let lo = 0;
    let hi = values.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid] > i) hi = mid;
      else lo = mid + 1;
    }
    return values[lo];
  };
  const q = (p: number): number => {
    const i = (N - 1) * p;
    const i0 = Math.floor(i);
    const v0 = at(i0);
    if (i0 + 1 >= N) return v0;
    return v0 + (at(i0 + 1) - v0) * (i - i0);
  };
  return { mean, std: Math.sqrt(ss / N), max: values[values.length - 1], q: ps.map(q) };
}

/** The default `--metric-percentiles`: the p50, p90, p95 and p99 every latency block reports. */
export const DEFAULT_METRIC_PERCENTILES: readonly number[] = Object.freeze([50, 90, 95, 99]);

/**
 * Parses `--metric-percentiles` as vLLM benchmark_serving takes it: comma-separated percentiles,
 * each a decimal in [0, 100], no repeats (`50,90,99`, `99.9`). Undefined gives
 * {@link DEFAULT_METRIC_PERCENTILES}.
 * @returns the percentiles in the order given.
 * @throws InputError (field `--metric-percentiles`) for an empty list or entry, a non-decimal, a
 *   value outside [0, 100] or a repeat.
 */
export function parseMetricPercentiles(text: string | undefined): readonly number[] {
  if (text === undefined) return DEFAULT_METRIC_PERCENTILES;
  const field = '--metric-percentiles';
  const out: number[] = [];
  for (const part of text.split(',')) {
    if (part.trim() === '') throw new InputError(`empty entry in '${text}': give percentiles such as 50,90,99`, { field });
    const p = parseDecimal(part);
    if (!(p >= 0 && p <= 100)) throw new InputError(`'${part.trim()}' is not a percentile: a decimal number in [0, 100]`, { field });
    if (out.includes(p)) throw new InputError(`${p} is given twice`, { field });
    out.push(p);
  }
  return out;
}

/** vLLM's name of percentile p: `99`, `99.9` (an integer without a decimal point, as its `p_word`). */
function percentileWord(p: number): string {
  return String(p);
}

/**
 * The summary's `ms` block: for TTFT, TPOT, ITL and end-to-end latency (vLLM's `ttft`, `tpot`,
 * `itl`, `e2el`), `mean_X_ms`, `median_X_ms`, `std_X_ms` and `p{p}_X_ms` for each p of
 * `percentiles`, in milliseconds (the seconds figures × 1000; null where the seconds view has no
 * value). Names as vLLM's benchmarks/benchmark_serving.py writes its result JSON.
 */
export function msView(m: RequestMetrics, itl: GapHistogram, percentiles: readonly number[]): Record<string, number | null> {
  const ps = [0.5, ...percentiles.map((p) => p / 100)];
  const out: Record<string, number | null> = {};
  const add = (name: string, r: Quantiles | null) => {
    const ms = (x: number | undefined) => (r === null || x === undefined ? null : x * 1000);
    out[`mean_${name}_ms`] = ms(r?.mean);
    out[`median_${name}_ms`] = ms(r?.q[0]);
    out[`std_${name}_ms`] = ms(r?.std);
    percentiles.forEach((p, k) => (out[`p${percentileWord(p)}_${name}_ms`] = ms(r?.q[k + 1])));
  };
  add('ttft', sampleQuantiles(m.ttft, ps));
  add('tpot', sampleQuantiles(m.tpot, ps));
  add('itl', histogramQuantiles(itl, ps));
  add('e2el', sampleQuantiles(m.e2e, ps));
  return out;
}

/**
 * Builds the run summary (counters summed over replicas; KV utilization relative to the capacity
 * of all replicas, its max the fullest replica's peak).
 * @param kvBlocks one replica's KV capacity in blocks (for utilization); pass Infinity-like sizes for unlimited.
 * @param unlimitedKv whether the KV cache was unlimited (utilization is then null).
 * @param peak one replica's peak FLOP/s and bytes/s (all its GPUs) for `mfu` and `mbu` (null without).
 * @param percentiles the `ms` block's percentiles (default {@link DEFAULT_METRIC_PERCENTILES}).
 */
export function summarize(
  res: SimulationResult,
  m: RequestMetrics,
  opts: { kvBlocks: number; unlimitedKv: boolean; slo: Slo; peak?: ReplicaPeak; percentiles?: readonly number[] },
): Summary {
  const R = res.requests;
  let completed = 0;
  let rejected = 0;
  let outTokens = 0;
  let promptTokens = 0;
  let good = 0;
  let makespan = 0;
  const sloTtft = opts.slo.ttft_s ?? Infinity;
  const sloTpot = opts.slo.tpot_s ?? Infinity;
  const sloE2e = opts.slo.e2e_s ?? Infinity;
  for (let i = 0; i < R.n; i++) {
    if (R.state[i] === FINISHED) {
      completed++;
      outTokens += R.output[i];
      promptTokens += R.prompt[i];
      if (R.completion[i] > makespan) makespan = R.completion[i];
      if (m.ttft[i] <= sloTtft && (m.tpot[i] < 0 || m.tpot[i] <= sloTpot) && m.e2e[i] <= sloE2e) good++;
    } else if (R.state[i] === REJECTED) {
      rejected++;
    }
  }
  const st = res.stats;
  const hasSlo = opts.slo.ttft_s !== undefined || opts.slo.tpot_s !== undefined || opts.slo.e2e_s !== undefined;
  const rate = (x: number) => (makespan > 0 ? x / makespan : 0);
  return {
    requests: { total: R.n, completed, rejected, rejected_too_long: st.rejectedTooLong, rejected_kv: st.rejectedKv, rejected_ancestor: st.rejectedAncestor },
    ttft_s: latencyStats(m.ttft),
    tpot_s: latencyStats(m.tpot),
    itl_s: histogramStats(R.itl),
    e2e_s: latencyStats(m.e2e),
    normalized_latency_s: latencyStats(m.normalized),
    queue_delay_s: latencyStats(m.queueDelay),
    throughput: { requests_per_s: rate(completed), output_tokens_per_s: rate(outTokens), total_tokens_per_s: rate(promptTokens + outTokens) },
    goodput: {
      requests_per_s: rate(hasSlo ? good : completed),
      slo_attainment: completed > 0 ? (hasSlo ? good : completed) / completed : null,
      slo_ttft_s: opts.slo.ttft_s ?? null,
      slo_tpot_s: opts.slo.tpot_s ?? null,
      slo_e2e_s: opts.slo.e2e_s ?? null,
    },
    makespan_s: makespan,
    batch_size_mean: st.iterations > 0 ? st.batchSizeSum / st.iterations : 0,
    kv_utilization: opts.unlimitedKv
      ? { mean: null, max: null }
      : { mean: makespan > 0 ? st.kvBlockSeconds / makespan / (opts.kvBlocks * res.replicas.length) : 0, max: st.kvMaxBlocks / opts.kvBlocks },
    preemptions: st.preemptions,
    swaps: { out: st.swapOuts, in: st.swapIns, bytes: st.swapBytes, recompute_fallbacks: st.swapFallbacks },
    ...(st.prefixAdmissions > 0 ? { prefix_cache: prefixCacheSummary(st) } : {}),
    sim: { wall_s: res.wall_s, events: res.events, iterations: st.iterations },
    ...workUtilization(st, opts.peak),
    ms: msView(m, R.itl, opts.percentiles ?? DEFAULT_METRIC_PERCENTILES),
  };
}

/** The summary's `disaggregation` block of a disaggregated run (undefined for a colocated one). */
export function disaggregationSummary(res: SimulationResult, m: RequestMetrics): DisaggregationSummary | undefined {
  const p = res.pools;
  if (!p) return undefined;
  return {
    prefill_replicas: p.prefill,
    decode_replicas: p.decode,
    transfers: p.transfers,
    bytes_per_link: p.bytes,
    prefill_s: latencyStats(m.prefill),
    kv_wait_s: latencyStats(m.kvWait),
    transfer_s: latencyStats(m.transfer),
  };
}

/** Peak throughput of one replica, all its GPUs together: FLOP/s (dense BF16) and HBM bytes/s. */
export interface ReplicaPeak {
  flops: number;
  bytes: number;
}

/** `mfu` and `mbu` of counters over their busy time (sim/cost/work.ts); null without a peak or busy time. */
function workUtilization(st: EngineStats, peak: ReplicaPeak | undefined): { mfu: number | null; mbu: number | null } {
  if (!peak || st.modelFlops === 0) return { mfu: null, mbu: null };
  return utilization(st.modelFlops, st.hbmBytes, st.busy_s, peak);
}

/**
 * Program-level metrics (Autellix §2: a program's latency runs from its first call's submission to
 * its last call's completion). Waiting time: Σ over its calls of first scheduled − submitted.
 */
export function programMetrics(R: RequestTable, p: TracePrograms, makespan_s: number): NonNullable<Summary['programs']> {
  const start = new Float64Array(p.count).fill(Infinity);
  const end = new Float64Array(p.count);
  const wait = new Float64Array(p.count);
  const tokens = new Float64Array(p.count);
  const done = new Uint8Array(p.count).fill(1);
  for (let i = 0; i < R.n; i++) {
    const g = p.program[i];
    if (R.state[i] !== FINISHED) {
      done[g] = 0;
      continue;
    }
    if (R.arrival[i] < start[g]) start[g] = R.arrival[i];
    if (R.completion[i] > end[g]) end[g] = R.completion[i];
    wait[g] += R.firstScheduled[i] - R.arrival[i];
    tokens[g] += R.output[i];
  }
  const e2e = new Float64Array(p.count).fill(-1);
  const waiting = new Float64Array(p.count).fill(-1);
  const normalized = new Float64Array(p.count).fill(-1);
  let completed = 0;
  for (let g = 0; g < p.count; g++) {
    if (!done[g]) continue;
    completed++;
    e2e[g] = end[g] - start[g];
    normalized[g] = e2e[g] / tokens[g];
    waiting[g] = wait[g];
  }
  return {
    count: p.count,
    completed,
    e2e_s: latencyStats(e2e),
    normalized_latency_s: latencyStats(normalized),
    waiting_s: latencyStats(waiting),
    throughput_per_s: makespan_s > 0 ? completed / makespan_s : 0,
  };
}

/**
 * Per-replica metrics: what was routed to each replica and how it fared.
 * @param opts.kvBlocks one replica's KV capacity in blocks; `unlimitedKv` makes KV utilization null;
 *   `makespan_s` the run's (the summary's), the denominator of rates and fractions; `peak` one
 *   replica's peak FLOP/s and bytes/s for `mfu` and `mbu`.
 */
export function replicaMetrics(
  res: SimulationResult,
  m: RequestMetrics,
  opts: { kvBlocks: number; unlimitedKv: boolean; makespan_s: number; peak?: ReplicaPeak; decodeKvBlocks?: number },
): ReplicaSummary[] {
  const R = res.requests;
  const makespan = opts.makespan_s;
  const P = res.pools ? res.pools.prefill : -1;
  return res.replicas.map((st, r) => {
    // Disaggregated: a prefill replica's requests are those routed to it; a decode replica's, those it adopted.
    const owner = r < P ? R.prefillReplica : R.replica;
    const kvBlocks = r >= P && P >= 0 && opts.decodeKvBlocks !== undefined ? opts.decodeKvBlocks : opts.kvBlocks;
    let requests = 0;
    let completed = 0;
    let rejected = 0;
    let outTokens = 0;
    const ttft = new Float64Array(R.n).fill(-1);
    const e2e = new Float64Array(R.n).fill(-1);
    for (let i = 0; i < R.n; i++) {
      if (owner[i] !== r) continue;
      requests++;
      if (R.state[i] === FINISHED) {
        completed++;
        outTokens += R.output[i];
        ttft[i] = m.ttft[i];
        e2e[i] = m.e2e[i];
      } else if (R.state[i] === REJECTED) rejected++;
    }
    return {
      replica: r,
      ...(P >= 0 ? { pool: r < P ? ('prefill' as const) : ('decode' as const) } : {}),
      requests,
      completed,
      rejected,
      busy_fraction: makespan > 0 ? st.busy_s / makespan : 0,
      iterations: st.iterations,
      batch_size_mean: st.iterations > 0 ? st.batchSizeSum / st.iterations : 0,
      kv_utilization_mean: opts.unlimitedKv ? null : makespan > 0 ? st.kvBlockSeconds / makespan / kvBlocks : 0,
      kv_utilization_max: opts.unlimitedKv ? null : st.kvMaxBlocks / kvBlocks,
      preemptions: st.preemptions,
      output_tokens_per_s: makespan > 0 ? outTokens / makespan : 0,
      ttft_s: latencyStats(ttft),
      e2e_s: latencyStats(e2e),
      prefix_token_hit_rate: st.prefixAdmissions > 0 ? st.prefixHitTokens / st.prefixQueriedTokens : null,
      ...workUtilization(st, opts.peak),
    };
  });
}

/** The summary's `prefix_cache` (docs/output.md): lookups and hits in tokens and admissions, evictions. */
export function prefixCacheSummary(st: EngineStats): PrefixCacheSummary {
  return {
    queried_tokens: st.prefixQueriedTokens,
    hit_tokens: st.prefixHitTokens,
    token_hit_rate: st.prefixQueriedTokens > 0 ? st.prefixHitTokens / st.prefixQueriedTokens : 0,
    admissions: st.prefixAdmissions,
    hit_admissions: st.prefixHitAdmissions,
    request_hit_rate: st.prefixAdmissions > 0 ? st.prefixHitAdmissions / st.prefixAdmissions : 0,
    evictions: st.prefixEvictions,
  };
}

/** Prefix-cache figures of a run (tokens; rates are fractions). */
export interface PrefixCacheSummary {
  /** Prompt tokens looked up at admissions (re-admissions after recompute included). */
  queried_tokens: number;
  /** Of those, tokens found cached (block-aligned). */
  hit_tokens: number;
  token_hit_rate: number;
  admissions: number;
  /** Admissions that found at least one cached block. */
  hit_admissions: number;
  request_hit_rate: number;
  /** Cached blocks evicted to make room. */
  evictions: number;
}

/**
 * The {@link Summary} fields, as dotted paths (`requests.total`), that count things and so are
 * whole numbers: requests by outcome, preemptions, swaps (bytes included), simulator events and
 * iterations, programs, and the prefix cache's tokens, admissions and evictions. Every other
 * numeric field is a measure (seconds, rates, fractions, ms). `sim merge` types Parquet columns by it.
 */
export const SUMMARY_COUNT_FIELDS: readonly string[] = [
  ...['total', 'completed', 'rejected', 'rejected_too_long', 'rejected_kv', 'rejected_ancestor'].map((k) => `requests.${k}`),
  'preemptions',
  ...['out', 'in', 'bytes', 'recompute_fallbacks'].map((k) => `swaps.${k}`),
  'sim.events',
  'sim.iterations',
  'programs.count',
  'programs.completed',
  ...['queried_tokens', 'hit_tokens', 'admissions', 'hit_admissions', 'evictions'].map((k) => `prefix_cache.${k}`),
];
