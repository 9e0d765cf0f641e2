/**
 * Run configuration: the options of `sim run` as one typed object (what `config.json` holds), and
 * their resolution into a trace, a policy, a cost model and engine settings.
 */
import path from 'node:path';
import type { Trace } from '../traces/trace.ts';
import { readTrace, transformTrace, syntheticTrace } from '../traces/index.ts';
import seedrandom from 'seedrandom';
import type { Policy } from '../policies/policy.ts';
import { getPolicy } from '../policies/index.ts';
import type { Predictor } from '../policies/predictor.ts';
import { getPredictor } from '../policies/predictors/index.ts';
import type { CostModel } from './cost/cost-model.ts';
import { AnalyticalCostModel, LinearCostModel, parseCostModelSpec, getModel, getGpu, kvCapacity, kvBytesPerToken } from './cost/index.ts';
import type { EngineConfig } from './engine.ts';
import { loadProfileCostModel } from '../calibrate/profile.ts';
import type { Slo } from './metrics.ts';
import { InputError, checkChoice } from './errors.ts';
import { getRouter, DEFAULT_ROUTER } from '../policies/routers.ts';
import type { ReplicaLoad, Router } from '../policies/routers.ts';
import type { RequestTable } from './requests.ts';

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
  /** Trace transforms (docs/traces.md). */
  'rate-scale'?: number;
  limit?: number;
  start?: number;
  duration?: number;
  /** Model and GPU (`sim models`, `sim gpus`) and tensor parallelism. */
  model: string;
  gpu: string;
  tp: number;
  /** `analytical` or `linear:base=B,prefill=P,decode=D,kv=K`. */
  'cost-model': string;
  /** Measured operator profile (JSON) that prices iterations instead of the analytical model. */
  profile?: string;
  'max-num-seqs': number;
  /** Token budget per iteration; default 512 with chunked prefill, else max(2048, model context). */
  'max-num-batched-tokens'?: number;
  'block-size': number;
  'gpu-memory-utilization': number;
  /** KV-cache capacity override: a token count or `unlimited`. */
  'kv-tokens'?: string | number;
  'chunked-prefill': boolean;
  preemption: string;
  /** CPU swap space per GPU, GiB. */
  'swap-space': number;
  'slo-ttft'?: number;
  'slo-tpot'?: number;
  /** Seed of every random generator of the run. */
  seed: number;
  /** Identical replicas behind a router (each with its own KV cache and policy instance). */
  replicas: number;
  /** Router (`sim routers`); used with more than one replica. */
  router: string;
  /** Router options `key=value`. */
  'router-opt'?: string[];
}

/** Defaults of the options that have one (vLLM's where vLLM has one: shared/docs/policies.md §1). */
export const DEFAULTS = {
  policy: 'fcfs',
  model: 'llama-2-7b',
  gpu: 'a100-80gb',
  tp: 1,
  'cost-model': 'analytical',
  'max-num-seqs': 256,
  'block-size': 16,
  'gpu-memory-utilization': 0.9,
  'chunked-prefill': false,
  preemption: 'recompute',
  'swap-space': 4,
  seed: 1,
  replicas: 1,
  router: DEFAULT_ROUTER,
} as const;

/** Default token budget with chunked prefill (Sarathi-Serve's strict-SLO budget, vLLM 0.4 default). */
export const CHUNKED_TOKEN_BUDGET = 512;

/** A run ready to simulate. */
export interface ResolvedRun {
  trace: Trace;
  /** One fresh policy instance per replica. */
  policies: Policy[];
  /** Builds the run's router (several replicas), seeded from `--seed`. */
  router: (replicas: readonly ReplicaLoad[], requests: RequestTable) => Router;
  /** The policy's predictor (attached to the trace), if it uses one. */
  predictor: Predictor | undefined;
  cost: CostModel;
  engine: EngineConfig;
  /** KV capacity in tokens (Infinity-like when unlimited) and whether it is unlimited. */
  kvTokens: number;
  unlimitedKv: boolean;
  slo: Slo;
}

/** Blocks standing for an unlimited KV cache (fits every request; keeps integer arithmetic exact). */
export const UNLIMITED_BLOCKS = 2 ** 40;

function positiveInt(x: unknown, field: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) throw new InputError(`must be a positive integer (got ${String(x)})`, { field });
  return x;
}

function positive(x: unknown, field: string, allowZero = false): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || (!allowZero && x === 0)) {
    throw new InputError(`must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${String(x)})`, { field });
  }
  return x;
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
 * @throws InputError naming the option for a bad value or an impossible combination.
 */
export function normalizeOptions(o: Partial<RunOptions>): RunOptions {
  const r = { ...DEFAULTS, ...stripUndefined(o) } as RunOptions;
  if (!r.trace && !r.synthetic) throw new InputError('give --trace FILE or --synthetic poisson|gamma', { field: '--trace' });
  if (r.trace && r.synthetic) throw new InputError('--trace and --synthetic are exclusive', { field: '--synthetic' });
  if (r.trace) r.trace = path.resolve(r.trace);
  if (r['lengths-from']) r['lengths-from'] = path.resolve(r['lengths-from']);
  if (r.profile) r.profile = path.resolve(r.profile);
  if (r.profile && r['cost-model'] !== DEFAULTS['cost-model']) throw new InputError('--profile and --cost-model are exclusive', { field: '--profile' });
  positiveInt(r.tp, '--tp');
  positiveInt(r.replicas, '--replicas');
  getRouter(r.router);
  positiveInt(r['max-num-seqs'], '--max-num-seqs');
  positiveInt(r['block-size'], '--block-size');
  if (r['max-num-batched-tokens'] !== undefined) {
    positiveInt(r['max-num-batched-tokens'], '--max-num-batched-tokens');
    if (r['max-num-batched-tokens'] < r['max-num-seqs']) {
      throw new InputError(
        `${r['max-num-batched-tokens']} is below --max-num-seqs ${r['max-num-seqs']}: a full batch of decodes would not fit (vLLM rejects this too)`,
        { field: '--max-num-batched-tokens' },
      );
    }
  }
  const util = r['gpu-memory-utilization'];
  if (typeof util !== 'number' || !(util > 0 && util <= 1)) throw new InputError(`must be in (0, 1] (got ${String(util)})`, { field: '--gpu-memory-utilization' });
  positive(r['swap-space'], '--swap-space', true);
  checkChoice('preemption', r.preemption, ['recompute', 'swap']);
  if (r['kv-tokens'] !== undefined && r['kv-tokens'] !== 'unlimited') {
    const k = typeof r['kv-tokens'] === 'number' ? r['kv-tokens'] : Number(r['kv-tokens']);
    positiveInt(k, '--kv-tokens');
    r['kv-tokens'] = k;
  }
  if (r['slo-ttft'] !== undefined) positive(r['slo-ttft'], '--slo-ttft');
  if (r['slo-tpot'] !== undefined) positive(r['slo-tpot'], '--slo-tpot');
  if (!Number.isInteger(r.seed)) throw new InputError(`must be an integer (got ${String(r.seed)})`, { field: '--seed' });
  const entry = getPolicy(r.policy);
  if (r.predictor !== undefined) getPredictor(r.predictor);
  if (entry.predictor === 'required' && r.predictor === undefined) {
    throw new InputError(`policy ${r.policy} needs a length predictor: give --predictor NAME (sim predictors)`, { field: '--predictor' });
  }
  if (entry.predictor === 'none' && (r.predictor !== undefined || r['predictor-opt'] !== undefined)) {
    throw new InputError(`policy ${r.policy} uses no predictor`, { field: '--predictor' });
  }
  getModel(r.model);
  getGpu(r.gpu);
  parseCostModelSpec(r['cost-model']);
  return r;
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
    const arrival = checkChoice('synthetic arrival process', r.synthetic, ['poisson', 'gamma']);
    const lengthsFrom = r['lengths-from'] ? await readTrace(r['lengths-from']) : undefined;
    trace = syntheticTrace({
      arrival,
      rate: positive(r.rate ?? 1, '--rate'),
      cv: r.cv,
      n: positiveInt(r['num-requests'] ?? 1000, '--num-requests'),
      prompt: r.prompt,
      output: r.output,
      lengths_from: lengthsFrom,
      seed: r.seed,
    });
  } else {
    const format = r.format === undefined ? undefined : checkChoice('format', r.format, ['azure', 'burstgpt', 'mooncake', 'generic']);
    trace = await readTrace(r.trace!, { format });
  }
  const x = { start_s: r.start, duration_s: r.duration, limit: r.limit, rate_scale: r['rate-scale'], rate: r.synthetic ? undefined : r.rate };
  if (Object.values(x).some((v) => v !== undefined)) trace = transformTrace(trace, x);
  return trace;
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
 * @throws InputError for a model that does not fit the GPU or a bad policy option.
 */
export function buildRun(r: RunOptions, trace: Trace, log?: (message: string) => void): ResolvedRun {
  const model = getModel(r.model);
  const gpu = getGpu(r.gpu);
  const chunked = r['chunked-prefill'];
  const maxNumSeqs = r['max-num-seqs'];
  const budget = r['max-num-batched-tokens'] ?? (chunked ? Math.max(CHUNKED_TOKEN_BUDGET, maxNumSeqs) : Math.max(2048, model.maxContext, maxNumSeqs));
  const blockSize = r['block-size'];
  const perToken = kvBytesPerToken(model, r.tp);
  const unlimitedKv = r['kv-tokens'] === 'unlimited';
  let kvBlocks: number;
  if (unlimitedKv) kvBlocks = UNLIMITED_BLOCKS;
  else if (typeof r['kv-tokens'] === 'number') kvBlocks = Math.floor(r['kv-tokens'] / blockSize);
  else {
    kvBlocks = kvCapacity({ model, gpu, tp: r.tp, gpuMemoryUtilization: r['gpu-memory-utilization'], blockSize, maxNumBatchedTokens: budget, maxNumSeqs }).blocks;
  }
  if (kvBlocks < 1) throw new InputError(`${r['kv-tokens']} tokens is less than one block of ${blockSize}`, { field: '--kv-tokens' });
  const blockBytes = perToken * blockSize;
  const spec = parseCostModelSpec(r['cost-model']);
  const cost: CostModel =
    r.profile !== undefined
      ? loadProfileCostModel(r.profile, model, gpu, r.tp, log ? { log } : {})
      : spec.kind === 'linear'
        ? new LinearCostModel(spec)
        : new AnalyticalCostModel({ model, gpu, tp: r.tp });
  const entry = getPolicy(r.policy);
  const predictorName = entry.predictor === 'none' ? undefined : (r.predictor ?? entry.defaultPredictor);
  let predictor: Predictor | undefined;
  if (predictorName !== undefined) {
    predictor = getPredictor(predictorName).create(parseKeyValues(r['predictor-opt'], '--predictor-opt'));
    predictor.attach(trace, seedrandom.alea(`${r.seed}:predictor`));
  }
  const policyOpts = parseKeyValues(r['policy-opt'], '--policy-opt');
  const policies = Array.from({ length: r.replicas }, () => entry.create(policyOpts, predictor));
  const makeRouter = getRouter(r.router).create(parseKeyValues(r['router-opt'], '--router-opt'));
  const router = (replicas: readonly ReplicaLoad[], requests: RequestTable) => makeRouter({ replicas, requests, random: seedrandom.alea(`${r.seed}:router`) });
  const engine: EngineConfig = {
    maxNumSeqs,
    maxNumBatchedTokens: budget,
    blockSize,
    kvBlocks,
    watermarkBlocks: unlimitedKv ? 0 : Math.floor(0.01 * kvBlocks),
    chunkedPrefill: chunked,
    preemption: r.preemption as 'recompute' | 'swap',
    swapBlocks: Math.floor((r['swap-space'] * 2 ** 30) / blockBytes),
    blockBytes,
    pcieBandwidth: gpu.pcieBandwidth,
    skipAhead: true,
  };
  return { trace, policies, router, predictor, cost, engine, kvTokens: kvBlocks * blockSize, unlimitedKv, slo: { ttft_s: r['slo-ttft'], tpot_s: r['slo-tpot'] } };
}
