/**
 * Auto-scaling of a cluster's instances on their average freeness (Llumnix: Sun et al., OSDI'24,
 * arXiv 2406.03243 §4.4; docs/spec.md §9), as the AlibabaPAI/llumnix code states it at commit
 * e4048ac8 (`llumnix/global_scheduler/scaling_scheduler.py`, defaults `llumnix/config/default.py`):
 * every `SCALING_INTERVAL` (10 s) the global scheduler reads the serving instances' loads.
 *
 * - Scale up (`AvgLoad.compute_load_metric_up`): the freeness of the instances taken together,
 *   (Σ free − Σ watermark − Σ blocks of all waiting requests) / Σ (running + waiting) requests
 *   (`DispatchAndScalingLoadComputation`, `remaining_steps`), is below `SCALE_UP_THRESHOLD` (10).
 *   The code then adds empty instances (infinite free blocks) until the average passes the
 *   threshold: one, since a single empty instance makes it infinite.
 * - Scale down (`AvgLoad.compute_load_metric_down`): the same average with the last instance taken
 *   away (its blocks no longer counted; what it uses stays in use) is above
 *   `SCALE_DOWN_THRESHOLD` (60); infinite (so scale down) with no request. One instance drains.
 *
 * The code negates both thresholds because it compares loads (minus the freeness:
 * `internal_config.py`); here freeness is compared directly. At e4048ac8 nothing calls
 * `check_scale` yet (the manager keeps `scaling_up`/`scaling_down` flags only), so what happens
 * around a decision follows the paper (§4.4): a draining instance takes no new request and gets
 * a fake request of infinite usage, so migration moves its requests out; it leaves once empty.
 * Choices where neither says: one scale-up and one drain in flight at a time (a check does not
 * scale up while an instance starts, nor drain while one drains); a scale-up while an instance
 * drains takes that instance back at once (it is still up); a new instance serves after a start-up
 * delay (loading the weights). Units: seconds, blocks.
 */

/** What the scaler reads of one instance (an Engine provides it). */
export interface ScalingView {
  /** Free GPU KV blocks. */
  readonly freeBlocks: number;
  /** Blocks admission leaves free (the watermark). */
  readonly watermarkBlocks: number;
  /** GPU KV capacity, blocks. */
  readonly totalBlocks: number;
  /** Requests holding GPU KV and schedulable here. */
  readonly runningCount: number;
  /** Requests waiting for admission. */
  readonly waitingCount: number;
  /** Σ KV blocks of every waiting request's sequence so far. */
  readonly waitingBlocks: number;
}

/** Auto-scaling settings (Llumnix's defaults in brackets). */
export interface ScalingConfig {
  /** Fewest serving instances [1: `MIN_INSTANCES`]. */
  min: number;
  /** Most instances up (serving, starting or draining) [`MAX_INSTANCES`; here `--replicas`]. */
  max: number;
  /** Instances serving at time 0 (min ≤ initial ≤ max). */
  initial: number;
  /** Seconds between checks [10: `SCALING_INTERVAL`]; checks fall at whole multiples of it. */
  interval_s: number;
  /** Scale up when the average freeness is below this [10: `SCALE_UP_THRESHOLD`]. */
  upThreshold: number;
  /** Drain one when the average freeness without the last instance is above this [60: `SCALE_DOWN_THRESHOLD`]. */
  downThreshold: number;
  /** Seconds from a scale-up decision until the new instance serves (loading its weights). */
  startup_s: number;
}

/** Instance states. */
export const OFF = 0;
/** Loading: up (counted in instance-seconds) but not serving yet. */
export const STARTING = 1;
/** Serving: routed to, a migration source or destination. */
export const SERVING = 2;
/** Draining: no new requests; its requests migrate out or finish; removed when empty. */
export const DRAINING = 3;

/** One scaling action, for the summary's timeline. */
export interface ScalingEvent {
  /** When (s). */
  t_s: number;
  /** `up` (decided: starting, or a draining instance taken back), `ready` (serving), `drain`, `removed`. */
  action: 'up' | 'ready' | 'drain' | 'removed';
  /** Instance index. */
  instance: number;
  /** Instances up (starting, serving or draining) after it. */
  instances: number;
}

/** Counters of a run's auto-scaling. */
export interface ScalingStats {
  /** Σ over instances of the time they were up (from the first arrival or the scale-up decision until removed, or the run's end), s. */
  instance_s: number;
  /** Scale-up decisions (new instances and drains called off). */
  scaleUps: number;
  /** Drains started. */
  scaleDowns: number;
  /** Instances removed once drained. */
  removed: number;
  /** Fewest and most instances up at once. */
  minUp: number;
  maxUp: number;
  /** Every action, in time order. */
  events: ScalingEvent[];
}

/**
 * The serving instances' average freeness (blocks per request; Infinity with no request):
 * (Σ (free − watermark) − Σ waiting blocks) / Σ (running + waiting). With `without` ≥ 0 that
 * instance's capacity is taken away (its free blocks become minus its used ones; free floored at
 * 0) and its watermark dropped, its requests still counted (Llumnix `AvgLoad`).
 * @param views the instances; @param serving which to count.
 */
export function averageFreeness(views: readonly ScalingView[], serving: ArrayLike<boolean>, without = -1): number {
  let free = 0;
  let watermark = 0;
  let waiting = 0;
  let requests = 0;
  for (let i = 0; i < views.length; i++) {
    if (!serving[i]) continue;
    const v = views[i];
    requests += v.runningCount + v.waitingCount;
    waiting += v.waitingBlocks;
    if (i === without) free += v.freeBlocks - v.totalBlocks;
    else {
      free += v.freeBlocks;
      watermark += v.watermarkBlocks;
    }
  }
  if (requests === 0) return Infinity;
  return (Math.max(0, free) - watermark - waiting) / requests;
}

/** What a check decides. */
export type ScalingDecision = { kind: 'none' } | { kind: 'up' } | { kind: 'drain'; instance: number };

/**
 * One scaling check over instances in `state` (OFF, STARTING, SERVING, DRAINING per index).
 * Scale up when the serving instances' average freeness is below `upThreshold`, fewer than `max`
 * are up and none is starting; else drain the last serving instance when the average without it
 * is above `downThreshold`, more than `min` serve and none drains.
 */
export function checkScaling(views: readonly ScalingView[], state: ArrayLike<number>, cfg: ScalingConfig): ScalingDecision {
  const serving: boolean[] = [];
  let up = 0;
  let nServing = 0;
  let last = -1;
  let starting = false;
  let draining = false;
  for (let i = 0; i < views.length; i++) {
    const s = state[i];
    serving.push(s === SERVING);
    if (s !== OFF) up++;
    if (s === SERVING) {
      nServing++;
      last = i;
    }
    if (s === STARTING) starting = true;
    if (s === DRAINING) draining = true;
  }
  if (averageFreeness(views, serving) < cfg.upThreshold) {
    return (draining || up < cfg.max) && !starting ? { kind: 'up' } : { kind: 'none' };
  }
  if (nServing > cfg.min && !draining && averageFreeness(views, serving, last) > cfg.downThreshold) return { kind: 'drain', instance: last };
  return { kind: 'none' };
}

/**
 * The instances' states over a run and their accounting. The simulator calls `check` at each
 * check time, `ready` when a start-up delay ends, `remove` when a draining instance is empty, and
 * `finish` at the run's end; `serving` lists the serving instances in index order (what the
 * router sees).
 */
export class Autoscaler {
  readonly cfg: ScalingConfig;
  /** Per instance: OFF, STARTING, SERVING or DRAINING. */
  readonly state: Uint8Array;
  /** Serving instances, ascending index (replaced, not mutated, when it changes). */
  serving: number[] = [];
  /** The draining instance, or -1. */
  draining = -1;
  readonly stats: ScalingStats;
  private readonly views: readonly ScalingView[];
  /** Per instance: when it came up (s), while up. */
  private readonly since: Float64Array;
  private up: number;

  /**
   * @param views the instances (`cfg.max` of them); the first `cfg.initial` serve from time 0.
   * @throws Error unless 1 ≤ min ≤ initial ≤ max = views.length, interval > 0, startup ≥ 0 (bugs: the CLI checks).
   */
  constructor(views: readonly ScalingView[], cfg: ScalingConfig) {
    const { min, initial, max } = cfg;
    if (!(1 <= min && min <= initial && initial <= max && max === views.length) || !(cfg.interval_s > 0) || !(cfg.startup_s >= 0)) {
      throw new Error(`autoscale: bad settings min ${min}, initial ${initial}, max ${max} of ${views.length} instances, interval ${cfg.interval_s}, startup ${cfg.startup_s}`);
    }
    this.cfg = cfg;
    this.views = views;
    this.state = new Uint8Array(max);
    this.since = new Float64Array(max);
    for (let i = 0; i < initial; i++) this.state[i] = SERVING;
    this.up = initial;
    this.stats = { instance_s: 0, scaleUps: 0, scaleDowns: 0, removed: 0, minUp: initial, maxUp: initial, events: [] };
    this.refresh();
  }

  /** The run starts at `t` (s; its first arrival): the initial instances are up from then. */
  begin(t: number): void {
    for (let i = 0; i < this.cfg.initial; i++) this.since[i] = t;
  }

  /**
   * A check at `now`. @returns the instance that starts (its start-up ends at now + startup_s:
   * the caller calls `ready` then), or -1.
   */
  check(now: number): number {
    const d = checkScaling(this.views, this.state, this.cfg);
    if (d.kind === 'up') {
      this.stats.scaleUps++;
      if (this.draining >= 0) {
        // The draining instance is still up: it serves again at once.
        const i = this.draining;
        this.draining = -1;
        this.state[i] = SERVING;
        this.log(now, 'up', i);
        this.refresh();
        return -1;
      }
      const i = this.state.indexOf(OFF);
      this.state[i] = STARTING;
      this.since[i] = now;
      this.up++;
      this.log(now, 'up', i);
      return i;
    }
    if (d.kind === 'drain') {
      this.stats.scaleDowns++;
      this.state[d.instance] = DRAINING;
      this.draining = d.instance;
      this.log(now, 'drain', d.instance);
      this.refresh();
    }
    return -1;
  }

  /** Instance `i`'s start-up ended at `now`: it serves. */
  ready(i: number, now: number): void {
    this.state[i] = SERVING;
    this.log(now, 'ready', i);
    this.refresh();
  }

  /** The draining instance left at `now` (it holds nothing). */
  remove(now: number): void {
    const i = this.draining;
    this.state[i] = OFF;
    this.draining = -1;
    this.stats.instance_s += now - this.since[i];
    this.stats.removed++;
    this.up--;
    this.log(now, 'removed', i);
  }

  /** The run ended at `end` (s): instances still up count until then. */
  finish(end: number): void {
    for (let i = 0; i < this.state.length; i++) if (this.state[i] !== OFF) this.stats.instance_s += end - this.since[i];
  }

  private refresh(): void {
    const s: number[] = [];
    for (let i = 0; i < this.state.length; i++) if (this.state[i] === SERVING) s.push(i);
    this.serving = s;
  }

  private log(t_s: number, action: ScalingEvent['action'], instance: number): void {
    const st = this.stats;
    st.events.push({ t_s, action, instance, instances: this.up });
    st.minUp = Math.min(st.minUp, this.up);
    st.maxUp = Math.max(st.maxUp, this.up);
  }
}
