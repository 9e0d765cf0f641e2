/**
 * llmsched as a library: `import { run, readTrace, POLICIES } from 'llmsched'` (package.json
 * `exports` points here; docs/api.md). The surface a researcher needs, and no more:
 *
 * - {@link run}: options as `sim run` takes them (flag names, `config.json`'s keys) → the summary
 *   (the `--json` object), per-request metrics and rows (requests.csv's columns), per-replica rows.
 *   It is the CLI's own path (app/config.ts `prepareOptions` → `resolveRun`/`buildRun` →
 *   app/run.ts `runResolved`), so the same options give the same numbers as `sim`.
 * - the pieces of that path, for a loop over many runs: trace readers and transforms, the option
 *   checks, {@link buildRun}, {@link runResolved}, and the core event loop {@link simulate};
 * - the registries (policies, predictors, routers, models, GPUs) and plugin loading
 *   (docs/plugins.md);
 * - the types of all of these.
 *
 * Everything here is re-exported from the module that defines it; nothing is implemented twice.
 */
import type { Trace } from '../sim/trace.ts';
import { prepareOptions, buildRun, resolveRun } from './config.ts';
import type { ResolvedRun, RunOptions } from './config.ts';
import { runResolved } from './run.ts';
import type { RunOutput } from './run.ts';
import { REQUEST_COLUMNS, requestValues } from './report.ts';

// The run path: options → checked options → a resolved run → its output.
export { DEFAULTS, RUN_KEYS, normalizeOptions, prepareOptions, readRunConfig, loadTrace, resolveRun, buildRun } from './config.ts';
export type { RunOptions, ResolvedRun } from './config.ts';
export type { RunOutput } from './run.ts';
export { REQUEST_COLUMNS, requestValues, formatSummary } from './report.ts';
export { runResolved, runWarnings } from './run.ts';

// Traces: read any supported format (detected), transform, generate.
export { readTrace, transformTrace, syntheticTrace, TRACE_FORMATS } from '../traces/index.ts';
export type { ReadOptions, TraceTransform } from '../traces/index.ts';
export type { Trace, TraceFormat, TracePrograms } from '../sim/trace.ts';

// The core: the event loop and what it returns.
export { simulate } from '../sim/simulator.ts';
export type { SimulationInput, SimulationResult } from '../sim/simulator.ts';
export { RequestTable } from '../sim/requests.ts';
export type { Summary, ReplicaSummary, RequestMetrics, LatencyStats } from '../sim/metrics.ts';
export type { EngineConfig, IterationRecord, IterationObserver } from '../sim/engine-types.ts';

// Registries and plugins.
export { POLICIES, getPolicy } from '../policies/index.ts';
export { PREDICTORS, getPredictor } from '../policies/predictors/index.ts';
export { ROUTERS, getRouter, DEFAULT_ROUTER } from '../policies/routers.ts';
export { MODELS, GPUS, getModel, getGpu } from '../sim/cost/index.ts';
export type { ModelSpec, GpuSpec, CostModel } from '../sim/cost/index.ts';
export { isPluginSpec, loadPlugin, loadPlugins, policyEntry, predictorEntry, routerEntry } from './plugins.ts';
export type { PluginKind, PluginEntries } from './plugins.ts';
export { ADMIT, deadlineBefore } from '../sim/policy.ts';
export type { Policy, PolicyEntry, PolicyContext, Batching, AdmitBatching, RankBatching, Displacement } from '../sim/policy.ts';
export type { Predictor, PredictorEntry, PredictorQuality, PredictionCost } from '../sim/predictor.ts';
export type { RouterEntry } from '../policies/routers.ts';
export type { Router, RouterContext, ReplicaLoad } from '../sim/router.ts';

// Errors: bad input is an InputError (file, line, field), never a crash.
export { InputError } from '../sim/errors.ts';

/** Columns of a {@link RequestRow} that every request has (the others are null where requests.csv leaves them empty). */
type AlwaysSet = 'id' | 'arrival_s' | 'prompt_tokens' | 'output_tokens' | 'preemptions';

/**
 * One request's row: requests.csv's columns ({@link REQUEST_COLUMNS}) as keys; times in seconds,
 * tokens integers; `status` 'completed', 'rejected' or 'unfinished'; null where a value does not
 * exist (a rejected request's latencies, the TPOT of a one-token output, no replica).
 */
export type RequestRow = { [K in (typeof REQUEST_COLUMNS)[number]]: K extends 'status' ? 'completed' | 'rejected' | 'unfinished' : K extends AlwaysSet ? number : number | null };

/** What {@link run} returns: {@link RunOutput} plus the checked options and the resolved run. */
export interface RunResult extends RunOutput {
  /** The options after defaults and checks, paths absolute: what `config.json` holds. */
  options: RunOptions;
  /** The resolved run (trace, policy instances, cost model, engine settings). */
  run: ResolvedRun;
  /** One row per request, in id order, as requests.csv writes them (built on each call). */
  rows(): RequestRow[];
}

/**
 * Runs one simulation as `sim run` does, from its options by flag name (`{ policy: 'fcfs', trace:
 * 'traces/azure-conv-2000.csv', 'rate-scale': 0.7 }`; numbers may be given as numbers). Plugin
 * files named in `policy`, `predictor` or `router` are loaded first (relative to the working
 * directory).
 * @param options run options; either `trace` (a file) or `synthetic`, unless `input.trace` is given
 * @param input optional: a trace already in memory (`options.trace` is then only its label, default
 *   its `source`; trace transforms in `options` are not applied to it), and `log` for warnings
 *   (default: none are printed; they are also in `run.trace.warnings` and {@link runWarnings})
 * @returns the summary (the `--json` object), request metrics (typed arrays by request id), replica
 *   rows, the raw result, the checked options, and `rows()`.
 * @throws InputError for bad options, a bad trace or plugin file, an impossible configuration.
 */
export async function run(options: Partial<RunOptions>, input: { trace?: Trace; log?: (message: string) => void } = {}): Promise<RunResult> {
  const log = input.log ?? (() => {});
  const given = input.trace ? { ...options, trace: options.trace ?? input.trace.source } : options;
  const checked = await prepareOptions(given);
  const resolved = input.trace ? buildRun(checked, input.trace, log) : await resolveRun(checked, log);
  const out = runResolved(resolved);
  const rows = (): RequestRow[] => {
    const R = out.result.requests;
    const list: RequestRow[] = [];
    for (let i = 0; i < R.n; i++) {
      const v = requestValues(R, out.metrics, i);
      list.push(Object.fromEntries(REQUEST_COLUMNS.map((c, j) => [c, v[j]])) as RequestRow);
    }
    return list;
  };
  return { ...out, options: checked, run: resolved, rows };
}
