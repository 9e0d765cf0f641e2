/**
 * One simulation run end to end: a resolved run (app/config.ts) through the event loop into
 * per-request metrics and the summary, with the predictor's achieved quality. Every caller — the
 * CLI, sweeps, regression, notebooks, benches — goes through here.
 */
import type { ResolvedRun } from './config.ts';
import type { IterationObserver } from '../sim/engine-types.ts';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import { autoscaleSummary, disaggregationSummary, migrationSummary, prioritySummary, programMetrics, replicaMetrics, requestMetrics, summarize } from '../sim/metrics.ts';
import type { ReplicaSummary, RequestMetrics, Summary } from '../sim/metrics.ts';
import { FINISHED } from '../sim/requests.ts';
import type { RequestTable } from '../sim/requests.ts';
import { runCost } from '../sim/cost/index.ts';

/** What a run produces: the raw result, per-request metrics and the summary. */
export interface RunOutput {
  result: SimulationResult;
  metrics: RequestMetrics;
  summary: Summary;
  /** Per-replica metrics (one row with one replica; in `summary.replicas` only with several). */
  replicas: ReplicaSummary[];
}

/** Output tokens and prompt + output tokens of the completed requests (integers). */
function completedTokens(R: RequestTable): { output: number; total: number } {
  let output = 0;
  let total = 0;
  for (let i = 0; i < R.n; i++) {
    if (R.state[i] !== FINISHED) continue;
    output += R.output[i];
    total += R.prompt[i] + R.output[i];
  }
  return { output, total };
}

/**
 * Simulates `run` and summarizes it (the `programs` block filled when the trace has multi-call
 * programs, the `replicas` block with several replicas, the `predictor` block when the policy used
 * a predictor), with its GPU-hours and cost (sim/cost/price.ts) and, after `--compress-idle`, the
 * idle time removed from the trace.
 * @param hooks optional per-iteration observer and progress callback (fraction of arrivals, 0..1).
 * @throws Error for an engine invariant violation (a bug, not an input error).
 */
export function runResolved(run: ResolvedRun, hooks: { observer?: IterationObserver; onProgress?: (fraction: number) => void } = {}): RunOutput {
  const result = simulate({
    trace: run.trace,
    policy: run.policies,
    router: run.router,
    cost: run.cost,
    pipeline: run.pipeline,
    engine: run.engine,
    disaggregation: run.disaggregation,
    observer: hooks.observer,
    onProgress: hooks.onProgress,
    migration: run.migration,
    autoscale: run.autoscale,
    priority: run.priority,
  });
  const metrics = requestMetrics(result.requests);
  // One replica's KV capacity: all its virtual engines' with pipeline parallelism.
  const kv = { kvBlocks: run.engine.kvBlocks * (run.pipeline?.stages ?? 1), unlimitedKv: run.unlimitedKv };
  const dis = run.disaggregation;
  // Disaggregated: utilization over the two pools' capacity together (the mean replica's).
  const all = dis ? { ...kv, kvBlocks: (dis.prefill * kv.kvBlocks + dis.decode * dis.decodeEngine.kvBlocks) / (dis.prefill + dis.decode) } : kv;
  const summary = summarize(result, metrics, { ...all, slo: run.slo, peak: run.peak, percentiles: run.percentiles });
  const replicas = replicaMetrics(result, metrics, { ...kv, makespan_s: summary.makespan_s, peak: run.peak, decodeKvBlocks: dis?.decodeEngine.kvBlocks });
  if (replicas.length > 1) summary.replicas = replicas;
  if (dis) {
    // The fullest replica's peak, each against its own capacity.
    if (!run.unlimitedKv) summary.kv_utilization.max = Math.max(...replicas.map((r) => r.kv_utilization_max!));
    summary.disaggregation = disaggregationSummary(result, metrics);
  }
  if (result.migration) summary.migration = migrationSummary(result.migration);
  if (result.requests.prioritized) summary.priority = prioritySummary(result.requests, metrics);
  if (result.autoscale) summary.autoscale = autoscaleSummary(result.autoscale, summary.makespan_s);
  if (run.trace.programs) summary.programs = programMetrics(result.requests, run.trace.programs, summary.makespan_s);
  if (run.predictor) summary.predictor = { name: run.predictor.name, ...run.predictor.quality() };
  // Auto-scaled: GPUs are held only while their instance is up (GPUs per instance x instance-seconds).
  const held = run.autoscale ? { gpus: run.gpus / run.autoscale.max, s: result.autoscale!.instance_s } : { gpus: run.gpus, s: summary.makespan_s };
  Object.assign(summary, runCost(held.gpus, held.s, run.gpuPrice, completedTokens(result.requests)));
  if (run.trace.idle_removed_s !== undefined) summary.idle_removed_s = run.trace.idle_removed_s;
  summary.sim.random_draws = run.randomDraws();
  return { result, metrics, summary, replicas };
}

/**
 * The run's warnings about its summary, one line each (without the `sim: warning: ` prefix), at
 * most one per kind: requests rejected for length (`--max-model-len`), requests rejected because
 * they never fit the KV cache (saying so when every request was rejected, since the latency
 * figures are then empty), and swap-outs that fell back to recompute because the swap space was
 * full (`--swap-space`).
 */
export function runWarnings(summary: Summary, run: Pick<ResolvedRun, 'engine' | 'kvTokens' | 'unlimitedKv'>): string[] {
  const out: string[] = [];
  const { total, rejected, rejected_too_long: tooLong, rejected_kv: kv, rejected_ancestor: ancestor } = summary.requests;
  const line = (n: number, why: string) =>
    n === total ? `every request (${n}) was rejected: ${why}; the latency figures are empty` : `${n} of ${total} requests rejected: ${why}`;
  if (tooLong > 0) out.push(line(tooLong, `prompt + output exceeds --max-model-len ${run.engine.maxModelLen} tokens`));
  if (kv > 0) out.push(line(kv, `they can never fit the KV cache of ${run.unlimitedKv ? 'unlimited' : run.kvTokens} tokens (prompt + output)`));
  if (ancestor > 0) out.push(line(ancestor, 'a call they depend on was rejected'));
  if (rejected === total && tooLong < total && kv < total && ancestor < total) out.push(`every request (${total}) was rejected: the latency figures are empty`);
  const fallbacks = summary.swaps.recompute_fallbacks;
  if (fallbacks > 0) {
    out.push(
      `${fallbacks} swap-out${fallbacks === 1 ? '' : 's'} fell back to recompute because the swap space of ${run.engine.swapBlocks * run.engine.blockSize} tokens was full: raise --swap-space`,
    );
  }
  return out;
}
