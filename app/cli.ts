/**
 * The `sim` command line (yargs): parses options into one RunOptions object and calls the
 * library. `sim --policy fcfs --trace FILE` runs a simulation (`sim run` is its explicit name);
 * `sim models`, `sim gpus` and `sim policies` list what exists, with sources.
 *
 * Every subcommand's module is imported here for its options only: each loads its heavy code
 * (plot's jsdom and Plot, merge's Parquet writer, sweep's worker pool, calibrate's modes, the
 * reproductions, a progress bar) in its handler, so a run or `--help` loads only what it uses.
 */
import yargs from 'yargs';
import type { Argv, CommandModule } from 'yargs';
import type { SingleBar } from 'cli-progress';
import { InputError } from '../sim/errors.ts';
import { readBoolean, readString } from '../sim/values.ts';
import { COST_MODEL_USED, DEFAULTS, RUN_KEYS, RUN_OPTION_SPECS, prepareOptions, readRunConfig, resolveRun } from './config.ts';
import { loadPlugin } from './plugins.ts';
import type { PluginKind } from './plugins.ts';
import type { RunOptions } from './config.ts';
import { runResolved, runWarnings } from './run.ts';
import { runProvenance } from './provenance.ts';
import { formatSummary, OutDir } from './report.ts';
import { TraceEventsWriter } from './trace-events.ts';
import { AtomicWriter, prepareOutputFile } from '../sim/files.ts';
import { MODELS, GPUS } from '../sim/cost/index.ts';
import { POLICIES } from '../policies/index.ts';
import { ROUTERS } from '../policies/routers.ts';
import { PREDICTORS } from '../policies/predictors/index.ts';
import { makeCalibrateCommand } from '../calibrate/command.ts';
import { makeSweepCommand } from './sweep/command.ts';
import { makeMergeCommand } from './sweep/merge-command.ts';
import { makeRegressCommand } from './regress/command.ts';
import { makeReproduceCommand } from './reproduce/command.ts';
import { makePlotCommand } from '../notebooks/plot/command.ts';
import { makeGenerateCommand } from '../traces/generate-command.ts';
import { makeCompareCommand } from './compare/command.ts';

/** Requests above which a TTY gets a progress bar. */
const PROGRESS_MIN_REQUESTS = 50_000;

/** `describe` text with the option's default appended (defaults are filled by normalizeOptions, not yargs, so a `--config` file can set them). */
const dflt = (text: string, key: keyof typeof DEFAULTS): string => `${text} (default ${String(DEFAULTS[key])})`;

function runOptions(y: Argv): Argv {
  return y
    .option('config', { type: 'string', describe: "JSON file of options to replay (a previous run's config.json); other flags override it", group: 'Output:' })
    .option('policy', { type: 'string', describe: dflt('scheduling policy (sim policies)', 'policy'), group: 'Policy:' })
    .option('policy-opt', { type: 'string', array: true, describe: 'policy option key=value (repeatable)', group: 'Policy:' })
    .option('predictor', { type: 'string', describe: 'length predictor for length-aware policies (sim predictors)', group: 'Policy:' })
    .option('predictor-opt', { type: 'string', array: true, describe: 'predictor option key=value (repeatable)', group: 'Policy:' })
    .option('trace', { type: 'string', describe: "trace file: Azure 2023/2024 CSV, BurstGPT CSV, generic CSV, Vidur CSV, Mooncake/program/TraceLab JSONL, plain or gzip; '-' reads standard input", group: 'Workload:' })
    .option('format', { type: 'string', describe: 'force the trace format: azure, burstgpt, mooncake, generic, vidur (default: detected)', group: 'Workload:' })
    .option('vidur-max-tokens', { type: 'string', describe: "Vidur trace: clip prompt + output to this many tokens as Vidur's trace replay does (shortens the prompt)", group: 'Workload:' })
    .option('synthetic', { type: 'string', describe: 'generate arrivals instead of reading a trace: poisson or gamma', group: 'Workload:' })
    .option('num-requests', { type: 'string', describe: 'synthetic: number of requests (default 1000)', group: 'Workload:' })
    .option('rate', { type: 'string', describe: 'synthetic: arrival rate, req/s (default 1); trace: rescale to this mean rate; ShareGPT (required): Poisson arrivals at this rate', group: 'Workload:' })
    .option('sharegpt-mode', { type: 'string', describe: 'ShareGPT JSON: conversation (each conversation a multi-turn program) or first-turn (vLLM benchmark: first message as prompt, second as output) (default: conversation)', group: 'Workload:' })
    .option('cv', { type: 'string', describe: 'synthetic gamma: coefficient of variation of inter-arrival times (default 2)', group: 'Workload:' })
    .option('prompt', { type: 'string', describe: 'synthetic: prompt-length distribution, e.g. lognormal:6.5,0.8 (docs/traces.md)', group: 'Workload:' })
    .option('output', { type: 'string', describe: 'synthetic: output-length distribution, e.g. exponential:200', group: 'Workload:' })
    .option('lengths-from', { type: 'string', describe: 'synthetic: resample (prompt, output) pairs from this trace', group: 'Workload:' })
    .option('shared-prefix', { type: 'string', describe: 'synthetic: COUNT:TOKENS shared system prompts; each prompt starts with one of COUNT prompts of TOKENS tokens, drawn uniformly (prompt length = TOKENS + drawn length)', group: 'Workload:' })
    .option('rate-scale', { type: 'string', describe: 'multiply the arrival rate by k (arrival times / k)', group: 'Workload:' })
    .option('limit', { type: 'string', describe: 'keep the first N requests', group: 'Workload:' })
    .option('start', { type: 'string', describe: 'window start, seconds from the first arrival', group: 'Workload:' })
    .option('duration', { type: 'string', describe: 'window length, seconds', group: 'Workload:' })
    .option('resample', { type: 'boolean', describe: 'bootstrap the trace: keep its arrival times, draw each request\'s lengths with replacement from its requests (seeded by --seed; traces/resample.ts)', group: 'Workload:' })
    .option('compress-idle', { type: 'string', describe: 'cap every gap between consecutive arrivals (programs, in a program trace) at S seconds; the time removed is reported', group: 'Workload:' })
    .option('model', { type: 'string', describe: dflt('model (sim models)', 'model'), group: 'Hardware:' })
    .option('gpu', { type: 'string', describe: dflt('GPU (sim gpus)', 'gpu'), group: 'Hardware:' })
    .option('tp', { type: 'string', describe: dflt('tensor-parallel GPUs per replica (per pipeline stage with --pp)', 'tp'), group: 'Hardware:' })
    .option('pp', { type: 'string', describe: dflt('pipeline stages per replica: micro-batches in flight, one scheduler each with 1/pp of the KV (vLLM v0)', 'pp'), group: 'Hardware:' })
    .option('cost-model', { type: 'string', describe: dflt("'auto' (a shipped measured profile of the model, GPU and tp, else 'fitted'), 'fitted' (analytical, efficiencies fitted to measured tables), 'analytical' (original constants) or 'linear:base=B,prefill=P,decode=D,kv=K' (seconds)", 'cost-model'), group: 'Hardware:' })
    .option('gpu-price', { type: 'string', describe: "US dollars per GPU-hour for gpu_hours and usd_per_million_tokens (default: the GPU's on-demand price, sim gpus)", group: 'Hardware:' })
    .option('profile', { type: 'string', describe: 'measured operator profile JSON (sim calibrate) to price iterations', group: 'Hardware:' })
    .option('max-num-seqs', { type: 'string', describe: dflt('most requests per iteration', 'max-num-seqs'), group: 'Engine:' })
    .option('max-num-batched-tokens', { type: 'string', alias: 'token-budget', describe: 'tokens per iteration (default: 512 chunked, else max(2048, --max-model-len))', group: 'Engine:' })
    .option('max-model-len', { type: 'string', describe: "longest request, prompt + output tokens; longer ones are rejected (default: the model's context, the most allowed)", group: 'Engine:' })
    .option('block-size', { type: 'string', describe: dflt('tokens per KV block', 'block-size'), group: 'Engine:' })
    .option('gpu-memory-utilization', { type: 'string', describe: dflt('fraction of GPU memory for weights, activations and KV', 'gpu-memory-utilization'), group: 'Engine:' })
    .option('kv-tokens', { type: 'string', describe: "KV-cache capacity override: tokens, or 'unlimited'", group: 'Engine:' })
    .option('chunked-prefill', { type: 'boolean', describe: dflt('chunked prefill with stall-free mixed batches (Sarathi-Serve)', 'chunked-prefill'), group: 'Engine:' })
    .option('preemption', { type: 'string', describe: dflt('preemption mechanism on KV exhaustion: recompute or swap', 'preemption'), group: 'Engine:' })
    .option('swap-space', { type: 'string', describe: dflt('CPU swap space per GPU, GiB', 'swap-space'), group: 'Engine:' })
    .option('prefix-caching', { type: 'string', describe: dflt('automatic prefix caching as vLLM v1 (docs/prefix-caching.md): on or off', 'prefix-caching'), group: 'Engine:' })
    .option('replicas', { type: 'string', describe: dflt('identical replicas behind a router', 'replicas'), group: 'Cluster:' })
    .option('router', { type: 'string', describe: dflt('router with several replicas (sim routers)', 'router'), group: 'Cluster:' })
    .option('router-opt', { type: 'string', array: true, describe: 'router option key=value (repeatable)', group: 'Cluster:' })
    .option('prefill-replicas', { type: 'string', describe: 'disaggregated prefill and decode (docs/disaggregation.md): prefill replicas (--gpu, --tp, --policy, --router); with --decode-replicas', group: 'Disaggregation:' })
    .option('decode-replicas', { type: 'string', describe: 'decode replicas, which receive each request\'s KV after its first token', group: 'Disaggregation:' })
    .option('decode-gpu', { type: 'string', describe: 'GPU of the decode replicas (default --gpu)', group: 'Disaggregation:' })
    .option('decode-tp', { type: 'string', describe: 'tensor-parallel GPUs per decode replica (default --tp)', group: 'Disaggregation:' })
    .option('decode-policy', { type: 'string', describe: 'scheduling policy of the decode replicas (default --policy)', group: 'Disaggregation:' })
    .option('decode-router', { type: 'string', describe: 'router over the decode replicas (default --router)', group: 'Disaggregation:' })
    .option('link', { type: 'string', describe: 'link carrying KV between replicas (P/D transfers, live migrations): nvlink, pcie, infiniband-ndr, infiniband-hdr, roce-100g, ethernet-64g (default infiniband-ndr disaggregated, ethernet-64g for migration)', group: 'Cluster:' })
    .option('link-bandwidth', { type: 'string', describe: "override the link's bandwidth, bytes/s per GPU", group: 'Cluster:' })
    .option('link-latency', { type: 'string', describe: "override the link's latency per transfer, seconds", group: 'Cluster:' })
    .option('migration', { type: 'string', describe: dflt("Llumnix's live migration between replicas: on or off", 'migration'), group: 'Cluster:' })
    .option('migration-opt', { type: 'string', array: true, describe: 'migration option key=value (repeatable): interval, migrate-out-threshold, request, last-stage-max-blocks, max-stages, headroom', group: 'Cluster:' })
    .option('autoscale', { type: 'string', describe: dflt("Llumnix's auto-scaling on average freeness: on or off (--replicas is then the most instances)", 'autoscale'), group: 'Cluster:' })
    .option('high-priority-fraction', { type: 'string', describe: 'fraction of requests made high-priority at random (seeded; Llumnix priorities: see --router-opt/--migration-opt headroom)', group: 'Cluster:' })
    .option('autoscale-opt', { type: 'string', array: true, describe: 'auto-scaling option key=value (repeatable): min, initial, interval, up-threshold, down-threshold, startup', group: 'Cluster:' })
    .option('slo-ttft', { type: 'string', describe: 'TTFT SLO for goodput, seconds', group: 'Metrics:' })
    .option('slo-tpot', { type: 'string', describe: 'TPOT SLO for goodput, seconds', group: 'Metrics:' })
    .option('slo-e2e', { type: 'string', describe: 'end-to-end latency SLO for goodput, seconds', group: 'Metrics:' })
    .option('metric-percentiles', { type: 'string', describe: "percentiles of the summary's ms block (vLLM names: p99_ttft_ms ...), comma-separated, e.g. 50,90,99 (default 50,90,95,99)", group: 'Metrics:' })
    .option('seed', { type: 'string', describe: dflt('seed of every random generator', 'seed'), group: 'Output:' })
    .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON object', group: 'Output:' })
    .option('out', { type: 'string', describe: 'write summary.json, requests.csv, replicas.csv and config.json here (checked writable before the run)', group: 'Output:' })
    .option('force', { type: 'boolean', default: false, describe: "with --out: replace an earlier run's files in that folder (else refused)", group: 'Output:' })
    .option('timeseries', { type: 'boolean', default: false, describe: 'with --out: also write timeseries.csv, one row per iteration (batch size, KV use, queues), streamed during the run', group: 'Output:' })
    .option('trace-events', { type: 'string', describe: 'write the batches as a Chrome/Perfetto trace-event JSON file (ui.perfetto.dev): a track per replica and virtual engine, a slice per iteration; streamed during the run', group: 'Output:' });
}

/** Flags of `sim run` that take one value (not lists); given twice, they are refused rather than joined or overridden. */
const SINGLE_FLAGS = [...RUN_KEYS.filter((k) => RUN_OPTION_SPECS[k].kind !== 'list'), 'config', 'out', 'token-budget', 'trace-events'];

/**
 * The run options given on the command line and in `--config`, the flags winning.
 * @throws InputError for a flag given twice, a bad config file, or a bad value.
 */
function pickRunOptions(argv: Record<string, unknown>): Partial<RunOptions> {
  for (const k of SINGLE_FLAGS) {
    if (Array.isArray(argv[k])) throw new InputError(`given ${(argv[k] as unknown[]).length} times; give it once`, { field: `--${k}` });
  }
  const picked: Record<string, unknown> = argv.config !== undefined ? { ...readRunConfig(String(argv.config)) } : {};
  for (const k of RUN_KEYS) if (argv[k] !== undefined) picked[k] = argv[k];
  return picked as Partial<RunOptions>;
}

async function run(argv: Record<string, unknown>, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  const opts = await prepareOptions(pickRunOptions(argv));
  if (argv.timeseries && argv.out === undefined) throw new InputError('needs --out DIR', { field: '--timeseries' });
  if (argv.force && argv.out === undefined) throw new InputError('goes with --out DIR', { field: '--force' });
  // The output folder is checked before anything long starts, so a bad --out costs nothing.
  if (argv.out !== undefined) readString(argv.out, '--out');
  const outDir = argv.out === undefined ? undefined : new OutDir(String(argv.out), { force: argv.force === true, timeseries: argv.timeseries === true });
  const eventsFile = argv['trace-events'] === undefined ? undefined : readString(argv['trace-events'], '--trace-events');
  if (eventsFile !== undefined) prepareOutputFile(eventsFile, '--trace-events');
  let eventsOut: AtomicWriter | undefined;
  try {
    const run = await resolveRun(opts, (m) => err.write(`sim: warning: ${m}\n`));
    const { trace } = run;
    for (const w of trace.warnings) err.write(`sim: warning: ${w}\n`);
    let bar: SingleBar | undefined;
    if (err.isTTY && trace.n >= PROGRESS_MIN_REQUESTS) {
      // Loaded only here: most runs (a pipe, a small trace) draw no bar.
      const { default: cliProgress } = await import('cli-progress');
      bar = new cliProgress.SingleBar({ stream: err, format: 'simulating [{bar}] {percentage}% | ETA {eta}s' }, cliProgress.Presets.shades_classic);
      bar.start(100, 0);
    }
    const series = outDir?.timeseries();
    eventsOut = eventsFile === undefined ? undefined : new AtomicWriter(eventsFile);
    const dis = run.disaggregation;
    const events = eventsOut && new TraceEventsWriter(eventsOut, { replicas: dis ? dis.prefill + dis.decode : opts.replicas, pp: opts.pp });
    const observers = [series, events].filter((o) => o !== undefined);
    const { result, metrics: m, summary, replicas } = runResolved(run, {
      observer: observers.length === 0 ? undefined : (r) => { for (const o of observers) o.add(r); },
      onProgress: bar ? (f) => bar!.update(Math.round(100 * f)) : undefined,
    });
    bar?.stop();
    events?.end();
    eventsOut?.commit();
    if (outDir) {
      const record = { [COST_MODEL_USED]: run.costDescription, ...(await runProvenance(opts)), ...(trace.idle_removed_s === undefined ? {} : { 'idle-removed-s': trace.idle_removed_s }) };
      outDir.finish(summary, result.requests, m, { ...opts, ...record }, replicas);
    }
    for (const w of runWarnings(summary, run)) err.write(`sim: warning: ${w}\n`);
    if (argv.json) {
      out.write(JSON.stringify(summary) + '\n');
    } else {
      const skipped = Object.entries(trace.skipped).filter(([, v]) => v > 0).map(([k, v]) => `${v} ${k}`);
      const header = [
        `policy ${run.policies[0].name}${opts.replicas > 1 ? ` | ${opts.replicas} replicas, router ${opts.router}` : ''} | trace ${trace.source} (${trace.format}, ${trace.n} requests${skipped.length ? `, skipped ${skipped.join(', ')}` : ''})`,
        `model ${opts.model} on ${opts.pp > 1 ? `${opts.tp * opts.pp}x ${opts.gpu} (tp ${opts.tp} x pp ${opts.pp})` : `${opts.tp}x ${opts.gpu}`} | cost ${run.pipeline ? run.pipeline.name : run.cost.name} | ${opts['chunked-prefill'] ? `chunked prefill, budget ${run.engine.maxNumBatchedTokens} tokens` : `prefill priority, budget ${run.engine.maxNumBatchedTokens} tokens`}`,
        `KV cache ${run.unlimitedKv ? 'unlimited' : `${opts.pp > 1 ? `${opts.pp} x ` : ''}${run.engine.kvBlocks} blocks x ${run.engine.blockSize} tokens = ${run.kvTokens} tokens`} | max ${opts['max-num-seqs']} seqs${opts.pp > 1 ? ` per micro-batch, ${opts.pp} in flight` : ''} | preemption ${opts.preemption}`,
        `cost model: ${run.costDescription}`,
        ...(dis
          ? [
              `disaggregated: ${dis.prefill} prefill replicas (router ${opts.router}) -> ${dis.decode} decode replicas on ${opts['decode-tp'] ?? opts.tp}x ${opts['decode-gpu'] ?? opts.gpu} (policy ${dis.decodePolicy[0].name}, router ${opts['decode-router'] ?? opts.router}, KV ${dis.decodeEngine.kvBlocks} blocks each) | link ${dis.link.name}: ${(dis.link.bandwidth / 1e9).toFixed(1)} GB/s per GPU, ${dis.link.latency_s * 1e6} us`,
            ]
          : []),
      ];
      out.write(formatSummary(summary, header) + '\n');
    }
  } catch (e) {
    outDir?.abort();
    eventsOut?.abort();
    throw e;
  }
  return 0;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => r.map((c, j) => (j === r.length - 1 ? c : c.padEnd(widths[j] + 2))).join('')).join('\n') + '\n';
}

function listModels(): string {
  const rows = [['name', 'layers', 'hidden', 'heads', 'kv heads', 'intermediate', 'experts', 'vocab', 'context', 'params', 'source']];
  for (const m of Object.values(MODELS)) {
    const experts = (m.experts ?? 1) > 1 ? `${m.activeExperts} of ${m.experts}` : '-';
    rows.push([m.name, m.layers, m.hidden, m.heads, m.kvHeads, m.intermediate, experts, m.vocab, m.maxContext, `${(m.params / 1e9).toFixed(2)}B`, m.source].map(String));
  }
  return table(rows);
}

function listGpus(): string {
  // Memory in GiB: datasheets' "80 GB" of HBM is 80 GiB (sim/cost/gpus.ts); bandwidths in decimal GB/s.
  const rows = [['name', 'BF16 TFLOP/s', 'HBM GB/s', 'memory GiB', 'PCIe GB/s', '$/GPU-hour', 'source']];
  for (const g of Object.values(GPUS)) {
    const price = g.usdPerHour === undefined ? '-' : g.usdPerHour.toFixed(3);
    const source = g.priceSource === undefined ? `${g.source}; no default price (give --gpu-price)` : `${g.source}; price: ${g.priceSource}`;
    rows.push([g.name, (g.bf16Flops / 1e12).toFixed(0), (g.memBandwidth / 1e9).toFixed(0), (g.memBytes / 2 ** 30).toFixed(1), (g.pcieBandwidth / 1e9).toFixed(0), price, source]);
  }
  return table(rows);
}

/** `--path FILE` of `sim policies`, `sim predictors` and `sim routers`: a plugin file listed after the registry (docs/plugins.md). */
const pathOption = (kind: PluginKind) => (y: Argv) =>
  y.option('path', { type: 'string', describe: `also list the ${kind} exported by this ES module file (docs/plugins.md)` });

/** The registry's entries of `kind` plus, with `--path`, the file's (its name shown as the file). */
async function withPlugin<T extends { name: string }>(kind: PluginKind, registry: readonly T[], argv: Record<string, unknown>): Promise<T[]> {
  if (argv.path === undefined) return [...registry];
  const file = readString(argv.path, '--path');
  const entry = (await loadPlugin(kind, file)) as unknown as T;
  return [...registry, { ...entry, name: `${file} (${entry.name})` }];
}

function listPolicies(policies: readonly (typeof POLICIES)[number][]): string {
  const rows = [['name', 'predictor', 'description', 'source']];
  for (const p of policies) rows.push([p.name, p.predictor === 'optional' ? `optional (default ${p.defaultPredictor ?? 'none'})` : p.predictor, p.description, p.source]);
  return table(rows);
}

function listRouters(routers: readonly (typeof ROUTERS)[number][]): string {
  const rows = [['name', 'description', 'source']];
  for (const r of routers) rows.push([r.name, r.description, r.source]);
  return table(rows);
}

function listPredictors(predictors: readonly (typeof PREDICTORS)[number][]): string {
  const rows = [['name', 'description', 'source']];
  for (const p of predictors) rows.push([p.name, p.description, p.source]);
  return table(rows);
}

/**
 * Runs the CLI on `args` (without `node` and the script path).
 * @returns the exit code: 0 success, 2 bad input or usage (one line on stderr, no stack trace),
 *   1 an internal error.
 */
export async function main(args: string[], out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr): Promise<number> {
  let code = 0;
  const parser = yargs()
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
    .command('policies', 'list the scheduling policies and their papers', pathOption('policy'), async (argv) => {
      out.write(listPolicies(await withPlugin('policy', POLICIES, argv)));
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
    .command(makeReproduceCommand({ out, err }))
    .command(makePlotCommand({ out, err }))
    .command(makeGenerateCommand({ out, err }))
    .command(makeCompareCommand({ out, err }))
    .command('predictors', 'list the length predictors and the quality they model', pathOption('predictor'), async (argv) => {
      out.write(listPredictors(await withPlugin('predictor', PREDICTORS, argv)));
    })
    .command('routers', 'list the routers for --replicas N', pathOption('router'), async (argv) => {
      out.write(listRouters(await withPlugin('router', ROUTERS, argv)));
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
    await parser.parseAsync(prepareArgs(args));
  } catch (e) {
    if (e instanceof InputError) {
      err.write(`sim: ${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return 2;
    }
    // A bug, not bad input: one line, the stack only when asked for.
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    err.write(`sim: internal error: ${message.replace(/\s*\n\s*/g, ' ')} (a bug; please report it with the command line${process.env.LLMSCHED_DEBUG ? '' : '; LLMSCHED_DEBUG=1 prints the stack'})\n`);
    if (process.env.LLMSCHED_DEBUG && e instanceof Error && e.stack) err.write(e.stack + '\n');
    return 1;
  }
  return code;
}

/** Boolean flags of every subcommand: `--name=VALUE` must say true or false. */
const BOOLEAN_FLAGS = new Set(['json', 'timeseries', 'chunked-prefill', 'resample', 'all-seeds', 'force', 'yes', 'update', 'quick', 'png', 'log', 'list', 'help', 'version']);

/**
 * Checks and rewrites the raw arguments where yargs would misread them: `--chunked-prefill=yes`
 * (or `=1`, `=on`) would be read as false and run the other mode without a word, so a boolean's
 * `=VALUE` must say true or false; `--trace -` (standard input) would leave `-` as a stray
 * positional, so it becomes `--trace=-`; `--start -1e-3` would be split into flags, so a negative
 * value that yargs does not take as a number must be attached with `=`.
 * @returns the arguments to parse.
 * @throws InputError naming the flag.
 */
function prepareArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    const valueFlag = /^--[^=]+$/.test(a) && !BOOLEAN_FLAGS.has(a.slice(2)) && !a.startsWith('--no-');
    if (valueFlag && next === '-') {
      out.push(`${a}=-`);
      i++;
      continue;
    }
    if (valueFlag && next !== undefined && /^-[\d.]/.test(next) && !/^-(\d+(\.\d+)?|\.\d+)$/.test(next)) {
      throw new InputError(`a value starting with '-' must be attached with '=': ${a}=${next}`, { field: a });
    }
    const m = /^--(no-)?([^=]+)=(.*)$/s.exec(a);
    if (m && BOOLEAN_FLAGS.has(m[2])) {
      if (m[1]) throw new InputError(`takes no value (got '${m[3]}')`, { field: `--no-${m[2]}` });
      readBoolean(m[3], `--${m[2]}`);
    }
    out.push(a);
  }
  return out;
}
