/**
 * The scheduling-policy interface. A policy decides *who* goes first; the engine (sim/engine.ts)
 * owns *how*: token and sequence budgets, KV blocks, chunking, preemption mechanics and costs.
 *
 * A policy gives each request a priority key (a number, smaller is served first; ties in arrival
 * order). It sets the key when the request arrives (`priority`) and may change any key at any
 * time through `ctx.setPriority` — from its event hooks (arrival, iteration end, completion,
 * preemption) or just before each scheduling decision (`beforeSchedule`). The engine keeps its
 * queues as indexed heaps on those keys, so a change costs O(log n).
 *
 * Two batch-formation modes cover the literature (`batching`, docs/engine.md):
 * - `{ mode: 'admit' }` (vLLM v0 semantics; FCFS, SJF, SSJF, TRAIL): running requests keep
 *   running; waiting requests are admitted in key order, stopping at the first that does not fit;
 *   on KV exhaustion the running request with the largest key is preempted. A policy that defines
 *   `mayPreemptForHead` also gets TRAIL's limited preemption on a full batch.
 * - `{ mode: 'rank', displacement, stallFree }` (learning-to-rank, SRPT, SkipPredict, LAS, MLFQ,
 *   Autellix PLAS/ATLAS): every iteration the batch is the prefix of all requests in key order
 *   that fits the budgets; a running request outside the prefix is *displaced*: paused with its
 *   KV kept (`'pause'`, LTR), or preempted by `'recompute'` or `'swap'` (Autellix).
 */
import type { RequestTable } from './requests.ts';
import type { Predictor } from './predictor.ts';

/** What the engine lets a policy see and do. */
export interface PolicyContext {
  /** Every request's state (read it; do not write it). */
  readonly requests: RequestTable;
  /** Changes request `id`'s priority key (smaller first) and re-orders the queue it is in. */
  setPriority(id: number, key: number): void;
  /** Ids currently running (holding KV on the GPU), in no particular order; do not keep it. */
  running(): ArrayLike<number>;
  /** Number of running requests (length of the `running()` view). */
  runningCount(): number;
  /** Number of waiting requests. */
  waitingCount(): number;
  /**
   * Prompt tokens of waiting request `id` this replica's prefix cache holds now (whole blocks; 0
   * without prefix caching): the figure routers read as `ReplicaLoad.cachedPrefixTokens`.
   */
  cachedPrefixTokens(id: number): number;
  /**
   * Adds `seconds` of server time to the next iteration the engine prices (e.g. a predictor that
   * runs on the serving GPU: SkipPredict's server-time model, LTR's predictor overhead).
   */
  addIterationTime(seconds: number): void;
  /**
   * State shared by the policy instances of every replica of one run (one instance per replica;
   * keyed by a name the policy picks). For tables that are global to a deployment, such as
   * Autellix's process table of program service (arXiv 2502.13965 §4: one table, many engines).
   * With one replica it is a map only this instance sees.
   */
  readonly shared: Map<string, unknown>;
}

/** Fate of a running request that falls out of a rank-mode policy's selected prefix. */
export type Displacement = 'pause' | 'recompute' | 'swap';

/** Admit mode: vLLM v0's batch formation (see the module comment). */
export interface AdmitBatching {
  readonly mode: 'admit';
}

/** Rank mode: the batch is the prefix of all requests in key order (see the module comment). */
export interface RankBatching {
  readonly mode: 'rank';
  /** What happens to a running request that falls out of the prefix. */
  readonly displacement: Displacement;
  /**
   * With chunked prefill: `true` gives every selected decode its token before prefill chunks share
   * the rest of the budget (Sarathi-Serve's stall-free batching, as vLLM's chunked scheduler that
   * Autellix extends); `false` is the plain prefix walk, where a prefill chunk takes what is left
   * of the budget and the walk stops at the first request that does not fit (learning-to-rank §4,
   * step 4). docs/engine.md.
   */
  readonly stallFree: boolean;
}

/** How a policy's keys become a batch. */
export type Batching = AdmitBatching | RankBatching;

/** The admit-mode setting (no parameters), shared by the policies that use it. */
export const ADMIT: AdmitBatching = Object.freeze({ mode: 'admit' });

/**
 * A scheduling policy. One instance serves one replica for one run (policies may keep per-request
 * state in typed arrays sized at `attach`; state global to the cluster goes in `ctx.shared`).
 */
export interface Policy {
  /** Name as the paper spells it, as shown in reports. */
  readonly name: string;
  /** Batch-formation mode and its settings (see the module comment). */
  readonly batching: Batching;
  /** Called once before the run, with the engine's context. */
  attach(ctx: PolicyContext): void;
  /** Priority key of request `id` arriving at `now` seconds (smaller first; finite or ±Infinity). */
  priority(id: number, now: number): number;
  /** Called before each scheduling decision at `now` (e.g. a starvation guard re-keys here). */
  beforeSchedule?(now: number): void;
  /**
   * Called after an iteration ends at `now`. `batch[0..count)` are the ids that ran in it, each
   * for `steps` consecutive iterations (> 1 when the engine skipped ahead over unchanged decode
   * iterations; a policy that must see every iteration bounds that with `stableIterations`).
   */
  onIterationEnd?(batch: Int32Array, count: number, steps: number, now: number): void;
  /**
   * Called when request `id` is preempted (its KV freed or swapped) at `now`. It may re-key `id`
   * itself, not other requests (the engine is forming a batch).
   */
  onPreempt?(id: number, now: number): void;
  /** Called when request `id` completes at `now`. */
  onComplete?(id: number, now: number): void;
  /**
   * Admit mode: whether running request `id` may be preempted (by recompute) to admit the waiting
   * head when the batch is full (TRAIL's limited preemption, arXiv 2410.01035 §5). Absent: the
   * engine preempts only when the KV cache cannot hold the running requests' next tokens.
   */
  mayPreemptForHead?(id: number): boolean;
  /**
   * How many further decode iterations may run, with no arrival, completion or preemption, before
   * this policy would change any priority key. The engine never skips past it. Default: Infinity
   * (keys change only at events).
   */
  stableIterations?(now: number): number;
  /**
   * For keys that change with time rather than with iterations (a quantum, a starvation guard):
   * the time (s) before which no key changes while the batch `batch[0..count)` formed at `now`
   * keeps running. The engine bundles a further decode iteration only if it starts before this
   * time. Default: Infinity.
   */
  stableUntil?(now: number, batch: Int32Array, count: number): number;
}

/**
 * A `stableUntil` deadline for a key change due once time passes `t_s` (s), moved earlier by a
 * relative 1e-9 so that rounding in the policy's own accumulated times (a sum of iteration
 * durations against one difference of end times) cannot put a change inside a bundle.
 */
export function deadlineBefore(t_s: number): number {
  return t_s - 1e-9 * Math.max(1, Math.abs(t_s));
}

/** A registered policy: its constructor and what `sim policies` shows. */
export interface PolicyEntry {
  /** CLI name (`--policy NAME`). */
  name: string;
  /** One line: what it does. */
  description: string;
  /** The paper or system it comes from, with section. */
  source: string;
  /** Whether it needs a length predictor (`--predictor`), can use one, or ignores it. */
  predictor: 'required' | 'optional' | 'none';
  /** Predictor used when `predictor` is 'optional' and none is given (e.g. 'oracle' for bounds). */
  defaultPredictor?: string;
  /**
   * Builds a fresh instance for one run.
   * @param opts the `--policy-opt key=value` pairs.
   * @param predictor the run's predictor (attached), when the policy takes one.
   * @throws InputError (field `--policy-opt`) for an unknown option or a value out of range.
   */
  create(opts: Record<string, string>, predictor: Predictor | undefined): Policy;
}
