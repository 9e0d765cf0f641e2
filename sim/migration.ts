/**
 * Live migration of running requests between replicas (Llumnix: Sun et al., OSDI'24, arXiv
 * 2406.03243 §4.2; docs/spec.md §9), and the periodic poll of a cluster-level rescheduler that
 * decides which request moves where (Llumnix's global scheduler: policies/llumnix.ts).
 *
 * The mechanism follows the AlibabaPAI/llumnix code at commit e4048ac8 (September 2024, the
 * paper's version; `llumnix/llumlet/migration_coordinator.py`, `llumlet.py` `migrate_out`,
 * `backends/vllm/scheduler.py`): a decoding request's KV is copied to the destination in stages
 * while it keeps decoding at the source. Stage 1 copies every block but the last (the one being
 * written); each later stage copies the blocks added since. When at most `lastStageMaxBlocks`
 * (16) blocks remain, the request stops at the source's next iteration boundary (it is frozen: not
 * scheduled, KV kept), the rest is copied, and it resumes at the destination: the downtime is that
 * last copy. The destination reserves each stage's blocks before the copy, leaving its watermark
 * free (`get_free_blocks`); a refusal abandons the migration. So does a request that finishes, is
 * preempted or stops decoding during a stage (`should_abort_migration`), and a migration still
 * not at its last stage after `maxStages` (3) stages. A replica takes part in one migration at a
 * time, as source or destination (the manager's `instance_migrating`).
 *
 * Copy time is `copySeconds(blocks)` (sim/cost/link.ts `transferSeconds` of the blocks' bytes per
 * GPU). Units: seconds, blocks, tokens.
 */
import type { Engine } from './engine.ts';
import type { RequestTable } from './requests.ts';
import { RUNNING } from './requests.ts';
import { DRAINING, SERVING } from './autoscale.ts';

/** What a rescheduler reads of one replica at a poll (an {@link Engine} provides it). */
export interface InstanceView {
  /** Free GPU KV blocks (prefix-cached ones included: free memory). */
  readonly freeBlocks: number;
  /** Blocks admission leaves free (vLLM's watermark, 1% of the blocks). */
  readonly watermarkBlocks: number;
  /** Requests holding GPU KV and schedulable here (prefilling, decoding or paused). */
  readonly runningCount: number;
  /** Requests waiting for admission. */
  readonly waitingCount: number;
  /** KV blocks the head-of-line waiting request needs (0 when none waits). */
  readonly headBlocks: number;
  /** Preempted requests not running again yet: swapped out, or waiting after a recompute preemption. */
  readonly killedCount: number;
  /** The running requests: ids at [0, runningCount) of the returned array (a view: do not keep it). */
  runningIds(): Int32Array;
  /** Whether running request `id` is decoding (its next step is one token). */
  isDecoding(id: number): boolean;
}

/** What a rescheduler may do at a poll. */
export interface Cluster {
  /** The replicas, by index. */
  readonly instances: readonly InstanceView[];
  /** The run's request table (lengths, states). */
  readonly requests: RequestTable;
  /** Whether replica `i` is in a migration now (as source or destination). */
  migrating(i: number): boolean;
  /**
   * Whether replica `i` is up and serving (always, without auto-scaling): only serving replicas
   * are sources or destinations, and draining ones (sim/autoscale.ts) sources only.
   */
  serving(i: number): boolean;
  /** Whether replica `i` is draining (auto-scaling): a source of infinite load, never a destination. */
  draining(i: number): boolean;
  /**
   * Starts a live migration of running request `id` from replica `src` to `dst` at `now` (s).
   * @returns false, doing nothing, when either replica is migrating, `src` = `dst`, or `id` is
   *   not decoding on `src`; true when started (it may still be abandoned at once, e.g. for memory).
   */
  migrate(id: number, src: number, dst: number, now: number): boolean;
}

/** A cluster-level rescheduler: polled every `interval_s` while the run has work. */
export interface Rescheduler {
  /** Name, for reports. */
  readonly name: string;
  /** Seconds between polls (> 0); polls fall at whole multiples of it. */
  readonly interval_s: number;
  /** Reads the replicas and starts migrations. */
  poll(now: number, cluster: Cluster): void;
}

/** How migrations copy KV (Llumnix's defaults in brackets). */
export interface MigrationConfig {
  /** The last stage starts when at most this many blocks remain to copy [16: `LAST_STAGE_MAX_BLOCKS`]. */
  lastStageMaxBlocks: number;
  /** Stages before a migration not yet at its last stage is abandoned [3: `MAX_STAGES`]. */
  maxStages: number;
  /** Seconds to copy `blocks` KV blocks from one replica to another. */
  copySeconds: (blocks: number) => number;
}

/** Counters of a run's migrations. */
export interface MigrationStats {
  /** Migrations started (a request chosen and a destination paired). */
  started: number;
  /** Migrations completed: the request resumed at its destination. */
  completed: number;
  /** Abandoned: the destination could not reserve the blocks. */
  abortedMemory: number;
  /** Abandoned: the request finished, was preempted or stopped decoding during a stage. */
  abortedRequest: number;
  /** Abandoned: not at the last stage after `maxStages` stages. */
  abortedStages: number;
  /** KV blocks copied by completed migrations (all stages). */
  blocks: number;
  /** KV blocks copied by abandoned migrations (wasted). */
  wastedBlocks: number;
  /** Stages of completed migrations, summed. */
  stages: number;
  /** Per completed migration, in completion order: the request's downtime (frozen to resumed), s. */
  downtime_s: number[];
}

/** A fresh, all-zero {@link MigrationStats}. */
export function emptyMigrationStats(): MigrationStats {
  return { started: 0, completed: 0, abortedMemory: 0, abortedRequest: 0, abortedStages: 0, blocks: 0, wastedBlocks: 0, stages: 0, downtime_s: [] };
}

/** One migration in flight. */
interface Move {
  id: number;
  src: number;
  dst: number;
  /** Stages started. */
  stages: number;
  /** Blocks copied or being copied. */
  sent: number;
  /** Blocks reserved at the destination. */
  reserved: number;
  /** The request's preemption count at the start (a preemption since abandons the migration). */
  preemptions: number;
  /** Waiting for the source's iteration boundary to freeze the request and reserve the rest (its last stage). */
  awaitBoundary: boolean;
  /** When the request was frozen (s); -1 before its last stage. */
  frozenAt: number;
}

/**
 * The migrations of one run, and the view a rescheduler gets of the cluster. The simulator calls
 * `poll` at each poll, `advance` when a stage's copy ends, `boundary` after each iteration of a
 * replica; `schedule` (given) queues a stage's end as a simulator event.
 */
export class Migrator implements Cluster {
  readonly stats = emptyMigrationStats();
  readonly instances: readonly InstanceView[];
  readonly requests: RequestTable;
  private readonly engines: readonly Engine[];
  private readonly cfg: MigrationConfig;
  private readonly rescheduler: Rescheduler;
  private readonly schedule: (t: number, slot: number) => void;
  /** Migrations by slot (null: free). */
  private readonly moves: (Move | null)[] = [];
  /** Per replica: 1 + the slot of the migration it takes part in, 0 when none. */
  private readonly slotOf: Int32Array;
  private readonly blockSize: number;
  /** Per replica, its auto-scaling state (sim/autoscale.ts), or undefined: all serve. */
  private readonly roles: ArrayLike<number> | undefined;

  /**
   * @param engines the replicas' engines (one per replica); @param requests the run's table;
   * @param cfg copy settings; @param rescheduler who decides; @param schedule queues the end of a
   * stage of migration `slot` at time `t` as a simulator event (the simulator then calls `advance`);
   * @param roles per replica its auto-scaling state (read live; sim/autoscale.ts), absent: all serve.
   */
  constructor(engines: readonly Engine[], requests: RequestTable, blockSize: number, cfg: MigrationConfig, rescheduler: Rescheduler, schedule: (t: number, slot: number) => void, roles?: ArrayLike<number>) {
    this.roles = roles;
    this.engines = engines;
    this.instances = engines;
    this.requests = requests;
    this.blockSize = blockSize;
    this.cfg = cfg;
    this.rescheduler = rescheduler;
    this.schedule = schedule;
    this.slotOf = new Int32Array(engines.length);
  }

  /** Seconds between polls. */
  get interval_s(): number {
    return this.rescheduler.interval_s;
  }

  /** Migrations in flight. */
  get active(): number {
    let k = 0;
    for (const m of this.moves) if (m) k++;
    return k;
  }

  /**
   * Until when replica `u` may bundle decode steps (s): the end of the iteration in flight on the
   * source of a migration to `u` waiting for it (its last stage then reserves blocks on `u`, and
   * may give some back); Infinity otherwise. Polls and stage ends bound it through the
   * simulator's own queue.
   * @param iterationEnd per replica, the end of its iteration in flight (s).
   */
  horizonFor(u: number, iterationEnd: ArrayLike<number>): number {
    const s = this.slotOf[u];
    if (s === 0) return Infinity;
    const m = this.moves[s - 1]!;
    return m.dst === u && m.awaitBoundary ? iterationEnd[m.src] : Infinity;
  }

  /** A poll at `now`: the rescheduler reads the replicas and starts migrations. */
  poll(now: number): void {
    this.rescheduler.poll(now, this);
  }

  migrating(i: number): boolean {
    return this.slotOf[i] !== 0;
  }

  serving(i: number): boolean {
    return !this.roles || this.roles[i] === SERVING;
  }

  draining(i: number): boolean {
    return !!this.roles && this.roles[i] === DRAINING;
  }

  migrate(id: number, src: number, dst: number, now: number): boolean {
    if (src === dst || this.slotOf[src] !== 0 || this.slotOf[dst] !== 0 || !this.decodingOn(id, src)) return false;
    const m: Move = { id, src, dst, stages: 0, sent: 0, reserved: 0, preemptions: this.requests.preemptions[id], awaitBoundary: false, frozenAt: -1 };
    let slot = this.moves.indexOf(null);
    if (slot < 0) slot = this.moves.push(null) - 1;
    this.moves[slot] = m;
    this.slotOf[src] = slot + 1;
    this.slotOf[dst] = slot + 1;
    this.stats.started++;
    this.stage(slot, m, now);
    return true;
  }

  /** The copy of a stage of migration `slot` ended at `now`: resume the request, or start the next stage. */
  advance(slot: number, now: number): void {
    const m = this.moves[slot]!;
    if (m.frozenAt >= 0) return this.complete(slot, m, now);
    if (!this.decodingOn(m.id, m.src) || this.requests.preemptions[m.id] !== m.preemptions) return this.abort(slot, m, 'request');
    this.stage(slot, m, now);
  }

  /**
   * Replica `u` finished an iteration at `now`: a request waiting for it to start its last stage
   * stops now. @returns whether a migration acted (its destination's blocks changed).
   */
  boundary(u: number, now: number): boolean {
    const s = this.slotOf[u];
    if (s === 0) return false;
    const m = this.moves[s - 1]!;
    if (m.src !== u || !m.awaitBoundary) return false;
    m.awaitBoundary = false;
    this.lastStage(s - 1, m, now);
    return true;
  }

  /** Whether request `id` is running and decoding on replica `u`. */
  private decodingOn(id: number, u: number): boolean {
    const R = this.requests;
    return R.state[id] === RUNNING && R.replica[id] === u && this.engines[u].isDecoding(id);
  }

  /** Decides the next stage of `m` at `now` (Llumnix `migrate_out_onestage`). */
  private stage(slot: number, m: Move, now: number): void {
    if (m.stages >= this.cfg.maxStages) return this.abort(slot, m, 'stages');
    const R = this.requests;
    const left = R.blocks[m.id] - m.sent;
    if (left <= this.cfg.lastStageMaxBlocks) {
      // Stop the request: now if it is not in the batch in flight, else at the iteration's end.
      if (this.engines[m.src].busy && R.scheduled[m.id] > 0) {
        m.awaitBoundary = true;
        return;
      }
      return this.lastStage(slot, m, now);
    }
    // Every block but the last, still being written.
    const k = left - 1;
    if (!this.reserve(m, m.sent + k)) return this.abort(slot, m, 'memory');
    m.stages++;
    m.sent += k;
    this.copy(slot, now + this.cfg.copySeconds(k));
  }

  /** Freezes the request at the source and copies what is left (it finished the iteration it was in, if any). */
  private lastStage(slot: number, m: Move, now: number): void {
    if (!this.decodingOn(m.id, m.src) || this.requests.preemptions[m.id] !== m.preemptions) return this.abort(slot, m, 'request');
    const k = this.requests.blocks[m.id] - m.sent;
    if (!this.reserve(m, m.sent + k)) return this.abort(slot, m, 'memory');
    this.engines[m.src].freeze(m.id);
    m.frozenAt = now;
    m.stages++;
    m.sent += k;
    this.copy(slot, now + this.cfg.copySeconds(k));
  }

  private copy(slot: number, end: number): void {
    this.schedule(end, slot);
  }

  /**
   * Makes the destination's reservation for `m` `blocks` blocks in all (a stage adds to it): gives
   * back the earlier part and reserves the whole, which fits exactly when the increment does.
   */
  private reserve(m: Move, blocks: number): boolean {
    const dst = this.engines[m.dst];
    if (m.reserved > 0) dst.cancelReservation(m.id);
    m.reserved = 0;
    if (!dst.reserve(m.id, blocks * this.blockSize)) return false;
    m.reserved = blocks;
    return true;
  }

  /** The last copy ended: the request leaves the source and resumes at the destination. */
  private complete(slot: number, m: Move, now: number): void {
    const computed = this.engines[m.src].detach(m.id);
    this.engines[m.dst].adopt(m.id, computed, now);
    const st = this.stats;
    st.completed++;
    st.blocks += m.sent;
    st.stages += m.stages;
    st.downtime_s.push(now - m.frozenAt);
    this.release(slot, m);
  }

  private abort(slot: number, m: Move, why: 'memory' | 'request' | 'stages'): void {
    if (m.reserved > 0) this.engines[m.dst].cancelReservation(m.id);
    const st = this.stats;
    if (why === 'memory') st.abortedMemory++;
    else if (why === 'request') st.abortedRequest++;
    else st.abortedStages++;
    st.wastedBlocks += m.sent;
    this.release(slot, m);
  }

  private release(slot: number, m: Move): void {
    this.slotOf[m.src] = 0;
    this.slotOf[m.dst] = 0;
    this.moves[slot] = null;
  }
}
