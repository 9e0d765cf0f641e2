/**
 * Rank-mode batch formation (`batching: { mode: 'rank', ... }`; learning-to-rank, Fu et al.,
 * arXiv 2408.15792 §4 steps 3–6; Autellix, arXiv 2502.13965 §4): every iteration all requests —
 * running, waiting and swapped — are walked in key order and selected while the sequence and
 * token budgets hold. KV for the selection comes from free blocks, then from evicting unselected
 * running requests (largest key first), then by dropping selected ones from the tail. Unselected
 * running requests are paused with their KV (`displacement: 'pause'`) or preempted. Without
 * chunked prefill an iteration with a prefill runs only its prefills (vLLM v0's prefill
 * priority), which get the whole token budget (the first may exceed it and run alone); it
 * displaces no running request: the prefix's decodes and the running requests ranked after it
 * wait, keeping their KV. docs/engine.md.
 *
 * Cost: running requests are kept in key order (sim/running-order.ts, repaired only where keys
 * or membership changed), so the walk reads them linearly and stops where the budgets do; memory
 * pressure evicts from the largest key down, and preemptive displacement visits what it displaces.
 */
import type { RankBatching } from './policy.ts';
import { IdList, grow } from './id-list.ts';
import type { ReplicaState } from './replica-state.ts';
import { WAITING, RUNNING, SWAPPED, before } from './requests.ts';

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
  /** 1 for a decode (a running or swapped request whose next step is one token), 0 for a prefill. */
  decode = new Uint8Array(16);
  count = 0;

  /** Makes room for `n` entries in all (the arrays may be replaced). */
  reserve(n: number): void {
    if (n > this.ids.length) {
      this.ids = grow(this.ids, n);
      this.tokens = grow(this.tokens, n);
      this.from = grow(this.from, n);
      this.decode = grow(this.decode, n);
    }
  }

  /** Appends `id` taking `tokens` tokens from queue `from`; `decode` as `decode[]`. */
  push(id: number, tokens: number, from: Source, decode: boolean): void {
    this.reserve(this.count + 1);
    this.ids[this.count] = id;
    this.tokens[this.count] = tokens;
    this.from[this.count] = from;
    this.decode[this.count] = decode ? 1 : 0;
    this.count++;
  }

  /** Overwrites entry `k` with entry `i` (k <= i): compaction. */
  move(i: number, k: number): void {
    this.ids[k] = this.ids[i];
    this.tokens[k] = this.tokens[i];
    this.from[k] = this.from[i];
    this.decode[k] = this.decode[i];
  }
}

/** Per-replica scratch of the rank batcher (reused across iterations: no allocation per batch). */
export class RankScratch {
  readonly selection = new Selection();
  /** Running partial prefills the stall-free walk held, to unmark (selected ones are unmarked as they are scheduled). */
  readonly held = new IdList();
  /** Swapped requests skipped by the stall-free walk, to put back. */
  readonly skipped = new IdList();
  /** The walk's position in the running order. */
  next = 0;
}

/** Forms the next rank-mode batch into `s.batch` (see the module comment). */
export function formRankBatch(s: ReplicaState, rank: RankBatching, w: RankScratch): void {
  const { R, cfg, kv } = s;
  const sel = w.selection;
  sel.count = 0;
  w.held.clear();
  s.order!.repair();
  w.next = 0;
  const budget = cfg.maxNumBatchedTokens;
  if (cfg.chunkedPrefill && rank.stallFree) walkStallFree(s, w, budget);
  else walkPrefix(s, w, budget);

  // Memory: free blocks, then evict unselected running (largest key first), then drop the tail.
  let need = 0;
  let admitting = 0; // selected requests not running yet (admission keeps the watermark)
  const bs = kv.blockSize;
  for (let i = 0; i < sel.count; i++) {
    const id = sel.ids[i];
    if (sel.from[i] === RUNNING && sel.decode[i] === 1) {
      if (R.computed[id] + 1 > R.blocks[id] * bs) need++;
      continue;
    }
    need += blocksToGain(s, id, sel.tokens[i], sel.from[i]);
    if (sel.from[i] !== RUNNING) admitting++;
  }
  // Blocks that must be free: the selection's, plus the watermark when it admits anything.
  let want = need + (admitting > 0 ? kv.watermark : 0);
  if (want > kv.freeBlocks) evictUnselected(s, rank, want);
  while (sel.count > 0 && want > kv.freeBlocks) {
    const i = --sel.count;
    const id = sel.ids[i];
    need -= blocksToGain(s, id, sel.tokens[i], sel.from[i]);
    if (sel.from[i] !== RUNNING) admitting--;
    want = need + (admitting > 0 ? kv.watermark : 0);
    if (sel.from[i] === WAITING) {
      s.untakeHit(id);
      s.waiting.push(id);
    } else if (sel.from[i] === SWAPPED) s.swapped.push(id);
    else {
      // Memory pressure overrides the selection (as vLLM's block manager does).
      R.mark[id] = 0;
      displace(s, id, rank);
    }
  }
  const prefillOnly = !cfg.chunkedPrefill && prefillsOnly(s, sel);
  // Unselected running requests (neither selected nor held): paused with their KV, or preempted now,
  // in key order. A prefill-only iteration (no chunked prefill) displaces none: the running requests
  // it leaves out only lost their turn to its prefills and wait with their KV, as its selected
  // decodes do (only memory pressure, above, evicts them).
  if (rank.displacement !== 'pause' && !prefillOnly) displaceUnselected(s, rank);
  for (let i = 0; i < w.held.count; i++) R.mark[w.held.ids[i]] = 0;
  for (let i = 0; i < sel.count; i++) {
    const id = sel.ids[i];
    const from = sel.from[i];
    if (from === RUNNING) {
      R.mark[id] = 0;
      if (sel.decode[i] === 1) {
        s.scheduleDecode(id);
        continue;
      }
    }
    if (from === WAITING) s.admit(id);
    else if (from === SWAPPED) s.swapIn(id);
    s.schedule(id, sel.tokens[i]);
  }
}

/**
 * The plain prefix walk (learning-to-rank §4 step 4): running, waiting and swapped requests in key
 * order until the sequence budget or the token `budget` is used up.
 *
 * With chunked prefill every selected request takes from one token budget: a decode its token, a
 * prefill what is left of the budget (so an oversized prompt is chunked, never a misfit).
 *
 * Without chunked prefill an iteration with a prefill runs only its prefills (`prefillsOnly`), so
 * the budget is the prefills': selected decodes take a sequence slot but no tokens (a decode-only
 * iteration still stops at `budget` decodes). Each prefill takes its whole remaining prompt. The
 * first prefill in key order is selected even when it exceeds the whole budget (it runs alone, as
 * vLLM v0 admits an oversized prompt alone); after it, the walk stops at the first prefill that
 * does not fit what is left of the budget, or when none is left. Running requests the walk did not
 * reach then keep their KV and wait: formRankBatch displaces nobody in a prefill-only iteration.
 */
function walkPrefix(s: ReplicaState, w: RankScratch, budget: number): void {
  const sel = w.selection;
  const chunked = s.cfg.chunkedPrefill;
  const maxSeqs = s.cfg.maxNumSeqs;
  const order = s.order!;
  let tokens = budget; // chunked: the iteration's tokens left; else the prefills'
  let decodes = 0; // without chunked prefill: decodes selected (their tokens if no prefill is)
  let prefills = 0; // without chunked prefill: prefills selected
  for (;;) {
    const from = nextSource(s, w, true);
    if (from === NONE || sel.count >= maxSeqs || tokens <= 0 || decodes >= budget) break;
    let id = headOf(s, w, from);
    if (!chunked && from !== WAITING && s.isDecode(id)) {
      if (from === SWAPPED) {
        decodes++;
        sel.push(id, 1, from, true);
        take(s, w, id, from);
        continue;
      }
      // A run of running decodes ahead of the waiting and swapped heads (which do not move
      // meanwhile): taken as `take` would, with one comparison each instead of a nextSource.
      const R = s.R;
      const { key, tie, generated, computed, prompt, mark } = R;
      const other = earlierOf(s.waiting.peek(), s.swapped.peek(), R);
      sel.reserve(sel.count + order.count - w.next);
      const { ids, tokens: toks, from: src, decode } = sel;
      let c = sel.count;
      let next = w.next;
      for (;;) {
        ids[c] = id;
        toks[c] = 1;
        src[c] = RUNNING;
        decode[c] = 1;
        c++;
        mark[id] = SELECTED;
        next++;
        decodes++;
        if (c >= maxSeqs || decodes >= budget || next >= order.count) break;
        id = order.ids[next];
        if (other >= 0 && !(key[id] < key[other] || (key[id] === key[other] && tie[id] < tie[other]))) break;
        if (!(generated[id] >= 1 && computed[id] === prompt[id] + generated[id] - 1)) break; // not a decode (ReplicaState.isDecode)
      }
      sel.count = c;
      w.next = next;
      continue;
    }
    const hit = from === WAITING ? s.hitFor(id) : 0;
    const rem = s.remaining(id) - hit * s.kv.blockSize;
    const t = chunked ? Math.min(rem, tokens) : rem;
    if (!chunked && t > tokens && prefills > 0) break;
    sel.push(id, t, from, from !== WAITING && s.isDecode(id));
    tokens -= t;
    prefills++;
    take(s, w, id, from, hit);
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
    const from = nextSource(s, w, prefillsOpen);
    if (from === NONE || sel.count >= s.cfg.maxNumSeqs || decodes >= budget) break;
    const id = headOf(s, w, from);
    const room = budget - decodes - prefillTokens;
    if (from !== WAITING && s.isDecode(id)) {
      decodes++;
      sel.push(id, 1, from, true);
    } else if (prefillsOpen && room > 0) {
      const hit = from === WAITING ? s.hitFor(id) : 0;
      const t = Math.min(s.remaining(id) - hit * s.kv.blockSize, room);
      prefillTokens += t;
      sel.push(id, t, from, false);
      take(s, w, id, from, hit);
      continue;
    } else {
      // No tokens for this prefill: from here on only decodes can join.
      prefillsOpen = false;
      if (from === RUNNING) {
        w.next++;
        R.mark[id] = HELD;
        w.held.push(id);
      } else if (from === SWAPPED) {
        s.swapped.pop();
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
    if (sel.decode[i] === 0) {
      const t = Math.min(s.remaining(id), left);
      left -= t;
      if (t === 0) {
        if (from === WAITING) {
          s.untakeHit(id);
          s.waiting.push(id);
        }
        else if (from === SWAPPED) s.swapped.push(id);
        else {
          R.mark[id] = HELD; // a running partial prefill waits with its KV
          w.held.push(id);
        }
        continue;
      }
      sel.tokens[i] = t;
    }
    sel.move(i, k++);
  }
  sel.count = k;
}

/** The queue whose head comes first in key order: running, waiting (if `withWaiting`) or swapped; NONE when all are empty. */
function nextSource(s: ReplicaState, w: RankScratch, withWaiting: boolean): Source | typeof NONE {
  const R = s.R;
  const order = s.order!;
  let id = w.next < order.count ? order.ids[w.next] : -1;
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

/** The earlier in key order of two queue heads (−1: empty), or −1 when both are empty. */
function earlierOf(a: number, b: number, R: ReplicaState['R']): number {
  if (a < 0) return b;
  if (b < 0) return a;
  return before(b, a, R) ? b : a;
}

/** The first id of source `from`. */
function headOf(s: ReplicaState, w: RankScratch, from: Source): number {
  return from === RUNNING ? s.order!.ids[w.next] : from === WAITING ? s.waiting.peek() : s.swapped.peek();
}

/**
 * Takes selected `id` off the head of its source: a waiting one leaves its queue with the `hit`
 * cached blocks it will start from, a swapped one leaves its queue, a running one is marked
 * selected.
 */
function take(s: ReplicaState, w: RankScratch, id: number, from: Source, hit = 0): void {
  if (from === RUNNING) {
    w.next++;
    s.R.mark[id] = SELECTED;
  } else if (from === WAITING) {
    s.waiting.pop();
    s.takeHit(id, hit);
  } else s.swapped.pop();
}

/** KV blocks request `id` must gain to run `t` more tokens (waiting: its whole sequence, as vLLM v0). */
function blocksToGain(s: ReplicaState, id: number, t: number, from: number): number {
  const { R, kv } = s;
  if (from === WAITING) return kv.blocksFor(R.prompt[id] + R.generated[id]) - R.blocks[id]; // less the cached blocks it took
  const held = from === SWAPPED ? R.swappedBlocks[id] : R.blocks[id];
  return Math.max(held, kv.blocksFor(R.computed[id] + t)) - (from === SWAPPED ? 0 : held);
}

/**
 * Memory pressure: evicts unselected running requests (held partial prefills included), largest
 * key first, while fewer than `want` blocks are free: from the end of the running order.
 * O(victims + selected passed over).
 */
function evictUnselected(s: ReplicaState, rank: RankBatching, want: number): void {
  const { R, kv } = s;
  const order = s.order!;
  for (let i = order.count - 1; i >= 0 && want > kv.freeBlocks; i--) {
    const id = order.ids[i];
    if (R.mark[id] !== SELECTED && R.state[id] === RUNNING) displace(s, id, rank);
  }
}

/** Preemptive displacement: every running request neither selected nor held, in key order. */
function displaceUnselected(s: ReplicaState, rank: RankBatching): void {
  const R = s.R;
  const c = s.scratch;
  c.clear();
  const order = s.order!;
  for (let i = 0; i < order.count; i++) {
    const id = order.ids[i];
    if (R.mark[id] === 0 && R.state[id] === RUNNING) c.push(id);
  }
  for (let i = 0; i < c.count; i++) displace(s, c.ids[i], rank);
}

/**
 * Prefill priority without chunking: an iteration with a prefill runs only its prefills (selected
 * decodes wait; swapped ones go back). @returns whether it has a prefill (is prefill-only).
 */
function prefillsOnly(s: ReplicaState, sel: Selection): boolean {
  let first = 0;
  while (first < sel.count && sel.decode[first] === 1) first++;
  if (first === sel.count) return false;
  let k = 0;
  for (let i = 0; i < sel.count; i++) {
    if (sel.decode[i] === 1) {
      // A running one keeps its KV and waits (no longer selected); a swapped one goes back.
      if (sel.from[i] === SWAPPED) s.swapped.push(sel.ids[i]);
      else s.R.mark[sel.ids[i]] = 0;
      continue;
    }
    sel.move(i, k++);
  }
  sel.count = k;
  return true;
}

/**
 * Displaces running request `id`: by recompute for `displacement: 'recompute'`, else by swap
 * (`'swap'`, and `'pause'` when evicted under memory pressure: learning-to-rank's SWAP mode).
 */
function displace(s: ReplicaState, id: number, rank: RankBatching): void {
  s.preempt(id, rank.displacement === 'recompute' ? 'recompute' : 'swap');
}
