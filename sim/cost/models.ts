/**
 * Transformer model specifications (decoder-only, Llama-style: RMSNorm, rotary embeddings,
 * grouped-query attention, gated SiLU MLP), taken from each model's published Hugging Face
 * `config.json`. All weights are BF16 (2 bytes per parameter).
 */
import { checkChoice, InputError } from '../errors.ts';

/** Bytes per weight, activation and KV-cache element: everything is BF16. */
export const BYTES_PER_ELEMENT = 2;

/**
 * The architecture numbers a cost model needs. Counts are plain integers; `maxContext` is in
 * tokens; `params` is the total parameter count (embeddings and LM head included).
 */
export interface ModelSpec {
  /** Lower-case key in {@link MODELS}, e.g. `llama-2-7b`. */
  name: string;
  /** Transformer blocks (`num_hidden_layers`). */
  layers: number;
  /** Residual stream width (`hidden_size`). */
  hidden: number;
  /** Query heads (`num_attention_heads`). */
  heads: number;
  /** Key/value heads (`num_key_value_heads`; equal to `heads` without GQA). */
  kvHeads: number;
  /** Per-head width (`hidden_size / num_attention_heads` for every model here). */
  headDim: number;
  /** MLP inner width (`intermediate_size`); the gated MLP has gate, up and down matrices. */
  intermediate: number;
  /** Vocabulary size (`vocab_size`), rows of the embedding and of the LM head. */
  vocab: number;
  /** Longest context the model supports (`max_position_embeddings`), tokens. */
  maxContext: number;
  /** Total parameter count, computed from the architecture by {@link countParams}. */
  params: number;
  /** Whether Q, K and V projections have biases (Qwen2 does; Llama and Mistral do not). */
  qkvBias?: boolean;
  /** Whether the LM head shares the embedding matrix (`tie_word_embeddings`). */
  tiedEmbeddings?: boolean;
  /**
   * Mixture of experts: routed experts per layer (`num_local_experts`, Qwen `num_experts`), each a
   * gated MLP of width `intermediate`, with a router matrix hidden×experts. Absent or 1: dense.
   */
  experts?: number;
  /** Mixture of experts: experts each token runs through (`num_experts_per_tok`); required with `experts` > 1. */
  activeExperts?: number;
  /**
   * Mixture of experts: width of a shared expert every token runs through besides its routed ones
   * (Qwen MoE `shared_expert_intermediate_size`, with a hidden×1 sigmoid gate); absent or 0: none.
   */
  sharedExpertIntermediate?: number;
  /** URL-free citation of the numbers, e.g. `meta-llama/Llama-2-7b-hf config.json`. */
  source: string;
}

/** The fields {@link countParams} reads. */
export type ModelArchitecture = Omit<ModelSpec, 'name' | 'params' | 'source' | 'maxContext'>;

/**
 * The MLP widths of one layer: `stored`, the summed width of every expert held in memory (all
 * routed experts plus the shared one; `intermediate` for a dense model), and `active`, the summed
 * width each token runs through (its `activeExperts` routed experts plus the shared one). A
 * mixture of experts is priced as a dense model of width `active` (FLOPs and weights read per
 * iteration) while all `stored` weights occupy memory; `routerRows` is the width of the router
 * (and shared-expert gate) matrix, hidden×routerRows, held in memory and not priced.
 */
export function mlpWidths(a: Pick<ModelSpec, 'intermediate' | 'experts' | 'activeExperts' | 'sharedExpertIntermediate'>): { stored: number; active: number; routerRows: number } {
  const experts = a.experts ?? 1;
  const shared = a.sharedExpertIntermediate ?? 0;
  if (experts <= 1) return { stored: a.intermediate + shared, active: a.intermediate + shared, routerRows: 0 };
  return {
    stored: experts * a.intermediate + shared,
    active: (a.activeExperts ?? experts) * a.intermediate + shared,
    routerRows: experts + (shared > 0 ? 1 : 0),
  };
}

/**
 * Counts the parameters of a Llama-style decoder: token embedding (vocab·hidden); per layer the
 * Q, K, V, O projections (plus Q/K/V biases when `qkvBias`), the gate, up and down matrices of the
 * MLP (3·hidden·intermediate; for a mixture of experts those of every expert and the router,
 * {@link mlpWidths}) and two RMSNorm weight vectors; the final RMSNorm; and the LM head
 * (vocab·hidden) unless `tiedEmbeddings`. Rotary embeddings have no parameters.
 * @returns the parameter count (an integer).
 */
export function countParams(a: ModelArchitecture): number {
  const q = a.heads * a.headDim;
  const kv = a.kvHeads * a.headDim;
  const attn = a.hidden * (q + 2 * kv) + q * a.hidden + (a.qkvBias ? q + 2 * kv : 0);
  const w = mlpWidths(a);
  const mlp = 3 * a.hidden * w.stored + a.hidden * w.routerRows;
  const norms = 2 * a.hidden;
  const embedding = a.vocab * a.hidden;
  const lmHead = a.tiedEmbeddings ? 0 : a.vocab * a.hidden;
  return embedding + a.layers * (attn + mlp + norms) + a.hidden + lmHead;
}

/**
 * Parameters each token runs through: {@link countParams} with the MLP of the active experts only
 * (equal to `params` for a dense model; Mixtral-8x7B 12.88B of 46.70B). FLOPs per token and the
 * weights read per iteration of a mixture of experts are priced from this (docs/cost-model.md).
 */
export function activeParams(m: ModelSpec): number {
  const w = mlpWidths(m);
  return m.params - m.layers * (3 * m.hidden * (w.stored - w.active) + m.hidden * w.routerRows);
}

/** Builds a spec, filling `params` from the architecture. */
function spec(s: Omit<ModelSpec, 'params'>): ModelSpec {
  return Object.freeze({ ...s, params: countParams(s) });
}

/** Llama-3-8B's published config.json numbers (meta-llama/Meta-Llama-3-8B). */
const LLAMA_3_8B = {
  name: 'llama-3-8b',
  layers: 32,
  hidden: 4096,
  heads: 32,
  kvHeads: 8,
  headDim: 128,
  intermediate: 14336,
  vocab: 128256,
  maxContext: 8192,
  source: 'meta-llama/Meta-Llama-3-8B config.json',
};

/** Mistral-7B-v0.1's published config.json numbers (mistralai/Mistral-7B-v0.1). */
const MISTRAL_7B = {
  name: 'mistral-7b',
  layers: 32,
  hidden: 4096,
  heads: 32,
  kvHeads: 8,
  headDim: 128,
  intermediate: 14336,
  vocab: 32000,
  // max_position_embeddings; v0.1 attends through a 4096-token sliding window, not modelled.
  maxContext: 32768,
  source: 'mistralai/Mistral-7B-v0.1 config.json',
};

/** Llama-3.1-8B: Llama-3-8B's numbers with a 131072-token context (meta-llama/Llama-3.1-8B config.json). */
const LLAMA_3_1_8B = { ...LLAMA_3_8B, name: 'llama-3.1-8b', maxContext: 131072, source: 'meta-llama/Llama-3.1-8B config.json' };

/**
 * The models the simulator knows, keyed by lower-case name. Numbers are from each model's
 * Hugging Face `config.json` (named in `source`); `params` is computed (see {@link countParams})
 * and agrees with the published counts: Llama-2 7B 6.74B, 13B 13.02B, 70B 68.98B; Llama-3 8B
 * 8.03B, 70B 70.55B (Llama-3.1 8B and 70B: the same); Mistral-7B-v0.1 7.24B; Qwen2.5 7B 7.62B, 72B 72.71B;
 * Mixtral-8x7B 46.70B (12.88B active per token; Mistral AI's announcement: 46.7B, 12.9B).
 */
export const MODELS: Readonly<Record<string, ModelSpec>> = Object.freeze({
  'llama-2-7b': spec({
    name: 'llama-2-7b',
    layers: 32,
    hidden: 4096,
    heads: 32,
    kvHeads: 32,
    headDim: 128,
    intermediate: 11008,
    vocab: 32000,
    maxContext: 4096,
    source: 'meta-llama/Llama-2-7b-hf config.json',
  }),
  'llama-2-13b': spec({
    name: 'llama-2-13b',
    layers: 40,
    hidden: 5120,
    heads: 40,
    kvHeads: 40,
    headDim: 128,
    intermediate: 13824,
    vocab: 32000,
    maxContext: 4096,
    source: 'meta-llama/Llama-2-13b-hf config.json',
  }),
  'llama-2-70b': spec({
    name: 'llama-2-70b',
    layers: 80,
    hidden: 8192,
    heads: 64,
    kvHeads: 8,
    headDim: 128,
    intermediate: 28672,
    vocab: 32000,
    maxContext: 4096,
    source: 'meta-llama/Llama-2-70b-hf config.json',
  }),
  'llama-3-8b': spec(LLAMA_3_8B),
  'llama-3-70b': spec({
    name: 'llama-3-70b',
    layers: 80,
    hidden: 8192,
    heads: 64,
    kvHeads: 8,
    headDim: 128,
    intermediate: 28672,
    vocab: 128256,
    maxContext: 8192,
    source: 'meta-llama/Meta-Llama-3-70B config.json',
  }),
  // Llama 3.1: the Llama 3 architecture with a 128k context. Rotary embeddings are rescaled
  // (rope_theta 500000, rope_scaling llama3: factor 8, low_freq_factor 1, high_freq_factor 4,
  // original_max_position_embeddings 8192), which changes no parameter count or KV size.
  'llama-3.1-8b': spec(LLAMA_3_1_8B),
  // The instruction-tuned release: the same config.json numbers as the base model.
  'llama-3.1-8b-instruct': spec({ ...LLAMA_3_1_8B, name: 'llama-3.1-8b-instruct', source: 'meta-llama/Llama-3.1-8B-Instruct config.json' }),
  'llama-3.1-70b': spec({
    name: 'llama-3.1-70b',
    layers: 80,
    hidden: 8192,
    heads: 64,
    kvHeads: 8,
    headDim: 128,
    intermediate: 28672,
    vocab: 128256,
    maxContext: 131072,
    source: 'meta-llama/Llama-3.1-70B config.json',
  }),
  'mistral-7b': spec(MISTRAL_7B),
  // Mixture of experts: Mistral-7B's attention and widths, each layer's MLP replaced by 8 experts of
  // which a router picks 2 per token. Priced as a dense model with the 2 active experts' MLP
  // (FLOPs and weights read per iteration: activeParams), while all 8 experts' weights occupy GPU
  // memory (params, the KV capacity). Expert load imbalance and expert parallelism are not modelled.
  'mixtral-8x7b': spec({
    ...MISTRAL_7B,
    name: 'mixtral-8x7b',
    experts: 8,
    activeExperts: 2,
    source: 'mistralai/Mixtral-8x7B-v0.1 config.json (num_local_experts 8, num_experts_per_tok 2)',
  }),
  'qwen2.5-7b': spec({
    name: 'qwen2.5-7b',
    layers: 28,
    hidden: 3584,
    heads: 28,
    kvHeads: 4,
    headDim: 128,
    intermediate: 18944,
    vocab: 152064,
    maxContext: 131072,
    qkvBias: true,
    tiedEmbeddings: false,
    source: 'Qwen/Qwen2.5-7B config.json',
  }),
  'qwen2.5-72b': spec({
    name: 'qwen2.5-72b',
    layers: 80,
    hidden: 8192,
    heads: 64,
    kvHeads: 8,
    headDim: 128,
    intermediate: 29568,
    vocab: 152064,
    maxContext: 131072,
    qkvBias: true,
    tiedEmbeddings: false,
    source: 'Qwen/Qwen2.5-72B config.json',
  }),
});

/**
 * Looks a model up by name (case-insensitive).
 * @throws InputError (field `model`) listing the valid names when the name is unknown.
 */
export function getModel(name: string): ModelSpec {
  const key = checkChoice('model', name.trim().toLowerCase(), Object.keys(MODELS));
  return MODELS[key];
}

/**
 * Checks a tensor-parallel degree: a positive integer that divides the number of query heads
 * (as vLLM requires; the MLP is split by the same factor).
 * @returns `tp`.
 * @throws InputError with field `--tp` otherwise.
 */
export function checkTp(model: ModelSpec, tp: number): number {
  if (!Number.isInteger(tp) || tp < 1) {
    throw new InputError(`tensor-parallel degree must be a positive integer, got ${tp}`, { field: '--tp' });
  }
  if (model.heads % tp !== 0) {
    throw new InputError(
      `tensor-parallel degree ${tp} does not divide the ${model.heads} attention heads of ${model.name}`,
      { field: '--tp' },
    );
  }
  return tp;
}

/**
 * KV heads each GPU holds under tensor parallelism: kvHeads/tp when tp <= kvHeads, else 1 (each
 * KV head replicated on tp/kvHeads GPUs, as vLLM does); in general ceil(kvHeads/tp).
 */
export function kvHeadsPerGpu(model: ModelSpec, tp: number): number {
  return Math.ceil(model.kvHeads / tp);
}
