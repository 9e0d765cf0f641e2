/**
 * GPU memory accounting: weights, activation peak and the KV-cache capacity that is left, per GPU
 * under tensor parallelism, the way vLLM sizes its block pool.
 */
import { InputError } from '../errors.ts';
import type { GpuSpec } from './gpus.ts';
import { BYTES_PER_ELEMENT, checkTp, kvHeadsPerGpu, mlpWidths, type ModelSpec } from './models.ts';
import { stageLayers } from './pipeline.ts';

const GiB = 2 ** 30;

/**
 * KV-cache bytes one token occupies on each GPU: K and V for every layer,
 * 2 · layers · ceil(kvHeads/tp) · headDim · 2 bytes (BF16). KV heads that tp does not divide are
 * replicated, as vLLM does. Llama-2-7B at tp=1: 524,288 bytes (512 KiB).
 * @param layers the layers the GPU holds (default all; a pipeline stage holds its own).
 * @throws InputError (field `--tp`) for an invalid tp.
 */
export function kvBytesPerToken(model: ModelSpec, tp: number, layers: number = model.layers): number {
  checkTp(model, tp);
  return 2 * layers * kvHeadsPerGpu(model, tp) * model.headDim * BYTES_PER_ELEMENT;
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
  const vocabRows = Math.ceil(model.vocab / tp) * h;
  const total = model.layers * layerWeights(model, tp) + h + vocabRows * (model.tiedEmbeddings ? 1 : 2);
  return total * BYTES_PER_ELEMENT;
}

/**
 * Weight bytes each GPU of pipeline stage `stage` of `pp` holds under tensor parallelism tp:
 * its layers ({@link stageLayers}), the embedding on the first stage, the final norm and the LM
 * head on the last (a tied LM head is a second copy of the embedding when they are on different
 * stages, as vLLM loads it). At pp=1 this is {@link weightBytes}.
 * @throws InputError for an invalid tp (`--tp`) or pp (`--pp`), or a stage out of range.
 */
export function stageWeightBytes(model: ModelSpec, tp: number, pp: number, stage: number): number {
  if (pp === 1 && stage === 0) return weightBytes(model, tp);
  checkTp(model, tp);
  const layers = stageLayers(model.layers, pp);
  if (!(Number.isInteger(stage) && stage >= 0 && stage < pp)) throw new InputError(`stage ${stage} of ${pp}`, { field: '--pp' });
  const h = model.hidden;
  const vocabRows = Math.ceil(model.vocab / tp) * h;
  const first = stage === 0 ? vocabRows : 0;
  const last = stage === pp - 1 ? h + vocabRows : 0;
  return (layers[stage] * layerWeights(model, tp) + first + last) * BYTES_PER_ELEMENT;
}

/**
 * Weight elements of one transformer block on one GPU of a tp-way group (see {@link weightBytes}):
 * for a mixture of experts every expert's MLP, each split tp ways (vLLM's tensor-parallel MoE),
 * and the router replicated ({@link mlpWidths}).
 */
function layerWeights(model: ModelSpec, tp: number): number {
  const h = model.hidden;
  const q = (model.heads / tp) * model.headDim;
  const kv = kvHeadsPerGpu(model, tp) * model.headDim;
  const w = mlpWidths(model);
  const i = w.stored / tp;
  return h * (q + 2 * kv) + (model.qkvBias ? q + 2 * kv : 0) + q * h + 3 * h * i + h * w.routerRows + 2 * h;
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
  const i = mlpWidths(model).active / tp; // a mixture of experts: the active experts' outputs per token
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
 * With pp pipeline stages each GPU swaps its own layers' share, and the stage with the most layers
 * bounds the replica (vLLM keeps the smallest count over its workers).
 * Llama-2-7B at tp=1, 4 GiB, 16-token blocks: 512 blocks (8,192 tokens).
 * @param swapGiB swap space per GPU, GiB (>= 0).
 * @param pp pipeline stages (default 1).
 * @throws InputError for an invalid tp (`--tp`) or pp (`--pp`).
 */
export function swapBlocks(model: ModelSpec, tp: number, swapGiB: number, blockSize: number, pp = 1): number {
  const most = pp === 1 ? model.layers : Math.max(...stageLayers(model.layers, pp));
  return Math.floor((swapGiB * GiB) / (blockSize * kvBytesPerToken(model, tp, most)));
}

/** Inputs of {@link kvCapacity}. */
export interface KvCapacityOptions {
  model: ModelSpec;
  gpu: GpuSpec;
  /** Tensor-parallel degree (GPUs per stage). */
  tp: number;
  /** Pipeline stages (`--pp`, default 1): each stage's GPUs hold its layers' weights and KV. */
  pp?: number;
  /** Fraction of GPU memory vLLM may use (`--gpu-memory-utilization`, vLLM default 0.9), in (0, 1]. */
  gpuMemoryUtilization: number;
  /** Tokens per KV block (`--block-size`, vLLM default 16). */
  blockSize: number;
  /** Token budget of one iteration (`--max-num-batched-tokens`); sizes the activation peak. */
  maxNumBatchedTokens: number;
  /** Sequences per iteration (`--max-num-seqs`, vLLM default 256); sizes the sampler's logits. */
  maxNumSeqs: number;
}

/** Result of {@link kvCapacity}; bytes are per GPU, of the stage that bounds the capacity (`stage`). */
export interface KvCapacity {
  /** KV blocks in the pool (each holds `blockSize` tokens on every GPU of the replica): the fewest of any stage. */
  blocks: number;
  /** Blocks each pipeline stage's GPUs could hold (one entry at pp=1). */
  stageBlocks: number[];
  /** The stage with the fewest blocks (the first of equals); the byte figures below are its. */
  stage: number;
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
 * With pp pipeline stages, each stage's GPUs hold their layers' weights ({@link stageWeightBytes})
 * and their layers' share of every block (kvBytesPerToken over their layers), and the sampler's
 * activations are the last stage's only; a token's KV must be on every stage, so the replica holds
 * the fewest blocks of any stage (vLLM takes the minimum over its workers' profiles).
 * Llama-2-7B on one A100-80GB at 0.9 with 16-token blocks: about 7,500 blocks (vLLM logs report
 * 7,000–8,000).
 * @throws InputError when not even one block fits ("model X with tp=N does not fit on GPU Y: ..."),
 *   with the field of what takes the room: `--gpu` (the weights), `--max-num-seqs` or
 *   `--max-num-batched-tokens` (their activations), `--block-size` (one block is larger than what
 *   is left); with the option's name as field for a bad tp, pp, utilization, block size,
 *   token budget or sequence budget.
 */
export function kvCapacity(opts: KvCapacityOptions): KvCapacity {
  const { model, gpu, tp, gpuMemoryUtilization: util, blockSize } = opts;
  const pp = opts.pp ?? 1;
  checkTp(model, tp);
  const layers = stageLayers(model.layers, pp);
  if (!(Number.isFinite(util) && util > 0 && util <= 1)) {
    throw new InputError(`must be in (0, 1], got ${util}`, { field: '--gpu-memory-utilization' });
  }
  positiveInt(blockSize, '--block-size');
  const allActivations = activationBytes(model, tp, opts.maxNumBatchedTokens, opts.maxNumSeqs);
  const sampler = 4 * opts.maxNumSeqs * model.vocab * 3;
  const budget = gpu.memBytes * util;
  let best: KvCapacity | undefined;
  const stageBlocks: number[] = [];
  for (let k = 0; k < pp; k++) {
    const perToken = kvBytesPerToken(model, tp, layers[k]);
    const weights = stageWeightBytes(model, tp, pp, k);
    const activations = k === pp - 1 ? allActivations : allActivations - sampler;
    const blocks = Math.floor((budget - weights - activations) / (blockSize * perToken));
    if (!(blocks >= 1)) {
      const g = (x: number) => (x / GiB).toFixed(1);
      // Blame what takes the room: the weights (model vs GPU), the activations of the token and
      // sequence budgets, or a KV block too large for what is left.
      const field =
        weights >= budget ? '--gpu' : weights + activations >= budget ? (k === pp - 1 && sampler > activations - sampler ? '--max-num-seqs' : '--max-num-batched-tokens') : '--block-size';
      throw new InputError(
        `model ${model.name} with tp=${tp}${pp > 1 ? `, pp=${pp}` : ''} does not fit on GPU ${gpu.name}: ${pp > 1 ? `stage ${k} (${layers[k]} layers) ` : ''}weights need ${g(weights)} GiB ` +
          `of ${g(budget)} GiB (${g(gpu.memBytes)} GiB × ${util}) per GPU, activations ${g(activations)} GiB ` +
          `(--max-num-batched-tokens ${opts.maxNumBatchedTokens}, --max-num-seqs ${opts.maxNumSeqs}), ` +
          `one KV block ${(blockSize * perToken / 2 ** 20).toFixed(1)} MiB (--block-size ${blockSize})`,
        { field },
      );
    }
    stageBlocks.push(blocks);
    if (best === undefined || blocks < best.blocks) {
      best = { blocks, stageBlocks, stage: k, tokens: blocks * blockSize, kvBytesPerToken: perToken, weightBytes: weights, activationBytes: activations, budgetBytes: budget };
    }
  }
  return best!;
}

function positiveInt(x: number, field: string): void {
  if (!Number.isInteger(x) || x < 1) {
    throw new InputError(`must be a positive integer, got ${x}`, { field });
  }
}
