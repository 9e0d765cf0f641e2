/**
 * Llumnix's global migration scheduler (Sun et al., OSDI'24, arXiv 2406.03243 §4.4; docs/spec.md
 * §9), as the AlibabaPAI/llumnix code does it at commit e4048ac8 (September 2024, the paper's
 * version): every `POLLING_INTERVAL` (0.05 s, `llumnix/config/default.py`) the manager reads each
 * instance's migration load and pairs instances (`global_scheduler/migration_scheduler.py`
 * `DefragConstrained`, the default `PAIR_MIGRATION_POLICY='defrag_constrained'`); each source
 * then picks one running decode to migrate (`llumlet/local_migration_scheduler.py`, default
 * `REQUEST_MIGRATION_POLICY='SJF'`, the shortest; today's code calls the same rule `SR`).
 *
 * Migration load (`instance_info.py` `MigrationLoadComputation`, `remaining_steps` with
 * `ENABLE_DEFRAG=True`): −(free blocks − watermark − the head-of-line waiting request's blocks) /
 * (running requests + 1 if any waits), −∞ with no requests: minus the freeness of §4.4.
 * Sources: instances with preempted requests not running again ("killed": swapped, or waiting
 * after a recompute preemption) or load above `MIGRATE_OUT_THRESHOLD` (3.0); destinations:
 * instances with none killed and load below it. Sources by load descending are paired i-to-i with
 * destinations by load ascending; a pair where either instance is already migrating waits for
 * the next poll (the manager's `instance_migrating`).
 *
 * Priorities (§4.4, "virtual usage"; not in the code at e4048ac8, whose benchmark only has an
 * unused `--priority_ratio`): with `headroom` H > 0, an instance running a high-priority request
 * has H more blocks of virtual usage ({@link priorityHeadroom}), so it looks fuller to the
 * migration scheduler (a source sooner, a destination later); a source then migrates a
 * normal-priority decode when it has one ({@link chooseRequest}).
 */
import type { Cluster, InstanceView, MigrationConfig, Rescheduler } from '../sim/migration.ts';
import type { RequestTable } from '../sim/requests.ts';
import type { ScalingConfig } from '../sim/autoscale.ts';
import { OptionReader } from './options.ts';

/** Which running decode a source migrates (Llumnix `REQUEST_MIGRATION_POLICY`). */
export type RequestChoice = 'sjf' | 'ljf' | 'lcfs';

/** Llumnix's migration settings. */
export interface LlumnixSettings {
  /** Seconds between polls (`POLLING_INTERVAL` 0.05). */
  interval_s: number;
  /** Migration load above which an instance migrates out (`MIGRATE_OUT_THRESHOLD` 3.0). */
  migrateOutThreshold: number;
  /** Request choice (`REQUEST_MIGRATION_POLICY` 'SJF'). */
  request: RequestChoice;
  /** `LAST_STAGE_MAX_BLOCKS` 16. */
  lastStageMaxBlocks: number;
  /** `MAX_STAGES` 3. */
  maxStages: number;
  /**
   * Virtual blocks added to the usage of an instance running a high-priority request (§4.4; the
   * paper gives no number): 0, none, by default.
   */
  headroom: number;
}

/** The code's defaults (AlibabaPAI/llumnix e4048ac8 `llumnix/config/default.py`). */
export const LLUMNIX_DEFAULTS: LlumnixSettings = { interval_s: 0.05, migrateOutThreshold: 3.0, request: 'sjf', lastStageMaxBlocks: 16, maxStages: 3, headroom: 0 };

/** The `--migration-opt` keys. */
export const MIGRATION_OPTION_KEYS = ['interval', 'migrate-out-threshold', 'request', 'last-stage-max-blocks', 'max-stages', 'headroom'] as const;

/**
 * Reads `--migration-opt key=value` pairs over {@link LLUMNIX_DEFAULTS}.
 * @throws InputError (field `--migration-opt`) for an unknown key or a value out of range.
 */
export function readLlumnixSettings(opts: Record<string, string>): LlumnixSettings {
  const o = new OptionReader('--migration-opt', 'llumnix', opts, MIGRATION_OPTION_KEYS);
  const d = LLUMNIX_DEFAULTS;
  return {
    interval_s: o.number('interval', d.interval_s, { min: 0.001, max: 3600 }),
    migrateOutThreshold: o.number('migrate-out-threshold', d.migrateOutThreshold),
    request: o.choice<RequestChoice>('request', d.request, ['sjf', 'ljf', 'lcfs']),
    lastStageMaxBlocks: o.number('last-stage-max-blocks', d.lastStageMaxBlocks, { integer: true, min: 0, max: 1e6 }),
    maxStages: o.number('max-stages', d.maxStages, { integer: true, min: 1, max: 1000 }),
    headroom: o.number('headroom', d.headroom, { integer: true, min: 0, max: 2 ** 30 }),
  };
}

/** The copy part of the settings, with the link's copy time. */
export function migrationConfig(s: LlumnixSettings, copySeconds: (blocks: number) => number): MigrationConfig {
  return { lastStageMaxBlocks: s.lastStageMaxBlocks, maxStages: s.maxStages, copySeconds };
}

/**
 * The priority headroom of an instance's virtual usage (Llumnix §4.4, Algorithm 1 as we read it:
 * each running request of a priority class adds that class's headroom divided by the instance's
 * running requests of the class, so the instance carries the class's headroom once): `headroom`
 * blocks when any of running requests `ids[0..count)` is high-priority (`R.priority` 1), else 0.
 * Queued requests add none (only the head-of-line demand counts for them). Blocks.
 */
export function priorityHeadroom(ids: ArrayLike<number>, count: number, R: RequestTable, headroom: number): number {
  if (headroom === 0 || !R.prioritized) return 0;
  for (let i = 0; i < count; i++) if (R.priority[ids[i]] === 1) return headroom;
  return 0;
}

/**
 * An instance's migration load: −(free − watermark − head-of-line blocks − `headroom`) / (running
 * + [any waiting]); −∞ with no running or waiting request. Higher is busier. Unitless (blocks per
 * request). `headroom` (blocks, default 0): its {@link priorityHeadroom}.
 */
export function migrationLoad(v: InstanceView, headroom = 0): number {
  const n = v.runningCount + (v.waitingCount > 0 ? 1 : 0);
  if (n === 0) return -Infinity;
  return -(v.freeBlocks - v.watermarkBlocks - v.headBlocks - headroom) / n;
}

/**
 * Llumnix's `DefragConstrained` pairing: instances sorted by load ascending (stable: ties in index
 * order); destinations are those with no killed request and load below `threshold`, in that
 * order; sources those with killed requests or load above it, in the reverse order; the i-th
 * source with the i-th destination.
 * @param load per instance; @param killed per instance (preempted requests not running again).
 * @returns [source, destination] pairs, the busiest source first.
 */
export function pairInstances(load: ArrayLike<number>, killed: ArrayLike<number>, threshold: number): [number, number][] {
  const n = load.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (load[a] < load[b] ? -1 : load[a] > load[b] ? 1 : a - b));
  const dst = order.filter((i) => killed[i] === 0 && load[i] < threshold);
  const src = order.reverse().filter((i) => killed[i] > 0 || load[i] > threshold);
  const pairs: [number, number][] = [];
  for (let i = 0; i < Math.min(src.length, dst.length); i++) pairs.push([src[i], dst[i]]);
  return pairs;
}

/**
 * The running decode instance `v` migrates out, or -1 when none decodes: `sjf` the shortest
 * (prompt + generated tokens), `ljf` the longest, `lcfs` the last to arrive; ties to the earlier
 * arrival (smaller id). A normal-priority decode goes before any high-priority one (§4.4: normal
 * requests are moved away from high-priority ones; with no priorities all are normal).
 */
export function chooseRequest(v: InstanceView, R: RequestTable, rule: RequestChoice): number {
  const ids = v.runningIds();
  let best = -1;
  let bestKey = 0;
  for (let i = 0; i < v.runningCount; i++) {
    const id = ids[i];
    if (!v.isDecoding(id)) continue;
    const len = rule === 'lcfs' ? -id : rule === 'ljf' ? -(R.prompt[id] + R.generated[id]) : R.prompt[id] + R.generated[id];
    // High priority sorts after every normal request (|len| < 2^32 ≤ CLASS).
    const key = R.priority[id] * CLASS + len;
    if (best < 0 || key < bestKey || (key === bestKey && id < best)) {
      best = id;
      bestKey = key;
    }
  }
  return best;
}

/** Key offset of the high-priority class in {@link chooseRequest} (above any length or id). */
const CLASS = 2 ** 33;

/** Llumnix's global migration scheduler with settings `s`. */
export function llumnixRescheduler(s: LlumnixSettings): Rescheduler {
  let load = new Float64Array(0);
  let killed = new Int32Array(0);
  let index = new Int32Array(0);
  return {
    name: 'llumnix',
    interval_s: s.interval_s,
    poll(now: number, c: Cluster) {
      const n = c.instances.length;
      if (load.length !== n) {
        load = new Float64Array(n);
        killed = new Int32Array(n);
        index = new Int32Array(n);
      }
      let any = false;
      let m = 0;
      for (let i = 0; i < n; i++) {
        // Auto-scaling: instances not up are left out; a draining one has infinite load (§4.4).
        const draining = c.draining(i);
        if (!draining && !c.serving(i)) continue;
        const v = c.instances[i];
        index[m] = i;
        load[m] = draining ? Infinity : migrationLoad(v, priorityHeadroom(v.runningIds(), v.runningCount, c.requests, s.headroom));
        killed[m] = v.killedCount;
        if (killed[m] > 0 || load[m] > s.migrateOutThreshold) any = true;
        m++;
      }
      if (!any) return;
      for (const [a, b] of pairInstances(load.subarray(0, m), killed.subarray(0, m), s.migrateOutThreshold)) {
        const src = index[a];
        const dst = index[b];
        if (c.migrating(src) || c.migrating(dst)) continue;
        const id = chooseRequest(c.instances[src], c.requests, s.request);
        if (id >= 0) c.migrate(id, src, dst, now);
      }
    },
  };
}

/** Llumnix's auto-scaling defaults (AlibabaPAI/llumnix e4048ac8 `llumnix/config/default.py`). */
export const SCALING_DEFAULTS = {
  /** `MIN_INSTANCES`. */
  min: 1,
  /** `SCALING_INTERVAL`, s. */
  interval_s: 10,
  /** `SCALE_UP_THRESHOLD` (freeness, blocks per request). */
  upThreshold: 10,
  /** `SCALE_DOWN_THRESHOLD`. */
  downThreshold: 60,
} as const;

/** The `--autoscale-opt` keys. */
export const AUTOSCALE_OPTION_KEYS = ['min', 'initial', 'interval', 'up-threshold', 'down-threshold', 'startup'] as const;

/**
 * Reads `--autoscale-opt key=value` pairs over {@link SCALING_DEFAULTS} for a cluster of at most
 * `max` instances (`--replicas`): `initial` defaults to `max`, `startup` (s) to `startupDefault`.
 * @throws InputError (field `--autoscale-opt`) for an unknown key, a value out of range, or
 *   not min ≤ initial ≤ max.
 */
export function readScalingSettings(opts: Record<string, string>, max: number, startupDefault: number): ScalingConfig {
  const o = new OptionReader('--autoscale-opt', 'autoscale', opts, AUTOSCALE_OPTION_KEYS);
  const d = SCALING_DEFAULTS;
  const min = o.number('min', Math.min(d.min, max), { integer: true, min: 1, max });
  const initial = o.number('initial', max, { integer: true, min: 1, max });
  if (initial < min) throw o.error(`initial ${initial} is below min ${min}`);
  return {
    min,
    max,
    initial,
    interval_s: o.number('interval', d.interval_s, { min: 0.001, max: 86400 }),
    upThreshold: o.number('up-threshold', d.upThreshold, { min: -1e9, max: 1e9 }),
    downThreshold: o.number('down-threshold', d.downThreshold, { min: -1e9, max: 1e9 }),
    startup_s: o.number('startup', startupDefault, { min: 0, max: 86400 }),
  };
}
