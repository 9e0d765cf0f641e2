/**
 * The engine's settings, counters and per-iteration record: what the simulator, the app shell
 * and tests exchange with an engine (sim/engine.ts). Units: tokens, blocks, bytes, seconds.
 */
import type { WorkCoefficients } from './cost/work.ts';

/** Engine settings, resolved (all sizes explicit). Units: tokens, blocks, bytes, bytes/s. */
export interface EngineConfig {
  /** Most requests in one iteration's batch (vLLM `max_num_seqs`, default 256). */
  maxNumSeqs: number;
  /** Token budget of one iteration (`max_num_batched_tokens`; Sarathi's token budget τ). */
  maxNumBatchedTokens: number;
  /** Tokens per KV block (vLLM `block_size`, default 16). */
  blockSize: number;
  /** GPU KV-cache capacity in blocks (may be huge for `--kv-tokens unlimited`). */
  kvBlocks: number;
  /** Blocks admission must leave free (vLLM: 1% of GPU blocks). */
  watermarkBlocks: number;
  /** Chunked prefill with stall-free mixed batches (Sarathi-Serve) instead of prefill priority. */
  chunkedPrefill: boolean;
  /** Preemption mechanism under KV pressure. */
  preemption: 'recompute' | 'swap';
  /** CPU swap space in blocks (vLLM `swap_space`, default 4 GiB). */
  swapBlocks: number;
  /** Bytes of one KV block on one GPU (for the swap cost). */
  blockBytes: number;
  /** Host-device bandwidth for swapping, bytes/s. */
  pcieBandwidth: number;
  /** Automatic prefix caching (vLLM v1; docs/prefix-caching.md). Absent: off. */
  prefixCaching?: boolean;
  /**
   * Longest sequence a request may reach, prompt + output tokens (vLLM `max_model_len`): a longer
   * request is rejected at arrival. Absent: no limit beyond the KV cache.
   */
  maxModelLen?: number;
  /** Advance over unchanged decode iterations at once (identical results; off only for tests). */
  skipAhead: boolean;
  /**
   * The model's work per token, pair and iteration (sim/cost/work.ts): with it the engine counts
   * model FLOPs and HBM bytes per iteration (`EngineStats.modelFlops`, `hbmBytes`). Absent: both stay 0.
   */
  work?: WorkCoefficients;
}

/** Counters of one engine, for the run summary. Times in seconds. */
export interface EngineStats {
  /** Forward passes (iterations), counting each skipped-over decode iteration. */
  iterations: number;
  /** Σ batch size over iterations (requests scheduled per iteration). */
  batchSizeSum: number;
  /** ∫ KV blocks in use dt over busy time (block·seconds). */
  kvBlockSeconds: number;
  /** Most KV blocks in use at once. */
  kvMaxBlocks: number;
  /** Preemptions (recompute plus swap-out). */
  preemptions: number;
  /** Preemptions by recompute, including swap attempts that fell back for lack of swap space. */
  recomputes: number;
  /** Swap-outs and swap-ins, and the bytes they moved. */
  swapOuts: number;
  swapIns: number;
  swapBytes: number;
  /** Swap preemptions that fell back to recompute because the swap space was full. */
  swapFallbacks: number;
  /** Prefix caching (0 when off): admissions, those that found cached blocks, prompt tokens looked up and found, cached blocks evicted. */
  prefixAdmissions: number;
  prefixHitAdmissions: number;
  prefixQueriedTokens: number;
  prefixHitTokens: number;
  prefixEvictions: number;
  /** Requests rejected, for any reason: the sum of the three counts below. */
  rejected: number;
  /** Rejected at arrival: prompt + output exceeds `maxModelLen`. */
  rejectedTooLong: number;
  /** Rejected at arrival: the largest KV footprint plus the watermark can never fit the GPU's blocks. */
  rejectedKv: number;
  /** Calls never submitted because a call they depend on was rejected (program traces). */
  rejectedAncestor: number;
  /** Time the engine was running iterations. */
  busy_s: number;
  /** Requests detached from this engine to move elsewhere (`Engine.detach`). */
  movedOut: number;
  /** Requests adopted by this engine from elsewhere (`Engine.adopt`). */
  movedIn: number;
  /** Model FLOPs of its iterations (sim/cost/work.ts `iterationFlops`; 0 without `EngineConfig.work`). */
  modelFlops: number;
  /** HBM bytes its iterations read: weights plus decode KV (`iterationBytes`; 0 without `EngineConfig.work`). */
  hbmBytes: number;
}

/** Why a request was rejected: longer than `maxModelLen`, never fits the KV cache, or an ancestor call was rejected. */
export type RejectReason = 'too-long' | 'kv' | 'ancestor';

/**
 * One (possibly skipped-over multi-step) iteration, as passed to an observer. Under pipeline
 * parallelism, one micro-batch: `start` is when it was formed, `end` when its tokens came out of
 * the last stage, and the KV figures are its virtual engine's.
 */
export interface IterationRecord {
  /** Replica index (0 with one replica). */
  replica: number;
  /** Virtual engine of the replica that formed it (pipeline parallelism; 0 without). */
  virtualEngine: number;
  /** Start and end time (s). */
  start: number;
  end: number;
  /** Consecutive identical decode iterations covered (1 unless skipped ahead). */
  steps: number;
  /** Requests in the batch. */
  batchSize: number;
  /** Prompt tokens computed (0 in a skipped-ahead bundle, which is decode steps only). */
  prefillTokens: number;
  /** Requests computing prompt tokens (prefill or a prefill chunk); the rest of the batch decodes. */
  prefillSeqs: number;
  /** Requests decoding one token per step. */
  decodeSeqs: number;
  /** KV blocks in use at the end (the most during the record), and the capacity. */
  kvBlocksUsed: number;
  kvBlocks: number;
  /** Free KV blocks still holding a cached prefix at the end (0 without prefix caching). */
  kvBlocksCached: number;
  /** Queue lengths after the batch was formed. */
  waiting: number;
  running: number;
  swapped: number;
}

/** Called after each iteration is formed; for tests, time series and plots. */
export type IterationObserver = (r: IterationRecord) => void;

/** A fresh zeroed stats record. */
export function emptyEngineStats(): EngineStats {
  return {
    iterations: 0,
    batchSizeSum: 0,
    kvBlockSeconds: 0,
    kvMaxBlocks: 0,
    preemptions: 0,
    recomputes: 0,
    swapOuts: 0,
    swapIns: 0,
    swapBytes: 0,
    swapFallbacks: 0,
    prefixAdmissions: 0,
    prefixHitAdmissions: 0,
    prefixQueriedTokens: 0,
    prefixHitTokens: 0,
    prefixEvictions: 0,
    rejected: 0,
    rejectedTooLong: 0,
    rejectedKv: 0,
    rejectedAncestor: 0,
    busy_s: 0,
    movedOut: 0,
    movedIn: 0,
    modelFlops: 0,
    hbmBytes: 0,
  };
}
