/**
 * The interface between the engine and anything that prices an iteration (analytical model,
 * linear validation model, measured profile).
 */

/**
 * What one iteration (one forward pass of the batch) computes. The engine fills one reusable
 * object per iteration; a cost model must not keep a reference to it.
 *
 * A prefill chunk of `c` tokens for a request whose first `p` tokens are already in the KV cache
 * attends causally over `p + c` keys.
 */
export interface BatchShape {
  /** Prefill tokens computed in this iteration, summed over chunks (integer). */
  prefillTokens: number;
  /** Number of requests with a prefill chunk in this iteration. */
  prefillSeqs: number;
  /** Σ over prefill chunks of c·(p + (c+1)/2): query-key pairs of causal prefill attention. */
  prefillAttnPairs: number;
  /** Σ over prefill chunks of p: KV tokens read from the cache by prefill attention. */
  prefillCachedTokens: number;
  /** Number of requests decoding one token in this iteration. */
  decodeSeqs: number;
  /** Σ over decoding requests of the context length attended (tokens in KV including the new one). */
  decodeKvTokens: number;
  /** Requests that sample a token this iteration (decodes plus prefills that reach the end). */
  sampledSeqs: number;
  /**
   * Per prefill chunk k < prefillSeqs, in scheduling order: p, the tokens of that request already
   * in the KV cache (its cached prefix). Entries from prefillSeqs on are stale. Filled by
   * {@link addPrefillChunk}; read by cost models that price each prefill on its own.
   */
  prefillPrefix: Int32Array;
  /** Per prefill chunk k < prefillSeqs: c, the tokens it computes this iteration. */
  prefillChunk: Int32Array;
}

/** A zeroed BatchShape (room for 8 prefill chunks before the per-chunk lists grow). */
export function emptyBatchShape(): BatchShape {
  return {
    prefillTokens: 0,
    prefillSeqs: 0,
    prefillAttnPairs: 0,
    prefillCachedTokens: 0,
    decodeSeqs: 0,
    decodeKvTokens: 0,
    sampledSeqs: 0,
    prefillPrefix: new Int32Array(8),
    prefillChunk: new Int32Array(8),
  };
}

/** Zeroes the aggregate fields of `b` (its per-chunk lists are kept for reuse: entries from prefillSeqs on are stale). */
export function clearBatchShape(b: BatchShape): void {
  b.prefillTokens = 0;
  b.prefillSeqs = 0;
  b.prefillAttnPairs = 0;
  b.prefillCachedTokens = 0;
  b.decodeSeqs = 0;
  b.decodeKvTokens = 0;
  b.sampledSeqs = 0;
}

/**
 * Adds one prefill chunk of `c` tokens after `p` cached tokens (integers, tokens) to `b`: the
 * aggregate fields (prefillSeqs, prefillTokens, prefillAttnPairs += c·(p + (c+1)/2),
 * prefillCachedTokens) and the per-chunk lists, which double in length when full (no allocation
 * otherwise). Does not touch sampledSeqs.
 */
export function addPrefillChunk(b: BatchShape, p: number, c: number): void {
  const k = b.prefillSeqs;
  if (k >= b.prefillChunk.length) {
    const prefix = new Int32Array(2 * k + 8);
    const chunk = new Int32Array(2 * k + 8);
    prefix.set(b.prefillPrefix.subarray(0, k));
    chunk.set(b.prefillChunk.subarray(0, k));
    b.prefillPrefix = prefix;
    b.prefillChunk = chunk;
  }
  b.prefillPrefix[k] = p;
  b.prefillChunk[k] = c;
  b.prefillSeqs = k + 1;
  b.prefillTokens += c;
  b.prefillAttnPairs += c * (p + (c + 1) / 2);
  b.prefillCachedTokens += p;
}

/**
 * Prices iterations. Implementations must be pure functions of the shape (deterministic, no
 * allocation per call) and return a finite time >= 0.
 */
export interface CostModel {
  /** Short name for reports, e.g. `analytical(llama-2-7b, a100-80gb, tp=1)`. */
  readonly name: string;
  /** Wall time in seconds of one iteration with this batch. */
  iterationTime(b: BatchShape): number;
}
