/**
 * One simulation run end to end: a resolved run (app/config.ts) through the event loop into
 * per-request metrics and the summary, with the predictor's achieved quality. Every caller — the
 * CLI, sweeps, regression, notebooks, benches — goes through here.
 */
import type { ResolvedRun } from './config.ts';
import type { IterationObserver } from '../sim/engine-types.ts';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import { migrationSummary, programMetrics, replicaMetrics, requestMetrics, summarize } from '../sim/metrics.ts';
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
    observer: hooks.observer,
    onProgress: hooks.onProgress,
    migration: run.migration,
  });
  const metrics = requestMetrics(result.requests);
  // One replica's KV capacity: all its virtual engines' with pipeline parallelism.
  const kv = { kvBlocks: run.engine.kvBlocks * (run.pipeline?.stages ?? 1), unlimitedKv: run.unlimitedKv };
  const summary = summarize(result, metrics, { ...kv, slo: run.slo, peak: run.peak, percentiles: run.percentiles });
  const replicas = replicaMetrics(result, metrics, { ...kv, makespan_s: summary.makespan_s, peak: run.peak });
  if (replicas.length > 1) summary.replicas = replicas;
  if (result.migration) summary.migration = migrationSummary(result.migration);
  if (run.trace.programs) summary.programs = programMetrics(result.requests, run.trace.programs, summary.makespan_s);
  if (run.predictor) summary.predictor = { name: run.predictor.name, ...run.predictor.quality() };
  Object.assign(summary, runCost(run.gpus, summary.makespan_s, run.gpuPrice, completedTokens(result.requests)));
  if (run.trace.idle_removed_s !== undefined) summary.idle_removed_s = run.trace.idle_removed_s;
  return { result, metrics, summary, replicas };
}
