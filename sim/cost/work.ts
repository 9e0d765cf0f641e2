/**
 * Model FLOPs and HBM bytes of an iteration, from the model's shapes alone (whatever prices the
 * time), and the utilizations they give: MFU and MBU (docs/output.md, "MFU and MBU").
 */
import type { BatchShape } from './cost-model.ts';
import { activeParams, BYTES_PER_ELEMENT, type ModelSpec } from './models.ts';

/**
 * Per-unit work of one model, for the whole replica (all its GPUs together). Units: FLOPs, bytes.
 * Built by {@link workCoefficients}.
 */
export interface WorkCoefficients {
  /** FLOPs of the linear layers per token computed: 2 · params (one multiply-add per weight; a mixture of experts: its active parameters, {@link activeParams}). */
  flopsPerToken: number;
  /** Attention FLOPs per query-key pair: 4 · layers · heads · headDim (QKᵀ and the AV product, 2 FLOPs per multiply-add each). */
  flopsPerPair: number;
  /** Bytes of the weights, read once per iteration: params · 2 (BF16; a mixture of experts: its active parameters, as the cost model prices it). */
  weightBytes: number;
  /** KV-cache bytes of one token over all layers: 2 (K and V) · layers · kvHeads · headDim · 2. */
  kvBytesPerToken: number;
}

/**
 * The work coefficients of `model` (see {@link WorkCoefficients}); independent of tp and pp, since
 * MFU and MBU compare the whole replica's work with all its GPUs' peaks.
 * Source: the 2·N FLOPs per token of a forward pass (Kaplan et al. 2020, §2.1; PaLM, Chowdhery
 * et al. 2022, Appendix B, forward third of 6N + 12LHQT) and the bytes of Databricks' MBU ("LLM
 * Inference Performance Engineering: Best Practices", 2023: parameter bytes + KV-cache bytes read).
 */
export function workCoefficients(model: ModelSpec): WorkCoefficients {
  return Object.freeze({
    flopsPerToken: 2 * activeParams(model),
    flopsPerPair: 4 * model.layers * model.heads * model.headDim,
    weightBytes: activeParams(model) * BYTES_PER_ELEMENT,
    kvBytesPerToken: 2 * model.layers * model.kvHeads * model.headDim * BYTES_PER_ELEMENT,
  });
}

/**
 * Model FLOPs of one iteration of shape `b`: flopsPerToken · (prefill tokens + decoding
 * sequences) + flopsPerPair · (causal prefill query-key pairs + decode context tokens). No allocation.
 * @returns FLOPs (a float; exact in integers below 2^53).
 */
export function iterationFlops(w: WorkCoefficients, b: BatchShape): number {
  return w.flopsPerToken * (b.prefillTokens + b.decodeSeqs) + w.flopsPerPair * (b.prefillAttnPairs + b.decodeKvTokens);
}

/**
 * HBM bytes one iteration of shape `b` reads: the weights once (0 for an empty iteration) plus the
 * KV cache decode attention reads (decodeKvTokens · kvBytesPerToken). Prefill's activations and
 * its reads of a cached prefix are left out (the Databricks MBU counts decode). No allocation.
 * @returns bytes.
 */
export function iterationBytes(w: WorkCoefficients, b: BatchShape): number {
  if (b.prefillTokens + b.decodeSeqs === 0) return 0;
  return w.weightBytes + w.kvBytesPerToken * b.decodeKvTokens;
}

/**
 * MFU and MBU of work done over busy time: flops / (busy_s · peakFlops) and bytes / (busy_s ·
 * peakBytes), where the peaks are the GPUs' together (FLOP/s, bytes/s). Null when busy_s is 0.
 */
export function utilization(flops: number, bytes: number, busy_s: number, peak: { flops: number; bytes: number }): { mfu: number | null; mbu: number | null } {
  if (!(busy_s > 0)) return { mfu: null, mbu: null };
  return { mfu: flops / (busy_s * peak.flops), mbu: bytes / (busy_s * peak.bytes) };
}
