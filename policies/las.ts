/**
 * LAS (least attained service; foreground-background, FB): serve the requests that have received
 * the least service so far (Schrage 1967; Kleinrock, Queueing Systems vol. 2 §4.6; the
 * non-clairvoyant baseline behind PLAS/MLFQ, docs/spec.md §6, §11, and its M/G/1 oracle
 * §12.7).
 */
import type { Policy, PolicyContext, PolicyEntry, Displacement, RankBatching } from '../sim/policy.ts';
import type { RequestTable } from '../sim/requests.ts';
import { FINISHED } from '../sim/requests.ts';
import { IndexedHeap } from '../sim/indexed-heap.ts';
import { OptionReader, DISPLACEMENTS } from './options.ts';

/**
 * LAS in the engine's rank mode: the key is the request's attained service in output tokens
 * generated so far (ties in arrival order), re-keyed after every iteration it runs in; running
 * requests that fall out of the selected prefix are displaced by `displacement` (default `pause`).
 * With one sequence per batch this is FB with a one-token quantum: a new request runs until it
 * has caught up with the least-served ones, which then take turns token by token.
 *
 * Skip-ahead: the running requests' keys grow by one per iteration while the others' stay put, so
 * the batch changes when the most-served running request passes the least-served request outside
 * the batch. The policy keeps the requests outside the last batch in a heap by key (fixed up at
 * each iteration end from the batch alone, O(batch · log n)), and `stableIterations` lets the
 * engine skip exactly up to that crossing.
 */
export class Las implements Policy {
  readonly name = 'LAS';
  readonly batching: RankBatching;
  private ctx!: PolicyContext;
  private R!: RequestTable;
  /** The key this policy gave each request (equal to the engine's). */
  private key!: Float64Array;
  /** Live requests outside the last batch (it may also hold some of the batch being formed). */
  private outside!: IndexedHeap;
  private last!: Int32Array;
  private lastCount = 0;
  private stamp!: Int32Array;
  private epoch = 0;

  /** @param displacement fate of a displaced running request (default `pause`). */
  constructor(displacement: Displacement = 'pause') {
    this.batching = { mode: 'rank', displacement, stallFree: false };
  }

  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
    const R = (this.R = ctx.requests);
    this.key = new Float64Array(R.n);
    this.outside = new IndexedHeap(R.n, this.key, R.tie);
    this.last = new Int32Array(Math.max(1, R.n));
    this.stamp = new Int32Array(R.n);
  }

  priority(id: number): number {
    this.key[id] = this.R.generated[id];
    this.outside.push(id);
    return this.key[id];
  }

  onIterationEnd(batch: Int32Array, count: number): void {
    const R = this.R;
    const epoch = ++this.epoch;
    for (let i = 0; i < count; i++) {
      const id = batch[i];
      this.stamp[id] = epoch;
      this.outside.remove(id);
      if (R.state[id] === FINISHED) continue;
      const k = R.generated[id];
      if (k !== this.key[id]) {
        this.key[id] = k;
        this.ctx.setPriority(id, k);
      }
    }
    for (let j = 0; j < this.lastCount; j++) {
      const id = this.last[j];
      if (this.stamp[id] !== epoch && R.state[id] !== FINISHED && !this.outside.has(id)) this.outside.push(id);
    }
    let n = 0;
    for (let i = 0; i < count; i++) if (R.state[batch[i]] !== FINISHED) this.last[n++] = batch[i];
    this.lastCount = n;
  }

  onComplete(id: number): void {
    this.outside.remove(id);
  }

  stableIterations(): number {
    const R = this.R;
    const out = this.outside;
    // The batch being run is marked by R.scheduled > 0. Requests of the last batch left out of it
    // are outside now; requests of this batch sitting in the heap are the smallest keys there
    // (the batch is a key-order prefix of all requests in a decode-only iteration).
    let maxKey = -Infinity;
    let maxTie = -Infinity;
    for (let j = 0; j < this.lastCount; j++) {
      const id = this.last[j];
      if (R.scheduled[id] > 0) {
        if (this.key[id] > maxKey || (this.key[id] === maxKey && R.tie[id] > maxTie)) { maxKey = this.key[id]; maxTie = R.tie[id]; }
      } else if (R.state[id] !== FINISHED && !out.has(id)) out.push(id);
    }
    while (out.size > 0 && R.scheduled[out.peek()] > 0) {
      const id = out.pop();
      if (this.key[id] > maxKey || (this.key[id] === maxKey && R.tie[id] > maxTie)) { maxKey = this.key[id]; maxTie = R.tie[id]; }
    }
    if (out.size === 0 || maxKey === -Infinity) return Infinity;
    const head = out.peek();
    // After d iterations the most-served running request has key maxKey + d; it falls behind the
    // head at the first d with maxKey + d > key(head), or = with a later tie.
    const d = this.key[head] - maxKey + (maxTie < R.tie[head] ? 1 : 0);
    return Math.max(1, d);
  }
}

/** Registry entry for LAS. */
export const las: PolicyEntry = {
  name: 'las',
  description: 'least attained service (FB): fewest output tokens generated first, preemptive (rank mode)',
  source: 'Schrage 1967 / Kleinrock 1976 (FB, LAS); docs/spec.md §12.7',
  predictor: 'none',
  create(opts) {
    const o = new OptionReader('--policy-opt', 'las', opts, ['displacement']);
    const displacement = o.choice('displacement', 'pause', DISPLACEMENTS);
    return new Las(displacement);
  },
};
