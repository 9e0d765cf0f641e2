/**
 * Seeded program-workload generators (`sim generate`): chatbot, multi-turn chat, ReAct chains,
 * map-reduce fan-out, LATS-like tree search and coding-agent chains. Defaults and their sources
 * are in docs/programs.md ("Generators").
 */
import { randomExponential } from 'd3-random';
import seedrandom from 'seedrandom';
import { checkChoice, InputError } from '../sim/errors.ts';
import { showValue } from '../sim/values.ts';
import { parseLengthDistribution, type LengthSampler, type UniformSource } from './distributions.ts';
import { MAX_SPAN_S, MAX_SPAN_TEXT, MAX_TOKENS } from './fields.ts';
import { buildProgramTrace, type ProgramCall } from './programs.ts';
import type { Trace } from '../sim/trace.ts';

/** The workload kinds. */
export type ProgramKind = 'chatbot' | 'multi-turn' | 'react' | 'map-reduce' | 'tree-search' | 'coding-agent';

/** All kinds, for `--kind`. */
export const PROGRAM_KINDS: readonly ProgramKind[] = [
  'chatbot',
  'multi-turn',
  'react',
  'map-reduce',
  'tree-search',
  'coding-agent',
];

/**
 * A log-normal DIST (see parseLengthDistribution) with the given mean (tokens) and σ of ln(tokens):
 * μ = ln(mean) − σ²/2, written with 6 decimals.
 */
export function lognormalWithMean(mean: number, sigma: number): string {
  return `lognormal:${(Math.log(mean) - (sigma * sigma) / 2).toFixed(6)},${sigma}`;
}

/** What {@link generatePrograms} generates; unset fields take the kind's defaults ({@link KIND_DEFAULTS}). */
export interface GeneratorSpec {
  kind: ProgramKind;
  /** Number of programs (positive integer). */
  programs: number;
  /** Program arrival rate, programs per second (Poisson process; > 0). */
  rate: number;
  /** Seed: the same spec and seed give the identical workload. */
  seed: number | string;
  /** Calls per program, DIST (multi-turn, react, coding-agent). */
  calls?: string;
  /** Upper bound on calls per program (multi-turn, react, coding-agent). */
  max_calls?: number;
  /** Prompt tokens, DIST: of every call (chatbot, map calls) or of the first call (multi-turn, coding-agent, react, the tree-search root). */
  prompt?: string;
  /** Output tokens of every call, DIST. */
  output?: string;
  /** Tokens added to the context per later call (multi-turn: user turn; coding-agent: tool results and messages; react: the observation and next step; tree-search: a child's new tokens; map-reduce: the reduce instruction), DIST. */
  append?: string;
  /** Mean think/tool delay between a call and its child, seconds (exponential; 0 = none). */
  delay_s?: number;
  /** Map calls per program, DIST (map-reduce). */
  width?: string;
  /** Children per expanded node (tree-search; integer >= 1). */
  branching?: number;
  /** Tree depth below the root (tree-search; integer >= 0). */
  depth?: number;
  /** Probability that a node above the last level is expanded (tree-search; 0..1). */
  expand_p?: number;
  /**
   * Context length of the model the workload is for, tokens (integer >= 2): every call's
   * prompt + output is at most this (see {@link generatePrograms}). Default
   * {@link DEFAULT_MAX_CONTEXT} (Llama-2's, the default `--model` llama-2-7b); coding-agent
   * {@link LONG_MAX_CONTEXT}.
   */
  max_context?: number;
}

/** Default `--max-context` of `sim generate`: 4096 tokens, the context of Llama-2 (`sim run`'s default model llama-2-7b). */
export const DEFAULT_MAX_CONTEXT = 4096;
/**
 * Default `--max-context` of the coding agent: 131072 tokens, a 128k-context model such as
 * llama-3.1-8b (its first prompts average 20,798 tokens, which Llama-2's 4096 cannot hold).
 */
export const LONG_MAX_CONTEXT = 131072;
/** Largest `--max-context`: 2^24 tokens (as `sim run --max-model-len`). */
export const MAX_CONTEXT_LIMIT = 2 ** 24;

/** The kind-specific options of {@link GeneratorSpec}. */
export type KindOption = 'calls' | 'max_calls' | 'prompt' | 'output' | 'append' | 'delay_s' | 'width' | 'branching' | 'depth' | 'expand_p' | 'max_context';

/**
 * Default kind options per kind (which options a kind takes = its keys). Tokens, seconds.
 * Sources (docs/programs.md): Autellix (arXiv 2502.13965) §6 Workloads table for ShareGPT
 * (6.66 calls, max 80; 256 prefill, 277 decode), BFCL (10.75 calls, max 70; 735.06, 34.14) and
 * LATS (159.7 calls; 467.2, 72.6); the TraceLab sample for the coding agent; the rest are ours.
 */
export const KIND_DEFAULTS: Readonly<Record<ProgramKind, Readonly<Partial<Record<KindOption, string | number>>>>> = {
  chatbot: { prompt: lognormalWithMean(256, 1), output: lognormalWithMean(277, 1), max_context: DEFAULT_MAX_CONTEXT },
  'multi-turn': {
    calls: 'geometric:6.66',
    max_calls: 80,
    prompt: lognormalWithMean(256, 1),
    append: lognormalWithMean(256, 1),
    output: lognormalWithMean(277, 1),
    delay_s: 10,
    max_context: LONG_MAX_CONTEXT,
  },
  react: {
    calls: 'geometric:10.75',
    max_calls: 70,
    prompt: lognormalWithMean(735.06, 0.5),
    append: lognormalWithMean(735.06, 0.5),
    output: lognormalWithMean(34.14, 0.5),
    delay_s: 1,
    max_context: LONG_MAX_CONTEXT,
  },
  'map-reduce': {
    width: 'uniform:2,16',
    prompt: lognormalWithMean(1024, 0.5),
    output: lognormalWithMean(256, 0.5),
    append: lognormalWithMean(256, 0.5),
    delay_s: 0,
    max_context: DEFAULT_MAX_CONTEXT,
  },
  'tree-search': {
    branching: 5,
    depth: 3,
    expand_p: 1,
    prompt: lognormalWithMean(467.2, 0.5),
    append: lognormalWithMean(467.2, 0.5),
    output: lognormalWithMean(72.6, 0.5),
    delay_s: 0.5,
    max_context: LONG_MAX_CONTEXT,
  },
  'coding-agent': {
    calls: 'geometric:20',
    max_calls: 200,
    prompt: lognormalWithMean(20798, 0.5),
    append: lognormalWithMean(492, 1),
    output: lognormalWithMean(597, 1),
    delay_s: 7.27,
    max_context: LONG_MAX_CONTEXT,
  },
};

/** Most programs {@link generatePrograms} generates in one workload: 1e7. */
export const MAX_PROGRAMS = 1e7;
/** Most calls of one generated workload (they are held in memory): 1e7. */
export const MAX_GENERATED_CALLS = 1e7;
/** Most calls of one generated program (`--max-calls`, a tree's size): 1e6. */
export const MAX_CALLS_PER_PROGRAM = 1e6;

/** Checks a number option, or throws naming it (and `max`, with why, when it is above). */
function numberOption(v: unknown, field: string, ok: (x: number) => boolean, want: string, max = Infinity, why = ''): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
    throw new InputError(`must be ${want}, got ${showValue(v)}`, { field });
  }
  if (v > max) throw new InputError(`must be at most ${max}${why ? ` (${why})` : ''}, got ${v}`, { field });
  return v;
}

/** The `--option` name of a spec field. */
const flag = (k: string) => `--${k.replace(/_/g, '-')}`;

/**
 * Generates a seeded program workload as calls (program JSONL records). Programs arrive as a
 * Poisson process: the first at 0 s, then exponential gaps with mean 1/rate seconds. Program i is
 * `p<i>`, its calls `c0, c1, ...` in topological order. Shapes (tokens; delays exponential with
 * mean `delay_s` seconds, drawn per non-root call):
 * - chatbot: one call (prompt, output);
 * - multi-turn: a chain of `calls` turns (≤ max_calls); turn 0 prompt = `prompt`, turn k prompt =
 *   turn k−1's prompt + output + `append` (the growing conversation);
 * - react: a chain of `calls` calls, each resending the trajectory: call 0 prompt = `prompt`, call
 *   k prompt = call k−1's prompt + output + `append`;
 * - map-reduce: `width` parallel root map calls, then one reduce call with all of them as parents
 *   whose prompt = the sum of the map outputs + `append`;
 * - tree-search: a root, and every node above depth `depth` expanded with probability `expand_p`
 *   into `branching` children (parallel siblings); root prompt = `prompt`, a child's prompt = its
 *   parent's prompt + output + `append` (it resends its parent's context);
 * - coding-agent: like multi-turn, with `append` for the tool results and messages of each round.
 * A call whose prompt resends its parent's context (multi-turn, coding-agent, react, tree-search)
 * gets `prefix_from` = that parent. Prompts are capped at 2^31 − 1 tokens (a call whose prompt was
 * capped below its parent's prompt + output gets no `prefix_from`).
 *
 * Every call fits `max_context` (prompt + output ≤ max_context, tokens): the output is clamped to
 * max_context − 1, then the prompt to max_context − output (the oldest context is dropped, as a
 * chat client truncates its history; a later call grows from the clamped prompt). Clamping, not
 * resampling, keeps every random stream in step: a workload whose calls all fit is the same as
 * without the cap.
 *
 * Randomness: seedrandom's Alea as the uniform source under d3-random, with independent streams
 * `SEED:arrival`, `SEED:shape`, `SEED:prompt`, `SEED:output`, `SEED:append`, `SEED:delay`.
 *
 * @throws InputError (field = the option, e.g. `--rate`) for an unknown kind, a non-positive-integer
 *   programs count, a non-positive rate, an option the kind does not take, a bad DIST, a negative
 *   delay, max_calls or branching < 1, depth < 0, expand_p outside [0, 1], or a max_context that is
 *   not an integer >= 2; above the limits
 *   (each named in the message): max_context > 2^24, programs > 1e7, rate > 1e9/s, delay > 1e9 s, max_calls > 1e6,
 *   a tree of more than 1e6 calls, more than 1e7 calls in all (`--programs`), or programs
 *   arriving more than 1e9 s apart (a rate too low for the count; `--rate`)
 */
export function generatePrograms(spec: GeneratorSpec): ProgramCall[] {
  const kind = checkChoice('--kind', spec.kind, PROGRAM_KINDS);
  const programs = numberOption(spec.programs, '--programs', (x) => Number.isInteger(x) && x >= 1, 'a positive integer', MAX_PROGRAMS, 'programs are held in memory');
  const rate = numberOption(spec.rate, '--rate', (x) => x > 0, 'a positive finite number of programs/s', 1e9, 'programs per second');
  const defaults = KIND_DEFAULTS[kind];
  const s = spec as unknown as Record<string, unknown>;
  for (const k of ['calls', 'max_calls', 'prompt', 'output', 'append', 'delay_s', 'width', 'branching', 'depth', 'expand_p', 'max_context']) {
    if (s[k] !== undefined && !(k in defaults)) {
      throw new InputError(`kind '${kind}' does not take ${flag(k)}; it takes ${Object.keys(defaults).map(flag).join(', ')}`, {
        field: flag(k),
      });
    }
  }
  const opt = <T extends string | number>(k: KindOption): T => (s[k] ?? defaults[k]) as T;
  const dist = (k: KindOption): LengthSampler => parseLengthDistribution(opt<string>(k), flag(k));
  const seed = String(spec.seed);
  const stream = (name: string): UniformSource => seedrandom.alea(`${seed}:${name}`);
  const arrivalGap = randomExponential.source(stream('arrival'))(rate);
  const shapeRng = stream('shape');
  const promptRng = stream('prompt');
  const outputRng = stream('output');
  const appendRng = stream('append');
  const delayMean = 'delay_s' in defaults ? numberOption(opt<number>('delay_s'), '--delay-s', (x) => x >= 0, 'a number of seconds >= 0', MAX_SPAN_S, 'seconds, about 31.7 years') : 0;
  const delayGap = delayMean > 0 ? randomExponential.source(stream('delay'))(1 / delayMean) : () => 0;
  const prompt = dist('prompt');
  const output = dist('output');
  const append = 'append' in defaults ? dist('append') : undefined;
  const calls = 'calls' in defaults ? dist('calls') : undefined;
  const maxCalls =
    'max_calls' in defaults ? numberOption(opt<number>('max_calls'), '--max-calls', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1', MAX_CALLS_PER_PROGRAM, 'calls per program') : 0;
  const width = 'width' in defaults ? dist('width') : undefined;
  const branching =
    'branching' in defaults ? numberOption(opt<number>('branching'), '--branching', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1', MAX_CALLS_PER_PROGRAM, 'calls per program') : 0;
  const depth = 'depth' in defaults ? numberOption(opt<number>('depth'), '--depth', (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0', MAX_CALLS_PER_PROGRAM, 'calls per program') : 0;
  if (kind === 'tree-search') {
    // Calls of a fully expanded tree: 1 + b + b² + ... + b^depth.
    let size = 1;
    let level = 1;
    for (let d = 0; d < depth && size <= MAX_CALLS_PER_PROGRAM; d++) {
      level *= branching;
      size += level;
    }
    if (size > MAX_CALLS_PER_PROGRAM) {
      throw new InputError(
        `a tree with --branching ${branching} and --depth ${depth} has more than ${MAX_CALLS_PER_PROGRAM} calls (the limit per program)`,
        { field: '--depth' },
      );
    }
  }
  const maxContext = numberOption(
    opt<number>('max_context'),
    '--max-context',
    (x) => Number.isInteger(x) && x >= 2,
    'an integer >= 2 (one prompt and one output token)',
    MAX_CONTEXT_LIMIT,
    'tokens',
  );
  const expandP = 'expand_p' in defaults ? numberOption(opt<number>('expand_p'), '--expand-p', (x) => x >= 0 && x <= 1, 'a probability in [0, 1]') : 0;

  const out: ProgramCall[] = [];
  let t = 0;
  for (let p = 0; p < programs; p++) {
    if (p > 0) t += arrivalGap();
    if (t > MAX_SPAN_S) {
      throw new InputError(
        `${programs} programs at ${rate} programs/s arrive over more than ${MAX_SPAN_TEXT}, the limit; raise the rate or generate fewer programs`,
        { field: '--rate' },
      );
    }
    if (out.length > MAX_GENERATED_CALLS) {
      throw new InputError(`the workload has more than ${MAX_GENERATED_CALLS} calls (the limit; they are held in memory) after ${p} programs`, { field: '--programs' });
    }
    const pid = `p${p}`;
    let k = 0;
    // A child that resends its parent's context: parent prompt + output + new tokens.
    const child = (parent: ProgramCall, j: number): ProgramCall => {
      const c = call([j], parent.prompt_tokens + parent.output_tokens + append!(appendRng));
      if (c.prompt_tokens >= parent.prompt_tokens + parent.output_tokens) c.prefix_from = parent.call_id;
      return c;
    };
    const call = (parents: number[], promptTokens: number): ProgramCall => {
      // Fit the context: the output first (at most maxContext − 1), then the prompt is cut to what
      // is left (a client dropping the oldest context so the reply fits).
      const outTokens = Math.min(output(outputRng), maxContext - 1);
      const c: ProgramCall = {
        program_id: pid,
        call_id: `c${k++}`,
        parents: parents.map((j) => `c${j}`),
        prompt_tokens: Math.min(promptTokens, MAX_TOKENS, maxContext - outTokens),
        output_tokens: outTokens,
      };
      if (parents.length === 0) c.arrival_s = t;
      else c.delay_s = delayGap();
      out.push(c);
      return c;
    };
    if (kind === 'chatbot') {
      call([], prompt(promptRng));
    } else if (kind === 'react' || kind === 'multi-turn' || kind === 'coding-agent') {
      const m = Math.min(calls!(shapeRng), maxCalls);
      let prev = call([], prompt(promptRng));
      for (let j = 1; j < m; j++) prev = child(prev, j - 1);
    } else if (kind === 'map-reduce') {
      const w = width!(shapeRng);
      let sum = 0;
      for (let j = 0; j < w; j++) sum += call([], prompt(promptRng)).output_tokens;
      call(
        Array.from({ length: w }, (_, j) => j),
        sum + append!(appendRng),
      );
    } else {
      // tree-search: breadth-first, level by level, so siblings are consecutive.
      const first = out.length; // the program's calls are out[first + local index]
      let level = [call([], prompt(promptRng))].map(() => 0);
      for (let d = 0; d < depth; d++) {
        const next: number[] = [];
        for (const node of level) {
          if (expandP < 1 && shapeRng() >= expandP) continue;
          for (let b = 0; b < branching; b++) {
            next.push(k);
            child(out[first + node], node);
          }
        }
        level = next;
      }
    }
  }
  return out;
}

/** A one-line description of a spec (kind, programs, rate, seed and the options given), for `source`. */
export function describeSpec(spec: GeneratorSpec): string {
  const extra = Object.entries(spec)
    .filter(([k, v]) => !['kind', 'programs', 'rate', 'seed'].includes(k) && v !== undefined)
    .map(([k, v]) => ` ${k}=${String(v)}`)
    .join('');
  return `generated:${spec.kind} programs=${spec.programs} rate=${spec.rate} seed=${spec.seed}${extra}`;
}

/**
 * Generates a workload straight into a Trace (format 'synthetic', `programs` set), as if written
 * by `sim generate` and read back.
 * @throws InputError as {@link generatePrograms}
 */
export function generateProgramTrace(spec: GeneratorSpec): Trace {
  const d = describeSpec(spec);
  return buildProgramTrace(generatePrograms(spec), d, d, 'synthetic');
}
