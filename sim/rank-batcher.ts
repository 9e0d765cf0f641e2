/**
 * Rank-mode batch formation (`batching: { mode: 'rank', ... }`; learning-to-rank, Fu et al.,
 * arXiv 2408.15792 §4 steps 3–6; Autellix, arXiv 2502.13965 §4): every iteration all requests —
 * running, waiting and swapped — are walked in key order and selected while the sequence and
 * token budgets hold. KV for the selection comes from free blocks, then from evicting unselected
 * running requests (largest key first), then by dropping selected ones from the tail. Unselected
 * running requests are paused with their KV (`displacement: 'pause'`) or preempted. Without
 * chunked prefill an iteration with a prefill runs only its prefills (vLLM v0's prefill
 * priority); the prefix's decodes wait, keeping their KV. docs/engine.md.
 *
 * Cost: the walk pops running requests from a heap kept in key order, so an iteration touches
 * the selected requests (O(selected · log running)), not every paused one; only memory pressure
 * and preemptive displacement look further, at the requests they evict.
 */
import type { RankBatching } from './policy.ts';
import { IdList } from './id-list.ts';
import type { IndexedHeap } from './indexed-heap.ts';
import { before } from './replica-state.ts';
import type { ReplicaState } from './replica-state.ts';
import { WAITING, RUNNING, SWAPPED } from './requests.ts';

/** `RequestTable.mark` while a rank batch is formed: a running request in the selection (never displaced by rank). */
const SELECTED = 1;
/** A running partial prefill left without tokens: not displaced by rank, evictable under memory pressure. */
const HELD = 2;
/** Source queue of a selected request: where it is taken from (the request states of sim/requests.ts). */
type Source = typeof RUNNING | typeof WAITING | typeof SWAPPED;
const NONE = 0;

/** The requests a rank walk selected, with their tokens and source queue, in selection order. */
export class Selection {
  ids = new Int32Array(16);
  tokens = new Int32Array(16);
  from = new Uint8Array(16);
  count = 0;

  /** Appends `id` taking `tokens` tokens from queue `from`. */
  push(id: number, tokens: number, from: Source): void {
    if (this.count === this.ids.length) {
      const m = 2 * this.count;
      const ids = new Int32Array(m);
      ids.set(this.ids);
      const tok = new Int32Array(m);
      tok.set(this.tokens);
      const fr = new Uint8Array(m);
      fr.set(this.from);
      this.ids = ids;
      this.tokens = tok;
      this.from = fr;
    }
    this.ids[this.count] = id;
    this.tokens[this.count] = tokens;
    this.from[this.count] = from;
    this.count++;
  }

  /** Overwrites entry `k` with entry `i` (k <= i): compaction. */
  move(i: number, k: number): void {
    this.ids[k] = this.ids[i];
    this.tokens[k] = this.tokens[i];
    this.from[k] = this.from[i];
  }
}

/** Per-replica scratch of the rank batcher (reused across iterations: no allocation per batch). */
export class RankScratch {
  readonly selection = new Selection();
  /** Running requests popped from the running heap during the walk (selected or held). */
  readonly taken = new IdList();
  /** Swapped requests skipped by the stall-free walk, to put back. */
  readonly skipped = new IdList();
  /** Eviction candidates under memory pressure. */
  readonly evict = new IdList();
}

/** Forms the next rank-mode batch into `s.batch` (see the module comment). */
export function formRankBatch(s: ReplicaState, rank: RankBatching, w: RankScratch): void {
  const { R, cfg, kv } = s;
  const sel = w.selection;
  sel.count = 0;
  w.taken.clear();
  const budget = cfg.maxNumBatchedTokens;
  if (cfg.chunkedPrefill && rank.stallFree) walkStallFree(s, w, budget);
  else walkPrefix(s, w, budget);

  // Memory: free blocks, then evict unselected running (largest key first), then drop the tail.
  let need = 0;
  let admitting = 0; // selected requests not running yet (admission keeps the watermark)
  for (let i = 0; i < sel.count; i++) {
    need += blocksToGain(s, sel.ids[i], sel.tokens[i], sel.from[i]);
    if (sel.from[i] !== RUNNING) admitting++;
  }
  const deficit = () => need - kv.freeBlocks + (admitting > 0 ? kv.watermark : 0);
  if (deficit() > 0) evictUnselected(s, w, rank, deficit);
  while (sel.count > 0 && deficit() > 0) {
    const i = --sel.count;
    const id = sel.ids[i];
    need -= blocksToGain(s, id, sel.tokens[i], sel.from[i]);
    if (sel.from[i] !== RUNNING) admitting--;
    if (sel.from[i] === WAITING) s.waiting.push(id);
    else if (sel.from[i] === SWAPPED) s.swapped.push(id);
    else {
      // Memory pressure overrides the selection (as vLLM's block manager does).
      R.mark[id] = 0;
      displace(s, id, rank);
    }
  }
  if (!cfg.chunkedPrefill) prefillsOnly(s, sel);
  // Unselected running requests (those never taken from the running heap): paused with their KV, or preempted now.
  const ranked = s.ranked!;
  if (rank.displacement !== 'pause') while (ranked.size > 0) displace(s, ranked.pop(), rank);
  // Taken running requests go back to the running heap.
  for (let i = 0; i < w.taken.count; i++) {
    const id = w.taken.ids[i];
    R.mark[id] = 0;
    if (R.state[id] === RUNNING) ranked.push(id);
  }
  for (let i = 0; i < sel.count; i++) {
    const id = sel.ids[i];
    if (sel.from[i] === WAITING) s.admit(id);
    else if (sel.from[i] === SWAPPED) s.swapIn(id);
    s.schedule(id, sel.tokens[i]);
  }
}

/**
 * The plain prefix walk (learning-to-rank §4 step 4): running, waiting and swapped requests in key
 * order, each taking its whole prefill (or, with chunked prefill, what is left of the budget), until
 * the first that does not fit the `budget` (tokens) or the sequence budget.
 */
function walkPrefix(s: ReplicaState, w: RankScratch, budget: number): void {
  const sel = w.selection;
  const chunked = s.cfg.chunkedPrefill;
  let tokens = budget;
  for (;;) {
    const from = nextSource(s, true);
    if (from === NONE || sel.count >= s.cfg.maxNumSeqs || tokens <= 0) break;
    const id = queueOf(s, from).peek();
    const rem = s.remaining(id);
    const t = chunked ? Math.min(rem, tokens) : rem;
    if (t > tokens && sel.count > 0) break;
    sel.push(id, t, from);
    tokens -= t;
    take(s, w, id, from);
  }
}

/**
 * The stall-free walk with chunked prefill (Sarathi-Serve, arXiv 2403.02310 §4.3): requests are
 * taken in key order while the sequence budget holds and decodes have tokens; each decode takes
 * one token, and prefill chunks share what all selected decodes leave of the `budget`, in key
 * order. A prefill that gets no tokens is not selected: a running one (a partial prefill) is held
 * with its KV, a waiting or swapped one stays queued. Without this, one high-ranked new prefill
 * would take the whole budget and displace every decode ranked behind it.
 */
function walkStallFree(s: ReplicaState, w: RankScratch, budget: number): void {
  const { R } = s;
  const sel = w.selection;
  const skipped = w.skipped;
  skipped.clear();
  let decodes = 0;
  let prefillTokens = 0;
  let prefillsOpen = true;
  for (;;) {
    const from = nextSource(s, prefillsOpen);
    if (from === NONE || sel.count >= s.cfg.maxNumSeqs || decodes >= budget) break;
    const q = queueOf(s, from);
    const id = q.peek();
    const room = budget - decodes - prefillTokens;
    if (from !== WAITING && s.isDecode(id)) {
      decodes++;
      sel.push(id, 1, from);
    } else if (prefillsOpen && room > 0) {
      const t = Math.min(s.remaining(id), room);
      prefillTokens += t;
      sel.push(id, t, from);
    } else {
      // No tokens for this prefill: from here on only decodes can join.
      prefillsOpen = false;
      if (from === RUNNING) {
        q.pop();
        R.mark[id] = HELD;
        w.taken.push(id);
      } else if (from === SWAPPED) {
        q.pop();
        skipped.push(id);
      }
      continue;
    }
    take(s, w, id, from);
  }
  for (let i = 0; i < skipped.count; i++) s.swapped.push(skipped.ids[i]);
  // Decodes first: prefill chunks get what every selected decode leaves, in key order.
  let left = budget - decodes;
  let k = 0;
  for (let i = 0; i < sel.count; i++) {
    const id = sel.ids[i];
    const from = sel.from[i];
    if (!(from !== WAITING && s.isDecode(id))) {
      const t = Math.min(s.remaining(id), left);
      left -= t;
      if (t === 0) {
        if (from === WAITING) s.waiting.push(id);
        else if (from === SWAPPED) s.swapped.push(id);
        else R.mark[id] = HELD; // a running partial prefill waits with its KV
        continue;
      }
      sel.tokens[i] = t;
    }
    sel.move(i, k++);
  }
  sel.count = k;
}

/** The queue whose head comes first in key order: running, waiting (if `withWaiting`) or swapped; NONE when all are empty. */
function nextSource(s: ReplicaState, withWaiting: boolean): Source | typeof NONE {
  const R = s.R;
  let id = s.ranked!.peek();
  let from: Source | typeof NONE = id >= 0 ? RUNNING : NONE;
  const wh = withWaiting ? s.waiting.peek() : -1;
  if (wh >= 0 && (id < 0 || before(wh, id, R))) {
    id = wh;
    from = WAITING;
  }
  const sw = s.swapped.peek();
  if (sw >= 0 && (id < 0 || before(sw, id, R))) from = SWAPPED;
  return from;
}

function queueOf(s: ReplicaState, from: Source): IndexedHeap {
  return from === RUNNING ? s.ranked! : from === WAITING ? s.waiting : s.swapped;
}

/** Takes selected `id` off the head of its queue (a running one is marked selected and remembered). */
function take(s: ReplicaState, w: RankScratch, id: number, from: Source): void {
  queueOf(s, from).pop();
  if (from === RUNNING) {
    s.R.mark[id] = SELECTED;
    w.taken.push(id);
  }
}

/** KV blocks request `id` must gain to run `t` more tokens (waiting: its whole sequence, as vLLM v0). */
function blocksToGain(s: ReplicaState, id: number, t: number, from: number): number {
  const { R, kv } = s;
  if (from === WAITING) return kv.blocksFor(R.prompt[id] + R.generated[id]);
  const held = from === SWAPPED ? R.swappedBlocks[id] : R.blocks[id];
  return Math.max(held, kv.blocksFor(R.computed[id] + t)) - (from === SWAPPED ? 0 : held);
}

/**
 * Memory pressure: evicts unselected running requests — those left in the running heap and the
 * held partial prefills — largest key first, while `deficit()` > 0. O(running · log running),
 * only when the selection does not fit.
 */
function evictUnselected(s: ReplicaState, w: RankScratch, rank: RankBatching, deficit: () => number): void {
  const { R } = s;
  const ranked = s.ranked!;
  const c = w.evict;
  c.clear();
  for (let i = 0; i < ranked.size; i++) c.push(ranked.at(i));
  for (let i = 0; i < w.taken.count; i++) if (R.mark[w.taken.ids[i]] === HELD) c.push(w.taken.ids[i]);
  const ids = c.ids.subarray(0, c.count);
  ids.sort((a, b) => (before(a, b, R) ? 1 : before(b, a, R) ? -1 : 0));
  for (let i = 0; i < ids.length && deficit() > 0; i++) if (R.state[ids[i]] === RUNNING) displace(s, ids[i], rank);
}

/** Prefill priority without chunking: an iteration with a prefill runs only its prefills (selected decodes wait; swapped ones go back). */
function prefillsOnly(s: ReplicaState, sel: Selection): void {
  let anyPrefill = false;
  for (let i = 0; i < sel.count; i++) if (sel.from[i] === WAITING || !s.isDecode(sel.ids[i])) anyPrefill = true;
  if (!anyPrefill) return;
  let k = 0;
  for (let i = 0; i < sel.count; i++) {
    if (sel.from[i] !== WAITING && s.isDecode(sel.ids[i])) {
      if (sel.from[i] === SWAPPED) s.swapped.push(sel.ids[i]);
      continue;
    }
    sel.move(i, k++);
  }
  sel.count = k;
}

/**
 * Displaces running request `id`: by recompute for `displacement: 'recompute'`, else by swap
 * (`'swap'`, and `'pause'` when evicted under memory pressure: learning-to-rank's SWAP mode).
 */
function displace(s: ReplicaState, id: number, rank: RankBatching): void {
  s.preempt(id, rank.displacement === 'recompute' ? 'recompute' : 'swap');
}
