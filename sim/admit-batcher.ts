/**
 * Admit-mode batch formation (`batching: { mode: 'admit' }`; vLLM v0's scheduler, Kwon et al.,
 * SOSP 2023 §4.5, and its chunked path, Sarathi-Serve, Agrawal et al., arXiv 2403.02310): running
 * requests keep running; waiting requests are admitted in key order while they fit; on KV
 * exhaustion the running request with the largest key is preempted. docs/engine.md.
 */
import { before, sortByKey } from './requests.ts';
import type { ReplicaState } from './replica-state.ts';

/** Forms the next admit-mode batch into `s.batch`. */
export function formAdmitBatch(s: ReplicaState): void {
  const budget = s.cfg.maxNumBatchedTokens;
  if (s.policy.mayPreemptForHead) preemptForHead(s);
  if (s.cfg.chunkedPrefill) {
    // Sarathi-Serve Algorithm 3 on vLLM's chunked path: decodes, partial prefills, swap-ins, new prefills.
    let left = scheduleRunning(s, budget);
    if (!s.preempted) left = swapIn(s, left);
    admitWaiting(s, left, true);
  } else {
    // vLLM v0 `_schedule_default`: prefills (only if nothing is swapped out) make a prefill-only
    // iteration; otherwise decode all running, then swap in if nothing was preempted.
    const admitted = s.swapped.size === 0 ? admitWaiting(s, budget, false) : 0;
    if (admitted === 0) {
      const left = scheduleRunning(s, budget);
      if (!s.preempted) swapIn(s, left);
    }
  }
}

/**
 * Schedules every running request: decodes one token each (preempting the largest-key running
 * requests while the KV cache cannot hold the new tokens), then continues partial prefills in key
 * order with what is left of the `budget` (tokens). @returns the tokens left.
 */
function scheduleRunning(s: ReplicaState, budget: number): number {
  const { kv, running } = s;
  const victims = s.victims!;
  let need = 0;
  for (let i = 0; i < running.count; i++) {
    const id = running.ids[i];
    if (s.isDecode(id) && kv.needsBlock(id)) need++;
  }
  while (need > kv.freeBlocks && running.count > 0) {
    const v = victims.peek();
    if (s.isDecode(v) && kv.needsBlock(v)) need--;
    s.preempt(v, s.cfg.preemption);
  }
  let left = budget;
  const partial = s.scratch;
  partial.clear();
  for (let i = 0; i < running.count; i++) {
    const id = running.ids[i];
    if (s.isDecode(id)) {
      s.scheduleDecode(id);
      left--;
    } else partial.push(id);
  }
  if (partial.count > 0) {
    sortByKey(partial.ids, partial.count, s.R);
    for (let i = 0; i < partial.count && left > 0; i++) {
      const id = partial.ids[i];
      const t = Math.min(s.remaining(id), left);
      s.schedule(id, t);
      left -= t;
    }
  }
  return left;
}

/** Swaps swapped-out requests back in, in key order, while sequences, `left` tokens and blocks allow. @returns the tokens left. */
function swapIn(s: ReplicaState, left: number): number {
  const { R, kv } = s;
  while (s.swapped.size > 0 && s.running.count < s.cfg.maxNumSeqs && left > 0) {
    const id = s.swapped.peek();
    const t = Math.min(s.remaining(id), left);
    const need = Math.max(R.swappedBlocks[id], kv.blocksFor(R.computed[id] + t));
    if (!kv.canAllocate(need)) break;
    s.swapped.pop();
    s.swapIn(id);
    s.schedule(id, t);
    left -= t;
  }
  return left;
}

/**
 * Limited preemption on a full batch (TRAIL, arXiv 2410.01035 §5): when the head of the waiting
 * queue does not fit the sequence budget or the KV cache, preempt (by recompute: TRAIL releases
 * the victim's KV) the running request with the largest key that the policy lets go
 * (`mayPreemptForHead`), if its key is larger than the head's and the preemption makes the head
 * fit. One victim per iteration (so per admitted request), before the batch is formed. O(running).
 */
function preemptForHead(s: ReplicaState): void {
  const { R, kv, cfg, policy } = s;
  const w = s.waiting.peek();
  if (w < 0) return;
  // vLLM v0 admits no prefill while requests are swapped out: a victim would not make room.
  if (!cfg.chunkedPrefill && s.swapped.size > 0) return;
  const need = s.admitBlocks(w, s.hitFor(w));
  if (s.running.count < cfg.maxNumSeqs && kv.canAllocate(need)) return;
  let v = -1;
  for (let i = 0; i < s.running.count; i++) {
    const id = s.running.ids[i];
    if (R.key[id] > R.key[w] && (v < 0 || before(v, id, R)) && policy.mayPreemptForHead!(id)) v = id;
  }
  if (v < 0 || !kv.canAllocate(need - R.blocks[v])) return;
  s.preempt(v, 'recompute');
}

/**
 * Admits waiting requests in key order with `left` tokens, stopping at the first that does not
 * fit the sequence budget, the token budget (whole prefill: its whole remaining prompt, except
 * that one oversized prefill may run alone; `chunked`: any non-empty chunk) or the KV cache
 * (blocks for its whole sequence so far, leaving the watermark free: vLLM's `can_allocate`). With
 * prefix caching the cached blocks of its prompt are taken, not computed (vLLM v1).
 * @returns the number admitted.
 */
function admitWaiting(s: ReplicaState, left: number, chunked: boolean): number {
  const { R, kv, waiting } = s;
  let admitted = 0;
  while (waiting.size > 0 && left > 0) {
    const id = waiting.peek();
    const nt = R.prompt[id] + R.generated[id];
    if (s.running.count >= s.cfg.maxNumSeqs) break;
    let hit = 0;
    if (kv.prefix) {
      // The best a prefix-cache lookup could give (every block up to the cap cached, none of them
      // free) decides most refusals without the lookup.
      const cap = s.hitCap(id);
      if (!chunked && nt - cap * kv.blockSize > left && admitted > 0) break;
      if (!kv.canAllocate(kv.blocksFor(nt) - cap)) break;
      hit = s.hitFor(id);
    }
    const todo = nt - hit * kv.blockSize;
    if (!chunked && todo > left && admitted > 0) break;
    if (!kv.canAllocate(s.admitBlocks(id, hit))) break;
    waiting.pop();
    s.admit(id, hit);
    const t = chunked ? Math.min(todo, left) : todo;
    s.schedule(id, t);
    left -= t;
    admitted++;
  }
  return admitted;
}
