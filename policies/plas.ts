/**
 * Autellix's program-level schedulers (Luo et al., arXiv 2502.13965 §4; docs/spec.md
 * §6): PLAS (program-level attained service, for single-threaded programs) and ATLAS (attained
 * service along the critical path, for multi-threaded programs), with the paper's discretised
 * multi-level queues, anti-starvation promotion and multi-step scheduling; and the paper's "MLFQ"
 * baseline, the same machinery with every call entering the first queue.
 */
import type { Policy, PolicyContext, PolicyEntry, RankBatching } from '../sim/policy.ts';
import { deadlineBefore } from '../sim/policy.ts';
import type { RequestTable } from '../sim/requests.ts';
import { FINISHED } from '../sim/requests.ts';
import { IndexedHeap } from '../sim/indexed-heap.ts';
import { OptionReader } from './options.ts';

/** Which of Autellix's schedulers {@link ProgramLas} runs. */
export type ProgramLasMode = 'plas' | 'atlas' | 'mlfq';

/** Settings of {@link ProgramLas}. Times in seconds of model-execution (service) time. */
export interface ProgramLasOptions {
  /**
   * 'plas': a call's starting priority is the sum of its program's completed calls' execution
   * times; 'atlas': the program's longest critical path so far; 'mlfq': the paper's MLFQ
   * baseline, every call starts in the first queue and anti-starvation uses the call's own
   * waiting and service only.
   */
  mode: ProgramLasMode;
  /** Number of queues K (0 = no discretisation: the priority itself is the key). Default 6 [OURS, §6]. */
  queues: number;
  /** Upper bound of the first queue, seconds of program service (q0). Default 1 [OURS: the paper leaves it open; §6 suggests the trace's median call time]. */
  q0: number;
  /** Ratio between consecutive queue bounds r. Default 4 [OURS, §6]. */
  ratio: number;
  /**
   * Anti-starvation threshold β: a call whose (W_prog + W_call)/(T_prog + T_call) reaches β is
   * promoted to the first queue. Default Infinity (off); the paper's sweep is {1, 2, 5, 10}
   * [OURS, §6: the paper gives no value].
   */
  beta: number;
  /** Multi-step scheduling: demotions and promotions are decided every N iterations. Default 1 [OURS, §6]. */
  steps: number;
}

/** Defaults (§6's suggested constants; anti-starvation off, a decision every iteration). */
export const PROGRAM_LAS_DEFAULTS: Omit<ProgramLasOptions, 'mode'> = { queues: 6, q0: 1, ratio: 4, beta: Infinity, steps: 1 };

/** Key under which the process table lives in `PolicyContext.shared`. */
export const PROGRAM_TABLE_KEY = 'autellix.programs';

/**
 * Autellix's process table (arXiv 2502.13965 §4), one entry per program, shared by the
 * {@link ProgramLas} instances of every replica of a run (`PolicyContext.shared`), so a program
 * whose calls land on several replicas has one entry. Arrays are indexed by program index
 * (`RequestTable.program`); times in seconds. Only completed calls are folded in: an active call
 * carries its own counters until it completes.
 */
export interface ProgramTable {
  /** The mode that built it (the meaning of `service` depends on it). */
  readonly mode: ProgramLasMode;
  /** Per program: the priority a new call starts from — PLAS (and mlfq) Σ of completed calls' execution times, ATLAS the longest critical path so far. */
  readonly service: Float64Array;
  /** Per program: T_prog, Σ of completed calls' execution times (for anti-starvation, in every mode). */
  readonly attained: Float64Array;
  /** Per program: W_prog, Σ of completed calls' waiting times in the scheduler queue. */
  readonly waited: Float64Array;
  /** Told the program index after a call of it completes (each instance re-checks its calls of that program). */
  readonly listeners: ((program: number) => void)[];
}

/**
 * The run's process table: the one in `shared` under {@link PROGRAM_TABLE_KEY}, or a new zeroed
 * one stored there (whichever instance attaches first creates it).
 * @param shared the run's `PolicyContext.shared`.
 * @param programCount number of programs (`RequestTable.programCount`).
 * @param mode the scheduler's mode.
 * @throws Error when the stored table was built for another mode or program count (two different
 *   policies, or two runs, sharing one map: a bug in the caller).
 */
export function programTable(shared: Map<string, unknown>, programCount: number, mode: ProgramLasMode): ProgramTable {
  const found = shared.get(PROGRAM_TABLE_KEY) as ProgramTable | undefined;
  if (found !== undefined) {
    if (found.mode !== mode || found.service.length !== programCount) {
      throw new Error(
        `shared process table '${PROGRAM_TABLE_KEY}' is for ${found.mode} with ${found.service.length} programs, not ${mode} with ${programCount}`,
      );
    }
    return found;
  }
  const t: ProgramTable = {
    mode,
    service: new Float64Array(programCount),
    attained: new Float64Array(programCount),
    waited: new Float64Array(programCount),
    listeners: [],
  };
  shared.set(PROGRAM_TABLE_KEY, t);
  return t;
}

/** Key stride between queues; the within-queue part (submission time, s) stays below it. */
const QUEUE_STRIDE = 1e9;

/**
 * PLAS / ATLAS / Autellix's MLFQ baseline in the engine's rank mode, calls not in the batch
 * swapped out (Autellix §4, Algorithm 1).
 *
 * **Priority.** A call's starting priority p is read from its program's entry in the shared
 * process table when the call is submitted: PLAS, the sum of the model-execution times of the
 * program's completed calls; ATLAS, the program's longest critical path so far, updated on each
 * completion as max(path, p_call + t_call); mode 'mlfq', 0 for every call. With `queues` K > 0,
 * the call enters the queue whose range [q0·r^(i−1), q0·r^i) contains p (the first starts at 0,
 * the last is unbounded), served FCFS by submission time within a queue (ties in trace order), and
 * is demoted one queue once its execution time since it entered its queue reaches that queue's
 * width (its quantum); the quantum restarts on demotion. With K = 0 the key is p itself (ties in
 * trace order) and nothing is demoted.
 *
 * **Anti-starvation** (`beta` β finite). W is time in the scheduler queue — time since submission
 * that the call was not in an iteration's batch, i.e. (now − submission) − service — and T is
 * model-execution time (`RequestTable.service`). At each decision round a call not in the first
 * queue (K = 0: with a key above 0) is promoted to the first queue (K = 0: key 0) when
 * W_prog + W_call ≥ β·(T_prog + T_call) (the ratio written without a division: a call with no
 * service yet that has waited counts as starving); the promotion resets only the call's W_call
 * and T_call (their totals still fold into the program at completion) and gives it the first
 * queue's quantum. W_prog and T_prog are the program's completed calls' totals in the shared
 * table (active sibling calls fold in when they complete; T_prog is the attained-service sum in
 * every mode, also for ATLAS); mode 'mlfq' uses W_call/T_call only. Found without scans: each
 * candidate is in a heap by the time its condition would hold if it kept waiting, a lower bound
 * that only grows while the call runs (stale entries are fixed when they reach the top) and that
 * is recomputed for a program's active calls when one of its calls completes (on every replica):
 * O(log n) per promotion, O(siblings · log n) per completion.
 *
 * **Multi-step scheduling** (`steps` N). Demotions and promotions are decided only at rounds, the
 * start of every N-th iteration (forward pass) this instance's engine runs; in between, keys do
 * not change, but the engine still forms every batch from them, so newly submitted calls join at
 * their key's place (into free slots, or displacing calls with larger keys). A call moves at most
 * one queue down per round, however many quanta it used since the last. N = 1 decides every
 * iteration.
 *
 * **Skip-ahead.** With N > 1 the engine may skip ahead up to the next round (exact: no key changes
 * before it). With N = 1 demotion and promotion depend on time: the engine bundles decode
 * iterations only until the first batch call not in the last queue could use up its quantum, or
 * the earliest due time in the anti-starvation heap (a lower bound of the next promotion), so no
 * round inside a bundle could change a key (`stableUntil`).
 *
 * Per iteration: O(batch) plus O(log n) per key change.
 */
export class ProgramLas implements Policy {
  readonly name: string;
  /** Others swapped out; with chunked prefill, decodes get their token before prefill chunks (vLLM's chunked scheduler, which Autellix extends; docs/engine.md). */
  readonly batching: RankBatching = { mode: 'rank', displacement: 'swap', stallFree: true };
  private readonly o: ProgramLasOptions;
  private ctx!: PolicyContext;
  private R!: RequestTable;
  private table!: ProgramTable;
  /** Per call: starting priority p (s), its K = 0 key (p, or 0 after a promotion), queue, service at queue entry. */
  private start!: Float64Array;
  private rank!: Float64Array;
  private queue!: Int32Array;
  private entered!: Float64Array;
  /** Per call: total waiting and service (s) at its last promotion (W_call, T_call count from there). */
  private wOff!: Float64Array;
  private tOff!: Float64Array;
  /** Anti-starvation: candidates by a lower bound of the time their condition holds. */
  private starving: IndexedHeap | undefined;
  private due!: Float64Array;
  /** Active calls of each program on this replica (linked lists), for re-checks when a sibling completes. */
  private progHead: Int32Array | undefined;
  private progNext!: Int32Array;
  private progPrev!: Int32Array;
  /** Calls that ran since the last round (the only ones that can be demoted at it). */
  private dirty!: Int32Array;
  private isDirty!: Uint8Array;
  private dirtyCount = 0;
  /** Iterations this instance's engine has run. */
  private it = 0;
  private promotionCount = 0;
  /** Upper bounds of the queues reached so far (q0 · ratio^i, s), filled on demand. */
  private readonly uppers: number[] = [];

  /**
   * @param options the mode and any settings (others: {@link PROGRAM_LAS_DEFAULTS}).
   * @throws RangeError for `queues` or `steps` not an integer (≥ 0, ≥ 1), `q0` < 0, `ratio` < 1,
   *   or `beta` not > 0.
   */
  constructor(options: Pick<ProgramLasOptions, 'mode'> & Partial<ProgramLasOptions>) {
    const o = { ...PROGRAM_LAS_DEFAULTS, ...options };
    if (!Number.isInteger(o.queues) || o.queues < 0) throw new RangeError(`queues must be an integer >= 0 (got ${o.queues})`);
    if (!Number.isInteger(o.steps) || o.steps < 1) throw new RangeError(`steps must be an integer >= 1 (got ${o.steps})`);
    if (!(o.q0 >= 0) || !Number.isFinite(o.q0)) throw new RangeError(`q0 must be >= 0 (got ${o.q0})`);
    if (!(o.ratio >= 1) || !Number.isFinite(o.ratio)) throw new RangeError(`ratio must be >= 1 (got ${o.ratio})`);
    if (!(o.beta > 0)) throw new RangeError(`beta must be > 0 (got ${o.beta})`);
    this.o = o;
    this.name = o.mode === 'plas' ? 'PLAS' : o.mode === 'atlas' ? 'ATLAS' : 'MLFQ';
  }

  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
    const R = (this.R = ctx.requests);
    const n = Math.max(1, R.n);
    this.table = programTable(ctx.shared, R.programCount, this.o.mode);
    this.start = new Float64Array(n);
    this.rank = new Float64Array(n);
    this.queue = new Int32Array(n);
    this.entered = new Float64Array(n);
    this.wOff = new Float64Array(n);
    this.tOff = new Float64Array(n);
    this.dirty = new Int32Array(n);
    this.isDirty = new Uint8Array(n);
    if (Number.isFinite(this.o.beta)) {
      this.due = new Float64Array(n);
      this.starving = new IndexedHeap(n, this.due, R.tie);
      if (this.o.mode !== 'mlfq') {
        this.progHead = new Int32Array(Math.max(1, R.programCount)).fill(-1);
        this.progNext = new Int32Array(n).fill(-1);
        this.progPrev = new Int32Array(n).fill(-1);
        this.table.listeners.push((g) => this.programChanged(g));
      }
    }
  }

  /** Queue of call `id` (0 = the first, Q_1). */
  queueOf(id: number): number {
    return this.queue[id];
  }

  /** Starting priority p of call `id`, seconds of program service (read when it was submitted). */
  startPriority(id: number): number {
    return this.start[id];
  }

  /** Anti-starvation promotions so far (this instance). */
  get promotions(): number {
    return this.promotionCount;
  }

  /** Upper bound of queue i (s of program service); Infinity for the last. */
  private upper(i: number): number {
    if (i >= this.o.queues - 1) return Infinity;
    const u = this.uppers;
    while (u.length <= i) u.push(this.o.q0 * this.o.ratio ** u.length);
    return u[i];
  }

  private lower(i: number): number {
    return i === 0 ? 0 : this.upper(i - 1);
  }

  /** The queue whose range holds priority p (0 with `queues=0`); O(1) but for rounding fixes. */
  private queueFor(p: number): number {
    const K = this.o.queues;
    if (K === 0 || p < this.o.q0) return 0;
    const est = Math.floor(Math.log(p / this.o.q0) / Math.log(this.o.ratio)) + 1; // NaN or ∞ when q0 = 0 or r = 1
    let q = Number.isFinite(est) ? Math.min(K - 1, Math.max(0, est)) : K - 1;
    while (q > 0 && p < this.upper(q - 1)) q--;
    while (p >= this.upper(q)) q++;
    return q;
  }

  private key(id: number): number {
    if (this.o.queues === 0) return this.rank[id];
    // Queue first, then submission time (< 1e9 s) within it.
    return this.queue[id] * QUEUE_STRIDE + this.R.arrival[id];
  }

  /** Whether call `id` is in the first queue (K = 0: keyed 0), where promotion has nothing to do. */
  private atTop(id: number): boolean {
    return this.o.queues === 0 ? this.rank[id] === 0 : this.queue[id] === 0;
  }

  /** Call `id`'s total waiting time at `now` (s): time since submission not spent in a batch. Valid with no iteration in flight. */
  private waitedTotal(id: number, now: number): number {
    return now - this.R.arrival[id] - this.R.service[id];
  }

  /**
   * The time at which call `id` meets the anti-starvation condition if it waits from now on:
   * W_prog + W_call ≥ β(T_prog + T_call) with W_call = t − submission − service − wOff.
   */
  private dueOf(id: number): number {
    const R = this.R;
    const S = R.service[id];
    let Wp = 0;
    let Tp = 0;
    if (this.o.mode !== 'mlfq') {
      const g = R.program[id];
      Wp = this.table.waited[g];
      Tp = this.table.attained[g];
    }
    return R.arrival[id] + S + this.wOff[id] + this.o.beta * (Tp + S - this.tOff[id]) - Wp;
  }

  private addCandidate(id: number): void {
    const heap = this.starving;
    if (heap === undefined || heap.has(id)) return;
    this.due[id] = this.dueOf(id);
    heap.push(id);
  }

  priority(id: number, now: number): number {
    const R = this.R;
    const g = R.program[id];
    const p = this.o.mode === 'mlfq' ? 0 : this.table.service[g];
    this.start[id] = p;
    this.rank[id] = p;
    this.queue[id] = this.queueFor(p);
    this.entered[id] = R.service[id];
    this.wOff[id] = this.waitedTotal(id, now);
    this.tOff[id] = R.service[id];
    if (this.progHead !== undefined) {
      const h = this.progHead[g];
      this.progNext[id] = h;
      this.progPrev[id] = -1;
      if (h >= 0) this.progPrev[h] = id;
      this.progHead[g] = id;
    }
    if (!this.atTop(id)) this.addCandidate(id);
    return this.key(id);
  }

  /** A decision round at the start of every `steps`-th iteration: demotions, then promotions. */
  beforeSchedule(now: number): void {
    if (this.it % this.o.steps !== 0) return;
    const R = this.R;
    const K = this.o.queues;
    for (let i = 0; i < this.dirtyCount; i++) {
      const id = this.dirty[i];
      this.isDirty[id] = 0;
      if (R.state[id] === FINISHED) continue;
      const q = this.queue[id];
      if (q < K - 1 && R.service[id] - this.entered[id] >= this.upper(q) - this.lower(q)) {
        this.queue[id] = q + 1;
        this.entered[id] = R.service[id];
        this.ctx.setPriority(id, this.key(id));
        if (q === 0) this.addCandidate(id);
      }
    }
    this.dirtyCount = 0;
    const heap = this.starving;
    if (heap === undefined) return;
    while (heap.size > 0 && this.due[heap.peek()] <= now) {
      const id = heap.peek();
      const d = this.dueOf(id);
      if (d > now) {
        // Ran since its entry was made: the bound moved later.
        this.due[id] = d;
        heap.update(id);
        continue;
      }
      heap.pop();
      this.queue[id] = 0;
      this.rank[id] = 0;
      this.entered[id] = R.service[id];
      this.wOff[id] = this.waitedTotal(id, now);
      this.tOff[id] = R.service[id];
      this.promotionCount++;
      this.ctx.setPriority(id, this.key(id));
    }
  }

  onIterationEnd(batch: Int32Array, count: number, steps: number): void {
    this.it += steps;
    if (this.o.queues < 2) return; // nothing to demote
    const R = this.R;
    for (let i = 0; i < count; i++) {
      const id = batch[i];
      if (this.isDirty[id] === 0 && R.state[id] !== FINISHED) {
        this.isDirty[id] = 1;
        this.dirty[this.dirtyCount++] = id;
      }
    }
  }

  onComplete(id: number, now: number): void {
    const R = this.R;
    const t = this.table;
    const g = R.program[id];
    const S = R.service[id];
    t.attained[g] += S;
    t.waited[g] += this.waitedTotal(id, now);
    if (this.o.mode === 'atlas') t.service[g] = Math.max(t.service[g], this.start[id] + S);
    else t.service[g] += S;
    this.starving?.remove(id);
    if (this.progHead !== undefined) {
      const prev = this.progPrev[id];
      const next = this.progNext[id];
      if (prev >= 0) this.progNext[prev] = next;
      else this.progHead[g] = next;
      if (next >= 0) this.progPrev[next] = prev;
      for (const f of t.listeners) f(g);
    }
  }

  /** Program `g`'s W_prog/T_prog changed: recompute the due times of this replica's candidates of it. */
  private programChanged(g: number): void {
    const heap = this.starving!;
    for (let c = this.progHead![g]; c >= 0; c = this.progNext[c]) {
      if (heap.has(c)) {
        this.due[c] = this.dueOf(c);
        heap.update(c);
      }
    }
  }

  stableIterations(): number {
    const N = this.o.steps;
    return N > 1 ? N - (this.it % N) : Infinity;
  }

  stableUntil(now: number, batch: Int32Array, count: number): number {
    if (this.o.steps > 1) return Infinity;
    const R = this.R;
    let until = Infinity;
    const heap = this.starving;
    if (heap !== undefined && heap.size > 0) until = this.due[heap.peek()];
    const K = this.o.queues;
    if (K > 1) {
      for (let i = 0; i < count; i++) {
        const id = batch[i];
        const q = this.queue[id];
        if (q < K - 1) until = Math.min(until, now + (this.upper(q) - this.lower(q)) - (R.service[id] - this.entered[id]));
      }
    }
    return until === Infinity ? Infinity : deadlineBefore(until);
  }
}

function entry(mode: ProgramLasMode): PolicyEntry {
  const name = mode === 'mlfq' ? 'autellix-mlfq' : mode;
  const description = {
    plas: "Autellix PLAS: calls prioritised by their program's attained service, discretised multi-level queues, others swapped out; optional anti-starvation (beta) and multi-step (steps)",
    atlas: "Autellix ATLAS: calls prioritised by their program's critical-path service, discretised multi-level queues, others swapped out; optional anti-starvation (beta) and multi-step (steps)",
    mlfq: "Autellix's MLFQ baseline: PLAS's queues but every call enters the first queue, call-level anti-starvation (beta); not FastServe's 'mlfq'",
  }[mode];
  return {
    name,
    description,
    source: 'Luo et al., Autellix, arXiv 2502.13965 §4; docs/spec.md §6',
    predictor: 'none',
    create(opts) {
      const o = new OptionReader('--policy-opt', name, opts, ['queues', 'q0', 'ratio', 'beta', 'steps']);
      const options: ProgramLasOptions = {
        mode,
        queues: o.number('queues', PROGRAM_LAS_DEFAULTS.queues, { min: 0, integer: true }),
        q0: o.number('q0', PROGRAM_LAS_DEFAULTS.q0, { min: 0 }),
        ratio: o.number('ratio', PROGRAM_LAS_DEFAULTS.ratio, { min: 1 }),
        beta: o.number('beta', PROGRAM_LAS_DEFAULTS.beta, { min: 0, minExclusive: true, allowInfinity: true }),
        steps: o.number('steps', PROGRAM_LAS_DEFAULTS.steps, { min: 1, integer: true }),
      };
      return new ProgramLas(options);
    },
  };
}

/** Registry entry for PLAS (`--policy plas`). */
export const plas = entry('plas');
/** Registry entry for ATLAS (`--policy atlas`). */
export const atlas = entry('atlas');
/** Registry entry for Autellix's MLFQ baseline (`--policy autellix-mlfq`). */
export const autellixMlfq = entry('mlfq');
