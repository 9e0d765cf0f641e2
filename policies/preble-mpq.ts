/**
 * Preble's local scheduler, fcfs-mpq (Srivatsa et al., "Preble: Efficient Distributed Prompt
 * Scheduling for LLM Serving", arXiv 2407.00023, ICLR 2025; docs/spec.md §16, last bullet): the
 * waiting queue split into priority groups by prefix-cache hit ratio, served round-robin with a
 * quota that grows with the hit ratio, FCFS inside a group.
 */
import type { Policy, PolicyContext, PolicyEntry } from '../sim/policy.ts';
import { ADMIT } from '../sim/policy.ts';
import type { RequestTable } from '../sim/requests.ts';
import { RUNNING, WAITING } from '../sim/requests.ts';
import { OptionReader } from './options.ts';

/** fcfs-mpq's settings (defaults from the authors' SGLang fork, `model_rpc.py`). */
export interface PrebleMpqOptions {
  /** Number of hit-ratio groups (`multi_priority_queue`: 10). */
  groups: number;
  /** k: group i admits up to (i+1)·k requests per round (`k = 10` on the chunked-prefill path). */
  quota: number;
}

/** The authors' defaults. */
export const PREBLE_MPQ_DEFAULTS: PrebleMpqOptions = { groups: 10, quota: 10 };

/**
 * fcfs-mpq as the authors' SGLang fork runs it (WukLab/preble, `python/sglang/srt/managers/router/
 * model_rpc.py`, `budget_forward_step` / `get_new_fill_batch_v2`, `get_schedule_group`,
 * `schedule_within_group`), mapped onto the engine's admit mode (vLLM v0 admission in key order).
 *
 * Grouping (as the code): a request entering the waiting queue (arrival, or back after a
 * recompute preemption) is put, at the next scheduling decision, into group
 * `0` if its hit ratio r is 0, else `ceil(r·G) − 1` (at most G − 1), where r = cached prompt
 * tokens on this replica now (`ctx.cachedPrefixTokens`) / its tokens to prefill (prompt +
 * generated; the prompt for a fresh request). r·G is computed as the integer quotient
 * ceil(cached·G / tokens), so a ratio of exactly 3/10 lands in group 2. The group is kept while the
 * request waits (the code moves a request out of `forward_queue` into `multi_priority_queue[g]`
 * once and re-matches its prefix only to size its admission).
 *
 * Rounds (as the code): the groups are visited from the highest (G − 1) downwards, wrapping;
 * group i admits up to (i+1)·k requests per visit, FCFS (arrival order) inside it.
 *
 * Keys: each decision's admission order is one round after another: round 0 visits the groups
 * from the current pointer p downwards, taking from group g its first (g+1)·k waiting requests,
 * round 1 the next (g+1)·k of each, and so on. A request that is j-th in group g's FCFS order gets
 * key `r·G + ((p − g) mod G) + (j mod q)/q` with q = (g+1)·k and r = ⌊j/q⌋: its position in that
 * sequence. After a decision that admitted anything, the pointer moves to the group below the
 * group of the last request admitted (the largest key admitted), as the code moves
 * `start_schedule_from` past the group it served. An admitted request's key becomes its arrival
 * time, so the running request preempted under KV pressure is the newest (the code evicts the
 * running request last in arrival order).
 *
 * Approximations (docs/policies.md#preble-mpq): the code serves one group per scheduling step and
 * skips a request that does not fit to try the next in the group; here one decision admits in key
 * order across groups and rounds until the budgets are reached and stops at the first request that
 * does not fit (vLLM v0 admission, as every admit-mode policy). The pointer moves only when
 * something was admitted (the code also advances it on a step that admits nothing).
 *
 * Cost: a decision with no change since the last one (no arrival, preemption or admission; the
 * waiting count tells) is O(1). Otherwise O(waiting) to drop the admitted and re-key, plus
 * O(log waiting) per key that changes (all of them when the pointer moves) and a sort of a group
 * that a re-queued request joins out of arrival order: O(waiting · log waiting) per decision at
 * worst.
 *
 * Skip-ahead: keys change only at a decision that follows an arrival, a preemption or an
 * admission (the group is fixed while a request waits, so hit ratios drifting under decode-time
 * eviction change nothing), and no skipped-over iteration has any of these: no bound needed.
 */
export class PrebleMpq implements Policy {
  readonly name = 'Preble fcfs-mpq';
  readonly batching = ADMIT;
  private readonly G: number;
  private readonly k: number;
  private ctx!: PolicyContext;
  private R!: RequestTable;
  /** Each request's group while grouped and waiting, else −1. */
  private group!: Int32Array;
  /** Key each grouped request was last given (its slot in the round sequence). */
  private slot!: Float64Array;
  /** Group members (waiting at the last decision, or since dropped), FCFS order each. */
  private members: number[][] = [];
  /** Requests that entered the waiting queue since the last decision (not yet grouped). */
  private pending: number[] = [];
  /** Requests in `members` (the waiting count when nothing changed). */
  private tracked = 0;
  /** Group the next round starts from (the code's `start_schedule_from`). */
  private pointer: number;

  /** @param options the settings (defaults: PREBLE_MPQ_DEFAULTS). */
  constructor(options: Partial<PrebleMpqOptions> = {}) {
    const o = { ...PREBLE_MPQ_DEFAULTS, ...options };
    this.G = o.groups;
    this.k = o.quota;
    this.pointer = this.G - 1;
  }

  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
    this.R = ctx.requests;
    this.group = new Int32Array(this.R.n).fill(-1);
    this.slot = new Float64Array(this.R.n);
    this.members = Array.from({ length: this.G }, () => []);
  }

  priority(id: number): number {
    this.group[id] = -1;
    this.pending.push(id);
    return Infinity; // keyed at the next decision, before anything reads the order
  }

  onPreempt(id: number): void {
    if (this.R.state[id] !== WAITING) return; // swapped: its arrival key orders the swap-ins
    this.group[id] = -1;
    this.pending.push(id);
    this.ctx.setPriority(id, Infinity);
  }

  /** Group of waiting request `id` by its hit ratio now. */
  groupOf(id: number): number {
    const R = this.R;
    const tokens = R.prompt[id] + R.generated[id];
    const cached = this.ctx.cachedPrefixTokens(id);
    if (cached <= 0 || tokens <= 0) return 0;
    return Math.min(this.G - 1, Math.max(0, Math.ceil((cached * this.G) / tokens) - 1));
  }

  beforeSchedule(): void {
    if (this.pending.length === 0 && this.ctx.waitingCount() === this.tracked) return;
    const { R, G, members, group, slot, ctx } = this;
    // Drop those admitted since (or re-queued: they are pending); the last admitted moves the pointer.
    let lastSlot = -Infinity;
    let lastGroup = -1;
    let tracked = 0;
    for (let g = 0; g < G; g++) {
      const list = members[g];
      let w = 0;
      for (let i = 0; i < list.length; i++) {
        const id = list[i];
        if (R.state[id] === WAITING && group[id] === g) {
          list[w++] = id;
          continue;
        }
        // In the group at the last decision, so admitted since (and maybe preempted again).
        if (slot[id] > lastSlot) {
          lastSlot = slot[id];
          lastGroup = g;
        }
        if (group[id] === g) group[id] = -1;
        if (R.state[id] === RUNNING) ctx.setPriority(id, R.arrival[id]);
      }
      list.length = w;
      tracked += w;
    }
    if (lastGroup >= 0) this.pointer = (lastGroup - 1 + G) % G;
    // Group the newcomers (arrival order within a group; a re-queued request may need a sort).
    const unsorted = new Uint8Array(G);
    for (const id of this.pending) {
      if (R.state[id] !== WAITING || group[id] >= 0) continue;
      const g = this.groupOf(id);
      group[id] = g;
      const list = members[g];
      if (list.length > 0 && !this.fcfsBefore(list[list.length - 1], id)) unsorted[g] = 1;
      list.push(id);
      tracked++;
    }
    this.pending.length = 0;
    this.tracked = tracked;
    // Key every member by its position in the round sequence.
    for (let g = 0; g < G; g++) {
      const list = members[g];
      if (unsorted[g]) list.sort((a, b) => (this.fcfsBefore(a, b) ? -1 : 1));
      const q = (g + 1) * this.k;
      const off = (this.pointer - g + G) % G;
      for (let j = 0; j < list.length; j++) {
        const id = list[j];
        const r = Math.floor(j / q);
        const key = r * G + off + (j - r * q) / q;
        slot[id] = key;
        if (R.key[id] !== key) ctx.setPriority(id, key);
      }
    }
  }

  /** FCFS order: arrival time, then the engine's tie-break. */
  private fcfsBefore(a: number, b: number): boolean {
    const R = this.R;
    return R.arrival[a] < R.arrival[b] || (R.arrival[a] === R.arrival[b] && R.tie[a] < R.tie[b]);
  }
}

/** Registry entry for Preble's fcfs-mpq. */
export const prebleMpq: PolicyEntry = {
  name: 'preble-mpq',
  description: 'Preble local scheduler: waiting requests in groups by prefix-cache hit ratio, served round-robin from the highest, group i admits up to (i+1) x quota per round, FCFS inside',
  source: 'Srivatsa et al., arXiv 2407.00023 (ICLR 2025), WukLab/preble model_rpc.py fcfs-mpq; docs/spec.md §16',
  predictor: 'none',
  create(opts) {
    const o = new OptionReader('--policy-opt', 'preble-mpq', opts, ['groups', 'quota']);
    return new PrebleMpq({
      groups: o.number('groups', PREBLE_MPQ_DEFAULTS.groups, { min: 1, max: 1000, integer: true }),
      quota: o.number('quota', PREBLE_MPQ_DEFAULTS.quota, { min: 1, integer: true }),
    });
  },
};
