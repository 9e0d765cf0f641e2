/**
 * Autellix's program-level schedulers (Luo et al., arXiv 2502.13965 §4; shared/docs/policies.md
 * §6): PLAS (program-level attained service, for single-threaded programs) and ATLAS (attained
 * service along the critical path, for multi-threaded programs), with the paper's discretised
 * multi-level queues.
 */
import type { Policy, PolicyContext, PolicyEntry, Displacement } from './policy.ts';
import type { RequestTable } from '../sim/requests.ts';
import { PolicyOptions } from './options.ts';

/** Settings of {@link ProgramLas}. */
export interface ProgramLasOptions {
  /** 'plas': a program's priority is the sum of its completed calls' execution times; 'atlas': the longest critical path so far. */
  mode: 'plas' | 'atlas';
  /** Number of queues K (0 = no discretisation: the priority itself is the key). Default 6 [OURS, §6]. */
  queues: number;
  /** Upper bound of the first queue, seconds of program service (q0). Default 1 [OURS: the paper leaves it open; §6 suggests the trace's median call time]. */
  q0: number;
  /** Ratio between consecutive queue bounds r. Default 4 [OURS, §6]. */
  ratio: number;
}

/** Defaults (§6's suggested constants). */
export const PROGRAM_LAS_DEFAULTS: Omit<ProgramLasOptions, 'mode'> = { queues: 6, q0: 1, ratio: 4 };

/**
 * PLAS / ATLAS in the engine's rank mode, calls not in the batch swapped out (Autellix §4).
 *
 * A call's starting priority p is read from its program's entry when the call is submitted: PLAS,
 * the sum of the model-execution times of the program's completed calls; ATLAS, the program's
 * longest critical path so far, updated on each completion as max(path, p_call + t_call). With
 * `queues` K > 0, the call enters the queue whose range [q0·r^(i−1), q0·r^i) contains p (the
 * first starts at 0, the last is unbounded), served FCFS by submission time within a queue, and
 * is demoted to the next queue once its own execution time in a queue exceeds that queue's
 * width (its quantum). With K = 0 the key is p itself (ties by trace order).
 *
 * Not modelled yet: the anti-starvation promotion (ratio β of waiting to service time) and
 * multi-step scheduling (N decode steps per decision; here every iteration decides).
 */
export class ProgramLas implements Policy {
  readonly name: string;
  readonly preemptive = true;
  readonly displacement: Displacement = 'swap';
  private readonly o: ProgramLasOptions;
  private ctx!: PolicyContext;
  private R!: RequestTable;
  /** Per program: PLAS attained service, or ATLAS critical-path length (s). */
  private programService!: Float64Array;
  /** Per call: its starting priority p (s), its queue, and its service when it entered the queue. */
  private start!: Float64Array;
  private queue!: Int32Array;
  private entered!: Float64Array;

  constructor(options: ProgramLasOptions) {
    this.o = options;
    this.name = options.mode === 'plas' ? 'PLAS' : 'ATLAS';
  }

  attach(ctx: PolicyContext): void {
    this.ctx = ctx;
    this.R = ctx.requests;
    this.programService = new Float64Array(this.R.programCount);
    this.start = new Float64Array(this.R.n);
    this.queue = new Int32Array(this.R.n);
    this.entered = new Float64Array(this.R.n);
  }

  /** Upper bound of queue i (s of program service); Infinity for the last. */
  private upper(i: number): number {
    return i >= this.o.queues - 1 ? Infinity : this.o.q0 * this.o.ratio ** i;
  }

  private lower(i: number): number {
    return i === 0 ? 0 : this.upper(i - 1);
  }

  private key(id: number): number {
    if (this.o.queues === 0) return this.start[id];
    // Queue first, then submission time (< 1e9 s) within it.
    return this.queue[id] * 1e9 + this.R.arrival[id];
  }

  priority(id: number): number {
    const p = this.programService[this.R.program[id]];
    this.start[id] = p;
    let q = 0;
    while (this.o.queues > 0 && p >= this.upper(q)) q++;
    this.queue[id] = q;
    this.entered[id] = this.R.service[id];
    return this.key(id);
  }

  onIterationEnd(batch: Int32Array, count: number): void {
    if (this.o.queues === 0) return;
    const R = this.R;
    for (let i = 0; i < count; i++) {
      const id = batch[i];
      const q = this.queue[id];
      if (q < this.o.queues - 1 && R.service[id] - this.entered[id] >= this.upper(q) - this.lower(q)) {
        this.queue[id] = q + 1;
        this.entered[id] = R.service[id];
        this.ctx.setPriority(id, this.key(id));
      }
    }
  }

  onComplete(id: number): void {
    const g = this.R.program[id];
    const t = this.R.service[id];
    if (this.o.mode === 'plas') this.programService[g] += t;
    else this.programService[g] = Math.max(this.programService[g], this.start[id] + t);
  }

  stableIterations(): number {
    // Demotion depends on execution time: decide every iteration when queues are on.
    return this.o.queues === 0 ? Infinity : 1;
  }
}

function entry(mode: 'plas' | 'atlas'): PolicyEntry {
  return {
    name: mode,
    description:
      mode === 'plas'
        ? "Autellix PLAS: calls prioritised by their program's attained service, discretised multi-level queues, others swapped out"
        : "Autellix ATLAS: calls prioritised by their program's critical-path service, discretised multi-level queues, others swapped out",
    source: 'Luo et al., Autellix, arXiv 2502.13965 §4; shared/docs/policies.md §6',
    predictor: 'none',
    create(opts) {
      const o = new PolicyOptions(mode, opts);
      const options: ProgramLasOptions = {
        mode,
        queues: o.number('queues', PROGRAM_LAS_DEFAULTS.queues, { min: 0, integer: true }),
        q0: o.number('q0', PROGRAM_LAS_DEFAULTS.q0, { min: 0 }),
        ratio: o.number('ratio', PROGRAM_LAS_DEFAULTS.ratio, { min: 1 }),
      };
      o.done();
      return new ProgramLas(options);
    },
  };
}

/** Registry entries. */
export const plas = entry('plas');
export const atlas = entry('atlas');
