/**
 * The in-memory form of a request trace: one struct of arrays, sorted by arrival.
 */
import type { PrefixSegments } from './block-hash.ts';

/** Trace file formats the readers understand (see docs/traces.md). */
export type TraceFormat = 'azure' | 'burstgpt' | 'mooncake' | 'generic' | 'synthetic';

/** The formats a user may force with `--format`. */
export const TRACE_FORMATS: readonly TraceFormat[] = ['azure', 'burstgpt', 'mooncake', 'generic'];

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
   * Which leading parts of each prompt are shared with other prompts or outputs (prefix caching;
   * sim/block-hash.ts `PrefixSegments`), when the trace says.
   */
  prefix?: PrefixSegments;
  /** Mooncake prefix-block hash ids per request (512 tokens per block), when the format has them. */
  hash_ids?: Int32Array[];
  /**
   * Multi-call programs (agentic workloads), when the trace has them: the DAG of calls. Without
   * it every request is a program of one call.
   */
  programs?: TracePrograms;
  /** Rows read but not replayed, by reason (e.g. `failed` for BurstGPT rows with 0 response tokens). */
  skipped: Record<string, number>;
  /** Warnings met while reading (e.g. unsorted timestamps that were sorted). */
  warnings: string[];
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
  /** Prompt tokens already in a prefix cache when the call is submitted, if the trace says (TraceLab `prefix_tokens`). */
  cached_tokens?: Int32Array;
}
