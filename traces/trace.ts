/**
 * The in-memory form of a request trace: one struct of arrays, sorted by arrival.
 */

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
  /** Mooncake prefix-block hash ids per request (512 tokens per block), when the format has them. */
  hash_ids?: Int32Array[];
  /** Rows read but not replayed, by reason (e.g. `failed` for BurstGPT rows with 0 response tokens). */
  skipped: Record<string, number>;
  /** Warnings met while reading (e.g. unsorted timestamps that were sorted). */
  warnings: string[];
}
