/**
 * The state one replica's engine shares with its batch formers (sim/admit-batcher.ts,
 * sim/rank-batcher.ts) and skip-ahead (sim/skip-ahead.ts): the queues, the KV cache, the batch
 * being formed, and the primitive moves between them (admit, schedule, preempt, swap in).
 * Request progress follows vLLM v1 (sim/requests.ts). Units: tokens, blocks, bytes, seconds.
 */
import type { BatchShape } from './cost/cost-model.ts';
import { addPrefillChunk, clearBatchShape, emptyBatchShape } from './cost/cost-model.ts';
import type { Policy } from './policy.ts';
import type { EngineConfig, EngineStats } from './engine-types.ts';
import { emptyEngineStats } from './engine-types.ts';
import { IndexedHeap } from './indexed-heap.ts';
import { IdList, IdSet } from './id-list.ts';
import { KvCache } from './kv-cache.ts';
import { RunningOrder } from './running-order.ts';
import type { PrefixTables } from './prefix-cache.ts';
import { RequestTable, WAITING, RUNNING, SWAPPED } from './requests.ts';

/** The batch of one iteration (or of several identical decode iterations after skip-ahead). */
export class Batch {
  /** Scheduled request ids, in scheduling order. */
  readonly ids = new IdList(64);
  /** Identical decode iterations it covers (1 unless skipped ahead). */
  steps = 1;
  /** With `steps` > 1: end of the first step (s), when each member sampled its first token of the bundle. */
  firstStepEnd = -1;
  /** With `steps` > 1: the largest gap between the ends of consecutive later steps (s); -1 otherwise. */
  laterMaxGap = -1;
  /** What the cost model prices. */
  readonly shape: BatchShape = emptyBatchShape();
  /** Bytes swapped in or out while forming it (PCIe time). */
  swapBytes = 0;

  /** Number of scheduled requests. */
  get count(): number {
    return this.ids.count;
  }

  /** Empties the batch for the next iteration. */
  reset(): void {
    this.ids.clear();
    this.steps = 1;
    this.firstStepEnd = -1;
    this.laterMaxGap = -1;
    this.swapBytes = 0;
    clearBatchShape(this.shape);
  }
}

/** Queues, KV cache and batch of one replica, with the moves batch formation is made of. */
export class ReplicaState {
  readonly cfg: EngineConfig;
  readonly R: RequestTable;
  readonly policy: Policy;
  readonly kv: KvCache;
  readonly stats: EngineStats = emptyEngineStats();
  /** Replica index in the cluster. */
  readonly index: number;
  /** Requests without KV, by key. */
  readonly waiting: IndexedHeap;
  /** Requests whose KV is in swap space, by key. */
  readonly swapped: IndexedHeap;
  /** Requests holding GPU KV (decoding, prefilling or paused), unordered. */
  readonly running: IdSet;
  /** Admit mode: running requests by largest key first (the preemption victims); else null. */
  readonly victims: IndexedHeap | null;
  /** Rank mode: the running requests in key order (the walk's running stream); else null. */
  readonly order: RunningOrder | null;
  /** The batch being formed. */
  readonly batch = new Batch();
  /** Requests preempted by recompute while forming this batch: they rejoin `waiting` after it. */
  readonly deferred = new IdList();
  /** Scratch list for a batch former (cleared by whoever uses it). */
  readonly scratch = new IdList();
  /** Time of the batch being formed (s). */
  now = 0;
  /** Whether any request was preempted while forming this batch. */
  preempted = false;
  /**
   * Whether a waiting request was admitted into this batch. With prefix caching an admitted
   * request may compute just its last token, which looks like a decode: such a batch is not the
   * steady state skip-ahead may repeat.
   */
  admitted = false;
  /** Σ (prompt + generated) over this replica's unfinished requests (frozen ones included). */
  heldTokens = 0;
  /** Requests frozen here for a move (state FROZEN): they hold KV and are never scheduled. */
  frozen = 0;
  /** Waiting requests that were preempted by recompute (Llumnix's "killed" requests, with the swapped ones). */
  killedWaiting = 0;
  /** Reservations held here for incoming requests (`RequestTable.reserved` with `reservedOn` this replica). */
  reservations = 0;

  /**
   * @param cfg resolved engine settings; @param requests the run's request table; @param policy
   * the replica's policy (its `batching` picks which running heap is kept); @param index replica
   * index; @param tables the run's shared prefix-caching state (with `cfg.prefixCaching`).
   */
  constructor(cfg: EngineConfig, requests: RequestTable, policy: Policy, index: number, tables?: PrefixTables) {
    this.cfg = cfg;
    this.R = requests;
    this.policy = policy;
    this.index = index;
    this.kv = new KvCache(cfg, requests, tables, this.stats);
    const n = requests.n;
    const { key, tie } = requests;
    this.waiting = new IndexedHeap(n, key, tie, false, requests.queuePos);
    this.swapped = new IndexedHeap(n, key, tie, false, requests.queuePos);
    this.running = new IdSet(requests.runSlot);
    const rank = policy.batching.mode === 'rank';
    this.victims = rank ? null : new IndexedHeap(n, key, tie, true, requests.runHeapPos);
    this.order = rank ? new RunningOrder(requests) : null;
  }

  /** Requests on this replica not yet finished: waiting, running (incl. paused), swapped and frozen. */
  get outstanding(): number {
    return this.waiting.size + this.running.count + this.swapped.size + this.frozen;
  }

  /** Whether running request `id` is decoding (its next step is one token). */
  isDecode(id: number): boolean {
    const R = this.R;
    return R.generated[id] >= 1 && R.computed[id] === R.prompt[id] + R.generated[id] - 1;
  }

  /**
   * Tokens request `id` has left to compute before its next sample: 1 for a decode, else its
   * prefill (for a waiting request, less the cached blocks it has taken).
   */
  remaining(id: number): number {
    const R = this.R;
    const cached = R.state[id] === WAITING ? R.blocks[id] * this.kv.blockSize : 0;
    return R.prompt[id] + R.generated[id] - R.computed[id] - cached;
  }

  /** The most prefix-cache blocks waiting request `id` can take: ⌊(numTokens − 1)/B⌋ (its last token is computed). */
  hitCap(id: number): number {
    return Math.floor((this.R.prompt[id] + this.R.generated[id] - 1) / this.kv.blockSize);
  }

  /** Prefix-cache blocks waiting request `id` would take if admitted now (0 without prefix caching). */
  hitFor(id: number): number {
    return this.kv.prefix ? this.kv.prefix.hitBlocks(id) : 0;
  }

  /** Blocks admitting waiting request `id` with `hit` cached blocks takes from the free ones: its new blocks, and the cached ones that are free. */
  admitBlocks(id: number, hit: number): number {
    const nt = this.R.prompt[id] + this.R.generated[id];
    const fresh = this.kv.blocksFor(nt) - hit;
    return hit > 0 ? fresh + this.kv.prefix!.freeAmongHits(id, hit) : fresh;
  }

  /** Takes waiting request `id`'s `hit` cached blocks ahead of its admission (rank mode's selection). */
  takeHit(id: number, hit: number): void {
    if (hit > 0) this.kv.prefix!.take(id, hit);
  }

  /** Gives back the cached blocks waiting request `id` took with `takeHit` (it was not admitted after all). */
  untakeHit(id: number): void {
    if (this.R.blocks[id] > 0) this.kv.release(id, false);
  }

  /**
   * Sets request `id`'s key and re-orders the queue holding it.
   * @throws Error for a NaN key, or a queued request of another replica (a policy bug).
   */
  setPriority(id: number, key: number): void {
    const R = this.R;
    if (Number.isNaN(key)) throw new Error(`policy ${this.policy.name} gave request ${id} a NaN priority`);
    const st = R.state[id];
    const queued = st === WAITING || st === SWAPPED || st === RUNNING;
    if (queued && R.replica[id] !== this.index) throw new Error(`policy ${this.policy.name} re-keyed request ${id} of replica ${R.replica[id]} on replica ${this.index}`);
    R.key[id] = key;
    if (st === WAITING) this.waiting.update(id);
    else if (st === SWAPPED) this.swapped.update(id);
    else if (st === RUNNING) {
      this.victims?.update(id);
      this.order?.touch(id);
    }
  }

  /** Makes `id` running (it holds or is about to hold GPU KV). */
  addRunning(id: number): void {
    this.R.state[id] = RUNNING;
    this.running.add(id);
    this.victims?.push(id);
    this.order?.touch(id);
  }

  /** Takes `id` out of the running set (its state is set by the caller). */
  removeRunning(id: number): void {
    this.running.remove(id);
    this.victims?.remove(id);
    this.order?.removed();
  }

  /**
   * Admits waiting request `id` (already out of `waiting`): running, with KV for its whole
   * sequence so far; with prefix caching, its first `hit` blocks from the cache (taken now unless
   * `takeHit` took them), which it need not compute.
   */
  admit(id: number, hit = 0): void {
    const R = this.R;
    const prefix = this.kv.prefix;
    if (prefix) {
      if (R.blocks[id] === 0) this.takeHit(id, hit);
      const cached = R.blocks[id] * this.kv.blockSize;
      R.computed[id] = cached;
      if (R.cachedTokens[id] < 0) R.cachedTokens[id] = cached;
      prefix.count(id, R.blocks[id]);
    }
    this.admitted = true;
    if (R.preemptions[id] > 0) this.killedWaiting--;
    this.addRunning(id);
    this.kv.grow(id, R.prompt[id] + R.generated[id], R.computed[id]);
  }

  /** Adds `s` tokens of running request `id` to the batch and its shape, growing its KV to match. */
  schedule(id: number, s: number): void {
    const R = this.R;
    const c = R.computed[id];
    const nt = R.prompt[id] + R.generated[id];
    R.scheduled[id] = s;
    this.batch.ids.push(id);
    if (R.firstScheduled[id] < 0) R.firstScheduled[id] = this.now;
    const sh = this.batch.shape;
    if (s === 1 && R.generated[id] >= 1 && c === nt - 1) {
      sh.decodeSeqs++;
      sh.decodeKvTokens += c + 1;
    } else {
      addPrefillChunk(sh, c, s);
    }
    if (c + s === nt) sh.sampledSeqs++;
    this.kv.grow(id, c + s);
  }

  /**
   * Schedules the next token of decoding request `id` (`schedule(id, 1)` for a decode, lean: the
   * hot path of every decode iteration).
   */
  scheduleDecode(id: number): void {
    const R = this.R;
    const c = R.computed[id];
    R.scheduled[id] = 1;
    this.batch.ids.push(id);
    const sh = this.batch.shape;
    sh.decodeSeqs++;
    sh.decodeKvTokens += c + 1;
    sh.sampledSeqs++;
    // A new block when the token crosses a boundary; with prefix caching also when it fills one
    // (the full block is registered in the step that computes it, as vLLM does).
    const bs = this.kv.blockSize;
    if (c + 1 > R.blocks[id] * bs || (this.kv.prefix !== null && (c + 1) % bs === 0 && this.kv.prefix.registers(id, c + 1))) this.kv.grow(id, c + 1);
  }

  /**
   * Preempts running request `id` by `mechanism`: swap it out if the swap space holds it, else
   * recompute (its KV is freed and it rejoins `waiting` after this batch is formed).
   */
  preempt(id: number, mechanism: 'recompute' | 'swap'): void {
    const R = this.R;
    const st = this.stats;
    this.removeRunning(id);
    R.preemptions[id]++;
    st.preemptions++;
    this.preempted = true;
    if (mechanism === 'swap' && this.kv.canSwapOut(id)) {
      const bytes = this.kv.swapOut(id);
      this.batch.swapBytes += bytes;
      st.swapOuts++;
      st.swapBytes += bytes;
      R.state[id] = SWAPPED;
      this.swapped.push(id);
    } else {
      if (mechanism === 'swap') st.swapFallbacks++;
      st.recomputes++;
      this.kv.release(id);
      R.computed[id] = 0;
      R.state[id] = WAITING;
      this.killedWaiting++;
      this.deferred.push(id);
    }
    this.policy.onPreempt?.(id, this.now);
  }

  /** Moves swapped request `id` (already out of `swapped`) back to the GPU, costing PCIe time. */
  swapIn(id: number): void {
    const bytes = this.kv.swapIn(id);
    this.batch.swapBytes += bytes;
    this.stats.swapIns++;
    this.stats.swapBytes += bytes;
    this.addRunning(id);
  }

  /** As vLLM: requests preempted by recompute rejoin `waiting` (at their key's place) only after the batch is formed. */
  requeueDeferred(): void {
    const d = this.deferred;
    for (let i = 0; i < d.count; i++) this.waiting.push(d.ids[i]);
    d.clear();
  }
}
