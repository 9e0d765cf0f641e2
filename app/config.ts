/**
 * Run configuration: the options of `sim run` as one typed object (what `config.json` holds), and
 * their resolution into a trace, a policy, a cost model and engine settings.
 */
import path from 'node:path';
import type { Trace } from '../sim/trace.ts';
import { readTrace, transformTrace, syntheticTrace, resampleTrace, MAX_SPAN_S, tracePriorities, randomPriorities, PRIORITY_COLUMN } from '../traces/index.ts';
import type { ReadOptions } from '../traces/index.ts';
import seedrandom from 'seedrandom';
import type { Policy } from '../sim/policy.ts';
import type { Predictor } from '../sim/predictor.ts';
import type { CostModel } from '../sim/cost/cost-model.ts';
import { parseCostModelSpec, kvCapacity, kvBytesPerToken, swapBlocks, pipelineCost, stageLayers, MAX_PP, workCoefficients, weightBytes } from '../sim/cost/index.ts';
import type { ModelSpec, PipelineCost } from '../sim/cost/index.ts';
import type { EngineConfig } from '../sim/engine-types.ts';
import { chooseCostModel } from '../calibrate/shipped.ts';
import type { ReplicaPeak, Slo } from '../sim/metrics.ts';
import { parseMetricPercentiles } from '../sim/metrics.ts';
import { InputError, locate } from '../sim/errors.ts';
import { readBoolean, readNumber, readString, showValue } from '../sim/values.ts';
import type { NumberSpec } from '../sim/values.ts';
import { readJsonFile } from '../sim/files.ts';
import { isSpecFile, resolveGpu, resolveModel } from './specs/hardware.ts';
import { DEFAULT_ROUTER, DEFAULT_ROUTER_PREDICTOR } from '../policies/routers.ts';
import { isPluginSpec, loadPlugins, policyEntry, predictorEntry, routerEntry } from './plugins.ts';
import type { ReplicaLoad, Router, RouterContext } from '../sim/router.ts';
import type { RequestTable } from '../sim/requests.ts';
import type { DisaggregationInput } from '../sim/disaggregation.ts';
import { getLink, transferSeconds } from '../sim/cost/index.ts';
import type { Link } from '../sim/cost/index.ts';
import type { MigrationConfig, Rescheduler } from '../sim/migration.ts';
import { llumnixRescheduler, migrationConfig, readLlumnixSettings, readScalingSettings } from '../policies/llumnix.ts';
import type { ScalingConfig } from '../sim/autoscale.ts';

/**
 * Options of one run, keyed by their CLI flag names (kebab-case), as written to `config.json`.
 * Every field maps to a `sim run` flag documented in the README.
 */
export interface RunOptions {
  /** Scheduling policy (`sim policies`). */
  policy: string;
  /** Policy options `key=value`. */
  'policy-opt'?: string[];
  /** Length predictor (`sim predictors`) for length-aware policies. */
  predictor?: string;
  /** Predictor options `key=value`. */
  'predictor-opt'?: string[];
  /** Trace file; or use `synthetic`. */
  trace?: string;
  /** Force the trace format. */
  format?: string;
  /** Vidur traces: apply Vidur's `max_tokens` clipping of prompt + output (docs/traces.md). */
  'vidur-max-tokens'?: number;
  /** ShareGPT files: `conversation` (multi-turn programs, default) or vLLM's `first-turn` (docs/traces.md). */
  'sharegpt-mode'?: string;
  /** Synthetic arrivals instead of a trace: `poisson` or `gamma`. */
  synthetic?: string;
  /** Synthetic: number of requests. */
  'num-requests'?: number;
  /** Synthetic: arrival rate (req/s); with a trace: rescale to this mean rate. */
  rate?: number;
  /** Synthetic gamma arrivals: coefficient of variation of inter-arrival times. */
  cv?: number;
  /** Synthetic: prompt-length distribution (docs/traces.md). */
  prompt?: string;
  /** Synthetic: output-length distribution. */
  output?: string;
  /** Synthetic: resample (prompt, output) pairs from this trace file. */
  'lengths-from'?: string;
  /** Synthetic: shared system prompts `COUNT:TOKENS` (docs/traces.md, "Synthetic traces"). */
  'shared-prefix'?: string;
  /** Trace transforms (docs/traces.md). */
  'rate-scale'?: number;
  limit?: number;
  start?: number;
  duration?: number;
  /** Cap every gap between consecutive arrivals (of programs, in a program trace) at this many seconds. */
  'compress-idle'?: number;
  /** Bootstrap the trace's requests, seeded by `seed` (traces/resample.ts); absent when off. */
  resample?: boolean;
  /**
   * Model and GPU: a built-in name (`sim models`, `sim gpus`) or a `.json` file (a ModelSpec/GpuSpec
   * or, for the model, a Hugging Face config.json; docs/models.md); tensor parallelism (GPUs per stage) and pipeline stages per replica. */
  model: string;
  gpu: string;
  tp: number;
  pp: number;
  /**
   * `auto` (a shipped measured profile of the model, GPU and tp, else `fitted`), `fitted`
   * (analytical, efficiencies fitted to measured tables), `analytical` (the original constants) or
   * `linear:base=B,prefill=P,decode=D,kv=K`.
   */
  'cost-model': string;
  /** US dollars per GPU-hour for `gpu_hours` and `usd_per_million_tokens`; default: the GPU's (sim/cost/gpus.ts). */
  'gpu-price'?: number;
  /** Measured operator profile (JSON) that prices iterations instead of the analytical model. */
  profile?: string;
  'max-num-seqs': number;
  /** Token budget per iteration; default 512 with chunked prefill, else max(2048, model context). */
  'max-num-batched-tokens'?: number;
  /**
   * Longest request, prompt + output tokens (vLLM `max_model_len`); longer requests are rejected at
   * arrival. Default: the model's context length (`max_position_embeddings`); more is refused.
   */
  'max-model-len'?: number;
  'block-size': number;
  'gpu-memory-utilization': number;
  /** KV-cache capacity override: a token count or `unlimited`. */
  'kv-tokens'?: string | number;
  'chunked-prefill': boolean;
  preemption: string;
  /** CPU swap space per GPU, GiB. */
  'swap-space': number;
  /** Automatic prefix caching, `on` or `off` (docs/prefix-caching.md). */
  'prefix-caching': string;
  /** SLOs for goodput (seconds): TTFT, TPOT, end-to-end latency. */
  'slo-ttft'?: number;
  'slo-tpot'?: number;
  'slo-e2e'?: number;
  /** Percentiles of the summary's `ms` block, comma-separated (vLLM benchmark_serving's option; default 50,90,95,99). */
  'metric-percentiles'?: string;
  /** Seed of every random generator of the run. */
  seed: number;
  /** Identical replicas behind a router (each with its own KV cache and policy instance). */
  replicas: number;
  /** Router (`sim routers`); used with more than one replica. */
  router: string;
  /** Router options `key=value`. */
  'router-opt'?: string[];
  /**
   * Disaggregated prefill and decode (docs/disaggregation.md): prefill replicas (model, `gpu`,
   * `tp`, `policy`, `router` as above) and decode replicas; both or neither.
   */
  'prefill-replicas'?: number;
  'decode-replicas'?: number;
  /** The decode replicas' GPU, tensor parallelism, policy and router (default: the prefill pool's). */
  'decode-gpu'?: string;
  'decode-tp'?: number;
  'decode-policy'?: string;
  'decode-router'?: string;
  /**
   * The link that carries KV between replicas (sim/cost/link.ts presets; default `infiniband-ndr` for
   * P/D transfers, `ethernet-64g` for live migration), with overrides: bytes/s per GPU, seconds.
   */
  link?: string;
  'link-bandwidth'?: number;
  'link-latency'?: number;
  /** Live migration between replicas (Llumnix), `on` or `off` (docs/engine.md "Live migration"). */
  migration: string;
  /** Migration options `key=value` (policies/llumnix.ts: interval, migrate-out-threshold, request, last-stage-max-blocks, max-stages). */
  'migration-opt'?: string[];
  /** Llumnix's auto-scaling, `on` or `off`: `replicas` is then the most instances (docs/engine.md "Auto-scaling"). */
  autoscale: string;
  /** Auto-scaling options `key=value` (policies/llumnix.ts: min, initial, interval, up-threshold, down-threshold, startup). */
  'autoscale-opt'?: string[];
  /**
   * Fraction of requests made high-priority at random (seeded by `seed`; Llumnix §4.4), for a
   * trace without a `priority` column (docs/traces.md "Priorities").
   */
  'high-priority-fraction'?: number;
}

/** Defaults of the options that have one (vLLM's where vLLM has one: docs/spec.md §1). */
export const DEFAULTS = {
  policy: 'fcfs',
  model: 'llama-2-7b',
  gpu: 'a100-80gb',
  tp: 1,
  pp: 1,
  'cost-model': 'auto',
  'max-num-seqs': 256,
  'block-size': 16,
  'gpu-memory-utilization': 0.9,
  'chunked-prefill': false,
  preemption: 'recompute',
  'swap-space': 4,
  'prefix-caching': 'on',
  seed: 1,
  replicas: 1,
  router: DEFAULT_ROUTER,
  migration: 'off',
  autoscale: 'off',
} as const;

/** Default token budget with chunked prefill (Sarathi-Serve's strict-SLO budget, vLLM 0.4 default). */
export const CHUNKED_TOKEN_BUDGET = 512;

/** A run ready to simulate. */
export interface ResolvedRun {
  trace: Trace;
  /** One fresh policy instance per replica; per virtual engine with `--pp` (replicas × pp, replica by replica). */
  policies: Policy[];
  /** Builds the run's router (several replicas), seeded from `--seed`. */
  router: (replicas: readonly ReplicaLoad[], requests: RequestTable) => Router;
  /** The policy's predictor (attached to the trace), if it uses one. */
  predictor: Predictor | undefined;
  /** Random numbers drawn so far from the `--seed` sources (predictor noise, random routing); the trace generator's are not counted. */
  randomDraws: () => number;
  cost: CostModel;
  /** The stage pricing with `--pp` above 1 (undefined at 1). */
  pipeline: PipelineCost | undefined;
  /** What prices the iterations and where its numbers come from, one line (calibrate/shipped.ts). */
  costDescription: string;
  /** Settings of each replica; of each of its virtual engines with `--pp` (1/pp of the KV and swap blocks each). */
  engine: EngineConfig;
  /** KV capacity of one replica in tokens (Infinity-like when unlimited; all its virtual engines together) and whether it is unlimited. */
  kvTokens: number;
  unlimitedKv: boolean;
  slo: Slo;
  /** GPUs the run holds: replicas × tp × pp. */
  gpus: number;
  /** US dollars per GPU-hour: `--gpu-price`, else the GPU's default (undefined when it has none). */
  gpuPrice: number | undefined;
  /** One replica's peak dense BF16 FLOP/s and HBM bytes/s: the GPU's datasheet figures × tp × pp (for MFU and MBU); undefined when the pools of a disaggregated run differ in GPU or tp. */
  peak: ReplicaPeak | undefined;
  /** Percentiles of the summary's `ms` block (`--metric-percentiles`). */
  percentiles: readonly number[];
  /** Disaggregated runs: the decode pool and the KV link (`policies`, `router`, `cost`, `engine` are then the prefill pool's). */
  disaggregation?: DisaggregationInput & { link: Link; prefill: number; decode: number };
  /** Live migration (`--migration on`): the rescheduler and how KV is copied; undefined when off. */
  migration: { rescheduler: Rescheduler; config: MigrationConfig } | undefined;
  /** Auto-scaling (`--autoscale on`): the settings; undefined when off. */
  autoscale?: ScalingConfig;
  /** Priority class per request (0 normal, 1 high): the trace's `priority` column or `--high-priority-fraction`; undefined: none. */
  priority?: Uint8Array;
}

/** Blocks standing for an unlimited KV cache (fits every request; keeps integer arithmetic exact). */
export const UNLIMITED_BLOCKS = 2 ** 40;

/**
 * How one run option is read and checked: its kind and, for numbers, its bounds (the upper ones
 * with the reason named in the message). One table for the CLI, `--config` files and sweep grids.
 */
export type RunOptionSpec =
  | { kind: 'number'; spec: NumberSpec }
  | { kind: 'boolean' }
  | { kind: 'string'; choices?: readonly string[] }
  | { kind: 'list' }
  | { kind: 'kv-tokens' };

const int = (min: number, max: number, maxReason: string): RunOptionSpec => ({ kind: 'number', spec: { integer: true, min, max, maxReason } });
const pos = (max: number, maxReason: string): RunOptionSpec => ({ kind: 'number', spec: { min: 0, minExclusive: true, max, maxReason } });
const str: RunOptionSpec = { kind: 'string' };
const list: RunOptionSpec = { kind: 'list' };

/**
 * Every run option, by flag name: kind and bounds. Upper bounds keep a run within what one
 * process can hold and every time finite; each is named in the error message.
 */
export const RUN_OPTION_SPECS: Readonly<Record<keyof RunOptions, RunOptionSpec>> = {
  policy: str,
  'policy-opt': list,
  predictor: str,
  'predictor-opt': list,
  trace: str,
  format: { kind: 'string', choices: ['azure', 'burstgpt', 'mooncake', 'generic', 'vidur'] },
  'vidur-max-tokens': int(2, 2 ** 24, 'tokens per request'),
  'sharegpt-mode': { kind: 'string', choices: ['conversation', 'first-turn'] },
  synthetic: { kind: 'string', choices: ['poisson', 'gamma'] },
  'num-requests': int(1, 1e8, 'synthetic requests are held in memory'),
  rate: pos(1e9, 'requests per second'),
  cv: pos(1000, 'coefficient of variation'),
  prompt: str,
  output: str,
  'lengths-from': str,
  'shared-prefix': str,
  'rate-scale': pos(1e9, 'arrival-rate multiplier'),
  limit: int(1, Number.MAX_SAFE_INTEGER, 'largest safe integer'),
  start: { kind: 'number', spec: { min: 0, max: MAX_SPAN_S, maxReason: 'seconds, about 31.7 years' } },
  duration: pos(MAX_SPAN_S, 'seconds, about 31.7 years'),
  'compress-idle': { kind: 'number', spec: { min: 0, max: MAX_SPAN_S, maxReason: 'seconds, about 31.7 years' } },
  resample: { kind: 'boolean' },
  model: str,
  gpu: str,
  tp: int(1, 64, 'GPUs per replica'),
  pp: int(1, MAX_PP, 'pipeline stages per replica'),
  'cost-model': str,
  'gpu-price': pos(1e6, 'US dollars per GPU-hour'),
  profile: str,
  'max-num-seqs': int(1, 2 ** 20, 'sequences per iteration'),
  'max-num-batched-tokens': int(1, 2 ** 24, 'tokens per iteration'),
  'max-model-len': int(1, 2 ** 24, 'tokens per request; a model context is at most 131072'),
  'block-size': int(1, 4096, 'tokens per KV block'),
  'gpu-memory-utilization': { kind: 'number', spec: { min: 0, minExclusive: true, max: 1, maxReason: 'a fraction' } },
  'kv-tokens': { kind: 'kv-tokens' },
  'chunked-prefill': { kind: 'boolean' },
  preemption: { kind: 'string', choices: ['recompute', 'swap'] },
  'swap-space': { kind: 'number', spec: { min: 0, max: 65536, maxReason: 'GiB of host memory per GPU' } },
  'prefix-caching': { kind: 'string', choices: ['on', 'off'] },
  'slo-ttft': pos(MAX_SPAN_S, 'seconds'),
  'slo-tpot': pos(MAX_SPAN_S, 'seconds'),
  'slo-e2e': pos(MAX_SPAN_S, 'seconds'),
  'metric-percentiles': str,
  seed: int(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'largest safe integer'),
  replicas: int(1, 1024, 'replicas simulated in one process'),
  router: str,
  'router-opt': list,
  'prefill-replicas': int(1, 1024, 'replicas simulated in one process'),
  'decode-replicas': int(1, 1024, 'replicas simulated in one process'),
  'decode-gpu': str,
  'decode-tp': int(1, 64, 'GPUs per replica'),
  'decode-policy': str,
  'decode-router': str,
  link: str,
  'link-bandwidth': pos(1e15, 'bytes/s per GPU'),
  'link-latency': { kind: 'number', spec: { min: 0, max: 3600, maxReason: 'seconds' } },
  migration: { kind: 'string', choices: ['on', 'off'] },
  'migration-opt': list,
  autoscale: { kind: 'string', choices: ['on', 'off'] },
  'autoscale-opt': list,
  'high-priority-fraction': { kind: 'number', spec: { min: 0, max: 1, maxReason: 'a fraction' } },
};

/**
 * Largest replicas x requests product of one run. The engines size their state by the requests
 * each replica holds, but most policies keep per-request arrays for the whole trace in each
 * replica's instance (about 20-40 bytes per request), so this bounds that state near 4-8 GB.
 */
export const MAX_REPLICA_REQUESTS = 2e8;

/** Largest KV capacity `--kv-tokens` may name (use `unlimited` beyond). */
export const MAX_KV_TOKENS = 2 ** 40;

/**
 * Reads one run option's value as the CLI (strings), a `--config` file or a grid (JSON/YAML
 * values) gives it, strictly: decimal numbers within the option's bounds, `true`/`false` booleans,
 * non-empty strings from the choices, lists of strings.
 * @param key the option's flag name without dashes (`max-num-seqs`)
 * @param where the file and line the value came from, and the field to name (default `--key`)
 * @returns the typed value
 * @throws InputError for an unknown option or a bad value, naming file, line and field.
 */
export function readRunOption(key: string, raw: unknown, where: { file?: string; line?: number; field?: string } = {}): unknown {
  const field = where.field ?? `--${key}`;
  const at = { file: where.file, line: where.line };
  const spec = (RUN_OPTION_SPECS as Record<string, RunOptionSpec | undefined>)[key];
  if (spec === undefined) throw new InputError(`unknown option '${key}'`, { ...at, field });
  switch (spec.kind) {
    case 'number':
      return readNumber(raw, field, spec.spec, at);
    case 'boolean':
      return readBoolean(raw, field, at);
    case 'string': {
      const v = readString(raw, field, at);
      if (spec.choices && !spec.choices.includes(v)) throw new InputError(`must be one of ${spec.choices.join(', ')} (got ${showValue(raw)})`, { ...at, field });
      return v;
    }
    case 'list': {
      const xs = Array.isArray(raw) ? raw : [raw];
      return xs.map((x) => readString(x, field, at));
    }
    case 'kv-tokens':
      if (typeof raw === 'string' && raw.trim().toLowerCase() === 'unlimited') return 'unlimited';
      return readNumber(raw, field, { integer: true, min: 1, max: MAX_KV_TOKENS, maxReason: "tokens; give 'unlimited' for more" }, at);
  }
}

/** The option keys of a run (what `config.json` holds). */
export const RUN_KEYS = Object.keys(RUN_OPTION_SPECS) as readonly (keyof RunOptions)[];

/**
 * The key of config.json that says what priced the run's iterations (the header's `cost model:`
 * line): written for the reader, not an option; a replay reads past it and makes the choice again
 * from `cost-model`, `profile`, model, GPU and tp.
 */
export const COST_MODEL_USED = 'cost-model-used';

/**
 * Keys of `config.json` that record what a run was, not how to run it (docs/output.md): the cost
 * model used, the project version, the trace's content hash and the idle time `--compress-idle`
 * removed. A replay with `--config` reads past them.
 */
export const RECORD_KEYS: readonly string[] = [COST_MODEL_USED, 'llmsched-version', 'trace-sha256', 'idle-removed-s'];

/**
 * Reads a `--config` file (a previous run's `config.json`, or one written by hand): a JSON object
 * of run options by flag name, each checked as {@link readRunOption} checks a flag (`null` is
 * refused: a key left out takes its default); relative paths (`trace`, `lengths-from`, `profile`,
 * and `model` / `gpu` files) resolve against the file's folder.
 * @throws InputError naming the file (and the line of the key, when found) for a missing, empty or
 *   malformed file, a value that is not an object, an unknown key or a bad value.
 */
export function readRunConfig(file: string): Partial<RunOptions> {
  const { value: raw, lineOf } = readJsonFile(file, 'config');
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError('a config must be a JSON object of run options by flag name', { file, line: 1 });
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (RECORD_KEYS.includes(k)) continue;
    if (!(RUN_KEYS as readonly string[]).includes(k)) {
      throw new InputError(`unknown option; valid: ${RUN_KEYS.join(', ')}`, { file, line: lineOf(k), field: k });
    }
    if (v === null) throw new InputError('null is not a value: leave the key out to use the default', { file, line: lineOf(k), field: k });
    out[k] = readRunOption(k, v, { file, line: lineOf(k), field: k });
  }
  // Relative paths in a config are relative to its folder (a previous run's config.json holds absolute ones).
  for (const k of ['trace', 'lengths-from', 'profile'] as const) {
    const v = out[k];
    if (typeof v === 'string' && v !== '-') out[k] = path.resolve(path.dirname(path.resolve(file)), v);
  }
  for (const k of ['model', 'gpu'] as const) {
    const v = out[k];
    if (typeof v === 'string' && isSpecFile(v)) out[k] = path.resolve(path.dirname(path.resolve(file)), v);
  }
  for (const k of PLUGIN_KEYS) {
    const v = out[k];
    if (typeof v === 'string' && isPluginSpec(v)) out[k] = path.resolve(path.dirname(path.resolve(file)), v);
  }
  return out as Partial<RunOptions>;
}

/**
 * Parses `key=value` pairs.
 * @throws InputError (field `field`) for an item without `=`.
 */
export function parseKeyValues(items: readonly string[] | undefined, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    for (const part of item.split(',')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0) throw new InputError(`expected key=value, got '${part}'`, { field });
      out[part.slice(0, eq)] = part.slice(eq + 1);
    }
  }
  return out;
}

/**
 * Fills defaults and checks every option; returns a complete RunOptions (what `config.json` holds).
 * Each value is read as {@link readRunOption} reads it (so strings from a flag and numbers from a
 * file both work), then the combinations are checked, and the policy, predictor and router are
 * built once with their options, so a bad `--policy-opt` fails here, before any trace is read.
 * @throws InputError naming the option for a bad value or an impossible combination.
 */
export function normalizeOptions(o: Partial<RunOptions>): RunOptions {
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(stripUndefined(o))) given[k] = readRunOption(k, v);
  const r = { ...DEFAULTS, ...given } as RunOptions;
  if (!r.trace && !r.synthetic) throw new InputError('give --trace FILE or --synthetic poisson|gamma', { field: '--trace' });
  if (r.trace && r.synthetic) throw new InputError('--trace and --synthetic are exclusive', { field: '--synthetic' });
  if (r.trace && r.trace !== '-') r.trace = path.resolve(r.trace);
  if (r['lengths-from'] && r['lengths-from'] !== '-') r['lengths-from'] = path.resolve(r['lengths-from']);
  if (r.profile) r.profile = path.resolve(r.profile);
  if (isSpecFile(r.model)) r.model = path.resolve(r.model);
  if (isSpecFile(r.gpu)) r.gpu = path.resolve(r.gpu);
  for (const k of PLUGIN_KEYS) if (r[k] !== undefined && isPluginSpec(r[k])) r[k] = path.resolve(r[k]);
  if (r.profile && r['cost-model'] !== DEFAULTS['cost-model']) throw new InputError('--profile and --cost-model are exclusive', { field: '--profile' });
  // Options that would be silently ignored.
  if (r.synthetic && r.format !== undefined) throw new InputError('applies to --trace, not --synthetic', { field: '--format' });
  if (r.synthetic && r['vidur-max-tokens'] !== undefined) throw new InputError('applies to a Vidur --trace, not --synthetic', { field: '--vidur-max-tokens' });
  if (r.synthetic && r['sharegpt-mode'] !== undefined) throw new InputError('applies to a ShareGPT --trace, not --synthetic', { field: '--sharegpt-mode' });
  if (r.synthetic === 'poisson' && r.cv !== undefined) throw new InputError('applies to --synthetic gamma (Poisson arrivals have cv 1)', { field: '--cv' });
  if (!r.synthetic) {
    for (const k of ['num-requests', 'cv', 'prompt', 'output', 'lengths-from', 'shared-prefix'] as const) {
      if (r[k] !== undefined) throw new InputError('applies to --synthetic, not --trace', { field: `--${k}` });
    }
  }
  if (r['max-num-batched-tokens'] !== undefined && r['max-num-batched-tokens'] < r['max-num-seqs']) {
    throw new InputError(
      `${r['max-num-batched-tokens']} is below --max-num-seqs ${r['max-num-seqs']}: a full batch of decodes would not fit (vLLM rejects this too)`,
      { field: '--max-num-batched-tokens' },
    );
  }
  const routing = locate({ field: '--router' }, () => routerEntry(r.router));
  const entry = locate({ field: '--policy' }, () => policyEntry(r.policy));
  if (r.predictor !== undefined) locate({ field: '--predictor' }, () => predictorEntry(r.predictor!));
  if (entry.predictor === 'required' && r.predictor === undefined) {
    throw new InputError(`policy ${r.policy} needs a length predictor: give --predictor NAME (sim predictors)`, { field: '--predictor' });
  }
  if (entry.predictor === 'none' && !routing.predictor && (r.predictor !== undefined || r['predictor-opt'] !== undefined)) {
    throw new InputError(`policy ${r.policy} uses no predictor (nor does router ${r.router})`, { field: '--predictor' });
  }
  checkDisaggregation(r);
  checkMigration(r);
  checkAutoscale(r);
  // A file's errors name the file, line and field; a bad name names the option.
  if (isSpecFile(r.model)) resolveModel(r.model);
  else locate({ field: '--model' }, () => resolveModel(r.model));
  if (isSpecFile(r.gpu)) resolveGpu(r.gpu);
  else locate({ field: '--gpu' }, () => resolveGpu(r.gpu));
  parseCostModelSpec(r['cost-model']);
  checkHardware(r);
  buildComponents(r, 1);
  return r;
}

/** The options that apply only to a disaggregated run. */
const DISAGG_ONLY = ['decode-gpu', 'decode-tp', 'decode-policy', 'decode-router'] as const;
/** Options of the link KV moves over: a disaggregated run's transfers or live migrations. */
const LINK_KEYS = ['link', 'link-bandwidth', 'link-latency'] as const;

/**
 * Checks the disaggregation options: `--prefill-replicas` and `--decode-replicas` together, not
 * with `--replicas` above 1 or `--pp` above 1; the decode pool's policy, router, GPU and link
 * names; no decode or link option without them.
 * @throws InputError naming the option.
 */
function checkDisaggregation(r: RunOptions): void {
  const p = r['prefill-replicas'];
  const d = r['decode-replicas'];
  if (p === undefined && d === undefined) {
    for (const k of DISAGG_ONLY) if (r[k] !== undefined) throw new InputError('applies to a disaggregated run: give --prefill-replicas and --decode-replicas', { field: `--${k}` });
    return;
  }
  if (p === undefined) throw new InputError('give --prefill-replicas with --decode-replicas', { field: '--prefill-replicas' });
  if (d === undefined) throw new InputError('give --decode-replicas with --prefill-replicas', { field: '--decode-replicas' });
  if (r.replicas !== 1) throw new InputError('a disaggregated run sizes its pools with --prefill-replicas and --decode-replicas, not --replicas', { field: '--replicas' });
  if (r.pp !== 1) throw new InputError('disaggregation with pipeline parallelism is not modelled', { field: '--pp' });
  if (r['decode-router'] !== undefined) locate({ field: '--decode-router' }, () => routerEntry(r['decode-router']!));
  if (r['decode-gpu'] !== undefined) locate({ field: '--decode-gpu' }, () => resolveGpu(r['decode-gpu']!));
  if (r['decode-policy'] !== undefined) {
    const e = locate({ field: '--decode-policy' }, () => policyEntry(r['decode-policy']!));
    if (e.predictor === 'required' && r.predictor === undefined) throw new InputError(`policy ${r['decode-policy']} needs a length predictor: give --predictor NAME`, { field: '--decode-policy' });
  }
  getLink(r.link ?? DEFAULT_LINK, resolveGpu(r.gpu), r['link-bandwidth'], r['link-latency']);
  // The decode pool's hardware, its errors named after the decode flags.
  try {
    checkHardware(decodeSide(r));
  } catch (e) {
    const f = e instanceof InputError ? e.field : undefined;
    if (f === '--tp' || f === '--gpu') throw new InputError(`${(e as InputError).reason} (decode replicas)`, { field: r[f === '--tp' ? 'decode-tp' : 'decode-gpu'] !== undefined ? `--decode-${f.slice(2)}` : f });
    throw e;
  }
}

/** The default KV link of a disaggregated run: InfiniBand NDR, the network class of Splitwise's and Mooncake's clusters (sim/cost/link.ts). */
export const DEFAULT_LINK = 'infiniband-ndr';

/** `r` as seen by the decode pool: its GPU and tp in place of the prefill pool's. */
function decodeSide(r: RunOptions): RunOptions {
  return { ...r, gpu: r['decode-gpu'] ?? r.gpu, tp: r['decode-tp'] ?? r.tp };
}

/**
 * The policies (`count` fresh instances, one per replica), their predictor and the router factory
 * of a run, built from their names and `key=value` options. With a trace, the predictor is
 * attached to it (seeded from `--seed`) before the policies are built.
 * @throws InputError (field `--policy-opt`, `--predictor-opt` or `--router-opt`) for a bad option.
 */
function buildComponents(r: RunOptions, count: number, trace?: Trace, count_draws: (f: () => number) => () => number = (f) => f): { predictor: Predictor | undefined; policies: Policy[]; router: (ctx: RouterContext) => Router } {
  const entry = policyEntry(r.policy);
  const routing = routerEntry(r.router);
  const policyPredictor = entry.predictor === 'none' ? undefined : (r.predictor ?? entry.defaultPredictor);
  // A router that reads predicted lengths shares the policy's predictor, or has its own (the policy never sees it).
  const predictorName = policyPredictor ?? (routing.predictor ? (r.predictor ?? DEFAULT_ROUTER_PREDICTOR) : undefined);
  const predictor = predictorName === undefined ? undefined : predictorEntry(predictorName).create(parseKeyValues(r['predictor-opt'], '--predictor-opt'));
  if (trace) predictor?.attach(trace, count_draws(seedrandom.alea(`${r.seed}:predictor`)));
  const policyOpts = parseKeyValues(r['policy-opt'], '--policy-opt');
  const policies = Array.from({ length: count }, () => entry.create(policyOpts, policyPredictor === undefined ? undefined : predictor));
  const makeRouter = routing.create(parseKeyValues(r['router-opt'], '--router-opt'));
  const router = routing.predictor ? (ctx: RouterContext) => makeRouter({ ...ctx, predictor }) : makeRouter;
  return { predictor, policies, router };
}

/** Run options that may name a plugin file instead of a registry entry (app/plugins.ts). */
export const PLUGIN_KEYS = ['policy', 'predictor', 'router', 'decode-policy', 'decode-router'] as const;

/**
 * The one way from given options to checked ones: loads the plugin files they name (relative to
 * the working directory; app/plugins.ts), then {@link normalizeOptions}. The CLI's `sim run` and
 * the API's `run()` go through here.
 * @throws InputError for a bad plugin file, value or combination.
 */
export async function prepareOptions(o: Partial<RunOptions>): Promise<RunOptions> {
  await loadPlugins(o);
  return normalizeOptions(o);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** Reads or generates the trace of a run and applies its transforms. */
export async function loadTrace(r: RunOptions): Promise<Trace> {
  let trace: Trace;
  if (r.synthetic) {
    // The names were checked by normalizeOptions (RUN_OPTION_SPECS); the readers check them again.
    const arrival = r.synthetic as 'poisson' | 'gamma';
    const lengthsFrom = r['lengths-from'] ? await readTrace(r['lengths-from']) : undefined;
    trace = syntheticTrace({
      arrival,
      rate: r.rate ?? 1,
      cv: r.cv,
      n: r['num-requests'] ?? 1000,
      prompt: r.prompt,
      output: r.output,
      lengths_from: lengthsFrom,
      shared_prefix: r['shared-prefix'],
      seed: r.seed,
    });
  } else {
    trace = await readTrace(r.trace!, {
      format: r.format as ReadOptions['format'],
      vidurMaxTokens: r['vidur-max-tokens'],
      rate: r.rate,
      seed: r.seed,
      sharegptMode: r['sharegpt-mode'] as ReadOptions['sharegptMode'],
    });
  }
  // A ShareGPT file's arrivals were drawn at --rate; every other trace is rescaled to it.
  const rescale = r.synthetic || trace.format === 'sharegpt' ? undefined : r.rate;
  const x = { start_s: r.start, duration_s: r.duration, limit: r.limit, rate_scale: r['rate-scale'], rate: rescale, max_gap_s: r['compress-idle'] };
  if (Object.values(x).some((v) => v !== undefined)) trace = transformTrace(trace, x);
  return resampled(r, trace);
}

/**
 * With `--resample`, a bootstrap resample of the (transformed) trace drawn from the run's seed
 * (traces/resample.ts); else the trace itself.
 * @throws InputError (field `--resample`) for a program trace or one with prefix identities.
 */
export function resampled(r: RunOptions, trace: Trace): Trace {
  return r.resample ? resampleTrace(trace, seedrandom.alea(`${r.seed}:resample`)) : trace;
}

/**
 * Resolves normalized options into everything a simulation needs: reads the trace, then
 * {@link buildRun}.
 * @throws InputError for a bad trace, a model that does not fit the GPU, a bad policy option.
 */
export async function resolveRun(r: RunOptions, log?: (message: string) => void): Promise<ResolvedRun> {
  return buildRun(r, await loadTrace(r), log);
}

/**
 * Builds a run's policy (a fresh instance), cost model and engine settings for a trace already
 * in memory. The trace options of `r` are ignored. `log` receives warnings (e.g. a profile
 * extrapolated beyond its grid); default stderr.
 * @throws InputError for a model that does not fit the GPU, a bad policy option, or more than
 *   {@link MAX_REPLICA_REQUESTS} replicas x requests.
 */
export function buildRun(r: RunOptions, trace: Trace, log?: (message: string) => void): ResolvedRun {
  const P = r['prefill-replicas'];
  const D = r['decode-replicas'];
  const disagg = P !== undefined && D !== undefined;
  const engines = disagg ? P + D : r.replicas * r.pp;
  if (engines * trace.n > MAX_REPLICA_REQUESTS) {
    throw new InputError(
      `${r.replicas} replicas${r.pp > 1 ? ` x ${r.pp} pipeline stages (a scheduler each)` : ''} x ${trace.n} requests exceeds ${MAX_REPLICA_REQUESTS} (each replica's policy keeps per-request state for the whole trace, about 20-40 bytes each): use fewer replicas or --limit`,
      { field: '--replicas' },
    );
  }
  const { cost, costDescription, pipeline, engine, kvTokens, unlimitedKv } = buildHardware(r, log);
  // Every number drawn from the seed (predictor noise, random routing) is counted: with a trace
  // read from a file and none drawn, the seed changed nothing (sim sweep runs one seed of such tasks).
  const draws = { n: 0 };
  const counted = (f: () => number) => () => {
    draws.n++;
    return f();
  };
  const { predictor, policies, router: makeRouter } = buildComponents(r, disagg ? P : engines, trace, counted);
  const router = (replicas: readonly ReplicaLoad[], requests: RequestTable) => makeRouter({ replicas, requests, random: counted(seedrandom.alea(`${r.seed}:router`)), cost });
  const gpu = resolveGpu(r.gpu);
  const run: ResolvedRun = { trace, policies, router, predictor, randomDraws: () => draws.n, cost, costDescription, pipeline, engine, kvTokens, unlimitedKv, slo: { ttft_s: r['slo-ttft'], tpot_s: r['slo-tpot'], e2e_s: r['slo-e2e'] },
    gpus: r.replicas * r.tp * r.pp,
    gpuPrice: r['gpu-price'] ?? gpu.usdPerHour,
    peak: { flops: gpu.bf16Flops * r.tp * r.pp, bytes: gpu.memBandwidth * r.tp * r.pp },
    percentiles: parseMetricPercentiles(r['metric-percentiles']),
    migration: buildMigration(r, engine.blockBytes),
    autoscale: r.autoscale === 'on' ? scalingSettings(r) : undefined,
    priority: priorities(r, trace, counted),
  };
  if (disagg) run.disaggregation = buildDecodePool(r, P, D, predictor, log);
  if (run.disaggregation) {
    const dr = decodeSide(r);
    run.gpus = P! * r.tp + D! * dr.tp;
    // One price and one peak per run: only when both pools use the same GPU and tp.
    if (dr.gpu !== r.gpu || dr.tp !== r.tp) {
      if (resolveGpu(dr.gpu).usdPerHour !== gpu.usdPerHour) run.gpuPrice = r['gpu-price'];
      run.peak = undefined;
    }
  }
  return run;
}

/**
 * The run's priority classes (Llumnix §4.4): the trace's `priority` column, or with
 * `--high-priority-fraction F` each request high with probability F (seeded by `--seed`, the draws
 * counted by `count`); undefined with neither.
 * @throws InputError for a bad `priority` value (file, line, column), or both a column and the flag.
 */
function priorities(r: RunOptions, trace: Trace, count: (f: () => number) => () => number): Uint8Array | undefined {
  const column = tracePriorities(trace);
  const f = r['high-priority-fraction'];
  if (f === undefined) return column;
  if (column) throw new InputError(`the trace has a '${PRIORITY_COLUMN}' column: give priorities one way, not both`, { field: '--high-priority-fraction' });
  return randomPriorities(trace.n, f, count(seedrandom.alea(`${r.seed}:priority`)));
}

/**
 * The decode pool of a disaggregated run (docs/disaggregation.md): `D` replicas on `--decode-gpu`
 * with `--decode-tp` (default the prefill pool's), each with a fresh `--decode-policy` (default
 * `--policy`; no `--policy-opt`, the predictor shared) behind `--decode-router` (default
 * `--router`), and the KV link. A transfer moves the KV of the prompt; each GPU link carries
 * `tokens × kvBytesPerToken(model, min(prefill tp, decode tp))` bytes: the side with fewer GPUs
 * holds the larger shards, and its links set the pace.
 */
function buildDecodePool(r: RunOptions, P: number, D: number, predictor: Predictor | undefined, log?: (message: string) => void): NonNullable<ResolvedRun['disaggregation']> {
  const dr = decodeSide(r);
  const hw = buildHardware(dr, log);
  const entry = policyEntry(r['decode-policy'] ?? r.policy);
  const opts = r['decode-policy'] === undefined ? parseKeyValues(r['policy-opt'], '--policy-opt') : {};
  const decodePolicy = Array.from({ length: D }, () => entry.create(opts, entry.predictor === 'none' ? undefined : predictor));
  const makeRouter = routerEntry(r['decode-router'] ?? r.router).create(r['decode-router'] === undefined ? parseKeyValues(r['router-opt'], '--router-opt') : {});
  const decodeRouter = (replicas: readonly ReplicaLoad[], requests: RequestTable) => makeRouter({ replicas, requests, random: seedrandom.alea(`${r.seed}:decode-router`), cost: hw.cost, predictor });
  const link = getLink(r.link ?? DEFAULT_LINK, resolveGpu(r.gpu), r['link-bandwidth'], r['link-latency']);
  const perToken = kvBytesPerToken(resolveModel(r.model), Math.min(r.tp, dr.tp));
  return {
    prefill: P,
    decode: D,
    decodePolicy,
    decodeEngine: hw.engine,
    decodeCost: hw.cost,
    decodeRouter,
    link,
    transferBytes: (tokens) => tokens * perToken,
    transferSeconds: (bytes) => transferSeconds(link, bytes),
  };
}

/** Default link for live migration: Llumnix's testbed network (§6.1), 64 Gb/s. */
export const DEFAULT_MIGRATION_LINK = 'ethernet-64g';

/**
 * Checks the migration options: `--migration on` needs several replicas and no pipeline
 * parallelism; `--migration-opt` and `--link` only apply with it; the options must read.
 * @throws InputError naming the option.
 */
function checkMigration(r: RunOptions): void {
  if (r.migration !== 'on') {
    if (r['migration-opt'] !== undefined) throw new InputError('applies with --migration on', { field: '--migration-opt' });
    if (r['prefill-replicas'] === undefined) {
      for (const k of LINK_KEYS) if (r[k] !== undefined) throw new InputError('applies to a disaggregated run (--prefill-replicas, --decode-replicas) or with --migration on', { field: `--${k}` });
    }
    return;
  }
  if (r['prefill-replicas'] !== undefined) throw new InputError('live migration between the replicas of a disaggregated run is not modelled', { field: '--migration' });
  if (r.replicas < 2) throw new InputError('live migration needs --replicas 2 or more', { field: '--migration' });
  if (r.pp > 1) throw new InputError('live migration is not modelled with pipeline parallelism (--pp above 1)', { field: '--migration' });
  readLlumnixSettings(parseKeyValues(r['migration-opt'], '--migration-opt'));
  getLink(r.link ?? DEFAULT_MIGRATION_LINK, resolveGpu(r.gpu), r['link-bandwidth'], r['link-latency']);
}

/**
 * Checks the auto-scaling options: `--autoscale on` needs 2 or more `--replicas` (the most
 * instances), colocated, no pipeline parallelism, and a router that keeps no per-replica state;
 * `--autoscale-opt` applies only with it.
 */
function checkAutoscale(r: RunOptions): void {
  if (r.autoscale !== 'on') {
    if (r['autoscale-opt'] !== undefined) throw new InputError('applies with --autoscale on', { field: '--autoscale-opt' });
    return;
  }
  if (r['prefill-replicas'] !== undefined) throw new InputError('auto-scaling a disaggregated run is not modelled', { field: '--autoscale' });
  if (r.replicas < 2) throw new InputError('auto-scaling needs --replicas 2 or more (the most instances)', { field: '--autoscale' });
  if (r.pp > 1) throw new InputError('auto-scaling is not modelled with pipeline parallelism (--pp above 1)', { field: '--autoscale' });
  if (routerEntry(r.router).fixedReplicas) throw new InputError(`router ${r.router} keeps state per replica and needs a fixed set of replicas: not with --autoscale on`, { field: '--router' });
  scalingSettings(r);
}

/**
 * Default start-up delay of a new instance (s): its weights (per GPU) over the GPU's PCIe link, the
 * time to load them from host memory; a lower bound (no process start, no CUDA graph capture).
 */
export function defaultStartupSeconds(r: RunOptions): number {
  return weightBytes(resolveModel(r.model), r.tp) / resolveGpu(r.gpu).pcieBandwidth;
}

/** The auto-scaling settings of `r` (`--autoscale-opt` over Llumnix's defaults; max = `--replicas`). */
function scalingSettings(r: RunOptions): ScalingConfig {
  return readScalingSettings(parseKeyValues(r['autoscale-opt'], '--autoscale-opt'), r.replicas, defaultStartupSeconds(r));
}

/**
 * Llumnix's migration for a run with `--migration on` (policies/llumnix.ts), copying KV over
 * `--link`: a block of `blockBytes` bytes per GPU (each GPU of a tensor-parallel replica sends its
 * own shard); undefined when off.
 */
function buildMigration(r: RunOptions, blockBytes: number): ResolvedRun['migration'] {
  if (r.migration !== 'on') return undefined;
  const s = readLlumnixSettings(parseKeyValues(r['migration-opt'], '--migration-opt'));
  const link = getLink(r.link ?? DEFAULT_MIGRATION_LINK, resolveGpu(r.gpu), r['link-bandwidth'], r['link-latency']);
  return { rescheduler: llumnixRescheduler(s), config: migrationConfig(s, (blocks) => transferSeconds(link, blocks * blockBytes)) };
}

/**
 * A run's cost model and engine settings: token budget, KV capacity (from the GPU's memory, or
 * `--kv-tokens`), swap space, and the cost model ({@link chooseCostModel}: a measured profile, the
 * analytical model with fitted or original constants, or the linear model). With `--pp` above
 * 1 (vLLM v0's pipeline parallelism, docs/engine.md): the stage pricing, and the settings of each
 * of a replica's pp virtual engines, which hold ⌊blocks / pp⌋ of the replica's KV blocks (the
 * fewest any stage's GPUs hold) and of its swap blocks, each with its own watermark (vLLM's
 * `num_gpu_blocks //= pipeline_parallel_size` per scheduler).
 * @throws InputError for a model that does not fit the GPU, a bad tp or pp, a KV capacity below one
 *   block (per virtual engine), a bad cost model or profile.
 */
function buildHardware(r: RunOptions, log?: (message: string) => void): Pick<ResolvedRun, 'cost' | 'costDescription' | 'pipeline' | 'engine' | 'kvTokens' | 'unlimitedKv'> {
  const model = resolveModel(r.model);
  const gpu = resolveGpu(r.gpu);
  const chunked = r['chunked-prefill'];
  const maxNumSeqs = r['max-num-seqs'];
  const maxModelLen = checkMaxModelLen(r['max-model-len'], model);
  const budget = r['max-num-batched-tokens'] ?? (chunked ? Math.max(CHUNKED_TOKEN_BUDGET, maxNumSeqs) : Math.max(2048, maxModelLen, maxNumSeqs));
  const blockSize = r['block-size'];
  const pp = r.pp;
  const layers = stageLayers(model.layers, pp);
  // A KV block's bytes on one GPU: the stage with the most layers holds the largest share (swap cost).
  const perToken = pp === 1 ? kvBytesPerToken(model, r.tp) : kvBytesPerToken(model, r.tp, Math.max(...layers));
  const unlimitedKv = r['kv-tokens'] === 'unlimited';
  let kvBlocks: number;
  if (unlimitedKv) kvBlocks = UNLIMITED_BLOCKS;
  else if (typeof r['kv-tokens'] === 'number') kvBlocks = Math.floor(Math.floor(r['kv-tokens'] / blockSize) / pp);
  else {
    kvBlocks = Math.floor(kvCapacity({ model, gpu, tp: r.tp, pp, gpuMemoryUtilization: r['gpu-memory-utilization'], blockSize, maxNumBatchedTokens: budget, maxNumSeqs }).blocks / pp);
  }
  if (kvBlocks < 1) {
    if (typeof r['kv-tokens'] === 'number') throw new InputError(`${r['kv-tokens']} tokens is less than one block of ${blockSize}${pp > 1 ? ` for each of ${pp} pipeline stages' schedulers` : ''}`, { field: '--kv-tokens' });
    throw new InputError(`the KV cache holds fewer than ${pp} blocks of ${blockSize} tokens: not one for each pipeline stage's scheduler`, { field: '--pp' });
  }
  const blockBytes = perToken * blockSize;
  const { cost, description: costDescription } = chooseCostModel(parseCostModelSpec(r['cost-model']), r.profile, model, gpu, r.tp, log);
  const engine: EngineConfig = {
    maxNumSeqs,
    maxNumBatchedTokens: budget,
    blockSize,
    kvBlocks,
    watermarkBlocks: unlimitedKv ? 0 : Math.floor(0.01 * kvBlocks),
    chunkedPrefill: chunked,
    preemption: r.preemption as 'recompute' | 'swap',
    swapBlocks: Math.floor(swapBlocks(model, r.tp, r['swap-space'], blockSize, pp) / pp),
    blockBytes,
    maxModelLen,
    pcieBandwidth: gpu.pcieBandwidth,
    prefixCaching: r['prefix-caching'] === 'on',
    skipAhead: true,
    work: workCoefficients(model),
  };
  const pipeline = pp > 1 ? pipelineCost(cost, model, gpu, pp) : undefined;
  return { cost, costDescription, pipeline, engine, kvTokens: kvBlocks * pp * blockSize, unlimitedKv };
}

/**
 * A run's longest request, prompt + output tokens: `--max-model-len`, or the model's context
 * length (`maxContext`, its config.json `max_position_embeddings`) when not given.
 * @throws InputError (field `--max-model-len`) for a value above the model's context: vLLM refuses
 *   a `max_model_len` beyond `max_position_embeddings` too (unless overridden, which is not modelled).
 */
export function checkMaxModelLen(given: number | undefined, model: ModelSpec): number {
  if (given === undefined) return model.maxContext;
  if (given > model.maxContext) {
    throw new InputError(`${given} exceeds the ${model.maxContext}-token context of ${model.name} (max_position_embeddings; vLLM refuses this too)`, {
      field: '--max-model-len',
    });
  }
  return given;
}

/** Hardware settings already checked in this process (a sweep checks thousands of tasks that share a few). */
const checkedHardware = new Set<string>();

/** Checks a run's hardware settings once per distinct combination ({@link buildHardware}). */
function checkHardware(r: RunOptions): void {
  const keys = ['model', 'gpu', 'tp', 'pp', 'cost-model', 'profile', 'max-num-seqs', 'max-num-batched-tokens', 'max-model-len', 'block-size', 'gpu-memory-utilization', 'kv-tokens', 'chunked-prefill', 'swap-space'] as const;
  const key = JSON.stringify(keys.map((k) => r[k] ?? null));
  if (checkedHardware.has(key)) return;
  buildHardware(r, () => {});
  if (checkedHardware.size >= 10_000) checkedHardware.clear(); // bounded: a cache, not a record
  checkedHardware.add(key);
}
