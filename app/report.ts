/**
 * Output of a run: the human summary table, the per-request CSV, and the `--out DIR` files.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Summary, RequestMetrics, LatencyStats, ReplicaSummary } from '../sim/metrics.ts';
import type { RequestTable } from '../sim/requests.ts';
import type { IterationRecord } from '../sim/engine-types.ts';
import { FINISHED, REJECTED } from '../sim/requests.ts';
import { InputError } from '../sim/errors.ts';
import { AtomicWriter, prepareOutputDir } from '../sim/files.ts';

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
  'max_tbt_s',
  'e2e_s',
  'normalized_latency_s',
  'queue_delay_s',
  'preemptions',
  'replica',
  'cached_tokens',
] as const;

/** A time or count that is not set yet (negative) as null. */
const orNull = (x: number): number | null => (x < 0 ? null : x);

/**
 * Request `i`'s row of requests.csv as values in {@link REQUEST_COLUMNS} order: times in seconds,
 * tokens and counts integers, `status` 'completed', 'rejected' or 'unfinished', and null where a
 * value does not exist (a rejected request's latencies, the TPOT of a one-token output, no replica).
 */
export function requestValues(R: RequestTable, m: RequestMetrics, i: number): (number | string | null)[] {
  const status = R.state[i] === FINISHED ? 'completed' : R.state[i] === REJECTED ? 'rejected' : 'unfinished';
  return [
    i,
    R.arrival[i],
    R.prompt[i],
    R.output[i],
    status,
    orNull(R.firstScheduled[i]),
    orNull(R.firstToken[i]),
    orNull(R.completion[i]),
    orNull(m.ttft[i]),
    orNull(m.tpot[i]),
    orNull(m.maxTbt[i]),
    orNull(m.e2e[i]),
    orNull(m.normalized[i]),
    orNull(m.queueDelay[i]),
    R.preemptions[i],
    orNull(R.replica[i]),
    orNull(R.cachedTokens[i]),
  ];
}

/** Columns requests.csv adds for a disaggregated run (docs/disaggregation.md): TTFT = queue_delay_s + prefill_s; the decode replica is `replica`. */
export const DISAGG_REQUEST_COLUMNS = ['prefill_replica', 'prefill_s', 'kv_wait_s', 'transfer_s'] as const;

/**
 * Writes one CSV row per request (header first) to `w`, in chunks of 8,192 rows, so memory does
 * not grow with the table. With priorities (`R.prioritized`) a last column `priority` (0 normal,
 * 1 high). Undefined values (a rejected request's latencies, the TPOT of a
 * one-token output) are empty fields, never NaN.
 */
export function writeRequestsCsv(w: AtomicWriter, R: RequestTable, m: RequestMetrics, disaggregated = false): void {
  w.write([...REQUEST_COLUMNS, ...(disaggregated ? DISAGG_REQUEST_COLUMNS : []), ...(R.prioritized ? ['priority'] : [])].join(',') + '\n');
  let buf: string[] = [];
  for (let i = 0; i < R.n; i++) {
    const extra = disaggregated ? [orNull(R.prefillReplica[i]), orNull(m.prefill[i]), orNull(m.kvWait[i]), orNull(m.transfer[i])] : [];
    if (R.prioritized) extra.push(R.priority[i]);
    buf.push([...requestValues(R, m, i), ...extra].map((v) => (v === null ? '' : String(v))).join(','));
    if (buf.length === 8192) {
      w.write(buf.join('\n') + '\n');
      buf = [];
    }
  }
  if (buf.length > 0) w.write(buf.join('\n') + '\n');
}

/** The files a run writes into `--out DIR` (docs/output.md). */
export const OUT_FILES = ['summary.json', 'config.json', 'requests.csv', 'replicas.csv', 'timeseries.csv'] as const;

/**
 * The `--out DIR` folder of one run. Created and checked writable when constructed (before the
 * simulation starts); a folder holding an earlier run's files ({@link OUT_FILES}) is refused unless
 * `force`, which replaces all of them (files this run does not write, e.g. an old timeseries.csv,
 * are removed), and nothing else in the folder is touched. Every file is written under a temporary
 * name and renamed at {@link finish}, so a failed or interrupted run leaves the earlier files as
 * they were; timeseries.csv is streamed to its temporary file during the run.
 */
export class OutDir {
  readonly dir: string;
  private readonly force: boolean;
  private readonly wantSeries: boolean;
  private series: TimeseriesWriter | undefined;
  private writers: AtomicWriter[] = [];

  /**
   * @throws InputError (field `--out`) when the folder cannot be created or written, or holds an
   *   earlier run's files and `force` is false.
   */
  constructor(dir: string, opts: { force?: boolean; timeseries?: boolean } = {}) {
    this.dir = dir;
    this.force = opts.force === true;
    this.wantSeries = opts.timeseries === true;
    prepareOutputDir(dir, '--out');
    const earlier = OUT_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
    if (earlier.length > 0 && !this.force) {
      throw new InputError(`holds an earlier run's ${earlier.join(', ')}: give --force to replace them, or another folder`, { file: dir, field: '--out' });
    }
  }

  /** The streaming timeseries.csv writer (created on first call), or undefined without `timeseries`. */
  timeseries(): TimeseriesWriter | undefined {
    if (!this.wantSeries) return undefined;
    if (!this.series) {
      const w = this.open('timeseries.csv');
      this.series = new TimeseriesWriter(w);
    }
    return this.series;
  }

  private open(name: string): AtomicWriter {
    const w = new AtomicWriter(path.join(this.dir, name));
    this.writers.push(w);
    return w;
  }

  /**
   * Writes summary.json, config.json, requests.csv and replicas.csv, then renames every file into
   * place (and, with `force`, removes an earlier run's files this run did not write).
   * `config` is the normalized option object that `sim run --config DIR/config.json` replays.
   * @throws InputError naming the file that cannot be written (the temporary files are removed).
   */
  finish(summary: Summary, R: RequestTable, m: RequestMetrics, config: object, replicas: readonly ReplicaSummary[]): void {
    try {
      this.open('summary.json').write(JSON.stringify(summary, null, 2) + '\n');
      this.open('config.json').write(JSON.stringify(config, null, 2) + '\n');
      writeRequestsCsv(this.open('requests.csv'), R, m, summary.disaggregation !== undefined);
      writeReplicasCsv(this.open('replicas.csv'), replicas);
      for (const w of this.writers) w.flush();
    } catch (e) {
      this.abort();
      throw e;
    }
    const written = new Set(this.writers.map((w) => path.basename(w.file)));
    for (const f of OUT_FILES) if (!written.has(f)) fs.rmSync(path.join(this.dir, f), { force: true });
    for (const w of this.writers) w.commit();
    this.writers = [];
  }

  /** Removes the temporary files; the folder keeps whatever it held before. */
  abort(): void {
    for (const w of this.writers) w.abort();
    this.writers = [];
  }
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
  'prefix_token_hit_rate',
  'mfu',
  'mbu',
] as const;

/**
 * Writes one CSV row per replica to `w` (header first); undefined values are empty fields. A
 * disaggregated run's rows end with their `pool` (prefill or decode).
 */
export function writeReplicasCsv(w: AtomicWriter, replicas: readonly ReplicaSummary[]): void {
  const f = (x: number | null) => (x === null ? '' : String(x));
  const pools = replicas.some((r) => r.pool !== undefined);
  const lines = [[...REPLICA_COLUMNS, ...(pools ? ['pool'] : [])].join(',')];
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
        f(r.prefix_token_hit_rate),
        f(r.mfu),
        f(r.mbu),
        ...(pools ? [r.pool ?? ''] : []),
      ].join(','),
    );
  }
  w.write(lines.join('\n') + '\n');
}

function num(x: number | null, digits = 3): string {
  if (x === null) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 1) return x.toFixed(digits);
  return x.toPrecision(digits + 1);
}

/** The text summary's cost line: GPU-hours, the price, and dollars per million tokens (or why there are none). */
function gpuCostText(s: Summary): string {
  const hours = `${num(s.gpu_hours!)} GPU-hours`;
  const price = s.gpu_price_usd_per_hour;
  if (price === null || price === undefined) return `${hours} (no price for this GPU: give --gpu-price)`;
  const per = s.usd_per_million_tokens!;
  const usd = (x: number | null) => (x === null ? '-' : `$${num(x)}`);
  return `${hours} at $${num(price)}/GPU-hour = ${usd(per.output)} per million output tokens, ${usd(per.total)} per million tokens (prompt + output)`;
}

/**
 * The text summary's two lines of the `ms` block under vLLM benchmark_serving's names: mean,
 * median and p99 TTFT and TPOT on the first, ITL on the second (`name=value`, milliseconds; a
 * name the block lacks, as under a `--metric-percentiles` without 99, is left out).
 */
function msLines(s: Summary): string[] {
  const item = (name: string) => (name in s.ms ? `${name}=${num(s.ms[name])}` : '');
  const line = (metrics: string[]) =>
    metrics
      .flatMap((m) => ['mean', 'median', 'p99'].map((st) => item(`${st}_${m}_ms`)))
      .filter((x) => x)
      .join(' ');
  return ['ms (vLLM names)'.padEnd(22) + line(['ttft', 'tpot']), ''.padEnd(22) + line(['itl'])];
}

/** The human-readable summary table printed on stdout. `header` lines go first (run description). */
export function formatSummary(s: Summary, header: string[]): string {
  const lines = [...header, ''];
  const row = (name: string, st: LatencyStats) =>
    [name.padEnd(22), ...[st.mean, st.p50, st.p90, st.p95, st.p99, st.max].map((x) => num(x).padStart(10))].join('');
  lines.push(['latency (s)'.padEnd(22), ...['mean', 'p50', 'p90', 'p95', 'p99', 'max'].map((h) => h.padStart(10))].join(''));
  lines.push(row('TTFT', s.ttft_s));
  lines.push(row('TPOT', s.tpot_s));
  lines.push(row('ITL (every token)', s.itl_s));
  lines.push(row('end-to-end', s.e2e_s));
  lines.push(row('normalized (s/token)', s.normalized_latency_s));
  lines.push(row('queueing delay', s.queue_delay_s));
  lines.push(...msLines(s));
  lines.push('');
  const kv = (x: number | null) => (x === null ? 'unlimited' : `${(100 * x).toFixed(1)}%`);
  const pairs: [string, string][] = [
    ['requests', `${s.requests.completed} completed, ${s.requests.rejected} rejected${rejectedWhy(s.requests)}, ${s.requests.total} total`],
    ['throughput', `${num(s.throughput.requests_per_s)} req/s, ${num(s.throughput.output_tokens_per_s)} output tokens/s, ${num(s.throughput.total_tokens_per_s)} total tokens/s`],
    [
      'goodput',
      s.goodput.slo_ttft_s === null && s.goodput.slo_tpot_s === null && s.goodput.slo_e2e_s === null
        ? `${num(s.goodput.requests_per_s)} req/s (no SLO given)`
        : `${num(s.goodput.requests_per_s)} req/s, ${num(s.goodput.slo_attainment === null ? null : 100 * s.goodput.slo_attainment, 1)}% within SLO`,
    ],
    ['makespan', `${num(s.makespan_s)} s${s.idle_removed_s === undefined ? '' : ` (${num(s.idle_removed_s)} s of idle arrivals removed by --compress-idle)`}`],
    ...(s.gpu_hours === undefined ? [] : ([['GPU cost', gpuCostText(s)]] as [string, string][])),
    ['mean batch size', num(s.batch_size_mean)],
    ...(s.mfu === null ? [] : ([['MFU / MBU', `${(100 * s.mfu).toFixed(1)}% of peak FLOP/s, ${(100 * s.mbu!).toFixed(1)}% of peak HBM bandwidth (over busy time)`]] as [string, string][])),
    ['KV utilization', `mean ${kv(s.kv_utilization.mean)}, max ${kv(s.kv_utilization.max)}`],
    ['preemptions', `${s.preemptions} (swap out ${s.swaps.out}, swap in ${s.swaps.in}, ${(s.swaps.bytes / 2 ** 30).toFixed(2)} GiB)`],
    ...(s.prefix_cache
      ? ([[
          'prefix cache',
          `${num(100 * s.prefix_cache.token_hit_rate, 1)}% of prompt tokens cached (${s.prefix_cache.hit_admissions} of ${s.prefix_cache.admissions} admissions hit), ${s.prefix_cache.evictions} blocks evicted`,
        ]] as [string, string][])
      : []),
    ...(s.migration
      ? ([[
          'migration',
          `${s.migration.completed} of ${s.migration.started} completed (abandoned: ${s.migration.aborted.memory} memory, ${s.migration.aborted.request} request, ${s.migration.aborted.stages} stages), ${s.migration.blocks} blocks copied, mean ${num(s.migration.stages_mean)} stages; downtime mean ${num(s.migration.downtime_s.mean === null ? null : 1000 * s.migration.downtime_s.mean)} ms, p99 ${num(s.migration.downtime_s.p99 === null ? null : 1000 * s.migration.downtime_s.p99)} ms`,
        ]] as [string, string][])
      : []),
    ...(s.autoscale
      ? ([[
          'auto-scaling',
          `${num(s.autoscale.instance_seconds)} instance-seconds (mean ${num(s.autoscale.instances_mean)} instances, ${s.autoscale.instances_min} to ${s.autoscale.instances_max}); ${s.autoscale.scale_ups} scale-ups, ${s.autoscale.scale_downs} drains, ${s.autoscale.removed} removed`,
        ]] as [string, string][])
      : []),
    ...(s.programs
      ? ([[
          'programs',
          `${s.programs.completed} of ${s.programs.count} completed; e2e mean ${num(s.programs.e2e_s.mean)} s, p99 ${num(s.programs.e2e_s.p99)} s; waiting mean ${num(s.programs.waiting_s.mean)} s; ${num(s.programs.throughput_per_s)} programs/s`,
        ]] as [string, string][])
      : []),
    ...(s.disaggregation
      ? ([[
          'disaggregation',
          `${s.disaggregation.transfers} KV transfers, ${(s.disaggregation.bytes_per_link / 2 ** 30).toFixed(2)} GiB per link; prefill mean ${num(s.disaggregation.prefill_s.mean)} s, KV wait mean ${num(s.disaggregation.kv_wait_s.mean)} s (p99 ${num(s.disaggregation.kv_wait_s.p99)}), transfer mean ${num(s.disaggregation.transfer_s.mean)} s (p99 ${num(s.disaggregation.transfer_s.p99)})`,
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
      lines.push([`${r.replica}${r.pool ? ` (${r.pool})` : ''}`.padEnd(22), ...cells.map((c) => c.padStart(10))].join(''));
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
  'cached_blocks',
] as const;

/**
 * Streams the engine's iteration records as CSV rows (header first) into an {@link AtomicWriter}
 * as the run goes, so memory stays flat however long the run: one row per formed batch; a row
 * covering several identical decode iterations skipped over at once has `iterations` > 1 and its
 * end-of-record KV use (the largest during it).
 */
export class TimeseriesWriter {
  private readonly w: AtomicWriter;

  /** Writes the header row into `w` (an open temporary file, committed by its owner). */
  constructor(w: AtomicWriter) {
    this.w = w;
    w.write(TIMESERIES_COLUMNS.join(',') + '\n');
  }

  /** Appends one record's row. */
  add(r: IterationRecord): void {
    this.w.write(
      `${r.start},${r.end},${r.steps},${r.batchSize},${r.prefillTokens},${r.decodeSeqs},${r.kvBlocksUsed},${r.kvBlocksUsed / r.kvBlocks},${r.waiting},${r.running},${r.swapped},${r.replica},${r.kvBlocksCached}\n`,
    );
  }
}

/** ` (N over --max-model-len, N never fit the KV cache[, N after a rejected call])`, or '' when none was rejected. */
function rejectedWhy(r: Summary['requests']): string {
  if (r.rejected === 0) return '';
  const parts = [`${r.rejected_too_long} over --max-model-len`, `${r.rejected_kv} never fit the KV cache`];
  if (r.rejected_ancestor > 0) parts.push(`${r.rejected_ancestor} after a rejected call`);
  return ` (${parts.join(', ')})`;
}
