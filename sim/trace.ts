/**
 * The in-memory form of a request trace: one struct of arrays, sorted by arrival.
 */

/** Trace file formats the readers understand (see docs/traces.md). */
export type TraceFormat = 'azure' | 'burstgpt' | 'mooncake' | 'generic' | 'vidur' | 'llmservingsim' | 'sharegpt' | 'synthetic';

/** The formats a user may force with `--format`. */
export const TRACE_FORMATS: readonly TraceFormat[] = ['azure', 'burstgpt', 'mooncake', 'generic', 'vidur'];

/**
 * A request trace. Request i arrives at `arrival_s[i]` seconds (relative: the first arrival is 0,
 * non-decreasing), with `prompt_tokens[i] >= 1` prompt tokens and `output_tokens[i] >= 1` output
 * tokens. All arrays have length `n`.
 */
export interface Trace {
  /** Where it came from: a file path, or a synthetic spec. */
  source: string;
  format: TraceFormat;
  /** Number of requests. */
  n: number;
  /** Arrival times in seconds, relative to the first arrival, non-decreasing. */
  arrival_s: Float64Array;
  /** Prompt (context) tokens per request, >= 1. */
  prompt_tokens: Int32Array;
  /** Output (generated) tokens per request, >= 1. */
  output_tokens: Int32Array;
  /**
   * Extra per-request columns kept for later use (model, log type, predicted lengths, ...), by
   * column name; each array has length `n`, values as read (strings).
   */
  extra: Record<string, string[]>;
  /**
   * Which leading parts of each prompt are token-for-token shared with other prompts or outputs
   * (prefix caching), when the trace has prefix information; absent otherwise. See
   * {@link TracePrefix} and docs/traces.md, "Prefix identities".
   */
  prefix?: TracePrefix;
  /**
   * Multi-call programs (agentic workloads), when the trace has them: the DAG of calls. Without
   * it every request is a program of one call.
   */
  programs?: TracePrograms;
  /** Rows read but not replayed, by reason (e.g. `failed` for BurstGPT rows with 0 response tokens). */
  skipped: Record<string, number>;
  /** Warnings met while reading (e.g. unsorted timestamps that were sorted). */
  warnings: string[];
  /** Seconds of idle time removed between arrivals by `--compress-idle` (absent when not applied). */
  idle_removed_s?: number;
}

/**
 * The program structure of a trace (Autellix, arXiv 2502.13965: a program is a DAG of LLM calls).
 * Request i is a call of program `program[i]`. A root call (no parents) is submitted at
 * `arrival_s[i]`; any other call is submitted `delay_s[i]` seconds (think or tool time) after the
 * last of its parents finishes, and its `arrival_s[i]` holds its program's first arrival (so the
 * array stays non-decreasing when calls are ordered by program arrival). Calls are ordered so that
 * every parent comes before its children.
 */
export interface TracePrograms {
  /** Number of programs. */
  count: number;
  /** Program index (0 .. count−1) of each call; length n. */
  program: Int32Array;
  /** Program ids as in the file, by program index. */
  programIds: string[];
  /** Call ids as in the file, by request index. */
  callIds: string[];
  /** Parents of call i are `parents[parentStart[i] .. parentStart[i+1])` (CSR); parentStart has length n + 1. */
  parentStart: Int32Array;
  /** Parent request indices (each < the child's index). */
  parents: Int32Array;
  /** Delay after the last parent finishes, seconds (0 for roots). */
  delay_s: Float64Array;
}

/**
 * Which leading parts of each prompt are token-for-token shared with other prompts or outputs
 * (prefix caching). Request i's prompt is the concatenation of its segments
 * `start[i] .. start[i+1]` (CSR), in order, followed by the unique rest of its prompt, content
 * `ownId(i)`, of `prompt_tokens[i] − Σ tokens` tokens (possibly 0). A token's identity is
 * (content id, offset from the start of its segment): two segments with one id hold the same
 * tokens from their start, so a shorter one is a prefix of a longer one. A request with no segments
 * has `start[i] == start[i+1]`.
 */
export interface TracePrefix {
  /** Segments of request i are [start[i], start[i+1]) (CSR; length n + 1). */
  start: Int32Array;
  /**
   * Content id of each segment. >= 0: a trace-declared content (two segments with one id hold the
   * same tokens from their start; a shorter one is a prefix of a longer one). ownId(j) = −(2j+1):
   * the unique rest of request j's prompt (after its own segments). outId(j) = −(2j+2): request
   * j's output tokens.
   */
  id: Int32Array;
  /** Tokens of each segment (>= 1). A request's segments cover at most its prompt; the rest of its prompt is ownId(i). */
  tokens: Int32Array;
}

/** Content id of the unique rest of request j's prompt (after its segments): −(2j+1). */
export function ownId(j: number): number {
  return -(2 * j + 1);
}

/** Content id of request j's output tokens: −(2j+2). */
export function outId(j: number): number {
  return -(2 * j + 2);
}

/**
 * The request an own/output content id belongs to, and which: `{ request, output }`; undefined for
 * a declared id (>= 0).
 */
export function idOwner(id: number): { request: number; output: boolean } | undefined {
  if (id >= 0) return undefined;
  const k = -id - 1; // 2j (own) or 2j + 1 (output)
  return { request: k >> 1, output: (k & 1) === 1 };
}
