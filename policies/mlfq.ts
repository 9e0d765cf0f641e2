/**
 * MLFQ: FastServe-style multi-level feedback queue, as the learning-to-rank authors run it as a
 * baseline (hao-ai-lab/vllm-ltr `vllm/core/mlfq_scheduler.py`; docs/spec.md §4
 * "Baselines"; FastServe: Wu et al., arXiv 2305.05920).
 */
import type { Policy, PolicyContext, PolicyEntry, Displacement, RankBatching } from '../sim/policy.ts';
import { deadlineBefore } from '../sim/policy.ts';
import type { RequestTable } from '../sim/requests.ts';
import { FINISHED } from '../sim/requests.ts';
import { IndexedHeap } from '../sim/indexed-heap.ts';
import { OptionReader, DISPLACEMENTS, ON_OFF } from './options.ts';

/** MLFQ's settings (the fork's `mlfq-quant0.03-thres2[-starv3.0-starp100]`). */
export interface MlfqOptions {
  /** Base quantum, seconds of processing time at level 0 (default 0.03). */
  quantum_s: number;
  /** Quantum growth per level: level l's quantum is quantum · thres^l (default 2). */
  thres: number;
  /** Number of levels; the last never demotes (default Infinity: levels are added as needed, as the fork does). */
  levels: number;
  /** Starvation prevention on or off (default off). */
  starvationControl: boolean;
  /** Promote a request not run for this many seconds (default 3). */
  starvation_s: number;
  /** Check for starving requests every this many iterations (default 100). */
  starvationPeriod: number;
  /** Fate of a displaced running request (default `pause`; the fork swaps under memory pressure only). */
  displacement: Displacement;
}

/** The fork's defaults (quant0.03 as in its LMSYS runs). */
export const MLFQ_DEFAULTS: MlfqOptions = {
  quantum_s: 0.03,
  thres: 2,
  levels: Infinity,
  starvationControl: false,
  starvation_s: 3,
  starvationPeriod: 100,
  displacement: 'pause',
};

/** Key stride between levels; the within-level part (an iteration count) stays below it. */
const LEVEL_STRIDE = 2 ** 36;

/**
 * MLFQ in the engine's rank mode. Every request enters level 0. Its *processing time* is the sum of
 * the durations (seconds, start to end) of the iterations it was scheduled in — the fork's
 * `process_time += now − lst_process_time` after each step; when it exceeds quantum · thres^level
 * the request moves down one level and its processing time restarts at 0. Within a level the
 * fork pushes every request that just ran (or was demoted or promoted into the level) to the
 * front, and new arrivals to the back: the key is level · 2^36 − (iteration it was last pushed to
 * the front), new arrivals 0 within their level, ties in arrival order. The batch is the prefix of
 * all requests in key order; displaced running requests are paused (default) or preempted.
 *
 * Starvation prevention (`starvation-control=on`): every `starvation-period` iterations, every
 * request that has not run for `starvation` seconds (since the end of the last iteration it ran
 * in, or its arrival) is moved to the front of level 0; its processing time is kept (as the fork
 * does). Found through a heap by last-run time (stale entries fixed when popped): O(log n) per
 * promotion, never a scan.
 *
 * Skip-ahead: demotion depends on processing time, so the engine bundles decode iterations only
 * until the first batch member not on the last level could exceed its quantum (`stableUntil`),
 * and, with starvation prevention, up to the next starvation check (`stableIterations`). Re-keying
 * every batch member to the front of its level after each iteration keeps the batch's order once
 * every member ran in the previous iteration (the bundle then schedules them in the order stepping
 * would); a batch with a member that did not is stepped once. Per iteration the work is
 * O(batch · log n).
 */
export class Mlfq implements Policy {
  readonly name = 'MLFQ';
  readonly batching: RankBatching;
  private readonly o: MlfqOptions;
  private ctx!: PolicyContext;
  private R!: RequestTable;
  private it = 0;
  private start = 0;
  private level!: Int32Array;
  private proc!: Float64Array;
  private lastPush!: Float64Array;
  /** End time of the last iteration each request ran in (its arrival before it ran). */
  private lastRun!: Float64Array;
  /** `lastRun` as of the request's entry in `idleHeap`. */
  private seen!: Float64Array;
  private idleHeap!: IndexedHeap;
  /** Live requests not on the last level (they may still be demoted). */
  private demotable = 0;
  private readonly promoted: number[] = [];
  /** Quantum of each level reached so far (quantum · thres^level, s), filled on demand. */
  private quanta: number[] = [];

  /** @param options quanta, levels, starvation prevention, displacement (defaults: MLFQ_DEFAULTS). */
  constructor(options: Partial<MlfqOptions> = {}) {
    this.o = { ...MLFQ_DEFAULTS, ...options };
    this.batching = { mode: 'rank', displacement: this.o.displacement, stallFree: false };
  }

  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
    const R = (this.R = ctx.requests);
    this.level = new Int32Array(R.n);
    this.proc = new Float64Array(R.n);
    this.lastPush = new Float64Array(R.n);
    this.lastRun = new Float64Array(R.n);
    this.seen = new Float64Array(R.n);
    this.idleHeap = new IndexedHeap(R.n, this.seen, R.tie);
  }

  /** Current level of request `id` (0 = top). */
  levelOf(id: number): number {
    return this.level[id];
  }

  /** Processing time of request `id` on its current level, seconds. */
  processTime_s(id: number): number {
    return this.proc[id];
  }

  /** Processing time allowed on level `l` (s): quantum · thres^l. */
  private quantum(l: number): number {
    const q = this.quanta;
    while (q.length <= l) q.push(this.o.quantum_s * this.o.thres ** q.length);
    return q[l];
  }

  private keyOf(id: number): number {
    return this.level[id] * LEVEL_STRIDE - this.lastPush[id];
  }

  priority(id: number, now: number): number {
    this.level[id] = 0;
    if (this.o.levels > 1) this.demotable++;
    this.lastRun[id] = now;
    if (this.o.starvationControl) {
      this.seen[id] = now;
      this.idleHeap.push(id);
    }
    return this.keyOf(id);
  }

  beforeSchedule(now: number): void {
    this.start = now;
  }

  onIterationEnd(batch: Int32Array, count: number, steps: number, now: number): void {
    const R = this.R;
    const before = this.it;
    this.it += steps;
    const dt = now - this.start;
    const bottom = this.o.levels - 1;
    for (let i = 0; i < count; i++) {
      const id = batch[i];
      if (R.state[id] === FINISHED) continue;
      this.lastRun[id] = now;
      this.proc[id] += dt;
      const l = this.level[id];
      if (l < bottom && this.proc[id] > this.quantum(l)) {
        this.level[id] = l + 1;
        this.proc[id] = 0;
        if (l + 1 === bottom) this.demotable--;
      }
      this.lastPush[id] = this.it;
      this.ctx.setPriority(id, this.keyOf(id));
    }
    const p = this.o.starvationPeriod;
    if (this.o.starvationControl && Math.floor(this.it / p) !== Math.floor(before / p)) this.preventStarvation(now);
  }

  /** Moves every request idle for `starvation` seconds to the front of level 0. */
  private preventStarvation(now: number): void {
    const R = this.R;
    const heap = this.idleHeap;
    const bound = now - this.o.starvation_s;
    while (heap.size > 0 && this.seen[heap.peek()] <= bound) {
      const id = heap.pop();
      if (this.lastRun[id] > this.seen[id]) {
        // Ran since the entry was made.
        this.seen[id] = this.lastRun[id];
        heap.push(id);
        continue;
      }
      this.promoted.push(id);
      if (this.level[id] === this.o.levels - 1 && this.o.levels > 1) this.demotable++;
      this.level[id] = 0;
      this.lastPush[id] = this.it;
      this.ctx.setPriority(id, this.keyOf(id));
    }
    for (const id of this.promoted) if (R.state[id] !== FINISHED) heap.push(id);
    this.promoted.length = 0;
  }

  onComplete(id: number): void {
    if (this.level[id] < this.o.levels - 1) this.demotable--;
    if (this.o.starvationControl) this.idleHeap.remove(id);
  }

  stableUntil(now: number, batch: Int32Array, count: number): number {
    const bottom = this.o.levels - 1;
    let until = Infinity;
    for (let i = 0; i < count; i++) {
      const id = batch[i];
      if (this.lastPush[id] !== this.it) return now;
      const l = this.level[id];
      if (l < bottom) until = Math.min(until, now + (this.quantum(l) - this.proc[id]));
    }
    return until === Infinity ? Infinity : deadlineBefore(until);
  }

  stableIterations(): number {
    if (!this.o.starvationControl) return Infinity;
    const p = this.o.starvationPeriod;
    return (Math.floor(this.it / p) + 1) * p - this.it;
  }
}

/** Registry entry for MLFQ. */
export const mlfq: PolicyEntry = {
  name: 'mlfq',
  description: 'FastServe-style MLFQ: enter level 0, demote when processing time > quantum x thres^level; optional starvation promotion',
  source: 'FastServe (Wu et al., arXiv 2305.05920) as the vllm-ltr fork runs it (mlfq_scheduler.py); docs/spec.md §4 baselines',
  predictor: 'none',
  create(opts) {
    const o = new OptionReader('--policy-opt', 'mlfq', opts, ['quantum', 'thres', 'levels', 'starvation-control', 'starvation', 'starvation-period', 'displacement']);
    const options: MlfqOptions = {
      quantum_s: o.number('quantum', MLFQ_DEFAULTS.quantum_s, { min: 0, minExclusive: true }),
      thres: o.number('thres', MLFQ_DEFAULTS.thres, { min: 1 }),
      levels: o.number('levels', MLFQ_DEFAULTS.levels, { min: 1, integer: true, allowInfinity: true }),
      starvationControl: o.choice('starvation-control', 'off', ON_OFF) === 'on',
      starvation_s: o.number('starvation', MLFQ_DEFAULTS.starvation_s, { min: 0 }),
      starvationPeriod: o.number('starvation-period', MLFQ_DEFAULTS.starvationPeriod, { min: 1, integer: true }),
      displacement: o.choice('displacement', 'pause', DISPLACEMENTS),
    };
    return new Mlfq(options);
  },
};
