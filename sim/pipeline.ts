/**
 * A pipeline-parallel replica (docs/engine.md "Pipeline parallelism"), as vLLM v0 runs one: its
 * layers are split into `pp` stages, and `pp` virtual engines (each an Engine with its own
 * scheduler, queues, 1/pp of the KV blocks and the full `max_num_seqs` and token budget) each
 * keep one micro-batch in flight, so up to `pp` micro-batches are in the pipeline at once. A
 * request is assigned when it is submitted to the virtual engine with the fewest unfinished
 * requests (`vllm/engine/llm_engine.py` `add_request`) and stays there.
 *
 * Timing is the pipeline algebra: a micro-batch formed at `now` enters stage 0 when that stage
 * is free, enters stage k when it has left stage k − 1 and stage k is free, and its tokens come
 * out when it leaves the last stage. Stages serve micro-batches in the order they were formed
 * (each stage's worker runs them one after the other), so the whole path of a micro-batch is
 * known when it is formed. Stage times come from sim/cost/pipeline.ts.
 */
import type { BatchShape } from './cost/cost-model.ts';
import type { PipelineCost } from './cost/pipeline.ts';
import type { EngineStats } from './engine-types.ts';
import { emptyEngineStats } from './engine-types.ts';
import type { ReplicaLoad } from './router.ts';

/** What a pipeline reads of each of its virtual engines (sim/engine.ts implements it). */
export interface VirtualEngine {
  /** Whether it has a micro-batch in flight. */
  readonly busy: boolean;
  /** Whether any request is queued or in flight on it. */
  hasWork(): boolean;
  /** Unfinished requests on it (waiting, running, swapped). */
  readonly outstandingRequests: number;
  /** Σ (prompt + generated so far) over its unfinished requests. */
  readonly outstandingTokens: number;
  /** Llumnix freeness of its KV blocks and its denominator (see sim/engine.ts). */
  readonly freeness: number;
  readonly freenessRequests: number;
  /** KV blocks in use now. */
  readonly usedBlocks: number;
  /** Its counters. */
  readonly stats: EngineStats;
  /** Prompt tokens of request `id` its prefix cache holds now. */
  cachedPrefixTokens(id: number): number;
  /** Calls `visit` with each of its unfinished requests. */
  forEachRequest(visit: (id: number) => void): void;
}

/**
 * The stages, virtual engines and counters of one pipeline-parallel replica. Also what a router
 * reads of the replica (`ReplicaLoad`): its totals of unfinished requests and tokens, and the
 * freeness and cached prefix of the virtual engine a request submitted now would join.
 */
export class PipelineReplica implements ReplicaLoad {
  /** Stage pricing. */
  readonly cost: PipelineCost;
  /** Pipeline stages (= virtual engines). */
  readonly stages: number;
  /** The virtual engines, in index order (they {@link join} when built). */
  readonly members: VirtualEngine[] = [];
  /** Per stage: the time (s) it finishes the last micro-batch given to it. */
  private readonly free: Float64Array;
  /** Per stage: when the micro-batch last priced by {@link end} leaves it (committed by {@link commit}). */
  private readonly leave: Float64Array;
  private inFlight = 0;
  private since = 0;
  private busy_s = 0;
  private kvPeak = 0;

  /** @param cost the run's stage pricing (its `stages` virtual engines are expected to join). */
  constructor(cost: PipelineCost) {
    this.cost = cost;
    this.stages = cost.stages;
    this.free = new Float64Array(cost.stages);
    this.leave = new Float64Array(cost.stages);
  }

  /** Adds a virtual engine; @returns its index in the replica. @throws Error beyond `stages` engines. */
  join(ve: VirtualEngine): number {
    if (this.members.length >= this.stages) throw new Error(`a ${this.stages}-stage pipeline has ${this.stages} virtual engines`);
    this.members.push(ve);
    return this.members.length - 1;
  }

  /**
   * When the tokens of a micro-batch formed at `now` (s) come out: through every stage in turn,
   * each entered when the micro-batch has left the one before and the stage is free, each taking
   * its share of the batch's time ({@link PipelineCost.stageTime}) plus `swap_s` (each stage copies
   * its own layers' share of the blocks swapped) and, on stage 0, `extra_s` (server time policies
   * added). Prices only: {@link commit} makes the stages busy.
   * @returns the time (s) it leaves the last stage.
   * @throws Error for a negative or non-finite stage time (a cost-model bug).
   */
  end(now: number, b: BatchShape, extra_s: number, swap_s: number): number {
    const c = this.cost;
    const whole = c.iterationTime(b);
    const tokens = b.prefillTokens + b.decodeSeqs;
    const free = this.free;
    let t = now;
    for (let k = 0; k < this.stages; k++) {
      const dt = c.stageTime(k, whole, tokens) + swap_s + (k === 0 ? extra_s : 0);
      if (!(dt >= 0) || !Number.isFinite(dt)) throw new Error(`${c.name} priced stage ${k} at ${dt} s`);
      t = (t > free[k] ? t : free[k]) + dt;
      this.leave[k] = t;
    }
    return t;
  }

  /** Makes each stage busy until the micro-batch last priced by {@link end} leaves it. */
  commit(): void {
    this.free.set(this.leave);
  }

  /** The virtual engine a request submitted now joins: the fewest unfinished requests, the lowest index of equals (vLLM v0). */
  pick(): number {
    const m = this.members;
    let best = 0;
    for (let v = 1; v < m.length; v++) if (m[v].outstandingRequests < m[best].outstandingRequests) best = v;
    return best;
  }

  /**
   * Whether `ve` is the only virtual engine that can use the stages until the next submission:
   * every other one is idle with nothing queued (so skip-ahead may bundle its decode steps).
   */
  alone(ve: VirtualEngine): boolean {
    for (const m of this.members) if (m !== ve && (m.busy || m.hasWork())) return false;
    return true;
  }

  /** A micro-batch entered the pipeline at `now` (s): counts busy time while any is in flight. */
  flightStarted(now: number): void {
    if (this.inFlight++ === 0) this.since = now;
  }

  /** A micro-batch's tokens came out at `now` (s). */
  flightEnded(now: number): void {
    if (--this.inFlight === 0) this.busy_s += now - this.since;
  }

  /** Records the replica's KV blocks in use now (all virtual engines together) for its peak. */
  notePeak(): void {
    let used = 0;
    for (const m of this.members) used += m.usedBlocks;
    if (used > this.kvPeak) this.kvPeak = used;
  }

  /**
   * The replica's counters: its virtual engines' summed, except `busy_s` (time with at least one
   * micro-batch in flight) and `kvMaxBlocks` (the most blocks in use at once over all of them,
   * sampled as each micro-batch is formed).
   */
  stats(): EngineStats {
    const total = emptyEngineStats();
    for (const m of this.members) for (const k of Object.keys(total) as (keyof EngineStats)[]) total[k] += m.stats[k];
    total.busy_s = this.busy_s;
    total.kvMaxBlocks = this.kvPeak;
    return total;
  }

  /** Unfinished requests over all virtual engines. */
  get outstandingRequests(): number {
    let n = 0;
    for (const m of this.members) n += m.outstandingRequests;
    return n;
  }

  /** Σ (prompt + generated so far) over the unfinished requests of all virtual engines. */
  get outstandingTokens(): number {
    let n = 0;
    for (const m of this.members) n += m.outstandingTokens;
    return n;
  }

  /** The freeness of the virtual engine a request submitted now would join ({@link pick}). */
  get freeness(): number {
    return this.members[this.pick()].freeness;
  }

  /** The denominator of that virtual engine's freeness. */
  get freenessRequests(): number {
    return this.members[this.pick()].freenessRequests;
  }

  /** Prompt tokens of request `id` cached by the virtual engine it would join ({@link pick}). */
  cachedPrefixTokens(id: number): number {
    return this.members[this.pick()].cachedPrefixTokens(id);
  }

  /** Calls `visit` with each unfinished request of every virtual engine. */
  forEachRequest(visit: (id: number) => void): void {
    for (const m of this.members) m.forEachRequest(visit);
  }
}
