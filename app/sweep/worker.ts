/**
 * The piscina worker of `sim sweep`: runs one task (normalized RunOptions) to its Summary, exactly
 * as `sim run` would (trace read and transformed, policy and predictor built fresh, simulated,
 * summarized). Raw traces are cached per worker thread, so a sweep reads each trace file once per
 * thread. Errors come back as data (piscina does not keep error classes across threads).
 *
 * Runs from compiled JS (dist/app/sweep/worker.js): see {@link workerFile} in sweep.ts.
 */
import { readTrace, transformTrace } from '../../traces/index.ts';
import type { ReadOptions } from '../../traces/index.ts';
import type { Trace } from '../../sim/trace.ts';
import { buildRun, loadTrace, resampled } from '../config.ts';
import type { RunOptions } from '../config.ts';
import type { Summary } from '../../sim/metrics.ts';
import { InputError } from '../../sim/errors.ts';
import { runResolved } from '../run.ts';
import { loadPlugins } from '../plugins.ts';

/** What the pool sends a worker: one task's normalized options (absolute paths). */
export interface WorkerInput {
  options: RunOptions;
}

/** What a worker sends back: the summary and warnings, or the error that stopped the task. */
export type WorkerOutput =
  | { ok: true; summary: Summary; warnings: string[]; seconds: number }
  | { ok: false; message: string; inputError: boolean };

const traces = new Map<string, Promise<Trace>>();

/** Reads a trace file once per thread, then transforms it (and with `resample`, resamples it) as `sim run` does; synthetic workloads are generated each time (they depend on the seed). */
async function traceOf(o: RunOptions): Promise<Trace> {
  if (o.synthetic || !o.trace) return loadTrace(o);
  const key = `${o.format ?? ''}\u0000${o.trace}`;
  let t = traces.get(key);
  if (!t) {
    t = readTrace(o.trace, { format: o.format as ReadOptions['format'] });
    traces.set(key, t);
    t.catch(() => traces.delete(key));
  }
  const raw = await t;
  const x = { start_s: o.start, duration_s: o.duration, limit: o.limit, rate_scale: o['rate-scale'], rate: o.rate, max_gap_s: o['compress-idle'] };
  return resampled(o, Object.values(x).some((v) => v !== undefined) ? transformTrace(raw, x) : raw);
}

/**
 * Runs one task in this thread.
 * @returns the run's Summary (with the predictor's quality when the policy used one) and its
 *   warnings and the seconds it took in this thread; or `{ok: false}` with the error message (`inputError` for an InputError).
 */
export async function runTask(input: WorkerInput): Promise<WorkerOutput> {
  const t0 = performance.now();
  try {
    const o = input.options;
    const warnings: string[] = [];
    await loadPlugins(o); // absolute paths: loaded once per thread
    const trace = await traceOf(o);
    warnings.push(...trace.warnings);
    const run = buildRun(o, trace, (m) => warnings.push(m));
    const { summary } = runResolved(run);
    return { ok: true, summary, warnings, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e), inputError: e instanceof InputError };
  }
}

export default runTask;
