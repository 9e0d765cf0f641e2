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
/** A dependent call of a program is submitted (its last parent finished `delay_s` ago). */
const RELEASE = 2;
/** The idle engine forms a batch (after every same-time release has been queued). */
const WAKE = 3;

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
  const deps = trace.programs ? programDependencies(trace) : undefined;
  // Submissions from the trace: every request, or the roots of programs, in arrival order.
  const order = deps ? deps.roots : undefined;
  const nOrder = order ? order.length : n;
  const at = (k: number) => (order ? order[k] : k);
  if (deps) {
    engine.onComplete = (id, now) => {
      for (let c = deps.childStart[id]; c < deps.childStart[id + 1]; c++) {
        const child = deps.children[c];
        if (--deps.pending[child] === 0) q.push(now + trace.programs!.delay_s[child], RELEASE, child);
      }
    };
  }
  const submit = (id: number, now: number) => {
    requests.arrival[id] = now;
    if (!engine.arrive(id, now) && deps) rejectDescendants(id, deps, engine);
  };
  const progressEvery = Math.max(1, Math.floor(nOrder / 200));
  let next = 0;
  if (nOrder > 0) q.push(arrival[at(0)], ARRIVAL, 0);
  let events = 0;
  let last = -Infinity;
  while (q.pop()) {
    const now = q.poppedTime;
    if (now < last) throw new Error(`time went back: ${now} < ${last}`);
    last = now;
    events++;
    const kind = q.poppedKind;
    if (kind === ARRIVAL) {
      // Every request arriving at this instant joins before the engine next forms a batch.
      while (next < nOrder && arrival[at(next)] <= now) {
        submit(at(next), now);
        next++;
        if (input.onProgress && next % progressEvery === 0) input.onProgress(next / nOrder);
      }
      if (next < nOrder) q.push(arrival[at(next)], ARRIVAL, next);
      if (engine.busy) continue;
    } else if (kind === RELEASE) {
      submit(q.poppedId, now);
      // Wake after every release due at this instant (they were queued before this wake).
      if (!engine.busy) q.push(now, WAKE, 0);
      continue;
    } else if (kind === WAKE) {
      if (engine.busy) continue;
    } else {
      engine.finish(now);
      // Events due at this same instant (a call released with no delay, an arrival) join the
      // next batch: form it after them.
      if (q.peekTime() === now) {
        q.push(now, WAKE, 0);
        continue;
      }
    }
    const end = engine.start(now, q.peekTime());
    if (end >= 0) q.push(end, ITERATION_END, 0);
  }
  if (engine.hasWork()) throw new Error('simulation ended with requests still queued');
  input.onProgress?.(1);
  return { requests, stats: engine.stats, end_s: last === -Infinity ? 0 : last, events, wall_s: (performance.now() - t0) / 1000 };
}

/** Dependency bookkeeping of a program trace. */
interface Dependencies {
  /** Root calls (no parents), in arrival order (stable). */
  roots: Int32Array;
  /** Children of call i: children[childStart[i] .. childStart[i+1]). */
  childStart: Int32Array;
  children: Int32Array;
  /** Parents not yet finished, per call. */
  pending: Int32Array;
}

/** Builds children lists, pending-parent counts and the arrival-ordered roots of a program trace. */
function programDependencies(trace: Trace): Dependencies {
  const p = trace.programs!;
  const n = trace.n;
  const pending = new Int32Array(n);
  const childStart = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    pending[i] = p.parentStart[i + 1] - p.parentStart[i];
    for (let k = p.parentStart[i]; k < p.parentStart[i + 1]; k++) childStart[p.parents[k] + 1]++;
  }
  for (let i = 0; i < n; i++) childStart[i + 1] += childStart[i];
  const fill = childStart.slice(0, n);
  const children = new Int32Array(p.parents.length);
  for (let i = 0; i < n; i++) for (let k = p.parentStart[i]; k < p.parentStart[i + 1]; k++) children[fill[p.parents[k]]++] = i;
  const rootList: number[] = [];
  for (let i = 0; i < n; i++) if (pending[i] === 0) rootList.push(i);
  rootList.sort((a, b) => trace.arrival_s[a] - trace.arrival_s[b] || a - b);
  return { roots: Int32Array.from(rootList), childStart, children, pending };
}

/** A rejected call's descendants can never be submitted: reject them too (each counted once). */
function rejectDescendants(id: number, d: Dependencies, engine: Engine): void {
  const stack = [id];
  while (stack.length > 0) {
    const c = stack.pop()!;
    for (let k = d.childStart[c]; k < d.childStart[c + 1]; k++) {
      const child = d.children[k];
      if (d.pending[child] >= 0) {
        d.pending[child] = -1;
        engine.reject(child);
        stack.push(child);
      }
    }
  }
}
