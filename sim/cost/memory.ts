/**
 * GPU memory accounting: weights, activation peak and the KV-cache capacity that is left, per GPU
 * under tensor parallelism, the way vLLM sizes its block pool.
 */
import { InputError } from '../errors.ts';
import type { GpuSpec } from './gpus.ts';
import { BYTES_PER_ELEMENT, checkTp, kvHeadsPerGpu, type ModelSpec } from './models.ts';

const GiB = 2 ** 30;

/**
 * KV-cache bytes one token occupies on each GPU: K and V for every layer,
 * 2 · layers · ceil(kvHeads/tp) · headDim · 2 bytes (BF16). KV heads that tp does not divide are
 * replicated, as vLLM does. Llama-2-7B at tp=1: 524,288 bytes (512 KiB).
 * @throws InputError (field `--tp`) for an invalid tp.
 */
export function kvBytesPerToken(model: ModelSpec, tp: number): number {
  checkTp(model, tp);
  return 2 * model.layers * kvHeadsPerGpu(model, tp) * model.headDim * BYTES_PER_ELEMENT;
}

/**
 * Weight bytes each GPU holds under tensor parallelism tp (BF16): Q and O projections, the MLP,
 * the embedding and the LM head split tp ways (vocabulary-parallel, as vLLM does); K and V
 * projections for ceil(kvHeads/tp) heads; norms replicated. At tp=1 this is params · 2.
 * @throws InputError (field `--tp`) for an invalid tp.
 */
export function weightBytes(model: ModelSpec, tp: number): number {
  checkTp(model, tp);
  const h = model.hidden;
  const q = (model.heads / tp) * model.headDim;
  const kv = kvHeadsPerGpu(model, tp) * model.headDim;
  const i = model.intermediate / tp;
  const perLayer = h * (q + 2 * kv) + (model.qkvBias ? q + 2 * kv : 0) + q * h + 3 * h * i + 2 * h;
  const vocabRows = Math.ceil(model.vocab / tp) * h;
  const total = model.layers * perLayer + h + vocabRows * (model.tiedEmbeddings ? 1 : 2);
  return total * BYTES_PER_ELEMENT;
}

/**
 * This project's approximation of the activation peak of vLLM's profiling run (a forward pass of
 * `maxNumBatchedTokens` tokens over `maxNumSeqs` sequences, then sampling), per GPU, bytes:
 *
 *   2 · T · (2·hidden + max(2·q + 2·kv, 3·intermediate/tp))   forward pass, BF16
 * + 4 · S · vocab · 3                                          sampler: FP32 logits, probs, logprobs
 *
 * with T = maxNumBatchedTokens, S = maxNumSeqs, q = (heads/tp)·headDim,
 * kv = ceil(kvHeads/tp)·headDim. The forward term is the hidden state and residual plus the larger
 * of the attention block's live tensors (QKV output and attention output) and the MLP's (gate/up
 * output and activation output). CUDA context, cuBLAS workspaces and allocator fragmentation are
 * not counted (they are a few hundred MiB). Llama-2-7B, T=4096, S=256: about 0.5 GiB.
 * @throws InputError for an invalid tp (`--tp`) or non-positive-integer T (`--max-num-batched-tokens`)
 *   or S (`--max-num-seqs`).
 */
export function activationBytes(
  model: ModelSpec,
  tp: number,
  maxNumBatchedTokens: number,
  maxNumSeqs: number,
): number {
  checkTp(model, tp);
  positiveInt(maxNumBatchedTokens, '--max-num-batched-tokens');
  positiveInt(maxNumSeqs, '--max-num-seqs');
  const q = (model.heads / tp) * model.headDim;
  const kv = kvHeadsPerGpu(model, tp) * model.headDim;
  const i = model.intermediate / tp;
  const perToken = 2 * model.hidden + Math.max(2 * q + 2 * kv, 3 * i);
  const forward = BYTES_PER_ELEMENT * maxNumBatchedTokens * perToken;
  const sampler = 4 * maxNumSeqs * model.vocab * 3;
  return forward + sampler;
}

/** vLLM's default CPU swap space per GPU (`swap_space`), GiB. */
export const DEFAULT_SWAP_GIB = 4;

/**
 * KV blocks the CPU swap space of one GPU holds: floor(swapGiB · 2^30 / (blockSize ·
 * kvBytesPerToken(model, tp))). vLLM's `swap_space` is per GPU, and each GPU of a tp-way replica
 * swaps its own share of every block, so this is also the replica's swap capacity in blocks.
 * Llama-2-7B at tp=1, 4 GiB, 16-token blocks: 512 blocks (8,192 tokens).
 * @param swapGiB swap space per GPU, GiB (>= 0).
 * @throws InputError (field `--tp`) for an invalid tp.
 */
export function swapBlocks(model: ModelSpec, tp: number, swapGiB: number, blockSize: number): number {
  return Math.floor((swapGiB * GiB) / (blockSize * kvBytesPerToken(model, tp)));
}

/** Inputs of {@link kvCapacity}. */
export interface KvCapacityOptions {
  model: ModelSpec;
  gpu: GpuSpec;
  /** Tensor-parallel degree (GPUs per replica). */
  tp: number;
  /** Fraction of GPU memory vLLM may use (`--gpu-memory-utilization`, vLLM default 0.9), in (0, 1]. */
  gpuMemoryUtilization: number;
  /** Tokens per KV block (`--block-size`, vLLM default 16). */
  blockSize: number;
  /** Token budget of one iteration (`--max-num-batched-tokens`); sizes the activation peak. */
  maxNumBatchedTokens: number;
  /** Sequences per iteration (`--max-num-seqs`, vLLM default 256); sizes the sampler's logits. */
  maxNumSeqs: number;
}

/** Result of {@link kvCapacity}; bytes are per GPU. */
export interface KvCapacity {
  /** KV blocks in the pool (each holds `blockSize` tokens on every GPU of the replica). */
  blocks: number;
  /** blocks · blockSize: tokens of KV cache. */
  tokens: number;
  /** See {@link kvBytesPerToken}. */
  kvBytesPerToken: number;
  /** See {@link weightBytes}. */
  weightBytes: number;
  /** See {@link activationBytes}. */
  activationBytes: number;
  /** gpu.memBytes · gpuMemoryUtilization: what vLLM allows itself. */
  budgetBytes: number;
}

/**
 * Number of KV blocks vLLM would allocate on each GPU of a replica:
 * floor((memBytes · util − weights − activations) / (blockSize · kvBytesPerToken)).
 * Llama-2-7B on one A100-80GB at 0.9 with 16-token blocks: about 7,500 blocks (vLLM logs report
 * 7,000–8,000).
 * @throws InputError when not even one block fits ("model X with tp=N does not fit on GPU Y: ..."),
 *   with the field of what takes the room: `--gpu` (the weights), `--max-num-seqs` or
 *   `--max-num-batched-tokens` (their activations), `--block-size` (one block is larger than what
 *   is left); with the option's name as field for a bad tp, utilization, block size,
 *   token budget or sequence budget.
 */
export function kvCapacity(opts: KvCapacityOptions): KvCapacity {
  const { model, gpu, tp, gpuMemoryUtilization: util, blockSize } = opts;
  checkTp(model, tp);
  if (!(Number.isFinite(util) && util > 0 && util <= 1)) {
    throw new InputError(`must be in (0, 1], got ${util}`, { field: '--gpu-memory-utilization' });
  }
  positiveInt(blockSize, '--block-size');
  const perToken = kvBytesPerToken(model, tp);
  const weights = weightBytes(model, tp);
  const activations = activationBytes(model, tp, opts.maxNumBatchedTokens, opts.maxNumSeqs);
  const budget = gpu.memBytes * util;
  const blocks = Math.floor((budget - weights - activations) / (blockSize * perToken));
  if (!(blocks >= 1)) {
    const g = (x: number) => (x / GiB).toFixed(1);
    // Blame what takes the room: the weights (model vs GPU), the activations of the token and
    // sequence budgets, or a KV block too large for what is left.
    const sampler = 4 * opts.maxNumSeqs * model.vocab * 3;
    const field =
      weights >= budget ? '--gpu' : weights + activations >= budget ? (sampler > activations - sampler ? '--max-num-seqs' : '--max-num-batched-tokens') : '--block-size';
    throw new InputError(
      `model ${model.name} with tp=${tp} does not fit on GPU ${gpu.name}: weights need ${g(weights)} GiB ` +
        `of ${g(budget)} GiB (${g(gpu.memBytes)} GiB × ${util}) per GPU, activations ${g(activations)} GiB ` +
        `(--max-num-batched-tokens ${opts.maxNumBatchedTokens}, --max-num-seqs ${opts.maxNumSeqs}), ` +
        `one KV block ${(blockSize * perToken / 2 ** 20).toFixed(1)} MiB (--block-size ${blockSize})`,
      { field },
    );
  }
  return {
    blocks,
    tokens: blocks * blockSize,
    kvBytesPerToken: perToken,
    weightBytes: weights,
    activationBytes: activations,
    budgetBytes: budget,
  };
}

function positiveInt(x: number, field: string): void {
  if (!Number.isInteger(x) || x < 1) {
    throw new InputError(`must be a positive integer, got ${x}`, { field });
  }
}
