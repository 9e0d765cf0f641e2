/**
 * One replica's continuous-batching serving engine, with vLLM semantics (shared/docs/policies.md
 * §0–§2): iteration-level scheduling under a token budget and a sequence budget, a paged KV
 * cache, prefill-priority iterations (vLLM v0) or chunked prefill with stall-free mixed batches
 * (Sarathi-Serve), and preemption on KV exhaustion by recompute or swap.
 *
 * Request progress follows vLLM v1 (see sim/requests.ts): each iteration schedules tokens per
 * request; a request whose `computed` reaches `prompt + generated` samples one output token.
 *
 * Where nothing can change the batch — no arrival, completion, preemption or policy re-keying
 * due — the engine advances over many decode iterations at once ("skip-ahead"), with results
 * identical to stepping them one by one (test/engine-skip.test.ts).
 */
import type { CostModel, BatchShape } from './cost/cost-model.ts';
import { emptyBatchShape } from './cost/cost-model.ts';
import type { Policy, PolicyContext } from './policy.ts';
import { IndexedHeap } from './indexed-heap.ts';
import { RequestTable, WAITING, RUNNING, SWAPPED, FINISHED, REJECTED } from './requests.ts';

/** Engine settings, resolved (all sizes explicit). Units: tokens, blocks, bytes, bytes/s. */
export interface EngineConfig {
  /** Most requests in one iteration's batch (vLLM `max_num_seqs`, default 256). */
  maxNumSeqs: number;
  /** Token budget of one iteration (`max_num_batched_tokens`; Sarathi's token budget τ). */
  maxNumBatchedTokens: number;
  /** Tokens per KV block (vLLM `block_size`, default 16). */
  blockSize: number;
  /** GPU KV-cache capacity in blocks (may be huge for `--kv-tokens unlimited`). */
  kvBlocks: number;
  /** Blocks admission must leave free (vLLM: 1% of GPU blocks). */
  watermarkBlocks: number;
  /** Chunked prefill with stall-free mixed batches (Sarathi-Serve) instead of prefill priority. */
  chunkedPrefill: boolean;
  /** Preemption mechanism under KV pressure. */
  preemption: 'recompute' | 'swap';
  /** CPU swap space in blocks (vLLM `swap_space`, default 4 GiB). */
  swapBlocks: number;
  /** Bytes of one KV block on one GPU (for the swap cost). */
  blockBytes: number;
  /** Host-device bandwidth for swapping, bytes/s. */
  pcieBandwidth: number;
  /** Advance over unchanged decode iterations at once (identical results; off only for tests). */
  skipAhead: boolean;
}

/** Counters of one engine, for the run summary. Times in seconds. */
export interface EngineStats {
  /** Forward passes (iterations), counting each skipped-over decode iteration. */
  iterations: number;
  /** Σ batch size over iterations (requests scheduled per iteration). */
  batchSizeSum: number;
  /** ∫ KV blocks in use dt over busy time (block·seconds). */
  kvBlockSeconds: number;
  /** Most KV blocks in use at once. */
  kvMaxBlocks: number;
  /** Preemptions (recompute plus swap-out). */
  preemptions: number;
  /** Preemptions by recompute, including swap attempts that fell back for lack of swap space. */
  recomputes: number;
  /** Swap-outs and swap-ins, and the bytes they moved. */
  swapOuts: number;
  swapIns: number;
  swapBytes: number;
  /** Swap preemptions that fell back to recompute because the swap space was full. */
  swapFallbacks: number;
  /** Requests rejected because they can never fit in the KV cache. */
  rejected: number;
  /** Time the engine was running iterations. */
  busy_s: number;
}

/** One (possibly skipped-over multi-step) iteration, as passed to an observer. */
export interface IterationRecord {
  /** Replica index (0 with one replica). */
  replica: number;
  /** Start and end time (s). */
  start: number;
  end: number;
  /** Consecutive identical decode iterations covered (1 unless skipped ahead). */
  steps: number;
  /** Requests in the batch. */
  batchSize: number;
  prefillTokens: number;
  decodeSeqs: number;
  /** KV blocks in use at the end (the most during the record), and the capacity. */
  kvBlocksUsed: number;
  kvBlocks: number;
  /** Queue lengths after the batch was formed. */
  waiting: number;
  running: number;
  swapped: number;
}

/** Called after each iteration is formed; for tests, time series and plots. */
export type IterationObserver = (r: IterationRecord) => void;

/** A fresh zeroed stats record. */
export function emptyEngineStats(): EngineStats {
  return {
    iterations: 0,
    batchSizeSum: 0,
    kvBlockSeconds: 0,
    kvMaxBlocks: 0,
    preemptions: 0,
    recomputes: 0,
    swapOuts: 0,
    swapIns: 0,
    swapBytes: 0,
    swapFallbacks: 0,
    rejected: 0,
    busy_s: 0,
  };
}

/**
 * A single replica. The simulator calls `arrive` for each request, `start` when the replica is
 * idle or an iteration has ended, and `finish` at the end of each iteration.
 */
export class Engine {
  /** Counters for the summary. */
  readonly stats: EngineStats = emptyEngineStats();
  /** Whether an iteration is in flight. */
  busy = false;
  /** Called when a request completes (after the policy's onComplete); the simulator releases dependent calls. */
  onComplete: ((id: number, now: number) => void) | undefined = undefined;

  private readonly cfg: EngineConfig;
  private readonly R: RequestTable;
  private readonly policy: Policy;
  private readonly cost: CostModel;
  private readonly observer: IterationObserver | undefined;
  /** Replica index in the cluster. */
  readonly index: number;

  private readonly waiting: IndexedHeap;
  private readonly swapped: IndexedHeap;
  /** Running requests by largest key first: the preemption victims. */
  private readonly victims: IndexedHeap;
  private readonly runList: Int32Array;
  private readonly runPos: Int32Array;
  private runCount = 0;

  private freeBlocks: number;
  /** Σ (prompt + generated) over unfinished requests (see `outstandingTokens`). */
  private heldTokens = 0;
  private usedBlocks = 0;
  private swapFree: number;

  private readonly batch: Int32Array;
  private batchCount = 0;
  private steps = 1;
  private readonly shape: BatchShape = emptyBatchShape();
  private readonly scratch: Int32Array;
  /** Requests preempted by recompute this iteration: they rejoin the waiting queue after it is formed. */
  private readonly deferred: Int32Array;
  private deferredCount = 0;
  private readonly hist: Int32Array;
  /** Rank mode: selected ids, their tokens and source queue, by selection index. */
  private readonly selIds: Int32Array;
  private readonly selTokens: Int32Array;
  private readonly selFrom: Uint8Array;
  /** Rank mode: queue of the request `nextRanked` returned (RUNNING, WAITING or SWAPPED). */
  private rankedFrom = 0;
  /** Rank mode: 1 for running requests in the selected prefix or pinned (never displaced this iteration). */
  private readonly keep: Uint8Array;
  private tokensLeft = 0;
  private swapBytesThisIteration = 0;
  /** Server time policies added for the next iteration (ctx.addIterationTime), seconds. */
  private extraTime = 0;
  private preemptedThisIteration = false;
  private now = 0;
  /** Start time of the iteration in flight (s). */
  private iterStart = 0;

  /**
   * @param cfg resolved engine settings.
   * @param requests the run's request table (ids are trace indices).
   * @param policy the scheduling policy (attached here).
   * @param cost prices each iteration.
   * @param opts.observer optional per-iteration callback.
   * @param opts.shared state shared by the policies of all replicas of the run (`PolicyContext.shared`).
   * @param opts.index this replica's index in the cluster (default 0), reported to the observer.
   */
  constructor(
    cfg: EngineConfig,
    requests: RequestTable,
    policy: Policy,
    cost: CostModel,
    opts: { observer?: IterationObserver; shared?: Map<string, unknown>; index?: number } = {},
  ) {
    this.cfg = cfg;
    this.R = requests;
    this.policy = policy;
    this.cost = cost;
    this.observer = opts.observer;
    this.index = opts.index ?? 0;
    const shared = opts.shared ?? new Map<string, unknown>();
    const n = requests.n;
    this.waiting = new IndexedHeap(n, requests.key, requests.tie);
    this.swapped = new IndexedHeap(n, requests.key, requests.tie);
    this.victims = new IndexedHeap(n, requests.key, requests.tie, true);
    this.runList = new Int32Array(Math.max(1, n));
    this.runPos = new Int32Array(Math.max(1, n)).fill(-1);
    this.batch = new Int32Array(Math.max(1, n));
    this.scratch = new Int32Array(Math.max(1, n));
    this.deferred = new Int32Array(Math.max(1, n));
    this.hist = new Int32Array(cfg.blockSize);
    this.freeBlocks = cfg.kvBlocks;
    this.swapFree = cfg.swapBlocks;
    this.selIds = new Int32Array(Math.max(1, n));
    this.selTokens = new Int32Array(Math.max(1, n));
    this.selFrom = new Uint8Array(Math.max(1, n));
    this.keep = new Uint8Array(Math.max(1, n));
    const ctx: PolicyContext = {
      requests,
      setPriority: (id, key) => this.setPriority(id, key),
      running: () => this.runList.subarray(0, this.runCount),
      runningCount: () => this.runCount,
      waitingCount: () => this.waiting.size,
      addIterationTime: (seconds) => {
        if (!(seconds >= 0) || !Number.isFinite(seconds)) throw new Error(`policy ${policy.name} added ${seconds} s to an iteration`);
        this.extraTime += seconds;
      },
      shared,
    };
    policy.attach(ctx);
  }

  /** KV blocks in use on the GPU. */
  get kvBlocksUsed(): number {
    return this.usedBlocks;
  }

  /** Requests waiting, running and swapped. */
  get queueLengths(): { waiting: number; running: number; swapped: number } {
    return { waiting: this.waiting.size, running: this.runCount, swapped: this.swapped.size };
  }

  /** Whether any request is queued or in flight. */
  hasWork(): boolean {
    return this.outstandingRequests > 0;
  }

  /** Requests on this replica not yet finished: waiting, running (incl. paused) and swapped. */
  get outstandingRequests(): number {
    return this.waiting.size + this.runCount + this.swapped.size;
  }

  /**
   * Tokens of the unfinished requests on this replica: Σ (prompt + generated so far). What a
   * router that balances by load in tokens sees (non-clairvoyant: no output lengths).
   */
  get outstandingTokens(): number {
    return this.heldTokens;
  }

  /**
   * Llumnix's freeness (Sun et al., arXiv 2406.03243 §4.4; shared/docs/policies.md §9; the
   * code's `remaining_steps` with defragmentation on): (free KV blocks − the head-of-line waiting
   * request's block demand) / (requests on the replica + 1). Roughly how many more decode steps
   * the batch can run; higher is freer. Unitless (blocks per request).
   */
  get freeness(): number {
    const head = this.waiting.peek();
    const demand = head >= 0 ? this.blocksFor(this.R.prompt[head] + this.R.generated[head]) : 0;
    return (this.freeBlocks - demand) / (this.outstandingRequests + 1);
  }

  /** Ceil(tokens / blockSize). */
  private blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.cfg.blockSize);
  }

  /**
   * Whether request `id` can ever complete on this replica: its largest KV footprint
   * (prompt + output − 1 tokens: the last token is sampled, never cached) plus the admission
   * watermark must fit the GPU's blocks.
   */
  canEverFit(id: number): boolean {
    const need = this.blocksFor(this.R.prompt[id] + this.R.output[id] - 1);
    return need + this.cfg.watermarkBlocks <= this.cfg.kvBlocks;
  }

  /**
   * A request arrives at `now`: rejected if it can never fit, else queued with its priority.
   * @returns false when rejected.
   */
  arrive(id: number, now: number): boolean {
    const R = this.R;
    if (!this.canEverFit(id)) {
      this.reject(id);
      return false;
    }
    R.state[id] = WAITING;
    this.heldTokens += R.prompt[id] + R.generated[id];
    R.key[id] = this.policy.priority(id, now);
    this.waiting.push(id);
    return true;
  }

  /** Marks request `id` rejected (it can never fit, or a call it depends on was rejected) and counts it. */
  reject(id: number): void {
    this.R.state[id] = REJECTED;
    this.stats.rejected++;
  }

  private setPriority(id: number, key: number): void {
    if (Number.isNaN(key)) throw new Error(`policy ${this.policy.name} gave request ${id} a NaN priority`);
    this.R.key[id] = key;
    this.waiting.update(id);
    this.swapped.update(id);
    this.victims.update(id);
  }

  private addRunning(id: number): void {
    this.R.state[id] = RUNNING;
    this.runPos[id] = this.runCount;
    this.runList[this.runCount++] = id;
    this.victims.push(id);
  }

  private removeRunning(id: number): void {
    const p = this.runPos[id];
    const last = this.runList[--this.runCount];
    this.runList[p] = last;
    this.runPos[last] = p;
    this.runPos[id] = -1;
    this.victims.remove(id);
  }

  /** Grows request `id`'s GPU blocks to cover `tokens` KV slots. Caller checked they are free. */
  private allocate(id: number, tokens: number): void {
    const want = this.blocksFor(tokens);
    const add = want - this.R.blocks[id];
    if (add > 0) {
      this.R.blocks[id] = want;
      this.freeBlocks -= add;
      this.usedBlocks += add;
    }
  }

  private freeGpuBlocks(id: number): void {
    const b = this.R.blocks[id];
    this.R.blocks[id] = 0;
    this.freeBlocks += b;
    this.usedBlocks -= b;
  }

  /** Whether running request `id` is decoding (its next step is one token). */
  private isDecode(id: number): boolean {
    const R = this.R;
    return R.generated[id] >= 1 && R.computed[id] === R.prompt[id] + R.generated[id] - 1;
  }

  /** Whether decoding request `id` needs one more block for its next token. */
  private needsBlock(id: number): boolean {
    return this.R.computed[id] + 1 > this.R.blocks[id] * this.cfg.blockSize;
  }

  /** Adds `s` tokens of request `id` to the batch and to the iteration's shape. */
  private schedule(id: number, s: number): void {
    const R = this.R;
    const c = R.computed[id];
    const nt = R.prompt[id] + R.generated[id];
    R.scheduled[id] = s;
    this.batch[this.batchCount++] = id;
    if (R.firstScheduled[id] < 0) R.firstScheduled[id] = this.now;
    const sh = this.shape;
    if (s === 1 && R.generated[id] >= 1 && c === nt - 1) {
      sh.decodeSeqs++;
      sh.decodeKvTokens += c + 1;
    } else {
      sh.prefillSeqs++;
      sh.prefillTokens += s;
      sh.prefillAttnPairs += s * (c + (s + 1) / 2);
      sh.prefillCachedTokens += c;
    }
    if (c + s === nt) sh.sampledSeqs++;
    this.tokensLeft -= s;
    this.allocate(id, c + s);
  }

  /**
   * Preempts running request `id` by `mechanism` (default: the configured `--preemption`): swap
   * it out if there is swap space, else recompute.
   */
  private preempt(id: number, mechanism: 'recompute' | 'swap' = this.cfg.preemption): void {
    const R = this.R;
    const cfg = this.cfg;
    this.removeRunning(id);
    R.preemptions[id]++;
    this.stats.preemptions++;
    this.preemptedThisIteration = true;
    const b = R.blocks[id];
    if (mechanism === 'swap' && b <= this.swapFree) {
      const bytes = b * cfg.blockBytes;
      this.swapBytesThisIteration += bytes;
      this.stats.swapOuts++;
      this.stats.swapBytes += bytes;
      this.swapFree -= b;
      R.swappedBlocks[id] = b;
      this.freeGpuBlocks(id);
      R.state[id] = SWAPPED;
      this.swapped.push(id);
    } else {
      if (mechanism === 'swap') this.stats.swapFallbacks++;
      this.stats.recomputes++;
      this.freeGpuBlocks(id);
      R.computed[id] = 0;
      R.state[id] = WAITING;
      this.deferred[this.deferredCount++] = id;
    }
    this.policy.onPreempt?.(id, this.now);
  }

  /**
   * Schedules every running request for this iteration: decodes one token each (preempting the
   * lowest-priority running requests while the KV cache cannot hold the new tokens), then
   * continues partial prefills in key order with what is left of the token budget.
   */
  private scheduleRunning(): void {
    let need = 0;
    for (let i = 0; i < this.runCount; i++) {
      const id = this.runList[i];
      if (this.isDecode(id) && this.needsBlock(id)) need++;
    }
    while (need > this.freeBlocks && this.runCount > 0) {
      const v = this.victims.peek();
      if (this.isDecode(v) && this.needsBlock(v)) need--;
      this.preempt(v);
    }
    let partial = 0;
    for (let i = 0; i < this.runCount; i++) {
      const id = this.runList[i];
      if (this.isDecode(id)) this.schedule(id, 1);
      else this.scratch[partial++] = id;
    }
    if (partial > 0) {
      sortByKey(this.scratch, partial, this.R.key, this.R.tie);
      for (let i = 0; i < partial && this.tokensLeft > 0; i++) {
        const id = this.scratch[i];
        const rem = this.R.prompt[id] + this.R.generated[id] - this.R.computed[id];
        this.schedule(id, Math.min(rem, this.tokensLeft));
      }
    }
  }

  /** Swaps swapped-out requests back in, in key order, while sequences, tokens and blocks allow. */
  private swapIn(): void {
    const R = this.R;
    const cfg = this.cfg;
    while (this.swapped.size > 0 && this.runCount < cfg.maxNumSeqs && this.tokensLeft > 0) {
      const id = this.swapped.peek();
      const b = R.swappedBlocks[id];
      const nt = R.prompt[id] + R.generated[id];
      const rem = nt - R.computed[id];
      const s = Math.min(rem, this.tokensLeft);
      const need = Math.max(b, this.blocksFor(R.computed[id] + s));
      if (this.freeBlocks - need < cfg.watermarkBlocks) break;
      this.swapped.pop();
      this.swapInOne(id);
      this.schedule(id, s);
    }
  }

  /** Moves request `id` (already out of the swapped queue) back to the GPU, costing PCIe time. */
  private swapInOne(id: number): void {
    const R = this.R;
    const b = R.swappedBlocks[id];
    const bytes = b * this.cfg.blockBytes;
    this.swapBytesThisIteration += bytes;
    this.stats.swapIns++;
    this.stats.swapBytes += bytes;
    this.swapFree += b;
    R.swappedBlocks[id] = 0;
    R.blocks[id] = b;
    this.freeBlocks -= b;
    this.usedBlocks += b;
    this.addRunning(id);
  }

  /**
   * Limited preemption on a full batch (non-preemptive mode with `canDisplace`: TRAIL §5): when
   * the head of the waiting queue does not fit the sequence budget or the KV cache, preempt the
   * displaceable running request with the largest key, if that key is larger than the head's and
   * the preemption makes the head fit. One victim per iteration (so per admitted request), chosen
   * before the batch is formed, preempted by recompute (TRAIL releases the victim's KV). O(running).
   */
  private preemptForHead(): void {
    const policy = this.policy;
    const w = this.waiting.peek();
    if (w < 0 || !policy.canDisplace) return;
    const R = this.R;
    const cfg = this.cfg;
    // vLLM v0 admits no prefill while requests are swapped out: a victim would not make room.
    if (!cfg.chunkedPrefill && this.swapped.size > 0) return;
    const need = this.blocksFor(R.prompt[w] + R.generated[w]);
    if (this.runCount < cfg.maxNumSeqs && this.freeBlocks - need >= cfg.watermarkBlocks) return;
    let v = -1;
    for (let i = 0; i < this.runCount; i++) {
      const id = this.runList[i];
      if (R.key[id] > R.key[w] && (v < 0 || before(v, id, R.key, R.tie)) && policy.canDisplace(id)) v = id;
    }
    if (v < 0 || this.freeBlocks + R.blocks[v] - need < cfg.watermarkBlocks) return;
    this.preempt(v, 'recompute');
  }

  /**
   * Admits waiting requests in key order, stopping at the first that does not fit the sequence
   * budget, the token budget (prefill priority: its whole remaining prompt, except that one
   * oversized prefill may run alone; chunked: any non-empty chunk) or the KV cache (blocks for
   * its whole sequence so far, leaving the watermark free: vLLM's `can_allocate`).
   * @returns the number admitted.
   */
  private admitWaiting(chunked: boolean): number {
    const R = this.R;
    const cfg = this.cfg;
    let admitted = 0;
    while (this.waiting.size > 0 && this.tokensLeft > 0) {
      const id = this.waiting.peek();
      const nt = R.prompt[id] + R.generated[id];
      if (!chunked && nt > this.tokensLeft && admitted > 0) break;
      if (this.runCount >= cfg.maxNumSeqs || this.freeBlocks - this.blocksFor(nt) < cfg.watermarkBlocks) break;
      this.waiting.pop();
      this.addRunning(id);
      this.allocate(id, nt);
      this.schedule(id, chunked ? Math.min(nt, this.tokensLeft) : nt);
      admitted++;
    }
    return admitted;
  }

  /** Tokens request `id` would compute next: 1 for a decode, else its prefill (chunk). */
  private nextTokens(id: number): number {
    const R = this.R;
    const rem = R.prompt[id] + R.generated[id] - R.computed[id];
    return this.cfg.chunkedPrefill ? Math.min(rem, this.tokensLeft) : rem;
  }

  /** KV blocks request `id` must gain to run `s` more tokens (waiting: its whole sequence, as vLLM v0). */
  private blocksToGain(id: number, s: number, from: number): number {
    const R = this.R;
    if (from === WAITING) return this.blocksFor(R.prompt[id] + R.generated[id]);
    const held = from === SWAPPED ? R.swappedBlocks[id] : R.blocks[id];
    return Math.max(held, this.blocksFor(R.computed[id] + s)) - (from === SWAPPED ? 0 : held);
  }

  /**
   * Displaces running request `id` (rank mode): by recompute for `displacement: 'recompute'`,
   * else by swap (`'swap'`, and `'pause'` when evicted under memory pressure: learning-to-rank's
   * SWAP mode).
   */
  private displace(id: number): void {
    this.preempt(id, this.policy.displacement === 'recompute' ? 'recompute' : 'swap');
  }

  /**
   * Rank mode: the first in key order of running request `running` (-1: none left), the waiting
   * head (if `withWaiting`) and the swapped head; sets `rankedFrom` to its queue. -1 when none.
   */
  private nextRanked(running: number, withWaiting: boolean): number {
    const R = this.R;
    let id = running;
    let from = RUNNING;
    const w = withWaiting ? this.waiting.peek() : -1;
    const sw = this.swapped.peek();
    if (w >= 0 && (id < 0 || before(w, id, R.key, R.tie))) { id = w; from = WAITING; }
    if (sw >= 0 && (id < 0 || before(sw, id, R.key, R.tie))) { id = sw; from = SWAPPED; }
    this.rankedFrom = from;
    return id;
  }

  /** Rank mode: takes selected `id` out of its queue (a running one is marked kept). @returns whether it was running. */
  private take(id: number, from: number): boolean {
    if (from === RUNNING) {
      this.keep[id] = 1;
      return true;
    }
    (from === WAITING ? this.waiting : this.swapped).pop();
    return false;
  }

  /**
   * Rank-mode walk with chunked prefill, stall-free as Sarathi-Serve (Agrawal et al., arXiv
   * 2403.02310 §4.3): requests are taken in key order (running from `this.scratch`, waiting,
   * swapped) while the sequence budget holds and decodes have tokens; each decode takes one token,
   * and prefill chunks share what all selected decodes leave, in key order. A prefill that gets no
   * tokens is not selected: a running one (a partial prefill) keeps its KV and is not displaced,
   * a waiting or swapped one stays queued (`keep` = HOLD: evictable under memory pressure like an
   * unselected request). Without this, one high-ranked new prefill would take the
   * whole budget and displace every decode ranked behind it.
   * @param nSel requests already selected (pinned); @param budget tokens left for the walk.
   * @returns the selection size.
   */
  private walkChunked(nSel: number, budget: number): number {
    const R = this.R;
    const cfg = this.cfg;
    const run = this.scratch;
    const nRun = this.runCount;
    const keep = this.keep;
    const sel = this.selIds;
    const selTok = this.selTokens;
    const selFrom = this.selFrom;
    const first = nSel;
    let decodes = 0;
    let prefillTokens = 0;
    let prefillsOpen = true;
    let skipped: number[] | undefined;
    let ri = 0;
    for (;;) {
      while (ri < nRun && run[ri] < 0) ri++;
      const id = this.nextRanked(ri < nRun ? run[ri] : -1, prefillsOpen);
      const from = this.rankedFrom;
      if (id < 0 || nSel >= cfg.maxNumSeqs || decodes >= budget) break;
      const decode = from !== WAITING && this.isDecode(id);
      const room = budget - decodes - prefillTokens;
      if (decode) {
        decodes++;
        sel[nSel] = id; selTok[nSel] = 1; selFrom[nSel] = from; nSel++;
      } else if (prefillsOpen && room > 0) {
        const t = Math.min(R.prompt[id] + R.generated[id] - R.computed[id], room);
        prefillTokens += t;
        sel[nSel] = id; selTok[nSel] = t; selFrom[nSel] = from; nSel++;
      } else {
        // No tokens for this prefill: from here on only decodes can join.
        prefillsOpen = false;
        if (from === RUNNING) {
          keep[id] = HOLD;
          ri++;
        } else if (from === SWAPPED) {
          this.swapped.pop();
          (skipped ??= []).push(id);
        }
        continue;
      }
      if (this.take(id, from)) ri++;
    }
    if (skipped) for (const id of skipped) this.swapped.push(id);
    // Decodes first: prefill chunks get what every selected decode leaves, in key order.
    let left = budget - decodes;
    let k = first;
    for (let i = first; i < nSel; i++) {
      const id = sel[i];
      const from = selFrom[i];
      let t = selTok[i];
      if (!(from !== WAITING && this.isDecode(id))) {
        t = Math.min(R.prompt[id] + R.generated[id] - R.computed[id], left);
        left -= t;
        if (t === 0) {
          if (from === WAITING) this.waiting.push(id);
          else if (from === SWAPPED) this.swapped.push(id);
          else keep[id] = HOLD; // a running partial prefill waits with its KV
          continue;
        }
      }
      sel[k] = id; selTok[k] = t; selFrom[k] = from; k++;
    }
    return k;
  }

  /**
   * Rank-mode batch formation for preemptive policies (learning-to-rank §4 steps 3–6, TRAIL,
   * Autellix): running requests the policy may not displace go first; then all requests —
   * running, waiting and swapped — are walked in key order and selected while the sequence and
   * token budgets hold, stopping at the first that does not fit. KV for the selection comes from
   * free blocks, then from evicting unselected running requests (largest key first), then by
   * dropping selected ones from the tail (pinned ones too: memory pressure overrides limited
   * preemption, which only limits displacement by rank). Unselected running requests are paused with their KV
   * (`displacement: 'pause'`) or preempted. Without chunked prefill, an iteration with a prefill
   * runs only its prefills (vLLM v0's prefill priority); the prefix's decodes wait, keeping their KV.
   */
  private scheduleRank(): void {
    const R = this.R;
    const cfg = this.cfg;
    const policy = this.policy;
    const run = this.scratch;
    const nRun = this.runCount;
    const keep = this.keep;
    const sel = this.selIds;
    const selTok = this.selTokens;
    const selFrom = this.selFrom;
    // The running list itself is kept in key order from one iteration to the next, so this
    // insertion sort only fixes what changed since (close to linear, not quadratic).
    sortByKey(this.runList, nRun, R.key, R.tie);
    for (let i = 0; i < nRun; i++) {
      const id = this.runList[i];
      this.runPos[id] = i;
      run[i] = id;
    }
    let nSel = 0;
    let tokens = cfg.maxNumBatchedTokens;
    // Pinned running requests (not displaceable now) are kept, and scheduled if the budget allows.
    if (policy.canDisplace) {
      for (let i = 0; i < nRun; i++) {
        const id = run[i];
        if (policy.canDisplace(id)) continue;
        keep[id] = 1;
        run[i] = -1;
        this.tokensLeft = tokens;
        const s = this.nextTokens(id);
        if (nSel < cfg.maxNumSeqs && s > 0 && s <= tokens) {
          sel[nSel] = id; selTok[nSel] = s; selFrom[nSel] = RUNNING; nSel++;
          tokens -= s;
        }
      }
    }
    // Walk running, waiting and swapped together in key order; stop at the first misfit.
    let ri = 0;
    if (cfg.chunkedPrefill && policy.stallFree) {
      nSel = this.walkChunked(nSel, tokens);
      ri = nRun;
    }
    for (;;) {
      while (ri < nRun && run[ri] < 0) ri++;
      const id = this.nextRanked(ri < nRun ? run[ri] : -1, true);
      const from = this.rankedFrom;
      if (id < 0 || nSel >= cfg.maxNumSeqs || tokens <= 0) break;
      this.tokensLeft = tokens;
      const s = this.nextTokens(id);
      if (s > tokens && nSel > 0) break;
      sel[nSel] = id; selTok[nSel] = s; selFrom[nSel] = from; nSel++;
      tokens -= s;
      if (this.take(id, from)) ri++;
    }
    // Memory: free blocks, then evict unselected running (largest key first), then drop the tail.
    let need = 0;
    for (let i = 0; i < nSel; i++) need += this.blocksToGain(sel[i], selTok[i], selFrom[i]);
    let admitting = 0; // selected requests that are not running yet (admission keeps the watermark)
    for (let i = 0; i < nSel; i++) if (selFrom[i] !== RUNNING) admitting++;
    const deficit = () => need - this.freeBlocks + (admitting > 0 ? cfg.watermarkBlocks : 0);
    for (let i = nRun - 1; i >= 0 && deficit() > 0; i--) {
      const id = run[i];
      if (id >= 0 && keep[id] !== 1 && R.state[id] === RUNNING) this.displace(id);
    }
    while (nSel > 0 && deficit() > 0) {
      nSel--;
      const id = sel[nSel];
      need -= this.blocksToGain(id, selTok[nSel], selFrom[nSel]);
      if (selFrom[nSel] !== RUNNING) admitting--;
      if (selFrom[nSel] === WAITING) this.waiting.push(id);
      else if (selFrom[nSel] === SWAPPED) this.swapped.push(id);
      else {
        // Memory pressure overrides limited preemption (as vLLM's block manager does for TRAIL).
        keep[id] = 0;
        this.displace(id);
      }
    }
    // Prefill priority without chunking: an iteration with a prefill runs only its prefills.
    if (!cfg.chunkedPrefill) {
      let anyPrefill = false;
      for (let i = 0; i < nSel; i++) if (selFrom[i] === WAITING || !this.isDecode(sel[i])) anyPrefill = true;
      if (anyPrefill) {
        let k = 0;
        for (let i = 0; i < nSel; i++) {
          const id = sel[i];
          if (selFrom[i] !== WAITING && this.isDecode(id)) {
            if (selFrom[i] === SWAPPED) this.swapped.push(id);
            continue;
          }
          sel[k] = id; selTok[k] = selTok[i]; selFrom[k] = selFrom[i]; k++;
        }
        nSel = k;
      }
    }
    // Unselected running requests: paused with their KV, or preempted now.
    for (let i = 0; i < nRun; i++) {
      const id = run[i];
      if (id >= 0 && keep[id] === 0 && R.state[id] === RUNNING && policy.displacement !== 'pause') this.displace(id);
    }
    for (let i = 0; i < this.runCount; i++) keep[this.runList[i]] = 0;
    // Schedule the selection.
    this.tokensLeft = cfg.maxNumBatchedTokens;
    for (let i = 0; i < nSel; i++) {
      const id = sel[i];
      if (selFrom[i] === WAITING) {
        this.addRunning(id);
        this.allocate(id, R.prompt[id] + R.generated[id]);
      } else if (selFrom[i] === SWAPPED) {
        this.swapInOne(id);
      }
      this.schedule(id, selTok[i]);
    }
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
    const cfg = this.cfg;
    this.now = now;
    this.iterStart = now;
    this.policy.beforeSchedule?.(now);
    this.batchCount = 0;
    this.steps = 1;
    const sh = this.shape;
    sh.prefillTokens = 0;
    sh.prefillSeqs = 0;
    sh.prefillAttnPairs = 0;
    sh.prefillCachedTokens = 0;
    sh.decodeSeqs = 0;
    sh.decodeKvTokens = 0;
    sh.sampledSeqs = 0;
    this.tokensLeft = cfg.maxNumBatchedTokens;
    this.swapBytesThisIteration = 0;
    this.preemptedThisIteration = false;

    if (!this.policy.preemptive && this.policy.canDisplace) this.preemptForHead();
    if (this.policy.preemptive) {
      this.scheduleRank();
    } else if (cfg.chunkedPrefill) {
      // Sarathi-Serve Algorithm 3 on vLLM's chunked path: decodes, partial prefills, swap-ins, new prefills.
      this.scheduleRunning();
      if (!this.preemptedThisIteration) this.swapIn();
      this.admitWaiting(true);
    } else {
      // vLLM v0 `_schedule_default`: prefills (only if nothing is swapped out) make a prefill-only
      // iteration; otherwise decode all running, then swap in if nothing was preempted.
      const admitted = this.swapped.size === 0 ? this.admitWaiting(false) : 0;
      if (admitted === 0) {
        this.scheduleRunning();
        if (!this.preemptedThisIteration) this.swapIn();
      }
    }

    // As vLLM: requests preempted by recompute rejoin the waiting queue (at their key's place)
    // only after this iteration's batch is formed.
    for (let i = 0; i < this.deferredCount; i++) this.waiting.push(this.deferred[i]);
    this.deferredCount = 0;

    if (this.batchCount === 0) {
      if (this.hasWork()) {
        throw new Error(
          `engine stalled at t=${now}: ${this.waiting.size} waiting, ${this.runCount} running, ` +
            `${this.swapped.size} swapped, ${this.freeBlocks} free blocks, nothing schedulable`,
        );
      }
      this.busy = false;
      return -1;
    }

    const extra = this.extraTime;
    this.extraTime = 0;
    let dt = this.cost.iterationTime(sh) + this.swapBytesThisIteration / cfg.pcieBandwidth + extra;
    if (!(dt >= 0) || !Number.isFinite(dt)) throw new Error(`cost model ${this.cost.name} returned ${dt} s`);
    const st = this.stats;
    st.iterations++;
    st.batchSizeSum += this.batchCount;
    st.kvBlockSeconds += this.usedBlocks * dt;
    if (this.usedBlocks > st.kvMaxBlocks) st.kvMaxBlocks = this.usedBlocks;
    let end = now + dt;
    if (
      cfg.skipAhead &&
      end < horizon &&
      sh.prefillSeqs === 0 &&
      this.swapBytesThisIteration === 0 &&
      extra === 0 &&
      !this.preemptedThisIteration &&
      (this.policy.preemptive || this.batchCount === this.runCount)
    ) {
      end = this.skipAhead(end, horizon);
    }
    st.busy_s += end - now;
    this.busy = true;
    if (this.observer) {
      this.observer({
        replica: this.index,
        start: now,
        end,
        steps: this.steps,
        batchSize: this.batchCount,
        prefillTokens: sh.prefillTokens,
        decodeSeqs: sh.decodeSeqs,
        kvBlocksUsed: this.usedBlocks,
        kvBlocks: cfg.kvBlocks,
        waiting: this.waiting.size,
        running: this.runCount,
        swapped: this.swapped.size,
      });
    }
    return end;
  }

  /**
   * Extends a decode-only batch (every running request decoding, step 1 already allocated and
   * priced, ending at `t`) over further identical iterations: until the first completion is due,
   * the KV cache would need a preemption, the policy's keys may change, or an iteration would
   * end after `horizon`. Each step is priced exactly as stepping would price it.
   * @returns the end time of the last step; sets `this.steps`.
   */
  private skipAhead(t: number, horizon: number): number {
    const R = this.R;
    const bs = this.cfg.blockSize;
    const B = this.batchCount;
    let kMax = this.policy.stableIterations ? this.policy.stableIterations(this.now) : Infinity;
    const hist = this.hist;
    hist.fill(0);
    for (let i = 0; i < B; i++) {
      const id = this.batch[i];
      const left = R.output[id] - R.generated[id];
      if (left < kMax) kMax = left;
      const r = R.blocks[id] * bs - (R.computed[id] + 1);
      if (r >= bs) return t; // not at block granularity (cannot happen after a whole prefill); step normally
      hist[r]++;
    }
    if (kMax <= 1) return t;
    const sh = this.shape;
    const st = this.stats;
    const kv1 = sh.decodeKvTokens;
    let free = this.freeBlocks;
    let used = this.usedBlocks;
    // With limited preemption on a full batch, a waiting head that still fits the KV cache (but
    // was not admitted for lack of token budget) could become "full" as decodes grow: stop before.
    const head = this.waiting.peek();
    const headFloor =
      head >= 0 && !this.policy.preemptive && this.policy.canDisplace && this.runCount < this.cfg.maxNumSeqs
        ? this.blocksFor(R.prompt[head] + R.generated[head]) + this.cfg.watermarkBlocks
        : -Infinity;
    let steps = 1;
    while (steps < kMax) {
      const cross = hist[(steps - 1) % bs];
      if (cross > free || free - cross < headFloor) break;
      sh.decodeKvTokens = kv1 + steps * B;
      const dt = this.cost.iterationTime(sh);
      // The bundle ends by the next event: whoever looks at this replica then (a router) sees
      // the state stepping would show.
      if (t + dt > horizon) break;
      free -= cross;
      used += cross;
      t += dt;
      st.iterations++;
      st.batchSizeSum += B;
      st.kvBlockSeconds += used * dt;
      steps++;
    }
    if (used > st.kvMaxBlocks) st.kvMaxBlocks = used;
    if (steps > 1) {
      for (let i = 0; i < B; i++) {
        const id = this.batch[i];
        R.blocks[id] = this.blocksFor(R.computed[id] + steps);
      }
      this.freeBlocks = free;
      this.usedBlocks = used;
    }
    this.steps = steps;
    return t;
  }

  /**
   * Applies the iteration that ends at `now`: advances each scheduled request, samples tokens,
   * completes finished requests (freeing their KV) and tells the policy.
   */
  finish(now: number): void {
    const R = this.R;
    this.now = now;
    const steps = this.steps;
    const dt = now - this.iterStart;
    for (let i = 0; i < this.batchCount; i++) {
      const id = this.batch[i];
      R.service[id] += dt;
      if (steps > 1) {
        R.computed[id] += steps;
        R.generated[id] += steps;
        this.heldTokens += steps;
      } else {
        R.computed[id] += R.scheduled[id];
        if (R.computed[id] === R.prompt[id] + R.generated[id]) {
          R.generated[id]++;
          this.heldTokens++;
          if (R.firstToken[id] < 0) R.firstToken[id] = now;
        }
      }
      R.scheduled[id] = 0;
      if (R.generated[id] >= R.output[id]) {
        this.heldTokens -= R.prompt[id] + R.generated[id];
        R.completion[id] = now;
        R.state[id] = FINISHED;
        this.removeRunning(id);
        this.freeGpuBlocks(id);
        this.policy.onComplete?.(id, now);
        this.onComplete?.(id, now);
      }
    }
    this.policy.onIterationEnd?.(this.batch, this.batchCount, steps, now);
    this.busy = false;
  }
}

/** Rank mode `keep` mark: a running partial prefill left without tokens this iteration (not displaced by rank). */
const HOLD = 2;

/** Whether id a comes before id b in (key, tie) order. */
function before(a: number, b: number, key: Float64Array, tie: Float64Array): boolean {
  return key[a] < key[b] || (key[a] === key[b] && tie[a] < tie[b]);
}

/** Sorts ids[0..n) by (key, tie) ascending; insertion sort (n is a handful of partial prefills). */
function sortByKey(ids: Int32Array, n: number, key: Float64Array, tie: Float64Array): void {
  for (let i = 1; i < n; i++) {
    const id = ids[i];
    let j = i - 1;
    while (j >= 0 && (key[ids[j]] > key[id] || (key[ids[j]] === key[id] && tie[ids[j]] > tie[id]))) {
      ids[j + 1] = ids[j];
      j--;
    }
    ids[j + 1] = id;
  }
}
