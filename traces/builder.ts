/**
 * TraceBuilder: collects parsed rows into growable typed arrays, then sorts them stably by arrival
 * and produces a {@link Trace} with arrivals relative to the first one.
 */
import { InputError } from '../sim/errors.ts';
import { MAX_SPAN_S, MAX_SPAN_TEXT, showSeconds } from './fields.ts';
import type { Trace, TraceFormat } from '../sim/trace.ts';
import { finishPrefix, type RowSegments } from './prefix.ts';

const NS_PER_S = 1e9;

/**
 * Seconds between two arrival keys `(hi, lo)` where a key means `hi + lo·1e-9` seconds.
 * When both differences are integers and the total fits in a safe integer of nanoseconds (spans
 * under about 104 days) the result is computed exactly as `ns / 1e9` (one correctly rounded
 * division); otherwise `dHi + dLo/1e9`.
 */
export function keyDifferenceSeconds(dHi: number, dLo: number): number {
  if (dLo === 0) return dHi;
  if (Number.isInteger(dHi) && Number.isInteger(dLo)) {
    const ns = dHi * NS_PER_S + dLo;
    if (Number.isSafeInteger(ns)) return ns / NS_PER_S;
  }
  return dHi + dLo / NS_PER_S;
}

/**
 * Accumulates requests as they are read. Each arrival is a key `(hi, lo)` meaning `hi` seconds plus
 * `lo` nanoseconds (`lo` in [0, 1e9) when used; readers with plain seconds pass `lo = 0`); keeping
 * the two parts apart lets absolute wall-clock times with 7–9 fractional digits become exact
 * relative times. Arrays grow by doubling.
 *
 * Callers push one row with {@link push} and, when they keep extra columns or prefix segments, push
 * exactly one value to each `extra` array (and `prefix`) for every kept row.
 */
export class TraceBuilder {
  /** Number of rows pushed. */
  n = 0;
  private cap: number;
  private hi: Float64Array;
  private lo: Float64Array;
  private prompt: Int32Array;
  private output: Int32Array;
  /** Extra per-request columns (one string per pushed row), by name. */
  readonly extra: Record<string, string[]> = {};
  /**
   * Per-row prefix segments, when the format has prefix information (one entry per pushed row;
   * declared ids only, see TracePrefix in sim/trace.ts).
   */
  prefix: RowSegments[] | undefined;
  /** Rows read but not kept, by reason. */
  readonly skipped: Record<string, number> = {};
  /** Warnings met while reading. */
  readonly warnings: string[] = [];
  // Earliest and latest arrival keys pushed, and their lines, for the span check in finish().
  private minHi = Infinity;
  private minLo = 0;
  private minLine = 0;
  private maxHi = -Infinity;
  private maxLo = 0;
  private maxLine = 0;
  // Rows earlier than some row pushed before them.
  private outOfOrder = 0;

  constructor(initialCapacity = 4096) {
    this.cap = Math.max(16, initialCapacity);
    this.hi = new Float64Array(this.cap);
    this.lo = new Float64Array(this.cap);
    this.prompt = new Int32Array(this.cap);
    this.output = new Int32Array(this.cap);
  }

  /** Counts one row skipped for `reason` (e.g. `failed`). */
  skip(reason: string): void {
    this.skipped[reason] = (this.skipped[reason] ?? 0) + 1;
  }

  /**
   * Appends one request: arrival `hi` s + `lo` ns (both finite), prompt and output tokens (already
   * validated), read from `line` of the file (named if the arrivals span too long, see finish()).
   */
  push(hi: number, lo: number, prompt: number, output: number, line = 0): void {
    if (hi < this.minHi || (hi === this.minHi && lo < this.minLo)) {
      this.minHi = hi;
      this.minLo = lo;
      this.minLine = line;
    }
    if (hi > this.maxHi || (hi === this.maxHi && lo > this.maxLo)) {
      this.maxHi = hi;
      this.maxLo = lo;
      this.maxLine = line;
    } else if (hi < this.maxHi || lo < this.maxLo) {
      this.outOfOrder++;
    }
    if (this.n === this.cap) this.grow();
    const i = this.n++;
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.prompt[i] = prompt;
    this.output[i] = output;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const g64 = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.hi = g64(this.hi);
    this.lo = g64(this.lo);
    this.prompt = g32(this.prompt);
    this.output = g32(this.output);
    this.cap = cap;
  }

  /**
   * Builds the trace: sorts stably by arrival (ties keep file order) with a warning counting the
   * rows that were out of order, and makes arrivals relative to the earliest one (exactly 0).
   * @param source  where the rows came from (file path)
   * @param format  the format read
   * @param file    file named in errors
   * @param emptyLine line named when no rows were kept
   * @param arrivalField the arrival column or key, named when the arrivals span too long
   * @throws InputError when no rows were kept (empty trace, or every row skipped); when the latest
   *   arrival is more than {@link MAX_SPAN_S} (1e9 s) after the earliest, or so far that the
   *   difference overflows (naming the latest row's line and `arrivalField`)
   */
  finish(source: string, format: TraceFormat, file: string, emptyLine: number, arrivalField = 'arrival'): Trace {
    const n = this.n;
    if (n === 0) {
      const skippedTotal = Object.values(this.skipped).reduce((a, b) => a + b, 0);
      const why =
        skippedTotal > 0
          ? `no requests: all ${skippedTotal} data rows were skipped (${Object.entries(this.skipped)
              .map(([k, v]) => `${v} ${k}`)
              .join(', ')})`
          : 'empty trace: no data rows';
      throw new InputError(why, { file, line: emptyLine });
    }
    const span = keyDifferenceSeconds(this.maxHi - this.minHi, this.maxLo - this.minLo);
    if (!(span <= MAX_SPAN_S)) {
      const earliest = this.minLine > 0 ? ` (line ${this.minLine})` : '';
      throw new InputError(
        `this arrival is ${showSeconds(span)} s after the earliest one${earliest}; arrivals must lie within ${MAX_SPAN_TEXT} of the first`,
        { file, line: this.maxLine > 0 ? this.maxLine : undefined, field: arrivalField },
      );
    }
    const hi = this.hi;
    const lo = this.lo;
    const outOfOrder = this.outOfOrder;

    let order: number[] | undefined;
    if (outOfOrder > 0) {
      order = new Array<number>(n);
      for (let i = 0; i < n; i++) order[i] = i;
      // Array.prototype.sort is stable (ES2019); the index tie-break makes that explicit.
      order.sort((a, b) => hi[a] - hi[b] || lo[a] - lo[b] || a - b);
      this.warnings.push(
        `${file}: ${outOfOrder} of ${n} rows were out of order (timestamps not sorted); sorted stably by arrival`,
      );
    }

    const arrival = new Float64Array(n);
    let prompt: Int32Array;
    let output: Int32Array;
    if (order) {
      prompt = new Int32Array(n);
      output = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        prompt[i] = this.prompt[order[i]];
        output[i] = this.output[order[i]];
      }
    } else {
      // In file order (nearly always): copied whole, not element by element.
      prompt = this.prompt.slice(0, n);
      output = this.output.slice(0, n);
    }
    const first = order ? order[0] : 0;
    const hi0 = hi[first];
    const lo0 = lo[first];
    let prev = 0;
    for (let i = 0; i < n; i++) {
      const j = order ? order[i] : i;
      let a = keyDifferenceSeconds(hi[j] - hi0, lo[j] - lo0);
      if (a < prev) a = prev; // guard against rounding in the inexact path
      arrival[i] = a;
      prev = a;
    }
    arrival[0] = 0;

    const extra: Record<string, string[]> = {};
    for (const [k, col] of Object.entries(this.extra)) {
      extra[k] = order ? order.map((j) => col[j]) : col;
    }
    const trace: Trace = {
      source,
      format,
      n,
      arrival_s: arrival,
      prompt_tokens: prompt,
      output_tokens: output,
      extra,
      skipped: { ...this.skipped },
      warnings: [...this.warnings],
    };
    if (this.prefix) trace.prefix = finishPrefix(this.prefix, order);
    return trace;
  }
}
