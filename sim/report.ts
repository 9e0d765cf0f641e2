/**
 * Output of a run: the human summary table, the per-request CSV, and the `--out DIR` files.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Summary, RequestMetrics, LatencyStats, ReplicaSummary } from './metrics.ts';
import type { RequestTable } from './requests.ts';
import type { IterationRecord } from './engine.ts';
import { FINISHED, REJECTED } from './requests.ts';

/** Columns of requests.csv, in order (units in the names). */
export const REQUEST_COLUMNS = [
  'id',
  'arrival_s',
  'prompt_tokens',
  'output_tokens',
  'status',
  'first_scheduled_s',
  'first_token_s',
  'completion_s',
  'ttft_s',
  'tpot_s',
  'e2e_s',
  'normalized_latency_s',
  'queue_delay_s',
  'preemptions',
  'replica',
] as const;

const fmtT = (x: number) => (x < 0 ? '' : String(x));

/**
 * Writes one CSV row per request to `file` (header first). Undefined values (a rejected request's
 * latencies, the TPOT of a one-token output) are empty fields, never NaN.
 */
export function writeRequestsCsv(file: string, R: RequestTable, m: RequestMetrics): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, REQUEST_COLUMNS.join(',') + '\n');
    let buf: string[] = [];
    for (let i = 0; i < R.n; i++) {
      const status = R.state[i] === FINISHED ? 'completed' : R.state[i] === REJECTED ? 'rejected' : 'unfinished';
      buf.push(
        [
          i,
          R.arrival[i],
          R.prompt[i],
          R.output[i],
          status,
          fmtT(R.firstScheduled[i]),
          fmtT(R.firstToken[i]),
          fmtT(R.completion[i]),
          fmtT(m.ttft[i]),
          fmtT(m.tpot[i]),
          fmtT(m.e2e[i]),
          fmtT(m.normalized[i]),
          fmtT(m.queueDelay[i]),
          R.preemptions[i],
          R.replica[i] < 0 ? '' : R.replica[i],
        ].join(','),
      );
      if (buf.length === 8192) {
        fs.writeSync(fd, buf.join('\n') + '\n');
        buf = [];
      }
    }
    if (buf.length > 0) fs.writeSync(fd, buf.join('\n') + '\n');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes `summary.json`, `requests.csv`, `replicas.csv` and `config.json` into `dir` (created if
 * needed). `config` is the normalized option object that `sim run --config DIR/config.json` replays.
 */
export function writeOutDir(dir: string, summary: Summary, R: RequestTable, m: RequestMetrics, config: object, replicas: readonly ReplicaSummary[]): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeRequestsCsv(path.join(dir, 'requests.csv'), R, m);
  writeReplicasCsv(path.join(dir, 'replicas.csv'), replicas);
}

/** Columns of replicas.csv, in order (units in the names; rates per second of the run's makespan). */
export const REPLICA_COLUMNS = [
  'replica',
  'requests',
  'completed',
  'rejected',
  'busy_fraction',
  'iterations',
  'batch_size_mean',
  'kv_utilization_mean',
  'kv_utilization_max',
  'preemptions',
  'output_tokens_per_s',
  'ttft_mean_s',
  'ttft_p99_s',
  'e2e_mean_s',
  'e2e_p99_s',
] as const;

/** Writes one CSV row per replica to `file` (header first); undefined values are empty fields. */
export function writeReplicasCsv(file: string, replicas: readonly ReplicaSummary[]): void {
  const f = (x: number | null) => (x === null ? '' : String(x));
  const lines = [REPLICA_COLUMNS.join(',')];
  for (const r of replicas) {
    lines.push(
      [
        r.replica,
        r.requests,
        r.completed,
        r.rejected,
        r.busy_fraction,
        r.iterations,
        r.batch_size_mean,
        f(r.kv_utilization_mean),
        f(r.kv_utilization_max),
        r.preemptions,
        r.output_tokens_per_s,
        f(r.ttft_s.mean),
        f(r.ttft_s.p99),
        f(r.e2e_s.mean),
        f(r.e2e_s.p99),
      ].join(','),
    );
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

function num(x: number | null, digits = 3): string {
  if (x === null) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 1) return x.toFixed(digits);
  return x.toPrecision(digits + 1);
}

/** The human-readable summary table printed on stdout. `header` lines go first (run description). */
export function formatSummary(s: Summary, header: string[]): string {
  const lines = [...header, ''];
  const row = (name: string, st: LatencyStats) =>
    [name.padEnd(22), ...[st.mean, st.p50, st.p90, st.p95, st.p99, st.max].map((x) => num(x).padStart(10))].join('');
  lines.push(['latency (s)'.padEnd(22), ...['mean', 'p50', 'p90', 'p95', 'p99', 'max'].map((h) => h.padStart(10))].join(''));
  lines.push(row('TTFT', s.ttft_s));
  lines.push(row('TPOT', s.tpot_s));
  lines.push(row('end-to-end', s.e2e_s));
  lines.push(row('normalized (s/token)', s.normalized_latency_s));
  lines.push(row('queueing delay', s.queue_delay_s));
  lines.push('');
  const kv = (x: number | null) => (x === null ? 'unlimited' : `${(100 * x).toFixed(1)}%`);
  const pairs: [string, string][] = [
    ['requests', `${s.requests.completed} completed, ${s.requests.rejected} rejected, ${s.requests.total} total`],
    ['throughput', `${num(s.throughput.requests_per_s)} req/s, ${num(s.throughput.output_tokens_per_s)} output tokens/s`],
    [
      'goodput',
      s.goodput.slo_ttft_s === null && s.goodput.slo_tpot_s === null
        ? `${num(s.goodput.requests_per_s)} req/s (no SLO given)`
        : `${num(s.goodput.requests_per_s)} req/s, ${num(s.goodput.slo_attainment === null ? null : 100 * s.goodput.slo_attainment, 1)}% within SLO`,
    ],
    ['makespan', `${num(s.makespan_s)} s`],
    ['mean batch size', num(s.batch_size_mean)],
    ['KV utilization', `mean ${kv(s.kv_utilization.mean)}, max ${kv(s.kv_utilization.max)}`],
    ['preemptions', `${s.preemptions} (swap out ${s.swaps.out}, swap in ${s.swaps.in}, ${(s.swaps.bytes / 2 ** 30).toFixed(2)} GiB)`],
    ...(s.programs
      ? ([[
          'programs',
          `${s.programs.completed} of ${s.programs.count} completed; e2e mean ${num(s.programs.e2e_s.mean)} s, p99 ${num(s.programs.e2e_s.p99)} s; waiting mean ${num(s.programs.waiting_s.mean)} s; ${num(s.programs.throughput_per_s)} programs/s`,
        ]] as [string, string][])
      : []),
    ...(s.predictor
      ? ([[
          'predictor',
          `${s.predictor.name}: Kendall tau ${num(s.predictor.kendall_tau)}, MAE ${num(s.predictor.mae_tokens)} tokens, bucket accuracy ${num(s.predictor.bucket_accuracy)}`,
        ]] as [string, string][])
      : []),
    ['simulator', `${num(s.sim.wall_s)} s wall, ${s.sim.events} events, ${s.sim.iterations} iterations`],
  ];
  for (const [k, v] of pairs) lines.push(`${k.padEnd(22)}${v}`);
  if (s.replicas) {
    lines.push('');
    const cols = ['replica', 'requests', 'busy', 'batch', 'KV mean', 'preempt', 'TTFT mean', 'TTFT p99', 'e2e mean', 'e2e p99'];
    lines.push(cols.map((c, j) => (j === 0 ? c.padEnd(22) : c.padStart(10))).join(''));
    for (const r of s.replicas) {
      const cells = [
        `${r.requests}`,
        `${(100 * r.busy_fraction).toFixed(1)}%`,
        num(r.batch_size_mean),
        kv(r.kv_utilization_mean),
        `${r.preemptions}`,
        num(r.ttft_s.mean),
        num(r.ttft_s.p99),
        num(r.e2e_s.mean),
        num(r.e2e_s.p99),
      ];
      lines.push([String(r.replica).padEnd(22), ...cells.map((c) => c.padStart(10))].join(''));
    }
  }
  return lines.join('\n');
}

/** Columns of timeseries.csv, in order (one row per iteration record; units in the names). */
export const TIMESERIES_COLUMNS = [
  'start_s',
  'end_s',
  'iterations',
  'batch_size',
  'prefill_tokens',
  'decode_seqs',
  'kv_blocks_used',
  'kv_utilization',
  'waiting',
  'running',
  'swapped',
  'replica',
] as const;

/**
 * Writes the engine's iteration records to `file` as CSV (header first): one row per formed
 * batch; a row covering several identical decode iterations skipped over at once has
 * `iterations` > 1 and its end-of-record KV use (the largest during it).
 */
export function writeTimeseriesCsv(file: string, records: readonly IterationRecord[]): void {
  const lines = [TIMESERIES_COLUMNS.join(',')];
  for (const r of records) {
    lines.push(
      [r.start, r.end, r.steps, r.batchSize, r.prefillTokens, r.decodeSeqs, r.kvBlocksUsed, r.kvBlocksUsed / r.kvBlocks, r.waiting, r.running, r.swapped, r.replica].join(','),
    );
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
}
