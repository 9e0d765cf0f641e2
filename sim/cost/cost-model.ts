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
}

/** A zeroed BatchShape. */
export function emptyBatchShape(): BatchShape {
  return {
    prefillTokens: 0,
    prefillSeqs: 0,
    prefillAttnPairs: 0,
    prefillCachedTokens: 0,
    decodeSeqs: 0,
    decodeKvTokens: 0,
    sampledSeqs: 0,
  };
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
