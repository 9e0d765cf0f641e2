/**
 * Per-request state of a simulation, as a struct of typed arrays indexed by request id (the
 * request's index in the trace). Progress is modelled as vLLM v1 does: a request has
 * `numTokens = prompt + generated` and `computed` tokens whose KV is in the cache; an iteration
 * schedules some tokens, and whenever `computed` reaches `numTokens` one output token is sampled.
 * Prefill, chunked prefill, decode and recompute after preemption all fall out of that one pair.
 */
import type { Trace } from './trace.ts';
import type { TracePrefix } from './trace.ts';
import { GapHistogram } from './gap-histogram.ts';

/** Request lifecycle states (values of `RequestTable.state`). */
export const PENDING = 0;
/** In the waiting queue: arrived, holds no KV (never started, or preempted by recompute). */
export const WAITING = 1;
/** Admitted: holds KV blocks on the GPU (prefilling, decoding, or paused by a rank policy). */
export const RUNNING = 2;
/** Preempted by swap: its KV is in CPU swap space. */
export const SWAPPED = 3;
/** All output tokens generated. */
export const FINISHED = 4;
/** Could never fit (see docs): counted, never scheduled. */
export const REJECTED = 5;
/**
 * Frozen on its engine for a move (`Engine.freeze`): holds its KV there but is never scheduled,
 * until it is detached (its KV copied elsewhere) or thawed. Llumnix's final stage, a finished
 * prefill waiting for its decode instance.
 */
export const FROZEN = 6;
/** Detached from one engine and not yet adopted by another (`Engine.detach`, `Engine.adopt`): on no engine. */
export const IN_TRANSIT = 7;

/** Struct-of-arrays state of every request of a run. Times are seconds; -1 means "not yet". */
export class RequestTable {
  /** Number of requests. */
  readonly n: number;
  /** Arrival (submission) time (s): from the trace for roots, set at release for dependent calls. */
  readonly arrival: Float64Array;
  /** Prompt tokens. */
  readonly prompt: Int32Array;
  /** True output tokens (hidden from non-clairvoyant policies by convention, not by force). */
  readonly output: Int32Array;
  /** Output tokens generated so far. */
  readonly generated: Int32Array;
  /** Tokens whose KV has been computed (reset to 0 by recompute preemption). */
  readonly computed: Int32Array;
  /** KV blocks held on the GPU. */
  readonly blocks: Int32Array;
  /** KV blocks held in CPU swap space. */
  readonly swappedBlocks: Int32Array;
  /**
   * KV blocks reserved for it on a destination engine while it is moved there (`Engine.reserve`):
   * counted as used on that engine, apart from `blocks` (what it holds where it runs now).
   */
  readonly reserved: Int32Array;
  /** Engine index of its reservation (`reserved`), -1 when none. */
  readonly reservedOn: Int32Array;
  /** Lifecycle state: PENDING, WAITING, RUNNING, SWAPPED, FINISHED, REJECTED, FROZEN, IN_TRANSIT. */
  readonly state: Uint8Array;
  /** Policy priority key (smaller is served first). */
  readonly key: Float64Array;
  /** Tie-break for equal keys: arrival order (the request id). */
  readonly tie: Float64Array;
  /** Time first scheduled (s), -1 before. */
  readonly firstScheduled: Float64Array;
  /** Time the first output token was sampled (s), -1 before. */
  readonly firstToken: Float64Array;
  /** Completion time (s), -1 before. */
  readonly completion: Float64Array;
  /** Time its latest output token was sampled (s), -1 before the first. */
  readonly lastToken: Float64Array;
  /** Largest gap between two consecutive output tokens so far (max TBT, s), -1 before the second token. */
  readonly maxTbt: Float64Array;
  /**
   * Every inter-token latency of the run (all requests): the gap between a request's consecutive
   * output tokens, t_k − t_{k−1} for k ≥ 2, counted once per token (docs/output.md).
   */
  readonly itl: GapHistogram;
  /** Prompt tokens found in the prefix cache at its first admission (-1 before it). */
  readonly cachedTokens: Int32Array;
  /** Times preempted (recompute or swap). */
  readonly preemptions: Int32Array;
  /** Tokens scheduled for this request in the iteration in flight. */
  readonly scheduled: Int32Array;
  /** Program index of each request (its own index when the trace has no programs). */
  readonly program: Int32Array;
  /** Number of programs. */
  readonly programCount: number;
  /** Model-execution time so far (s): Σ of the durations of the iterations it was scheduled in. */
  readonly service: Float64Array;
  /** Replica the router sent it to; -1 if never submitted (a call whose ancestor was rejected). */
  readonly replica: Int32Array;
  /**
   * Disaggregated runs (sim/disaggregation.ts): the prefill replica it was routed to (-1 in a
   * colocated run; `replica` is then the decode replica that adopted it), and when its KV
   * transfer to the decode replica started and ended (s, -1 before or without one).
   */
  readonly prefillReplica: Int32Array;
  readonly transferStart: Float64Array;
  readonly transferEnd: Float64Array;
  /** Virtual engine of its replica it joined (pipeline parallelism, sim/pipeline.ts; 0 without). */
  readonly virtualEngine: Int32Array;
  /** Which leading parts of the prompts are shared (the trace's prefix segments), if any. */
  readonly prefix: TracePrefix | undefined;
  /**
   * Priority class of each request: 0 normal, 1 high (Llumnix §4.4; read by the `llumnix` router's
   * and migration's headroom, reported per class). All 0 unless the run gave priorities.
   */
  readonly priority: Uint8Array;
  /** Whether the run gave priorities (a trace `priority` column or `--high-priority-fraction`). */
  readonly prioritized: boolean;
  /**
   * Engine bookkeeping, shared by the engines of every replica (a request is on one replica):
   * its slot in its replica's waiting or swapped heap, in its victims heap and in its running set
   * (-1 when absent), and a scratch mark used while one batch is formed.
   */
  readonly queuePos: Int32Array;
  readonly runHeapPos: Int32Array;
  readonly runSlot: Int32Array;
  readonly mark: Uint8Array;
  /** 1 while a running request's place in its replica's running order is to be redone (sim/running-order.ts). */
  readonly orderChanged: Uint8Array;

  /**
   * @param priority per request, 0 (normal) or 1 (high), length `trace.n`; omitted: no priorities
   *   (all normal, `prioritized` false).
   * @throws Error when `priority` has another length (a bug, not an input error).
   */
  constructor(trace: Trace, priority?: Uint8Array) {
    const n = trace.n;
    if (priority !== undefined && priority.length !== n) throw new Error(`RequestTable: ${priority.length} priorities for ${n} requests`);
    this.priority = priority ?? new Uint8Array(n);
    this.prioritized = priority !== undefined;
    this.n = n;
    // A copy: calls of multi-call programs get their submission time here when released.
    this.arrival = Float64Array.from(trace.arrival_s);
    this.prompt = trace.prompt_tokens;
    this.output = trace.output_tokens;
    this.generated = new Int32Array(n);
    this.computed = new Int32Array(n);
    this.blocks = new Int32Array(n);
    this.swappedBlocks = new Int32Array(n);
    this.reserved = new Int32Array(n);
    this.reservedOn = new Int32Array(n).fill(-1);
    this.state = new Uint8Array(n);
    this.key = new Float64Array(n);
    this.tie = new Float64Array(n);
    for (let i = 0; i < n; i++) this.tie[i] = i;
    this.firstScheduled = new Float64Array(n).fill(-1);
    this.firstToken = new Float64Array(n).fill(-1);
    this.completion = new Float64Array(n).fill(-1);
    this.lastToken = new Float64Array(n).fill(-1);
    this.maxTbt = new Float64Array(n).fill(-1);
    this.itl = new GapHistogram();
    this.preemptions = new Int32Array(n);
    this.cachedTokens = new Int32Array(n).fill(-1);
    this.scheduled = new Int32Array(n);
    if (trace.programs) {
      this.program = trace.programs.program;
      this.programCount = trace.programs.count;
    } else {
      this.program = new Int32Array(n);
      for (let i = 0; i < n; i++) this.program[i] = i;
      this.programCount = n;
    }
    this.service = new Float64Array(n);
    this.replica = new Int32Array(n).fill(-1);
    this.virtualEngine = new Int32Array(n);
    this.prefillReplica = new Int32Array(n).fill(-1);
    this.transferStart = new Float64Array(n).fill(-1);
    this.transferEnd = new Float64Array(n).fill(-1);
    this.prefix = trace.prefix;
    this.queuePos = new Int32Array(Math.max(1, n)).fill(-1);
    this.runHeapPos = new Int32Array(Math.max(1, n)).fill(-1);
    this.runSlot = new Int32Array(Math.max(1, n)).fill(-1);
    this.mark = new Uint8Array(Math.max(1, n));
    this.orderChanged = new Uint8Array(Math.max(1, n));
  }

  /**
   * Request `id` sampled an output token at time `t` (s): its gap from the request's previous
   * token, if any, joins the ITL histogram and its max TBT. Only the previous token's time is kept
   * per request, so a token's ITL is the time between that request's consecutive tokens whatever
   * ran in between (a prefill-only iteration, a preemption, a swap; docs/output.md).
   */
  tokenSampled(id: number, t: number): void {
    const prev = this.lastToken[id];
    if (prev >= 0) {
      const gap = t - prev;
      this.itl.add(gap, 1);
      if (gap > this.maxTbt[id]) this.maxTbt[id] = gap;
    }
    this.lastToken[id] = t;
  }

  /**
   * Request `id` sampled one token at the end of each step of a skip-ahead bundle (sim/skip-ahead.ts):
   * the first at `firstEnd`, the last at `end` (s). The gaps of the later steps, common to the
   * whole batch, were added to the histogram by skip-ahead (`laterMax` the largest, or -1 with one
   * step); here the first step's gap, which depends on the request's previous token.
   */
  bundleSampled(id: number, firstEnd: number, end: number, laterMax: number): void {
    // A bundle is decode-only: every member has sampled a token before it.
    const gap = firstEnd - this.lastToken[id];
    this.itl.add(gap, 1);
    const most = gap > laterMax ? gap : laterMax;
    if (most > this.maxTbt[id]) this.maxTbt[id] = most;
    this.lastToken[id] = end;
  }

  /** Prompt plus generated tokens of request `id`: the sequence length so far. */
  numTokens(id: number): number {
    return this.prompt[id] + this.generated[id];
  }
}

/** Whether request a comes before request b in (key, tie) order: the order of every queue. */
export function before(a: number, b: number, R: RequestTable): boolean {
  const key = R.key;
  return key[a] < key[b] || (key[a] === key[b] && R.tie[a] < R.tie[b]);
}

/**
 * Sorts request ids[0..n) into (key, tie) order by insertion: O(n) when they are nearly in order,
 * O(n²) at worst, so for short lists (partial prefills, the re-keyed members of one batch).
 */
export function sortByKey(ids: Int32Array, n: number, R: RequestTable): void {
  const { key, tie } = R;
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
