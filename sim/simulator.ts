/**
 * The discrete-event loop: arrivals from a trace, iteration ends from the engine, on one clock.
 * The core knows only time and events (SimPy's shape); the engine, the policy and the metrics sit
 * on it.
 */
import type { Trace } from '../traces/trace.ts';
import type { Policy } from '../policies/policy.ts';
import type { CostModel } from './cost/cost-model.ts';
import { EventQueue } from './event-queue.ts';
import { Engine } from './engine.ts';
import type { EngineConfig, EngineStats, IterationObserver } from './engine.ts';
import { RequestTable } from './requests.ts';

/** Event kinds. */
const ARRIVAL = 0;
const ITERATION_END = 1;

/** Everything one run needs. */
export interface SimulationInput {
  trace: Trace;
  policy: Policy;
  cost: CostModel;
  engine: EngineConfig;
  /** Called after each iteration is formed (tests, time series). */
  observer?: IterationObserver;
  /** Called now and then with the fraction of requests that have arrived (0..1), for a progress bar. */
  onProgress?: (fraction: number) => void;
}

/** What a run produces. Per-request times live in `requests`. */
export interface SimulationResult {
  requests: RequestTable;
  stats: EngineStats;
  /** Simulated time of the last event (s): the last completion, or the last arrival. */
  end_s: number;
  /** Events processed by the loop. */
  events: number;
  /** Wall-clock time of the loop (s). */
  wall_s: number;
}

/**
 * Runs one trace through one replica until every request has completed or been rejected.
 * @throws Error if simulated time would go back, or the engine stalls (both are bugs, not input errors).
 */
export function simulate(input: SimulationInput): SimulationResult {
  const t0 = performance.now();
  const { trace } = input;
  const requests = new RequestTable(trace);
  const engine = new Engine(input.engine, requests, input.policy, input.cost, input.observer);
  const q = new EventQueue();
  const n = trace.n;
  const arrival = trace.arrival_s;
  const progressEvery = Math.max(1, Math.floor(n / 200));
  let next = 0;
  if (n > 0) q.push(arrival[0], ARRIVAL, 0);
  let events = 0;
  let last = -Infinity;
  while (q.pop()) {
    const now = q.poppedTime;
    if (now < last) throw new Error(`time went back: ${now} < ${last}`);
    last = now;
    events++;
    if (q.poppedKind === ARRIVAL) {
      // Every request arriving at this instant joins before the engine next forms a batch.
      while (next < n && arrival[next] <= now) {
        engine.arrive(next, now);
        next++;
        if (input.onProgress && next % progressEvery === 0) input.onProgress(next / n);
      }
      if (next < n) q.push(arrival[next], ARRIVAL, next);
      if (engine.busy) continue;
    } else {
      engine.finish(now);
    }
    const end = engine.start(now, q.peekTime());
    if (end >= 0) q.push(end, ITERATION_END, 0);
  }
  if (engine.hasWork()) throw new Error('simulation ended with requests still queued');
  input.onProgress?.(1);
  return { requests, stats: engine.stats, end_s: last === -Infinity ? 0 : last, events, wall_s: (performance.now() - t0) / 1000 };
}
