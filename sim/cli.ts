/**
 * The `sim` command line (yargs): parses options into one RunOptions object and calls the
 * library. `sim --policy fcfs --trace FILE` runs a simulation (`sim run` is its explicit name);
 * `sim models`, `sim gpus` and `sim policies` list what exists, with sources.
 */
import yargs from 'yargs';
import type { Argv, CommandModule } from 'yargs';
import cliProgress from 'cli-progress';
import { InputError } from './errors.ts';
import { DEFAULTS, normalizeOptions, resolveRun } from './config.ts';
import type { RunOptions } from './config.ts';
import { runResolved } from './run.ts';
import { formatSummary, writeOutDir, writeTimeseriesCsv } from './report.ts';
import type { IterationRecord } from './engine.ts';
import path from 'node:path';
import { MODELS, GPUS } from './cost/index.ts';
import { POLICIES } from '../policies/index.ts';
import { ROUTERS } from '../policies/routers.ts';
import { PREDICTORS } from '../policies/predictors/index.ts';
import { makeCalibrateCommand } from '../calibrate/command.ts';
import { makeSweepCommand } from './sweep/command.ts';
import { makeMergeCommand } from './sweep/merge-command.ts';
import { makeRegressCommand } from './regress/command.ts';
import { makePlotCommand } from '../notebooks/plot/command.ts';
import { makeGenerateCommand } from '../traces/generate-command.ts';

/** Requests above which a TTY gets a progress bar. */
const PROGRESS_MIN_REQUESTS = 50_000;

function runOptions(y: Argv): Argv {
  return y
    .config('config', 'JSON file of options to replay (a previous run\'s config.json); other flags override it')
    .option('policy', { type: 'string', default: DEFAULTS.policy, describe: 'scheduling policy (sim policies)', group: 'Policy:' })
    .option('policy-opt', { type: 'string', array: true, describe: 'policy option key=value (repeatable)', group: 'Policy:' })
    .option('predictor', { type: 'string', describe: 'length predictor for length-aware policies (sim predictors)', group: 'Policy:' })
    .option('predictor-opt', { type: 'string', array: true, describe: 'predictor option key=value (repeatable)', group: 'Policy:' })
    .option('trace', { type: 'string', describe: 'trace file: Azure 2023/2024 CSV, BurstGPT CSV, Mooncake JSONL, or generic CSV', group: 'Workload:' })
    .option('format', { type: 'string', choices: ['azure', 'burstgpt', 'mooncake', 'generic'], describe: 'force the trace format (default: detected)', group: 'Workload:' })
    .option('synthetic', { type: 'string', choices: ['poisson', 'gamma'], describe: 'generate arrivals instead of reading a trace', group: 'Workload:' })
    .option('num-requests', { type: 'number', describe: 'synthetic: number of requests (default 1000)', group: 'Workload:' })
    .option('rate', { type: 'number', describe: 'synthetic: arrival rate, req/s (default 1); trace: rescale to this mean rate', group: 'Workload:' })
    .option('cv', { type: 'number', describe: 'synthetic gamma: coefficient of variation of inter-arrival times (default 2)', group: 'Workload:' })
    .option('prompt', { type: 'string', describe: 'synthetic: prompt-length distribution, e.g. lognormal:6.5,0.8 (docs/traces.md)', group: 'Workload:' })
    .option('output', { type: 'string', describe: 'synthetic: output-length distribution, e.g. exponential:200', group: 'Workload:' })
    .option('lengths-from', { type: 'string', describe: 'synthetic: resample (prompt, output) pairs from this trace', group: 'Workload:' })
    .option('rate-scale', { type: 'number', describe: 'multiply the arrival rate by k (arrival times / k)', group: 'Workload:' })
    .option('limit', { type: 'number', describe: 'keep the first N requests', group: 'Workload:' })
    .option('start', { type: 'number', describe: 'window start, seconds from the first arrival', group: 'Workload:' })
    .option('duration', { type: 'number', describe: 'window length, seconds', group: 'Workload:' })
    .option('model', { type: 'string', default: DEFAULTS.model, describe: 'model (sim models)', group: 'Hardware:' })
    .option('gpu', { type: 'string', default: DEFAULTS.gpu, describe: 'GPU (sim gpus)', group: 'Hardware:' })
    .option('tp', { type: 'number', default: DEFAULTS.tp, describe: 'tensor-parallel GPUs per replica', group: 'Hardware:' })
    .option('cost-model', { type: 'string', default: DEFAULTS['cost-model'], describe: "'analytical' or 'linear:base=B,prefill=P,decode=D,kv=K' (seconds)", group: 'Hardware:' })
    .option('profile', { type: 'string', describe: 'measured operator profile JSON (sim calibrate) to price iterations', group: 'Hardware:' })
    .option('max-num-seqs', { type: 'number', default: DEFAULTS['max-num-seqs'], describe: 'most requests per iteration', group: 'Engine:' })
    .option('max-num-batched-tokens', { type: 'number', alias: 'token-budget', describe: 'tokens per iteration (default: 512 chunked, else max(2048, model context))', group: 'Engine:' })
    .option('block-size', { type: 'number', default: DEFAULTS['block-size'], describe: 'tokens per KV block', group: 'Engine:' })
    .option('gpu-memory-utilization', { type: 'number', default: DEFAULTS['gpu-memory-utilization'], describe: 'fraction of GPU memory for weights, activations and KV', group: 'Engine:' })
    .option('kv-tokens', { type: 'string', describe: "KV-cache capacity override: tokens, or 'unlimited'", group: 'Engine:' })
    .option('chunked-prefill', { type: 'boolean', default: DEFAULTS['chunked-prefill'], describe: 'chunked prefill with stall-free mixed batches (Sarathi-Serve)', group: 'Engine:' })
    .option('preemption', { type: 'string', choices: ['recompute', 'swap'], default: DEFAULTS.preemption, describe: 'preemption mechanism on KV exhaustion', group: 'Engine:' })
    .option('swap-space', { type: 'number', default: DEFAULTS['swap-space'], describe: 'CPU swap space per GPU, GiB', group: 'Engine:' })
    .option('replicas', { type: 'number', default: DEFAULTS.replicas, describe: 'identical replicas behind a router', group: 'Cluster:' })
    .option('router', { type: 'string', default: DEFAULTS.router, describe: 'router with several replicas (sim routers)', group: 'Cluster:' })
    .option('router-opt', { type: 'string', array: true, describe: 'router option key=value (repeatable)', group: 'Cluster:' })
    .option('slo-ttft', { type: 'number', describe: 'TTFT SLO for goodput, seconds', group: 'Metrics:' })
    .option('slo-tpot', { type: 'number', describe: 'TPOT SLO for goodput, seconds', group: 'Metrics:' })
    .option('seed', { type: 'number', default: DEFAULTS.seed, describe: 'seed of every random generator', group: 'Output:' })
    .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON object', group: 'Output:' })
    .option('out', { type: 'string', describe: 'write summary.json, requests.csv, replicas.csv and config.json here', group: 'Output:' })
    .option('timeseries', { type: 'boolean', default: false, describe: 'with --out: also write timeseries.csv, one row per iteration (batch size, KV use, queues)', group: 'Output:' });
}

/** The option keys that belong in config.json (everything but output and yargs' own). */
const RUN_KEYS: readonly (keyof RunOptions)[] = [
  'policy', 'policy-opt', 'predictor', 'predictor-opt', 'trace', 'format', 'synthetic', 'num-requests', 'rate', 'cv', 'prompt', 'output', 'lengths-from',
  'rate-scale', 'limit', 'start', 'duration', 'model', 'gpu', 'tp', 'cost-model', 'profile', 'max-num-seqs', 'max-num-batched-tokens',
  'block-size', 'gpu-memory-utilization', 'kv-tokens', 'chunked-prefill', 'preemption', 'swap-space', 'slo-ttft', 'slo-tpot', 'seed',
  'replicas', 'router', 'router-opt',
];

async function run(argv: Record<string, unknown>, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  const picked: Partial<RunOptions> = {};
  for (const k of RUN_KEYS) if (argv[k] !== undefined) (picked as Record<string, unknown>)[k] = argv[k];
  const opts = normalizeOptions(picked);
  const run = await resolveRun(opts, (m) => err.write(`sim: warning: ${m}\n`));
  const { trace } = run;
  for (const w of trace.warnings) err.write(`sim: warning: ${w}\n`);
  let bar: cliProgress.SingleBar | undefined;
  if (err.isTTY && trace.n >= PROGRESS_MIN_REQUESTS) {
    bar = new cliProgress.SingleBar({ stream: err, format: 'simulating [{bar}] {percentage}% | ETA {eta}s' }, cliProgress.Presets.shades_classic);
    bar.start(100, 0);
  }
  if (argv.timeseries && !argv.out) throw new InputError('--timeseries needs --out DIR', { field: '--timeseries' });
  const records: IterationRecord[] = [];
  const { result, metrics: m, summary, replicas } = runResolved(run, {
    observer: argv.timeseries ? (r) => records.push(r) : undefined,
    onProgress: bar ? (f) => bar!.update(Math.round(100 * f)) : undefined,
  });
  bar?.stop();
  if (argv.out) writeOutDir(String(argv.out), summary, result.requests, m, opts, replicas);
  if (argv.timeseries) writeTimeseriesCsv(path.join(String(argv.out), 'timeseries.csv'), records);
  if (argv.json) {
    out.write(JSON.stringify(summary) + '\n');
  } else {
    const skipped = Object.entries(trace.skipped).filter(([, v]) => v > 0).map(([k, v]) => `${v} ${k}`);
    const header = [
      `policy ${run.policies[0].name}${opts.replicas > 1 ? ` | ${opts.replicas} replicas, router ${opts.router}` : ''} | trace ${trace.source} (${trace.format}, ${trace.n} requests${skipped.length ? `, skipped ${skipped.join(', ')}` : ''})`,
      `model ${opts.model} on ${opts.tp}x ${opts.gpu} | cost ${run.cost.name} | ${opts['chunked-prefill'] ? `chunked prefill, budget ${run.engine.maxNumBatchedTokens} tokens` : `prefill priority, budget ${run.engine.maxNumBatchedTokens} tokens`}`,
      `KV cache ${run.unlimitedKv ? 'unlimited' : `${run.engine.kvBlocks} blocks x ${run.engine.blockSize} tokens = ${run.kvTokens} tokens`} | max ${opts['max-num-seqs']} seqs | preemption ${opts.preemption}`,
    ];
    out.write(formatSummary(summary, header) + '\n');
  }
  return 0;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => r.map((c, j) => (j === r.length - 1 ? c : c.padEnd(widths[j] + 2))).join('')).join('\n') + '\n';
}

function listModels(): string {
  const rows = [['name', 'layers', 'hidden', 'heads', 'kv heads', 'intermediate', 'vocab', 'params', 'source']];
  for (const m of Object.values(MODELS)) {
    rows.push([m.name, m.layers, m.hidden, m.heads, m.kvHeads, m.intermediate, m.vocab, `${(m.params / 1e9).toFixed(2)}B`, m.source].map(String));
  }
  return table(rows);
}

function listGpus(): string {
  const rows = [['name', 'BF16 TFLOP/s', 'HBM GB/s', 'memory GB', 'PCIe GB/s', 'source']];
  for (const g of Object.values(GPUS)) {
    rows.push([g.name, (g.bf16Flops / 1e12).toFixed(0), (g.memBandwidth / 1e9).toFixed(0), (g.memBytes / 1e9).toFixed(1), (g.pcieBandwidth / 1e9).toFixed(0), g.source]);
  }
  return table(rows);
}

function listPolicies(): string {
  const rows = [['name', 'predictor', 'description', 'source']];
  for (const p of POLICIES) rows.push([p.name, p.predictor === 'optional' ? `optional (default ${p.defaultPredictor ?? 'none'})` : p.predictor, p.description, p.source]);
  return table(rows);
}

function listRouters(): string {
  const rows = [['name', 'description', 'source']];
  for (const r of ROUTERS) rows.push([r.name, r.description, r.source]);
  return table(rows);
}

function listPredictors(): string {
  const rows = [['name', 'description', 'source']];
  for (const p of PREDICTORS) rows.push([p.name, p.description, p.source]);
  return table(rows);
}

/**
 * Runs the CLI on `args` (without `node` and the script path).
 * @returns the exit code: 0 success, 2 bad input or usage (one line on stderr, no stack trace),
 *   1 an internal error.
 */
export async function main(args: string[], out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr): Promise<number> {
  let code = 0;
  const parser = yargs(args)
    .scriptName('sim')
    .usage('$0 [run] --policy NAME --trace FILE [options]\n\nTrace-driven simulator of LLM-serving scheduling policies.')
    .command(['run', '$0'], 'simulate a trace through continuous-batching replicas', runOptions, async (argv) => {
      code = await run(argv as Record<string, unknown>, out, err);
    })
    .command('models', 'list the models and their published configurations', {}, () => {
      out.write(listModels());
    })
    .command('gpus', 'list the GPUs and their datasheet figures', {}, () => {
      out.write(listGpus());
    })
    .command('policies', 'list the scheduling policies and their papers', {}, () => {
      out.write(listPolicies());
    })
    .command(makeCalibrateCommand({ out, err }) as unknown as CommandModule)
    .command(makeSweepCommand({ out, err }))
    .command(makeMergeCommand({ out, err }))
    .command(
      makeRegressCommand({
        out,
        err,
        exit: (c) => {
          code = c;
        },
      }),
    )
    .command(makePlotCommand({ out, err }))
    .command(makeGenerateCommand({ out, err }))
    .command('predictors', 'list the length predictors and the quality they model', {}, () => {
      out.write(listPredictors());
    })
    .command('routers', 'list the routers for --replicas N', {}, () => {
      out.write(listRouters());
    })
    .example('$0 --policy fcfs --trace traces/azure-conv-2000.csv', 'FCFS on the shipped Azure sample')
    .example('$0 --trace ../shared/traces/BurstGPT_1.csv --rate 2 --json', 'BurstGPT rescaled to 2 req/s, JSON summary')
    .strict()
    .help()
    .version()
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((msg, e) => {
      // A usage error (unknown flag, bad choice) must stop yargs before any handler runs.
      throw e ?? new InputError(msg);
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    if (e instanceof InputError) {
      err.write(`sim: ${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return 2;
    }
    throw e;
  }
  return code;
}
