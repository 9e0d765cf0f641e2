/**
 * Request priority classes (Llumnix, Sun et al., OSDI'24, arXiv 2406.03243 §4.4: requests are
 * high- or normal-priority): from a trace's `priority` column, or drawn at random for a fraction
 * of the requests. 0 is normal, 1 high. docs/traces.md ("Priorities").
 */
import { InputError } from '../sim/errors.ts';
import type { Trace } from '../sim/trace.ts';

/** The generic CSV's optional column of priority classes (an extra column: `0` or `1`). */
export const PRIORITY_COLUMN = 'priority';

/**
 * The priority class of each request from the trace's {@link PRIORITY_COLUMN} column (kept in
 * `trace.extra`), or undefined when it has none. Values `0` (normal) or `1` (high), surrounding
 * blanks ignored.
 * @throws InputError naming the file, the line (row index + 2: generic CSV files have a header)
 *   and the column for any other value (a blank included).
 */
export function tracePriorities(trace: Trace): Uint8Array | undefined {
  if (!Object.hasOwn(trace.extra, PRIORITY_COLUMN)) return undefined;
  const col = trace.extra[PRIORITY_COLUMN];
  const out = new Uint8Array(trace.n);
  for (let i = 0; i < trace.n; i++) {
    const v = (col[i] ?? '').trim();
    if (v === '1') out[i] = 1;
    else if (v !== '0') throw new InputError(`priority '${col[i] ?? ''}' is not 0 (normal) or 1 (high)`, { file: trace.source, line: i + 2, field: PRIORITY_COLUMN });
  }
  return out;
}

/**
 * Priority classes drawn independently per request: high (1) with probability `fraction`, else
 * normal (0); one draw of `random` per request, in request order.
 * @param fraction in [0, 1]; @param random uniform [0, 1) generator (seeded by the caller).
 */
export function randomPriorities(n: number, fraction: number, random: () => number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (random() < fraction) out[i] = 1;
  return out;
}
