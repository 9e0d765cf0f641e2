/**
 * The agreement table of `sim compare` (docs/compare.md): TTFT, TPOT, ITL and end-to-end latency
 * of a run of this simulator against another simulator's or a real server's replay of the same
 * trace: mean, p50, p90 and p99 of each side, and the relative error (ours − theirs) / theirs.
 */
import { InputError } from '../../sim/errors.ts';
import { latencyStats } from '../../sim/metrics.ts';
import type { LatencyStats } from '../../sim/metrics.ts';
import type { Side } from './sides.ts';

/** The metrics of the table, in order (seconds). */
export const COMPARE_METRICS = ['ttft_s', 'tpot_s', 'itl_s', 'e2e_s'] as const;
/** The statistics of each metric, in order. */
export const COMPARE_STATS = ['mean', 'p50', 'p90', 'p99'] as const;

/** One cell pair of the table: a statistic of a metric on each side (s), and their relative error. */
export interface AgreementRow {
  metric: (typeof COMPARE_METRICS)[number];
  stat: (typeof COMPARE_STATS)[number];
  ours: number | null;
  theirs: number | null;
  /** (ours − theirs) / theirs; 0 when both are 0; null when either is missing or only theirs is 0. */
  rel_err: number | null;
}

/** What one side holds, for the table's header. */
export interface SideSummary {
  name: string;
  file: string;
  requests: number;
  completed: number;
}

/** The comparison of two sides. */
export interface Agreement {
  ours: SideSummary;
  theirs: SideSummary;
  /** Requests completed on both sides: TTFT, TPOT and e2e are taken over these. */
  completed_both: number;
  rows: AgreementRow[];
  /** One-line notes: where each side's ITL came from, requests completed on one side only. */
  notes: string[];
}

/** (a − b) / b, 0 when both are 0, null when either is null or only b is 0. */
export function relativeError(a: number | null, b: number | null): number | null {
  if (a === null || b === null) return null;
  if (b === 0) return a === 0 ? 0 : null;
  return (a - b) / b;
}

/**
 * Compares two sides request by request (request i of one is request i of the other).
 * @throws InputError naming the other side's file (line and field where it has them) when the
 *   request counts differ, or a request's prompt or output length differs (not the same trace).
 */
export function agreement(ours: Side, theirs: Side): Agreement {
  if (ours.n !== theirs.n) {
    throw new InputError(`${theirs.n} requests, but the run ${ours.file} has ${ours.n}: compare replays of the same trace (same --limit and window)`, { file: theirs.file, field: 'requests' });
  }
  const hint = theirs.name === 'vidur' ? " (Vidur's trace replay clips prompt + output to its max_tokens, 4096 by default: run ours with --vidur-max-tokens 4096)" : '';
  for (let i = 0; i < ours.n; i++) {
    if (ours.prompt[i] !== theirs.prompt[i]) {
      throw new InputError(`request ${i} has ${theirs.prompt[i]} prompt tokens, but ${ours.prompt[i]} in the run ${ours.file}: not the same trace${hint}`, theirs.locate(i, 'prompt'));
    }
    if (theirs.completed[i] && ours.output[i] !== theirs.output[i]) {
      const why = theirs.name === 'vllm' ? ' (run the benchmark with --ignore-eos so that each request generates its trace length)' : '';
      throw new InputError(`request ${i} has ${theirs.output[i]} output tokens, but ${ours.output[i]} in the run ${ours.file}${why}`, theirs.locate(i, 'output'));
    }
  }
  const n = ours.n;
  const paired = (x: Float64Array, y: Float64Array): [Float64Array, Float64Array] => {
    const a = new Float64Array(n).fill(-1);
    const b = new Float64Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      if (ours.completed[i] && theirs.completed[i] && x[i] >= 0 && y[i] >= 0) {
        a[i] = x[i];
        b[i] = y[i];
      }
    }
    return [a, b];
  };
  let both = 0;
  let onlyOurs = 0;
  let onlyTheirs = 0;
  for (let i = 0; i < n; i++) {
    if (ours.completed[i] && theirs.completed[i]) both++;
    else if (ours.completed[i]) onlyOurs++;
    else if (theirs.completed[i]) onlyTheirs++;
  }
  const empty: LatencyStats = { mean: null, p50: null, p90: null, p95: null, p99: null, max: null };
  const stats: Record<(typeof COMPARE_METRICS)[number], [LatencyStats, LatencyStats]> = {
    ttft_s: paired(ours.ttft, theirs.ttft).map(latencyStats) as [LatencyStats, LatencyStats],
    tpot_s: paired(ours.tpot, theirs.tpot).map(latencyStats) as [LatencyStats, LatencyStats],
    itl_s: [ours.itl ?? empty, theirs.itl ?? empty],
    e2e_s: paired(ours.e2e, theirs.e2e).map(latencyStats) as [LatencyStats, LatencyStats],
  };
  const rows: AgreementRow[] = [];
  for (const metric of COMPARE_METRICS) {
    for (const stat of COMPARE_STATS) {
      const a = stats[metric][0][stat];
      const b = stats[metric][1][stat];
      rows.push({ metric, stat, ours: a, theirs: b, rel_err: relativeError(a, b) });
    }
  }
  const notes = [`ITL (${ours.name}): ${ours.itlNote}`, `ITL (${theirs.name}): ${theirs.itlNote}`];
  if (onlyOurs > 0 || onlyTheirs > 0) {
    notes.push(
      `${onlyOurs} requests completed only in ${ours.name}, ${onlyTheirs} only in ${theirs.name}: TTFT, TPOT and e2e are over the ${both} completed in both; ITL over each side's completed requests`,
    );
  }
  const summary = (s: Side): SideSummary => ({ name: s.name, file: s.file, requests: s.n, completed: s.completed.reduce((k, c) => k + c, 0) });
  return { ours: summary(ours), theirs: summary(theirs), completed_both: both, rows, notes };
}

/** A time in seconds with 4 significant digits, `-` when missing. */
function seconds(x: number | null): string {
  if (x === null) return '-';
  if (x === 0) return '0';
  return Math.abs(x) >= 1000 ? x.toFixed(0) : x.toPrecision(4);
}

/** A relative error as a signed percentage, `-` when missing. */
function percent(x: number | null): string {
  if (x === null) return '-';
  const p = 100 * x;
  return `${p >= 0 ? '+' : ''}${p.toFixed(Math.abs(p) >= 100 ? 0 : 2)}%`;
}

/** The table as text: a header naming both sides, one line per (metric, statistic), the notes. */
export function formatAgreement(a: Agreement): string {
  const head = [
    `${a.ours.name}: ${a.ours.file} (${a.ours.requests} requests, ${a.ours.completed} completed)`,
    `${a.theirs.name}: ${a.theirs.file} (${a.theirs.requests} requests, ${a.theirs.completed} completed)`,
    `completed on both: ${a.completed_both}`,
    '',
  ];
  const cells = [['metric', 'stat', a.ours.name, a.theirs.name, 'rel_err'], ...a.rows.map((r) => [r.metric, r.stat, seconds(r.ours), seconds(r.theirs), percent(r.rel_err)])];
  const w = cells[0].map((_, j) => Math.max(...cells.map((c) => c[j].length)));
  const table = cells.map((c) => c.map((x, j) => (j < 2 ? x.padEnd(w[j]) : x.padStart(w[j]))).join('  '));
  return [...head, ...table, '', ...a.notes.map((n) => `note: ${n}`)].join('\n') + '\n';
}
