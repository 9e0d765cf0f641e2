/**
 * One replica's continuous-batching serving engine, with vLLM semantics (docs/engine.md;
 * Kwon et al., SOSP 2023): iteration-level scheduling under a token budget and a sequence budget,
 * a paged KV cache (sim/kv-cache.ts), prefill-priority iterations (vLLM v0) or chunked prefill
 * with stall-free mixed batches (Sarathi-Serve), and preemption on KV exhaustion by recompute or
 * swap. The policy's `batching` picks the batch former: admit mode (sim/admit-batcher.ts) or rank
 * mode (sim/rank-batcher.ts); skip-ahead (sim/skip-ahead.ts) bundles identical decode iterations.
 * Under pipeline parallelism an Engine is one virtual engine of a replica (sim/pipeline.ts), and
 * its micro-batches are timed through the replica's stages.
 *
 * Request progress follows vLLM v1 (see sim/requests.ts): each iteration schedules tokens per
 * request; a request whose `computed` reaches `prompt + generated` samples one output token.
 */
import type { CostModel } from './cost/cost-model.ts';
import type { Policy, PolicyContext } from './policy.ts';
import type { EngineConfig, EngineStats, IterationObserver, RejectReason } from './engine-types.ts';
import { formAdmitBatch } from './admit-batcher.ts';
import { formRankBatch, RankScratch } from './rank-batcher.ts';
import { ReplicaState } from './replica-state.ts';
import type { PrefixTables } from './prefix-cache.ts';
import type { PipelineReplica } from './pipeline.ts';
import { canSkipAhead, skipAhead } from './skip-ahead.ts';
import { IdList } from './id-list.ts';
import { iterationBytes, iterationFlops } from './cost/work.ts';
import { RequestTable, WAITING, RUNNING, FINISHED, REJECTED, FROZEN, IN_TRANSIT } from './requests.ts';

/**
 * A single replica. The simulator calls `arrive` for each request routed here, `start` when the
 * replica is idle or an iteration has ended, and `finish` at the end of each iteration.
 */
export class Engine {
  /** Whether an iteration is in flight. */
  busy = false;
  /** Called when a request completes (after the policy's onComplete); the simulator releases dependent calls. */
  onComplete: ((id: number, now: number) => void) | undefined = undefined;
  /**
   * A prefill instance of a disaggregated run (sim/disaggregation.ts): when set, each request whose
   * first token an iteration sampled and that has more to generate is frozen here at the end of
   * that iteration and handed to this callback (it decodes elsewhere).
   */
  onPrefilled: ((id: number, now: number) => void) | undefined = undefined;
  private readonly prefilled = new IdList();

  private readonly s: ReplicaState;
  private readonly cfg: EngineConfig;
  private readonly R: RequestTable;
  private readonly policy: Policy;
  private readonly cost: CostModel;
  private readonly observer: IterationObserver | undefined;
  private readonly rankScratch: RankScratch | undefined;
  private readonly hist: Int32Array;
  /** Server time policies added for the next iteration (ctx.addIterationTime), seconds. */
  private extraTime = 0;
  /** Start time of the iteration in flight (s). */
  private iterStart = 0;
  /** The pipeline-parallel replica this engine is a virtual engine of; undefined without pipeline parallelism. */
  private readonly pipeline: PipelineReplica | undefined;
  /** Its index among the replica's virtual engines (0 without pipeline parallelism). */
  readonly virtualEngine: number;

  /**
   * @param cfg resolved engine settings.
   * @param requests the run's request table (ids are trace indices).
   * @param policy the scheduling policy (attached here).
   * @param cost prices each iteration.
   * @param opts.observer optional per-iteration callback.
   * @param opts.shared state shared by the policies of all replicas of the run (`PolicyContext.shared`).
   * @param opts.index this replica's index in the cluster (default 0), reported to the observer.
   * @param opts.prefixTables the run's shared prefix-caching state (required with `cfg.prefixCaching`).
   * @param opts.pipeline the pipeline-parallel replica this engine is a virtual engine of (it joins it).
   */
  constructor(
    cfg: EngineConfig,
    requests: RequestTable,
    policy: Policy,
    cost: CostModel,
    opts: { observer?: IterationObserver; shared?: Map<string, unknown>; index?: number; prefixTables?: PrefixTables; pipeline?: PipelineReplica } = {},
  ) {
    this.cfg = cfg;
    this.R = requests;
    this.policy = policy;
    this.cost = cost;
    this.observer = opts.observer;
    const s = (this.s = new ReplicaState(cfg, requests, policy, opts.index ?? 0, opts.prefixTables));
    this.rankScratch = policy.batching.mode === 'rank' ? new RankScratch() : undefined;
    this.hist = new Int32Array(cfg.blockSize);
    this.pipeline = opts.pipeline;
    this.virtualEngine = opts.pipeline ? opts.pipeline.join(this) : 0;
    const ctx: PolicyContext = {
      requests,
      setPriority: (id, key) => s.setPriority(id, key),
      running: () => s.running.view(),
      runningCount: () => s.running.count,
      waitingCount: () => s.waiting.size,
      cachedPrefixTokens: (id) => this.cachedPrefixTokens(id),
      addIterationTime: (seconds) => {
        if (!(seconds >= 0) || !Number.isFinite(seconds)) throw new Error(`policy ${policy.name} added ${seconds} s to an iteration`);
        this.extraTime += seconds;
      },
      shared: opts.shared ?? new Map<string, unknown>(),
    };
    policy.attach(ctx);
  }

  /** Counters for the summary. */
  get stats(): EngineStats {
    return this.s.stats;
  }

  /** Whether any request is queued or in flight (frozen requests aside: the engine cannot run them). */
  hasWork(): boolean {
    return this.s.outstanding - this.s.frozen > 0;
  }

  /** Whether the engine holds anything at all: unfinished requests (frozen ones too) or reservations. */
  holdsAnything(): boolean {
    return this.s.outstanding > 0 || this.s.reservations > 0;
  }

  /** Requests on this replica not yet finished: waiting, running (incl. paused) and swapped. */
  get outstandingRequests(): number {
    return this.s.outstanding;
  }

  /**
   * Tokens of the unfinished requests on this replica: Σ (prompt + generated so far). What a
   * router that balances by load in tokens sees (non-clairvoyant: no output lengths).
   */
  get outstandingTokens(): number {
    return this.s.heldTokens;
  }

  /**
   * Llumnix's dispatch freeness (Sun et al., arXiv 2406.03243 §4.4; docs/spec.md §9), as the code
   * computes it for dispatch (AlibabaPAI/llumnix e4048ac8, `llumnix/instance_info.py`
   * `DispatchAndScalingLoadComputation`, `LOAD_METRIC='remaining_steps'`, minus its load):
   * (free KV blocks − the watermark − Σ over waiting requests of (prompt + generated) / block size)
   * / (running + waiting requests); +Infinity with none (an empty replica is freest). The
   * waiting requests' blocks are fractional, as the code's `num_prompt_tokens / block_size`.
   * Roughly how many more decode steps the batch can run; higher is freer. Unitless (blocks per
   * request). Defragmentation (the head-of-line request only, +1) is the migration load's
   * (policies/llumnix.ts), not dispatch's.
   */
  get freeness(): number {
    const { R, kv, waiting } = this.s;
    const n = this.freenessRequests;
    if (n === 0) return Infinity;
    let tokens = 0;
    for (let i = 0; i < waiting.size; i++) {
      const id = waiting.at(i);
      tokens += R.prompt[id] + R.generated[id];
    }
    return (kv.freeBlocks - kv.watermark - tokens / kv.blockSize) / n;
  }

  /** The denominator of {@link freeness}: running (frozen ones aside) and waiting requests. */
  get freenessRequests(): number {
    return this.s.running.count + this.s.waiting.size;
  }

  /** KV blocks in use now. */
  get usedBlocks(): number {
    return this.s.kv.usedBlocks;
  }

  // ---- What a rescheduler reads of this replica (sim/migration.ts `InstanceView`) ----

  /** Free GPU KV blocks (prefix-cached ones included: free memory). */
  get freeBlocks(): number {
    return this.s.kv.freeBlocks;
  }

  /** Blocks admission leaves free (the watermark). */
  get watermarkBlocks(): number {
    return this.s.kv.watermark;
  }

  /** Requests holding GPU KV and schedulable here: prefilling, decoding or paused (frozen ones aside). */
  get runningCount(): number {
    return this.s.running.count;
  }

  /** Requests waiting for admission. */
  get waitingCount(): number {
    return this.s.waiting.size;
  }

  /** KV blocks the head-of-line waiting request needs for its sequence so far (0 when none waits). */
  get headBlocks(): number {
    const head = this.s.waiting.peek();
    return head >= 0 ? this.s.kv.blocksFor(this.R.prompt[head] + this.R.generated[head]) : 0;
  }

  /** GPU KV capacity, blocks (sim/autoscale.ts `ScalingView`). */
  get totalBlocks(): number {
    return this.s.kv.capacity;
  }

  /** Σ KV blocks of every waiting request's sequence so far (O(waiting); sim/autoscale.ts `ScalingView`). */
  get waitingBlocks(): number {
    const { waiting, kv } = this.s;
    let b = 0;
    for (let i = 0; i < waiting.size; i++) {
      const id = waiting.at(i);
      b += kv.blocksFor(this.R.prompt[id] + this.R.generated[id]);
    }
    return b;
  }

  /** Preempted requests not running again: swapped out, or waiting after a recompute preemption (Llumnix's "killed"). */
  get killedCount(): number {
    return this.s.swapped.size + this.s.killedWaiting;
  }

  /** The running requests (frozen ones aside): ids at [0, runningCount) of a view to read at once, not keep. */
  runningIds(): Int32Array {
    return this.s.running.view();
  }

  /** Whether running request `id` is decoding (its next step is one token). */
  isDecoding(id: number): boolean {
    return this.s.isDecode(id);
  }

  /** Prompt tokens of request `id` this replica's prefix cache holds now (0 without prefix caching): what cache-aware routers read. */
  cachedPrefixTokens(id: number): number {
    return this.s.hitFor(id) * this.s.kv.blockSize;
  }

  /** Calls `visit` with each unfinished request on this replica (waiting, running incl. paused, swapped), in heap/slot order: what a router reads (`ReplicaLoad.forEachRequest`). */
  forEachRequest(visit: (id: number) => void): void {
    const { waiting, running, swapped } = this.s;
    for (let i = 0; i < waiting.size; i++) visit(waiting.at(i));
    for (let i = 0; i < running.count; i++) visit(running.ids[i]);
    for (let i = 0; i < swapped.size; i++) visit(swapped.at(i));
  }

  /**
   * Whether request `id` can ever complete on this replica: its largest KV footprint
   * (prompt + output − 1 tokens: the last token is sampled, never cached; on a prefill instance,
   * its prompt) plus the admission watermark must fit the GPU's blocks.
   */
  canEverFit(id: number): boolean {
    const kv = this.s.kv;
    const R = this.R;
    // A prefill instance (`onPrefilled`) holds a request only up to its first token: its prompt.
    return kv.canEverHold(kv.blocksFor(this.onPrefilled ? R.prompt[id] : R.prompt[id] + R.output[id] - 1));
  }

  /**
   * A request arrives at `now`: rejected if it is longer than `maxModelLen` (prompt + output) or
   * can never fit the KV cache (here, or, `fitsElsewhere` false, where it must go next: a
   * disaggregated run's decode replicas), else queued with its priority.
   * @returns false when rejected.
   */
  arrive(id: number, now: number, fitsElsewhere = true): boolean {
    const R = this.R;
    const maxLen = this.cfg.maxModelLen;
    if (maxLen !== undefined && R.prompt[id] + R.output[id] > maxLen) {
      this.reject(id, 'too-long');
      return false;
    }
    if (!fitsElsewhere || !this.canEverFit(id)) {
      this.reject(id, 'kv');
      return false;
    }
    R.state[id] = WAITING;
    this.s.heldTokens += R.prompt[id] + R.generated[id];
    R.key[id] = this.policy.priority(id, now);
    this.s.waiting.push(id);
    return true;
  }

  /**
   * Marks request `id` rejected and counts it under its reason: `too-long` (prompt + output above
   * `maxModelLen`), `kv` (it can never fit the KV cache) or `ancestor` (a call it depends on was
   * rejected; the default).
   */
  reject(id: number, reason: RejectReason = 'ancestor'): void {
    this.R.state[id] = REJECTED;
    const st = this.s.stats;
    st.rejected++;
    if (reason === 'too-long') st.rejectedTooLong++;
    else if (reason === 'kv') st.rejectedKv++;
    else st.rejectedAncestor++;
  }

  // ---- Moving a request between engines (docs/engine.md "Moving requests between engines") ----

  /**
   * Reserves on this (destination) engine the KV blocks for `tokens` KV slots of request `id`,
   * which is coming from another engine: ⌈tokens / blockSize⌉ blocks, if they can be taken leaving
   * the watermark free. Reserved blocks count as used until `adopt` or `cancelReservation`.
   * @returns false, changing nothing, when they do not fit now.
   * @throws Error if `id` already has a reservation (a bug).
   */
  reserve(id: number, tokens: number): boolean {
    const s = this.s;
    if (!s.kv.reserve(id, s.kv.blocksFor(tokens))) return false;
    this.R.reservedOn[id] = s.index;
    s.reservations++;
    return true;
  }

  /** Gives back the blocks reserved here for request `id` (its move was called off). @throws Error if it has none here. */
  cancelReservation(id: number): void {
    this.checkReservation(id);
    this.s.kv.cancelReservation(id);
    this.R.reservedOn[id] = -1;
    this.s.reservations--;
  }

  private checkReservation(id: number): void {
    if (this.R.reservedOn[id] !== this.s.index) throw new Error(`request ${id} has no reservation on replica ${this.s.index}`);
  }

  /**
   * Stops running request `id` from being scheduled here while its KV is copied out (Llumnix's
   * final stage; a finished prefill waiting for its decode instance). It keeps its KV, still counts
   * as outstanding (requests and tokens) and is no preemption victim. Only between iterations, or
   * for a request not in the batch in flight.
   * @throws Error if it is not running here or is in the batch in flight.
   */
  freeze(id: number): void {
    this.checkMovable(id, 'frozen');
    const s = this.s;
    s.removeRunning(id);
    this.R.state[id] = FROZEN;
    s.frozen++;
  }

  /** Undoes `freeze`: request `id` is running here again (at its key's place). @throws Error if it is not frozen here. */
  thaw(id: number): void {
    if (this.R.state[id] !== FROZEN || this.R.replica[id] !== this.s.index) throw new Error(`request ${id} is not frozen on replica ${this.s.index}`);
    this.s.frozen--;
    this.s.addRunning(id);
  }

  /**
   * Takes request `id` (running or frozen here, not in the batch in flight) off this engine: its
   * KV blocks are freed, as a finished request's are (with prefix caching the blocks of shared
   * prompt content stay cached here, its own content is forgotten), and it leaves the
   * outstanding counts. It keeps its progress (`computed`, `generated`) and is IN_TRANSIT until
   * an engine adopts it. The policy is not told (it is no completion).
   * @returns the tokens whose KV it held here (`computed`).
   * @throws Error if it is neither running nor frozen here, or is in the batch in flight.
   */
  detach(id: number): number {
    const R = this.R;
    const s = this.s;
    if (R.state[id] === FROZEN && R.replica[id] === s.index) {
      s.frozen--;
    } else {
      this.checkMovable(id, 'detached');
      s.removeRunning(id);
    }
    s.heldTokens -= R.prompt[id] + R.generated[id];
    s.kv.release(id, true);
    R.state[id] = IN_TRANSIT;
    s.stats.movedOut++;
    return R.computed[id];
  }

  private checkMovable(id: number, what: string): void {
    const R = this.R;
    if (R.state[id] !== RUNNING || R.replica[id] !== this.s.index) throw new Error(`request ${id} cannot be ${what}: not running on replica ${this.s.index}`);
    if (this.busy && R.scheduled[id] > 0) throw new Error(`request ${id} cannot be ${what} on replica ${this.s.index}: it is in the batch in flight`);
  }

  /**
   * Request `id` (IN_TRANSIT, detached from another engine) joins this engine with the KV of its
   * first `computed` tokens in the blocks reserved for it here: running, with `computed` set (a
   * decode when `computed` = prompt + generated − 1; no prefill), keyed by this engine's policy
   * (`priority` at `now`, as at an arrival), counted in this engine's loads.
   * @throws Error if it is not in transit, has no reservation here, or the reservation is smaller
   *   than `computed` tokens need, or `computed` exceeds its sequence (bugs).
   */
  adopt(id: number, computed: number, now: number): void {
    const R = this.R;
    const s = this.s;
    if (R.state[id] !== IN_TRANSIT) throw new Error(`request ${id} adopted on replica ${s.index} while not in transit`);
    this.checkReservation(id);
    if (!(computed >= 0 && computed <= R.prompt[id] + R.generated[id])) throw new Error(`request ${id} adopted with ${computed} computed tokens`);
    s.kv.adopt(id, computed);
    R.reservedOn[id] = -1;
    s.reservations--;
    R.computed[id] = computed;
    R.replica[id] = s.index;
    s.heldTokens += R.prompt[id] + R.generated[id];
    R.key[id] = this.policy.priority(id, now);
    s.addRunning(id);
    s.stats.movedIn++;
  }

  /**
   * Forms the next batch at `now` and prices it.
   * @param horizon time of the next event that could change or look at this replica (an
   *   arrival, a released call; seconds): skip-ahead only bundles iterations that end by it.
   * @returns the end time of the iteration (or of the last of several skipped-over identical
   *   decode iterations), or -1 when there is nothing to run (the replica goes idle).
   * @throws Error if requests are queued but nothing could be scheduled (an engine bug: would hang).
   */
  start(now: number, horizon: number): number {
    const s = this.s;
    s.now = now;
    this.iterStart = now;
    this.policy.beforeSchedule?.(now);
    s.batch.reset();
    s.preempted = false;
    s.admitted = false;
    const batching = this.policy.batching;
    if (batching.mode === 'rank') formRankBatch(s, batching, this.rankScratch!);
    else formAdmitBatch(s);
    s.requeueDeferred();
    if (s.batch.count === 0) {
      // Blocks held by frozen requests or reservations are freed by a move's later event: wait for it.
      if (this.hasWork() && s.frozen === 0 && s.reservations === 0) throw new Error(`engine stalled at t=${now}: ${this.describeQueues()}, nothing schedulable`);
      this.busy = false;
      return -1;
    }
    const extra = this.extraTime;
    this.extraTime = 0;
    const pipe = this.pipeline;
    let end: number;
    let dt: number;
    if (pipe) {
      end = pipe.end(now, s.batch.shape, extra, s.batch.swapBytes / this.cfg.pcieBandwidth);
      pipe.commit();
      dt = end - now;
    } else {
      dt = this.price(extra);
      end = now + dt;
    }
    const st = s.stats;
    const used = s.kv.usedBlocks;
    st.iterations++;
    st.batchSizeSum += s.batch.count;
    st.kvBlockSeconds += used * dt;
    if (used > st.kvMaxBlocks) st.kvMaxBlocks = used;
    const work = this.cfg.work;
    if (work) {
      st.modelFlops += iterationFlops(work, s.batch.shape);
      st.hbmBytes += iterationBytes(work, s.batch.shape);
    }
    // Under pipeline parallelism decode steps are bundled only while no other virtual engine can
    // use the stages (their micro-batches would interleave with these).
    if (this.cfg.skipAhead && end < horizon && canSkipAhead(s, extra) && (!pipe || pipe.alone(this))) end = skipAhead(s, end, horizon, this.cost, this.hist, pipe);
    st.busy_s += end - now;
    this.busy = true;
    if (pipe) {
      pipe.flightStarted(now);
      pipe.notePeak();
    }
    this.observe(now, end);
    return end;
  }

  /** Seconds the batch just formed takes: the cost model, PCIe swap time and policies' `extra_s`. @throws Error for a negative or non-finite price. */
  private price(extra_s: number): number {
    const s = this.s;
    const dt = this.cost.iterationTime(s.batch.shape) + s.batch.swapBytes / this.cfg.pcieBandwidth + extra_s;
    if (!(dt >= 0) || !Number.isFinite(dt)) throw new Error(`cost model ${this.cost.name} returned ${dt} s`);
    return dt;
  }

  private describeQueues(): string {
    const s = this.s;
    return `${s.waiting.size} waiting, ${s.running.count} running, ${s.swapped.size} swapped, ${s.frozen} frozen, ${s.kv.freeBlocks} free blocks`;
  }

  private observe(start: number, end: number): void {
    if (!this.observer) return;
    const s = this.s;
    this.observer({
      replica: s.index,
      virtualEngine: this.virtualEngine,
      start,
      end,
      steps: s.batch.steps,
      batchSize: s.batch.count,
      prefillTokens: s.batch.shape.prefillTokens,
      prefillSeqs: s.batch.shape.prefillSeqs,
      decodeSeqs: s.batch.shape.decodeSeqs,
      kvBlocksUsed: s.kv.usedBlocks,
      kvBlocksCached: s.kv.cachedBlocks,
      kvBlocks: this.cfg.kvBlocks,
      waiting: s.waiting.size,
      running: s.running.count,
      swapped: s.swapped.size,
    });
  }

  /**
   * Applies the iteration that ends at `now`: advances each scheduled request, samples tokens,
   * completes finished requests (freeing their KV) and tells the policy.
   */
  finish(now: number): void {
    const R = this.R;
    const s = this.s;
    s.now = now;
    const steps = s.batch.steps;
    const dt = now - this.iterStart;
    const ids = s.batch.ids.ids;
    const count = s.batch.count;
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      R.service[id] += dt;
      if (steps > 1) {
        R.computed[id] += steps;
        R.generated[id] += steps;
        s.heldTokens += steps;
        R.bundleSampled(id, s.batch.firstStepEnd, now, s.batch.laterMaxGap);
      } else {
        R.computed[id] += R.scheduled[id];
        if (R.computed[id] === R.prompt[id] + R.generated[id]) {
          R.generated[id]++;
          s.heldTokens++;
          if (R.firstToken[id] < 0) R.firstToken[id] = now;
          R.tokenSampled(id, now);
          if (this.onPrefilled && R.generated[id] === 1 && R.output[id] > 1) this.prefilled.push(id);
        }
      }
      R.scheduled[id] = 0;
      if (R.generated[id] >= R.output[id]) {
        s.heldTokens -= R.prompt[id] + R.generated[id];
        R.completion[id] = now;
        R.state[id] = FINISHED;
        s.removeRunning(id);
        s.kv.release(id, true);
        this.policy.onComplete?.(id, now);
        this.onComplete?.(id, now);
      }
    }
    this.policy.onIterationEnd?.(ids, count, steps, now);
    this.busy = false;
    this.pipeline?.flightEnded(now);
    const p = this.prefilled;
    if (p.count > 0) {
      for (let i = 0; i < p.count; i++) {
        this.freeze(p.ids[i]);
        this.onPrefilled!(p.ids[i], now);
      }
      p.clear();
    }
  }
}
