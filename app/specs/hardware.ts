/**
 * Models and GPUs from files: `--model FILE.json` and `--gpu FILE.json` read a JSON file in the
 * shape of a built-in entry (sim/cost/models.ts ModelSpec, sim/cost/gpus.ts GpuSpec), or for
 * `--model` a Hugging Face `config.json` (told apart by its `model_type` / `hidden_size` fields).
 * Validated with zod; formats in docs/models.md, JSON Schemas in docs/schemas/. The core never
 * sees a file: it gets the same frozen ModelSpec / GpuSpec a built-in name gives.
 */
import path from 'node:path';
import { z } from 'zod';
import { InputError } from '../../sim/errors.ts';
import { readJsonFile } from '../../sim/files.ts';
import { countParams, getModel, MODELS, type ModelSpec } from '../../sim/cost/models.ts';
import { getGpu, GPUS, type GpuSpec } from '../../sim/cost/gpus.ts';
import { jsonLineOf, zodInputError } from './zod-error.ts';

/** Whether a `--model` / `--gpu` value names a file rather than a built-in: it ends in `.json`. */
export function isSpecFile(value: string): boolean {
  return /\.json$/i.test(value.trim());
}

const count = (max: number) => z.number().int().min(1).max(max);
/** Widths and counts are bounded so every product the cost model forms stays an exact double. */
const WIDTH = 2 ** 20;
const name = z.string().trim().min(1).max(200);
const source = z.string().trim().min(1).max(2000).describe('URL-free citation of the numbers');

/** A model file: a ModelSpec as sim/cost/models.ts writes the built-ins (`params` optional: computed). */
export const modelFileSchema = z
  .strictObject({
    name: name.describe('lower-case name shown in reports; a built-in name only with the built-in values'),
    layers: count(1024).describe('transformer blocks (num_hidden_layers)'),
    hidden: count(WIDTH).describe('residual stream width (hidden_size)'),
    heads: count(4096).describe('query heads (num_attention_heads)'),
    kvHeads: count(4096).describe('key/value heads (num_key_value_heads)'),
    headDim: count(4096).describe('per-head width (head_dim)'),
    intermediate: count(WIDTH).describe('MLP inner width (intermediate_size; of one expert for a mixture of experts)'),
    vocab: count(2 ** 24).describe('vocabulary size (vocab_size)'),
    maxContext: count(2 ** 24).describe('longest context, tokens (max_position_embeddings)'),
    params: z.number().int().min(1).optional().describe('total parameter count; when given it must equal the count from the architecture'),
    qkvBias: z.boolean().optional().describe('Q, K and V projections have biases'),
    tiedEmbeddings: z.boolean().optional().describe('the LM head shares the embedding matrix'),
    experts: count(4096).optional().describe('mixture of experts: routed experts per layer'),
    activeExperts: count(4096).optional().describe('mixture of experts: experts per token'),
    sharedExpertIntermediate: z.number().int().min(0).max(WIDTH).optional().describe('mixture of experts: shared expert width'),
    source,
  })
  .superRefine((m, ctx) => {
    const bad = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
    if (m.heads % m.kvHeads !== 0) bad('kvHeads', `${m.kvHeads} does not divide the ${m.heads} query heads`);
    const experts = m.experts ?? 1;
    if (experts > 1 && m.activeExperts === undefined) bad('activeExperts', `missing: a mixture of ${experts} experts needs the experts per token`);
    if (m.activeExperts !== undefined && m.activeExperts > experts) bad('activeExperts', `${m.activeExperts} exceeds the ${experts} experts`);
    if (experts <= 1 && (m.sharedExpertIntermediate ?? 0) > 0) bad('sharedExpertIntermediate', 'a shared expert needs experts > 1');
    if (m.params !== undefined) {
      const computed = countParams(m);
      if (m.params !== computed) bad('params', `${m.params} differs from the ${computed} the architecture gives (sim/cost/models.ts countParams): leave it out`);
    }
  });

/** A GPU file: a GpuSpec as sim/cost/gpus.ts writes the built-ins. */
export const gpuFileSchema = z.strictObject({
  name: name.describe('lower-case name shown in reports; a built-in name only with the built-in values'),
  bf16Flops: z.number().positive().max(1e18).describe('peak dense BF16 tensor FLOP/s'),
  memBandwidth: z.number().positive().max(1e15).describe('peak device-memory bandwidth, bytes/s'),
  memBytes: z.number().int().positive().max(2 ** 50).describe('device memory, bytes'),
  pcieBandwidth: z.number().positive().max(1e13).describe('host<->device copy bandwidth in one direction, bytes/s'),
  interconnectBandwidth: z.number().positive().max(1e14).describe('GPU-to-GPU bandwidth per GPU in one direction, bytes/s'),
  source,
  usdPerHour: z.number().positive().max(1e6).optional().describe('default price, US dollars per GPU-hour'),
  priceSource: z.string().trim().min(1).max(2000).optional().describe('where usdPerHour comes from'),
});

const hfCount = (max: number) => z.number().int().min(1).max(max);

/**
 * The fields of a Hugging Face `config.json` this reads (others are ignored); the mapping to
 * ModelSpec is {@link modelFromHf} and the table in docs/models.md.
 */
export const hfConfigSchema = z.looseObject({
  model_type: z.string().optional(),
  hidden_size: hfCount(WIDTH),
  num_hidden_layers: hfCount(1024),
  num_attention_heads: hfCount(4096),
  num_key_value_heads: hfCount(4096).nullish(),
  head_dim: hfCount(4096).nullish(),
  intermediate_size: hfCount(WIDTH).optional(),
  vocab_size: hfCount(2 ** 24),
  max_position_embeddings: hfCount(2 ** 24),
  tie_word_embeddings: z.boolean().optional(),
  attention_bias: z.boolean().optional(),
  num_local_experts: hfCount(4096).optional(),
  num_experts: hfCount(4096).nullish(),
  num_experts_per_tok: hfCount(4096).nullish(),
  moe_intermediate_size: hfCount(WIDTH).optional(),
  shared_expert_intermediate_size: z.number().int().min(0).max(WIDTH).optional(),
  decoder_sparse_step: z.number().int().min(1).optional(),
  mlp_only_layers: z.array(z.number()).optional(),
  kv_lora_rank: z.number().nullish(),
});

/** Model types whose Q, K and V projections have biases (Qwen2, Qwen2-MoE) when `attention_bias` is absent. */
const QKV_BIAS_TYPES = ['qwen2', 'qwen2_moe'];

/**
 * Maps a parsed Hugging Face config to a ModelSpec (docs/models.md: the field table). `head_dim`
 * defaults to hidden_size / num_attention_heads, `num_key_value_heads` to the query heads,
 * `tie_word_embeddings` to false (the Llama, Mistral, Mixtral and Qwen2 config classes' default);
 * `attention_bias` or, without it, the model type gives the QKV biases. Mixtral's
 * `num_local_experts`, Qwen-MoE's `num_experts` with `moe_intermediate_size` and
 * `shared_expert_intermediate_size` give a mixture of experts.
 * @param fail throws an InputError for a field (named by its HF key).
 * @throws through `fail` for a configuration this cannot price: multi-head latent attention
 *   (`kv_lora_rank`), dense layers between sparse ones (`decoder_sparse_step` > 1, `mlp_only_layers`),
 *   no MLP width.
 */
export function modelFromHf(c: z.infer<typeof hfConfigSchema>, modelName: string, src: string, fail: (field: string, message: string) => never): ModelSpec {
  if (c.kv_lora_rank !== undefined && c.kv_lora_rank !== null) fail('kv_lora_rank', 'multi-head latent attention (DeepSeek) is not modelled');
  if ((c.decoder_sparse_step ?? 1) !== 1) fail('decoder_sparse_step', 'dense layers between mixture-of-experts layers are not modelled');
  if ((c.mlp_only_layers ?? []).length > 0) fail('mlp_only_layers', 'dense layers between mixture-of-experts layers are not modelled');
  const experts = c.num_local_experts ?? c.num_experts ?? 1;
  const moe = experts > 1;
  const intermediate = moe ? (c.moe_intermediate_size ?? c.intermediate_size) : c.intermediate_size;
  if (intermediate === undefined) fail('intermediate_size', 'missing (expected a positive integer)');
  if (moe && (c.num_experts_per_tok === undefined || c.num_experts_per_tok === null)) fail('num_experts_per_tok', `missing: a mixture of ${experts} experts needs the experts per token`);
  const heads = c.num_attention_heads;
  const headDim = c.head_dim ?? c.hidden_size / heads;
  if (!Number.isInteger(headDim)) fail('num_attention_heads', `${heads} heads do not divide hidden_size ${c.hidden_size}: give head_dim`);
  const spec: Omit<ModelSpec, 'params'> = {
    name: modelName,
    layers: c.num_hidden_layers,
    hidden: c.hidden_size,
    heads,
    kvHeads: c.num_key_value_heads ?? heads,
    headDim,
    intermediate: intermediate!,
    vocab: c.vocab_size,
    maxContext: c.max_position_embeddings,
    source: src,
  };
  if (c.attention_bias ?? QKV_BIAS_TYPES.includes(c.model_type ?? '')) spec.qkvBias = true;
  if (c.tie_word_embeddings === true) spec.tiedEmbeddings = true;
  if (moe) {
    spec.experts = experts;
    spec.activeExperts = c.num_experts_per_tok!;
    if ((c.shared_expert_intermediate_size ?? 0) > 0) spec.sharedExpertIntermediate = c.shared_expert_intermediate_size;
  }
  if (spec.heads % spec.kvHeads !== 0) fail('num_key_value_heads', `${spec.kvHeads} does not divide the ${heads} query heads`);
  if (moe && spec.activeExperts! > experts) fail('num_experts_per_tok', `${spec.activeExperts} exceeds the ${experts} experts`);
  return Object.freeze({ ...spec, params: countParams(spec) });
}

/** Whether a parsed JSON object is a Hugging Face config (has `model_type` or `hidden_size`, not `layers`). */
export function isHfConfig(v: object): boolean {
  return !Object.hasOwn(v, 'layers') && (Object.hasOwn(v, 'model_type') || Object.hasOwn(v, 'hidden_size'));
}

/**
 * The model name of a Hugging Face config file: its folder's name lower-cased when the file is
 * `config.json` (`Llama-3.1-8B/config.json` → `llama-3.1-8b`), else the file name without `.json`.
 */
export function hfModelName(file: string): string {
  const base = path.basename(file);
  const stem = base.toLowerCase() === 'config.json' ? path.basename(path.dirname(path.resolve(file))) : base.replace(/\.json$/i, '');
  return stem.toLowerCase();
}

/** A model's numbers with every optional field at its default (false, 1 expert, no shared expert). */
function modelNumbers(m: ModelSpec): Record<string, number | boolean> {
  const experts = m.experts ?? 1;
  return {
    layers: m.layers, hidden: m.hidden, heads: m.heads, kvHeads: m.kvHeads, headDim: m.headDim, intermediate: m.intermediate, vocab: m.vocab,
    maxContext: m.maxContext, params: m.params, qkvBias: m.qkvBias ?? false, tiedEmbeddings: m.tiedEmbeddings ?? false,
    experts, activeExperts: experts > 1 ? (m.activeExperts ?? experts) : 1, sharedExpertIntermediate: m.sharedExpertIntermediate ?? 0,
  };
}

/**
 * The fields in which two models' numbers differ, optional fields read at their defaults (an absent
 * `qkvBias` is false): empty when they price and size the same. Names and sources are not compared.
 */
export function modelDifferences(a: ModelSpec, b: ModelSpec): string[] {
  const x = modelNumbers(a);
  const y = modelNumbers(b);
  return Object.keys(x).filter((k) => x[k] !== y[k]);
}

/** The fields in which two GPUs' numbers differ (names, sources and price sources not compared). */
function gpuDifferences(a: GpuSpec, b: GpuSpec): string[] {
  const keys = ['bf16Flops', 'memBandwidth', 'memBytes', 'pcieBandwidth', 'interconnectBandwidth', 'usdPerHour'] as const;
  return keys.filter((k) => a[k] !== b[k]);
}

/** Refuses a file entry that takes a built-in's name with other values (reports and profile matching go by name). */
function checkName<T extends { name: string }>(spec: T, builtins: Readonly<Record<string, T>>, diff: (a: T, b: T) => string[], what: string, file: string, line: number | undefined): void {
  const b = builtins[spec.name];
  if (b === undefined) return;
  const differs = diff(b, spec);
  if (differs.length > 0) {
    throw new InputError(`'${spec.name}' is a built-in ${what} (sim ${what}s) with other values (${differs.join(', ')}): give the file another name`, { file, line, field: 'name' });
  }
}

const modelCache = new Map<string, ModelSpec>();
const gpuCache = new Map<string, GpuSpec>();

/**
 * Reads a model file: a ModelSpec-shaped JSON file ({@link modelFileSchema}) or a Hugging Face
 * `config.json` ({@link modelFromHf}); read once per absolute path per process.
 * @returns a frozen ModelSpec (`params` computed).
 * @throws InputError `file:line: field: reason` for a missing, malformed or invalid file.
 */
export function readModelFile(file: string): ModelSpec {
  const abs = path.resolve(file);
  const hit = modelCache.get(abs);
  if (hit) return hit;
  const { text, value } = readJsonFile(file, 'model');
  const lineOf = jsonLineOf(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InputError('a model file must be a JSON object (docs/models.md)', { file, line: 1 });
  let spec: ModelSpec;
  if (isHfConfig(value)) {
    const r = hfConfigSchema.safeParse(value);
    if (!r.success) throw zodInputError(r.error, file, lineOf);
    const fail = (field: string, message: string): never => {
      throw new InputError(message, { file, line: lineOf([field]), field });
    };
    spec = modelFromHf(r.data, hfModelName(file), `Hugging Face config.json ${path.basename(path.dirname(abs))}/${path.basename(abs)}${r.data.model_type ? ` (model_type ${r.data.model_type})` : ''}`, fail);
  } else {
    const r = modelFileSchema.safeParse(value);
    if (!r.success) throw zodInputError(r.error, file, lineOf);
    const { params: _given, ...rest } = r.data;
    spec = Object.freeze({ ...rest, name: rest.name.toLowerCase(), params: countParams(rest) });
  }
  checkName(spec, MODELS, modelDifferences, 'model', file, lineOf(['name']));
  modelCache.set(abs, spec);
  return spec;
}

/**
 * Reads a GPU file ({@link gpuFileSchema}); read once per absolute path per process.
 * @returns a frozen GpuSpec.
 * @throws InputError `file:line: field: reason` for a missing, malformed or invalid file.
 */
export function readGpuFile(file: string): GpuSpec {
  const abs = path.resolve(file);
  const hit = gpuCache.get(abs);
  if (hit) return hit;
  const { text, value } = readJsonFile(file, 'gpu');
  const lineOf = jsonLineOf(text);
  const r = gpuFileSchema.safeParse(value);
  if (!r.success) throw zodInputError(r.error, file, lineOf);
  const spec: GpuSpec = Object.freeze({ ...r.data, name: r.data.name.toLowerCase() });
  checkName(spec, GPUS, gpuDifferences, 'gpu', file, lineOf(['name']));
  gpuCache.set(abs, spec);
  return spec;
}

/**
 * The model of a `--model` value: a file when it ends in `.json` ({@link readModelFile}), else a
 * built-in name (`sim models`).
 * @throws InputError as those do.
 */
export function resolveModel(value: string): ModelSpec {
  return isSpecFile(value) ? readModelFile(value) : getModel(value);
}

/**
 * The GPU of a `--gpu` value: a file when it ends in `.json` ({@link readGpuFile}), else a
 * built-in name (`sim gpus`).
 * @throws InputError as those do.
 */
export function resolveGpu(value: string): GpuSpec {
  return isSpecFile(value) ? readGpuFile(value) : getGpu(value);
}
