/**
 * Trace transforms: time window, request limit, rate scaling, and tiling for large benchmarks.
 */
import { bisectLeft, bisectRight } from 'd3-array';
import { InputError } from '../sim/errors.ts';
import { MAX_SPAN_S, MAX_SPAN_TEXT, showSeconds } from './fields.ts';
import { meanRate } from './stats.ts';
import type { Trace } from '../sim/trace.ts';
import { slicePrefix, tilePrefix } from './prefix.ts';

/** Options of {@link transformTrace}; all optional. Times in seconds, rates in requests/second. */
export interface TraceTransform {
  /** Window start (`--start`), in the trace's relative time; >= 0. */
  start_s?: number;
  /** Window length (`--duration`), > 0: keeps arrivals in [start_s, start_s + duration_s). */
  duration_s?: number;
  /** Keep only the first N requests (`--limit`), a positive integer. */
  limit?: number;
  /** Multiply the rate by k (`--rate-scale`): arrival times are divided by k. */
  rate_scale?: number;
  /** Rescale arrivals by a constant so the mean rate (see {@link meanRate}) is r req/s (`--rate`). */
  rate?: number;
  /**
   * Cap every gap between consecutive arrivals at this many seconds (`--compress-idle`), >= 0,
   * after rate scaling; of a program trace, the gaps between programs' arrivals.
   */
  max_gap_s?: number;
}

function checkPositive(v: number | undefined, field: string, integer = false, max = Infinity, maxReason = ''): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new InputError(`must be a positive finite number, got ${String(v)}`, { field });
  }
  if (integer && !Number.isInteger(v)) throw new InputError(`must be a positive integer, got ${v}`, { field });
  if (v > max) throw new InputError(`must be at most ${maxReason}, got ${v}`, { field });
}

/**
 * Checks the arrivals after `--rate-scale` or `--rate`: the last (they are sorted, the first is 0)
 * must be finite and within {@link MAX_SPAN_S}.
 * @param before  the span of the arrivals before scaling, seconds
 * @throws InputError naming `field`, its value and the limit
 */
function checkScaled(last: number, before: number, field: string, value: number, what: string): void {
  if (last <= MAX_SPAN_S) return;
  throw new InputError(
    `${value} stretches the ${before} s between the first and last ${what} to ${showSeconds(last)} s, beyond the limit of ${MAX_SPAN_TEXT}`,
    { field },
  );
}

/** Copies requests [lo, hi) of `t` with arrivals mapped by `f` (all other columns kept). */
function slice(t: Trace, lo: number, hi: number, f: (a: number) => number): Trace {
  const n = hi - lo;
  const arrival = new Float64Array(n);
  for (let i = 0; i < n; i++) arrival[i] = f(t.arrival_s[lo + i]);
  const extra: Record<string, string[]> = {};
  for (const [k, col] of Object.entries(t.extra)) extra[k] = col.slice(lo, hi);
  const out: Trace = {
    source: t.source,
    format: t.format,
    n,
    arrival_s: arrival,
    prompt_tokens: t.prompt_tokens.slice(lo, hi),
    output_tokens: t.output_tokens.slice(lo, hi),
    extra,
    skipped: { ...t.skipped },
    warnings: [...t.warnings],
  };
  if (t.prefix) out.prefix = lo === 0 && hi === t.n ? t.prefix : slicePrefix(t.prefix, lo, hi);
  return out;
}

/**
 * Applies, in this order:
 * 1. the window [start_s, start_s + duration_s) in the trace's own relative time (`start_s`
 *    defaults to 0, `duration_s` to the end of the trace);
 * 2. `limit`: the first N requests of what is left;
 * 3. `rate_scale` k (arrival times divided by k: k times the rate) or `rate` r (arrivals multiplied
 *    by the constant meanRate/r so that the mean rate, (n − 1)/(last − first), becomes r; the
 *    shape of the gaps, hence burstiness, is kept). With a single request left `rate` has nothing to
 *    scale and only adds a warning;
 * 4. re-zeroing, so the first arrival is 0;
 * 5. `max_gap_s` S: every gap between consecutive arrivals capped at S seconds (see compressIdle),
 *    the seconds removed in the result's `idle_removed_s` and a warning.
 * Returns a new trace (the input is not changed); `extra`, `prefix`, `skipped` and `warnings`
 * follow the kept requests (prefix ids naming a request left out become fresh declared ids, see
 * slicePrefix). A program trace only takes `rate_scale`, `rate` and `max_gap_s` (over programs;
 * its DAG is kept).
 * @throws InputError (field `--start`, `--duration`, `--limit`, `--rate-scale` or `--rate`) for a
 *   non-finite value, a value <= 0 (`--start` < 0; `--start 0` is allowed and is the default), a
 *   `--start` or `--duration` above 1e9 s, a non-integer limit or one above 2^53 − 1,
 *   `rate_scale` together with `rate`, `rate` on a trace whose arrivals are all at one instant, a
 *   `rate_scale` or `rate` that stretches the arrivals beyond 1e9 s (e.g. `--rate-scale 1e-309`,
 *   whose arrivals / k overflow), or an empty result ("no requests left after ..."); `start_s`,
 *   `duration_s` or `limit` on a program trace; a `max_gap_s` (field `--compress-idle`) that is
 *   not a finite number >= 0
 */
export function transformTrace(t: Trace, x: TraceTransform): Trace {
  if (x.start_s !== undefined && (typeof x.start_s !== 'number' || !Number.isFinite(x.start_s) || x.start_s < 0)) {
    throw new InputError(`must be a finite number >= 0, got ${String(x.start_s)}`, { field: '--start' });
  }
  if (x.start_s !== undefined && x.start_s > MAX_SPAN_S) {
    throw new InputError(`must be at most ${MAX_SPAN_TEXT}, got ${x.start_s}`, { field: '--start' });
  }
  checkPositive(x.duration_s, '--duration', false, MAX_SPAN_S, MAX_SPAN_TEXT);
  checkPositive(x.limit, '--limit', true, Number.MAX_SAFE_INTEGER, `${Number.MAX_SAFE_INTEGER} (the largest safe integer)`);
  checkPositive(x.rate_scale, '--rate-scale');
  checkPositive(x.rate, '--rate');
  if (x.max_gap_s !== undefined && (typeof x.max_gap_s !== 'number' || !Number.isFinite(x.max_gap_s) || x.max_gap_s < 0)) {
    throw new InputError(`must be a finite number of seconds >= 0, got ${String(x.max_gap_s)}`, { field: '--compress-idle' });
  }
  if (x.rate_scale !== undefined && x.rate !== undefined) {
    throw new InputError('--rate-scale and --rate cannot be used together', { field: '--rate' });
  }
  if (t.programs) return scalePrograms(t, x);

  const a = t.arrival_s;
  const start = x.start_s ?? 0;
  let lo = x.start_s !== undefined ? bisectLeft(a, start) : 0;
  let hi = x.duration_s !== undefined ? bisectLeft(a, start + x.duration_s) : t.n;
  if (hi < lo) hi = lo;
  if (hi === lo) {
    const end = x.duration_s !== undefined ? `${start + x.duration_s}` : 'end';
    const last = t.n > 0 ? a[t.n - 1] : 0;
    throw new InputError(
      `no requests left after the window [${start}, ${end}) s; the trace's arrivals span [0, ${last}] s`,
      { field: x.duration_s !== undefined ? '--duration' : '--start' },
    );
  }
  if (x.limit !== undefined) hi = Math.min(hi, lo + x.limit);

  const a0 = a[lo];
  let factor = 1;
  const warnings: string[] = [];
  if (x.rate_scale !== undefined) factor = 1 / x.rate_scale;
  else if (x.rate !== undefined) factor = rateFactor(a.subarray(lo, hi), x.rate, 'request', warnings);
  const rateScale = x.rate_scale;
  const out = slice(t, lo, hi, rateScale !== undefined ? (v) => (v - a0) / rateScale : (v) => (v - a0) * factor);
  out.arrival_s[0] = 0;
  if (rateScale !== undefined) checkScaled(out.arrival_s[out.n - 1], a[hi - 1] - a0, '--rate-scale', rateScale, 'requests');
  else if (x.rate !== undefined) checkScaled(out.arrival_s[out.n - 1], a[hi - 1] - a0, '--rate', x.rate, 'requests');
  out.warnings.push(...warnings);
  if (x.max_gap_s !== undefined) compressIdle(out, x.max_gap_s, 'requests');
  return out;
}

/**
 * Caps every gap between consecutive arrivals of `t` at `maxGap` seconds, in place (`--compress-idle`):
 * each arrival moves earlier by the excess of all gaps up to it, Σ max(0, gap − maxGap), so order is
 * kept and the first stays at 0. Of a program trace the gaps are those between its programs'
 * arrivals (the roots'); every call of a program moves with its root. Records the seconds removed
 * in `t.idle_removed_s` and adds a warning saying how much was removed from how many gaps.
 */
function compressIdle(t: Trace, maxGap: number, what: 'requests' | 'programs'): void {
  const a = t.arrival_s;
  let removed = 0;
  let gaps = 0;
  if (!t.programs) {
    let prev = 0;
    for (let i = 0; i < t.n; i++) {
      const gap = a[i] - prev;
      prev = a[i];
      if (gap > maxGap) {
        removed += gap - maxGap;
        gaps++;
      }
      a[i] -= removed;
    }
  } else {
    // Roots in arrival order; a call's arrival_s holds its program's first arrival, so every
    // request is shifted by the excess accumulated up to and including its own arrival time.
    const p = t.programs;
    const roots: number[] = [];
    for (let i = 0; i < t.n; i++) if (p.parentStart[i + 1] === p.parentStart[i]) roots.push(a[i]);
    roots.sort((x, y) => x - y);
    const cut: number[] = []; // cut[k]: seconds removed up to roots[k]
    for (let k = 0; k < roots.length; k++) {
      const gap = k === 0 ? 0 : roots[k] - roots[k - 1];
      if (gap > maxGap) {
        removed += gap - maxGap;
        gaps++;
      }
      cut.push(removed);
    }
    for (let i = 0; i < t.n; i++) {
      const k = bisectRight(roots, a[i]) - 1;
      a[i] -= k >= 0 ? cut[k] : 0;
    }
  }
  t.idle_removed_s = removed;
  t.warnings.push(`--compress-idle ${maxGap}: removed ${Number(removed.toFixed(6))} s of idle time from ${gaps} gap${gaps === 1 ? '' : 's'} between ${what} longer than ${maxGap} s`);
}

/**
 * The factor that makes the mean rate of the sorted arrivals `a` equal `rate` (`--rate`): 1, with
 * a warning pushed to `warnings`, when there are fewer than two (requests or programs: `what`).
 * @throws InputError (field `--rate`) when they all arrive at one instant.
 */
function rateFactor(a: ArrayLike<number>, rate: number, what: 'request' | 'program', warnings: string[]): number {
  const [one, many] = what === 'request' ? ['request left', 'requests left'] : ['program', 'programs'];
  if (a.length < 2) {
    warnings.push(`--rate ${rate}: only one ${one}, nothing to rescale`);
    return 1;
  }
  const r0 = meanRate(a);
  if (!Number.isFinite(r0)) throw new InputError(`cannot set the rate: all ${a.length} ${many} arrive at the same instant`, { field: '--rate' });
  return r0 / rate;
}

/**
 * A program trace keeps its DAG: only `rate_scale` / `rate` (and `max_gap_s`) apply, to the programs' arrivals (the
 * roots' `arrival_s`; the mean rate is over programs), re-zeroed. A window or a limit would cut
 * programs apart, so they are refused.
 */
function scalePrograms(t: Trace, x: TraceTransform): Trace {
  const refuse: [unknown, string][] = [[x.start_s, '--start'], [x.duration_s, '--duration'], [x.limit, '--limit']];
  for (const [v, field] of refuse) {
    if (v !== undefined) throw new InputError('not supported on a program trace (it would cut programs apart); generate fewer programs with `sim generate --programs N`', { field });
  }
  const p = t.programs!;
  const roots: number[] = [];
  for (let i = 0; i < t.n; i++) if (p.parentStart[i + 1] === p.parentStart[i]) roots.push(t.arrival_s[i]);
  roots.sort((a, b) => a - b);
  let factor = 1;
  const warnings: string[] = [];
  if (x.rate_scale !== undefined) factor = 1 / x.rate_scale;
  else if (x.rate !== undefined) factor = rateFactor(roots, x.rate, 'program', warnings);
  const a0 = roots[0];
  const arrival_s = new Float64Array(t.n);
  for (let i = 0; i < t.n; i++) arrival_s[i] = (t.arrival_s[i] - a0) * factor;
  if (x.rate_scale !== undefined || x.rate !== undefined) {
    const last = (roots[roots.length - 1] - a0) * factor;
    const [field, value] = x.rate_scale !== undefined ? ['--rate-scale', x.rate_scale] : ['--rate', x.rate!];
    checkScaled(roots.length > 1 ? last : 0, roots[roots.length - 1] - a0, field, value, 'programs');
  }
  const out: Trace = { ...t, arrival_s, warnings: [...t.warnings, ...warnings] };
  if (x.max_gap_s !== undefined) compressIdle(out, x.max_gap_s, 'programs');
  return out;
}

/**
 * Tiles a trace `copies` times in time, for the 1M-request benchmark: copy j (0-based) is the whole
 * trace shifted by j·(span + g) seconds, where span = last − first arrival and g the mean
 * inter-arrival gap span/(n − 1) (g = 1 s when n < 2 or span = 0). The result has n·copies requests,
 * non-decreasing arrivals starting at 0; token counts, `extra` and `prefix` repeat (declared prefix
 * ids are shared by all copies, so later copies hit the same blocks; own and output ids follow
 * their copy, see tilePrefix); `skipped` and `warnings` are those of `t`.
 * @throws InputError (field `copies`) unless `copies` is a positive integer, or when the tiled
 *   trace would span more than 1e9 s
 */
export function tileTrace(t: Trace, copies: number): Trace {
  if (!Number.isInteger(copies) || copies < 1) {
    throw new InputError(`must be a positive integer, got ${copies}`, { field: 'copies' });
  }
  const n = t.n;
  const a = t.arrival_s;
  const span = n > 0 ? a[n - 1] - a[0] : 0;
  const gap = n >= 2 && span > 0 ? span / (n - 1) : 1;
  const period = span + gap;
  if (!((copies - 1) * period + span <= MAX_SPAN_S)) {
    throw new InputError(`${copies} copies of ${span} s would span ${showSeconds((copies - 1) * period + span)} s, beyond the limit of ${MAX_SPAN_TEXT}`, { field: 'copies' });
  }
  const total = n * copies;
  const arrival = new Float64Array(total);
  const prompt = new Int32Array(total);
  const output = new Int32Array(total);
  for (let j = 0; j < copies; j++) {
    const off = j * n;
    const shift = j * period;
    for (let i = 0; i < n; i++) arrival[off + i] = a[i] - a[0] + shift;
    prompt.set(t.prompt_tokens, off);
    output.set(t.output_tokens, off);
  }
  const extra: Record<string, string[]> = {};
  for (const [k, col] of Object.entries(t.extra)) {
    const c = new Array<string>(total);
    for (let j = 0; j < copies; j++) for (let i = 0; i < n; i++) c[j * n + i] = col[i];
    extra[k] = c;
  }
  const out: Trace = {
    source: copies === 1 ? t.source : `${t.source} (tiled x${copies})`,
    format: t.format,
    n: total,
    arrival_s: arrival,
    prompt_tokens: prompt,
    output_tokens: output,
    extra,
    skipped: { ...t.skipped },
    warnings: [...t.warnings],
  };
  if (t.prefix) out.prefix = tilePrefix(t.prefix, copies);
  return out;
}
