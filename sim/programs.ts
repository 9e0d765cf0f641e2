/**
 * Release of a program's calls (Autellix, arXiv 2502.13965 §2: a program is a DAG of LLM calls):
 * a call is submitted once every call it depends on has finished, plus its own delay (tool or
 * think time, `TracePrograms.delay_s`); a call whose ancestor was rejected can never be submitted
 * and is rejected too. The event loop (sim/simulator.ts) asks this unit what to release.
 */
import type { Trace } from './trace.ts';

/** The dependency bookkeeping of one run of a program trace. */
export class ProgramRelease {
  /** Root calls (no parents), in arrival order (stable): what the trace submits by itself. */
  readonly roots: Int32Array;
  /** Children of call i: children[childStart[i] .. childStart[i+1]). */
  private readonly childStart: Int32Array;
  private readonly children: Int32Array;
  /** Parents not yet finished, per call; -1 once rejected. */
  private readonly pending: Int32Array;
  private readonly delay_s: Float64Array;

  /**
   * @param trace a trace with `programs` (parents per call, delays).
   * @throws Error if the trace has no programs.
   */
  constructor(trace: Trace) {
    const p = trace.programs;
    if (!p) throw new Error('ProgramRelease: the trace has no programs');
    const n = trace.n;
    const pending = new Int32Array(n);
    const childStart = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) {
      pending[i] = p.parentStart[i + 1] - p.parentStart[i];
      for (let k = p.parentStart[i]; k < p.parentStart[i + 1]; k++) childStart[p.parents[k] + 1]++;
    }
    for (let i = 0; i < n; i++) childStart[i + 1] += childStart[i];
    const fill = childStart.slice(0, n);
    const children = new Int32Array(p.parents.length);
    for (let i = 0; i < n; i++) for (let k = p.parentStart[i]; k < p.parentStart[i + 1]; k++) children[fill[p.parents[k]]++] = i;
    const rootList: number[] = [];
    for (let i = 0; i < n; i++) if (pending[i] === 0) rootList.push(i);
    rootList.sort((a, b) => trace.arrival_s[a] - trace.arrival_s[b] || a - b);
    this.roots = Int32Array.from(rootList);
    this.childStart = childStart;
    this.children = children;
    this.pending = pending;
    this.delay_s = p.delay_s;
  }

  /**
   * Call `id` finished at `now` (s): `release(child, t)` for each child whose last parent this
   * was, at t = now + the child's delay, in child order.
   */
  finished(id: number, now: number, release: (child: number, t: number) => void): void {
    for (let c = this.childStart[id]; c < this.childStart[id + 1]; c++) {
      const child = this.children[c];
      if (--this.pending[child] === 0) release(child, now + this.delay_s[child]);
    }
  }

  /** Call `id` was rejected: `reject(d)` for each descendant not rejected yet (each once). */
  rejected(id: number, reject: (descendant: number) => void): void {
    const stack = [id];
    while (stack.length > 0) {
      const c = stack.pop()!;
      for (let k = this.childStart[c]; k < this.childStart[c + 1]; k++) {
        const child = this.children[k];
        if (this.pending[child] >= 0) {
          this.pending[child] = -1;
          reject(child);
          stack.push(child);
        }
      }
    }
  }
}
