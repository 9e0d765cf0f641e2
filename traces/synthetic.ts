/**
 * Seeded synthetic traces: Poisson or Gamma arrivals, lengths from DIST specs or resampled from a
 * real trace.
 */
import { randomExponential, randomGamma, randomInt } from 'd3-random';
import seedrandom from 'seedrandom';
import { checkChoice, InputError } from '../sim/errors.ts';
import { parseLengthDistribution } from './distributions.ts';
import { MAX_SPAN_S, MAX_SPAN_TEXT, MAX_TOKENS, showSeconds } from './fields.ts';
import type { Trace, TracePrefix } from '../sim/trace.ts';

/** Default prompt-length DIST: log-normal with mean about 1,100 tokens (near Azure conv's 1,155). */
export const DEFAULT_PROMPT_DIST = 'lognormal:6.6,0.9';
/** Default output-length DIST: log-normal with mean about 220 tokens (near Azure conv's 211). */
export const DEFAULT_OUTPUT_DIST = 'lognormal:4.9,1';
/** Default coefficient of variation of Gamma inter-arrival gaps. */
export const DEFAULT_GAMMA_CV = 2;

/** Most requests {@link syntheticTrace} generates (they are held in memory): 1e8. */
export const MAX_SYNTHETIC_REQUESTS = 1e8;
/** Largest rate, requests per second: 1e9. */
export const MAX_SYNTHETIC_RATE = 1e9;
/** Largest Gamma coefficient of variation: 1000 (shape 1e-6). */
export const MAX_GAMMA_CV = 1000;
/** Most shared prompts `--shared-prefix` may name: 1e6. */
export const MAX_SHARED_PREFIXES = 1e6;
/** Longest shared prompt, tokens: 2^20 (a prompt stays far below 2^31 with any DIST's draw). */
export const MAX_SHARED_PREFIX_TOKENS = 2 ** 20;

/**
 * Parses `--shared-prefix COUNT:TOKENS`: integers, COUNT in 1 ..= 1e6, TOKENS in 1 ..= 2^20.
 * @throws InputError (field `--shared-prefix`) otherwise
 */
export function parseSharedPrefix(spec: string): { count: number; tokens: number } {
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(spec);
  const count = m ? Number(m[1]) : NaN;
  const tokens = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1 && count <= MAX_SHARED_PREFIXES) || !(tokens >= 1 && tokens <= MAX_SHARED_PREFIX_TOKENS)) {
    throw new InputError(
      `must be COUNT:TOKENS with COUNT an integer in 1..${MAX_SHARED_PREFIXES} (shared prompts) and TOKENS in 1..${MAX_SHARED_PREFIX_TOKENS} (tokens each), got ${JSON.stringify(spec)}`,
      { field: '--shared-prefix' },
    );
  }
  return { count, tokens };
}

/** What {@link syntheticTrace} generates. */
export interface SyntheticSpec {
  /** Arrival process: `poisson` (exponential gaps) or `gamma` (Gamma gaps with CV `cv`). */
  arrival: 'poisson' | 'gamma';
  /** Mean arrival rate, requests per second (> 0). */
  rate: number;
  /** Gamma inter-arrival coefficient of variation (> 0), default 2; only for `gamma`. */
  cv?: number;
  /** Number of requests (positive integer). */
  n: number;
  /** Prompt-length DIST (see parseLengthDistribution), default {@link DEFAULT_PROMPT_DIST}. */
  prompt?: string;
  /** Output-length DIST, default {@link DEFAULT_OUTPUT_DIST}. */
  output?: string;
  /** Resample (prompt, output) pairs from this trace, with replacement (instead of prompt/output). */
  lengths_from?: Trace;
  /**
   * Shared system prompts `COUNT:TOKENS` (`--shared-prefix`): each request's prompt begins with
   * one of COUNT prompts of TOKENS tokens each, drawn uniformly (prefix id 0 .. COUNT − 1), and its
   * prompt length becomes TOKENS + the drawn length.
   */
  shared_prefix?: string;
  /** Seed: the same spec and seed give the identical trace. */
  seed: number | string;
}

/**
 * Generates a seeded synthetic trace of `n` requests. The first arrival is at 0; the n − 1 gaps are
 * exponential with mean 1/rate (`poisson`), or Gamma with shape k = 1/cv² and scale 1/(rate·k)
 * (`gamma`: mean gap 1/rate, coefficient of variation cv). Prompt and output lengths are drawn
 * independently from their DISTs, or as (prompt, output) pairs drawn uniformly with replacement from
 * `lengths_from`.
 *
 * Randomness: seedrandom's Alea generator as the uniform source, with d3-random's generators on
 * top. Independent streams are seeded `SEED:arrival`, `SEED:prompt`, `SEED:output`,
 * `SEED:pairs` and `SEED:prefix` (the shared prompt of each request), so changing the length spec
 * does not change the arrivals, and adding `shared_prefix` changes neither.
 * With `shared_prefix` COUNT:TOKENS, request i's prompt is TOKENS + its drawn length (at most
 * 2^31 − 1), and its one
 * prefix segment is (the drawn prompt's id, TOKENS).
 *
 * @returns a Trace with format 'synthetic', `source` describing the spec, arrivals in seconds
 * @throws InputError (fields `--arrival`, `--rate`, `--cv`, `--n`, `--prompt`, `--output`,
 *   `--lengths-from`) for an unknown arrival process, a non-positive or non-finite rate or cv, a
 *   rate above 1e9 req/s, a cv above 1000, n not an integer in [1, 1e8], a bad DIST,
 *   `lengths_from` together with prompt/output, an empty `lengths_from` trace, a bad
 *   `shared_prefix` (field `--shared-prefix`, see {@link parseSharedPrefix}), or arrivals that
 *   would span more than 1e9 s (a rate too low for n requests; field `--rate`)
 */
export function syntheticTrace(spec: SyntheticSpec): Trace {
  const arrival = checkChoice('--arrival', spec.arrival, ['poisson', 'gamma'] as const);
  const { rate, n } = spec;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
    throw new InputError(`must be a positive finite number of requests/s, got ${String(rate)}`, { field: '--rate' });
  }
  if (rate > MAX_SYNTHETIC_RATE) throw new InputError(`must be at most ${MAX_SYNTHETIC_RATE} requests/s, got ${rate}`, { field: '--rate' });
  if (!Number.isInteger(n) || n < 1) throw new InputError(`must be a positive integer, got ${String(n)}`, { field: '--n' });
  if (n > MAX_SYNTHETIC_REQUESTS) {
    throw new InputError(`must be at most ${MAX_SYNTHETIC_REQUESTS} (synthetic requests are held in memory), got ${n}`, { field: '--n' });
  }
  const cv = spec.cv ?? DEFAULT_GAMMA_CV;
  if (typeof cv !== 'number' || !Number.isFinite(cv) || cv <= 0) {
    throw new InputError(`must be a positive finite number, got ${String(cv)}`, { field: '--cv' });
  }
  if (cv > MAX_GAMMA_CV) throw new InputError(`must be at most ${MAX_GAMMA_CV} (Gamma shape 1/cv² = 1e-6), got ${cv}`, { field: '--cv' });
  const from = spec.lengths_from;
  if (from !== undefined && (spec.prompt !== undefined || spec.output !== undefined)) {
    throw new InputError('give either --lengths-from or --prompt/--output, not both', { field: '--lengths-from' });
  }
  if (from !== undefined && from.n < 1) {
    throw new InputError(`trace ${from.source} has no requests to resample`, { field: '--lengths-from' });
  }
  const shared = spec.shared_prefix === undefined ? undefined : parseSharedPrefix(spec.shared_prefix);
  const seed = String(spec.seed);
  const stream = (name: string) => seedrandom.alea(`${seed}:${name}`);

  // Arrivals.
  const arrival_s = new Float64Array(n);
  const gap =
    arrival === 'poisson'
      ? randomExponential.source(stream('arrival'))(rate)
      : (() => {
          const k = 1 / (cv * cv);
          return randomGamma.source(stream('arrival'))(k, 1 / (rate * k));
        })();
  for (let i = 1; i < n; i++) arrival_s[i] = arrival_s[i - 1] + gap();
  const last = arrival_s[n - 1];
  if (!(last <= MAX_SPAN_S)) {
    throw new InputError(
      `${rate} requests/s for ${n} requests gives arrivals up to ${Number.isNaN(last) ? 'a time that is not a number (a Gamma scale that overflows)' : `${showSeconds(last)} s`}, beyond the limit of ${MAX_SPAN_TEXT}; raise the rate or generate fewer requests`,
      { field: '--rate' },
    );
  }

  // Lengths.
  const prompt_tokens = new Int32Array(n);
  const output_tokens = new Int32Array(n);
  let lengths: string;
  if (from !== undefined) {
    const pick = randomInt.source(stream('pairs'))(0, from.n);
    for (let i = 0; i < n; i++) {
      const j = pick();
      prompt_tokens[i] = from.prompt_tokens[j];
      output_tokens[i] = from.output_tokens[j];
    }
    lengths = `lengths_from=${from.source}`;
  } else {
    const pSpec = spec.prompt ?? DEFAULT_PROMPT_DIST;
    const oSpec = spec.output ?? DEFAULT_OUTPUT_DIST;
    const p = parseLengthDistribution(pSpec, '--prompt');
    const o = parseLengthDistribution(oSpec, '--output');
    const pr = stream('prompt');
    const or = stream('output');
    for (let i = 0; i < n; i++) {
      prompt_tokens[i] = p(pr);
      output_tokens[i] = o(or);
    }
    lengths = `prompt=${pSpec} output=${oSpec}`;
  }

  let prefix: TracePrefix | undefined;
  if (shared !== undefined) {
    const pick = randomInt.source(stream('prefix'))(0, shared.count);
    prefix = { start: new Int32Array(n + 1), id: new Int32Array(n), tokens: new Int32Array(n).fill(shared.tokens) };
    for (let i = 0; i < n; i++) {
      prefix.start[i + 1] = i + 1;
      prefix.id[i] = pick();
      prompt_tokens[i] = Math.min(MAX_TOKENS, prompt_tokens[i] + shared.tokens);
    }
    lengths += ` shared_prefix=${shared.count}:${shared.tokens}`;
  }

  const proc = arrival === 'gamma' ? `gamma(rate=${rate},cv=${cv})` : `poisson(rate=${rate})`;
  return {
    source: `synthetic:${proc} n=${n} ${lengths} seed=${seed}`,
    format: 'synthetic',
    n,
    arrival_s,
    prompt_tokens,
    output_tokens,
    extra: {},
    ...(prefix !== undefined ? { prefix } : {}),
    skipped: {},
    warnings: [],
  };
}
