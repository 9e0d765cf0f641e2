/**
 * Pipeline-parallel pricing (docs/cost-model.md §7): how a replica's layers are split into stages,
 * what one stage of a micro-batch costs, and the activation send from one stage to the next.
 * The timing of micro-batches through the stages (the pipeline algebra) is the engine's
 * (sim/pipeline.ts); this file only prices.
 */
import { InputError } from '../errors.ts';
import type { BatchShape, CostModel } from './cost-model.ts';
import type { GpuSpec } from './gpus.ts';
import { BYTES_PER_ELEMENT, type ModelSpec } from './models.ts';

/** Most pipeline stages a replica may have (`--pp`): as many as `--tp`'s bound. */
export const MAX_PP = 64;

/**
 * Layers of each of `pp` stages, as vLLM splits them (`vllm/distributed/utils.py`
 * `get_pp_indices`, without the `VLLM_PP_LAYER_PARTITION` override): ⌊L/pp⌋ each, and the
 * L mod pp left over go one each to the stages just before the last (the last stage also holds
 * the final norm and the LM head). Llama-2-70B (80 layers) on 3 stages: [27, 27, 26].
 * @param layers the model's transformer blocks (L ≥ 1).
 * @param pp stages, an integer in [1, min(L, {@link MAX_PP})].
 * @returns `pp` positive layer counts summing to L, first stage first.
 * @throws InputError (field `--pp`) for a pp that is not an integer in that range.
 */
export function stageLayers(layers: number, pp: number): number[] {
  if (!(Number.isInteger(pp) && pp >= 1 && pp <= MAX_PP)) throw new InputError(`must be an integer in [1, ${MAX_PP}], got ${pp}`, { field: '--pp' });
  if (pp > layers) throw new InputError(`${pp} stages for a model of ${layers} layers: each stage needs at least one layer`, { field: '--pp' });
  const out = new Array<number>(pp).fill(Math.floor(layers / pp));
  const left = layers % pp;
  for (let i = 2; i < left + 2; i++) out[pp - i]++;
  return out;
}

/**
 * Defaults of the stage-to-stage send, fitted to Vidur's point-to-point measurements
 * (`shared/reference/vidur-profiles/network/{a100_dgx,h100_dgx}/send_recv.csv`, the single-node
 * rows, 2 KiB to 64 MiB): a least-squares line gives 4.7 µs + bytes / 234 GB/s (A100 DGX, 0.78 of
 * NVLink's 300 GB/s per direction) and 8.0 µs + bytes / 362 GB/s (H100 DGX, 0.80 of 450 GB/s).
 */
export const SEND_DEFAULTS = Object.freeze({
  /** Fixed time of one send, seconds. */
  latency_s: 6e-6,
  /** Fraction of the GPU's per-direction interconnect bandwidth a send achieves. */
  efficiency: 0.8,
});

/** A stage-to-stage link: a fixed latency (s) and an achieved bandwidth (bytes/s, > 0). */
export interface SendLink {
  latency_s: number;
  bandwidth: number;
}

/**
 * The link between consecutive stages of `gpu`: {@link SEND_DEFAULTS}.latency_s and
 * `gpu.interconnectBandwidth` × {@link SEND_DEFAULTS}.efficiency (an A100-80GB: 240 GB/s).
 */
export function sendLink(gpu: GpuSpec): SendLink {
  return { latency_s: SEND_DEFAULTS.latency_s, bandwidth: gpu.interconnectBandwidth * SEND_DEFAULTS.efficiency };
}

/**
 * Seconds to send a micro-batch's activations to the next stage: latency + tokens · hidden · 2
 * bytes / bandwidth (one BF16 hidden state per token, as Vidur's send_recv prices it; 0 for no
 * tokens). Each tensor-parallel rank sends to its peer of the next stage in parallel.
 * @param tokens tokens of the micro-batch (prefill tokens + decoding sequences).
 * @param hidden the model's hidden size.
 */
export function sendTime(tokens: number, hidden: number, link: SendLink): number {
  if (tokens <= 0) return 0;
  return link.latency_s + (tokens * hidden * BYTES_PER_ELEMENT) / link.bandwidth;
}

/** Inputs of {@link PipelineCost}. */
export interface PipelineCostOptions {
  /** Prices a whole iteration (every layer) at the run's tensor parallelism. */
  cost: CostModel;
  /** Layers per stage ({@link stageLayers}); one entry per stage. */
  layers: readonly number[];
  /** The model's hidden size (activation width). */
  hidden: number;
  /** The stage-to-stage link ({@link sendLink}). */
  link: SendLink;
}

/**
 * What each stage of a micro-batch costs. Stage k takes its share of the layers of the whole
 * iteration's time, `iterationTime(b) · layers_k / L`, plus, except on the last stage, the send
 * of the micro-batch's activations to the next stage ({@link sendTime}); so a micro-batch that
 * meets no queue takes `iterationTime(b) + (pp − 1) · send` from first stage to last. Vidur
 * prices a stage the same way (`layers_per_stage` × one layer's time + send_recv on every stage
 * but the last). The embedding, LM head and per-iteration overhead are spread with the layers
 * rather than placed on the first or last stage (the `CostModel` interface prices whole
 * iterations only): docs/cost-model.md §7.
 */
export class PipelineCost {
  /** Stages (≥ 1). */
  readonly stages: number;
  /** The cost model of a whole iteration. */
  readonly cost: CostModel;
  /** Layers per stage. */
  readonly layers: readonly number[];
  /** `pipeline(<cost name>, pp=<stages>, layers=<a>/<b>/…)`. */
  readonly name: string;
  private readonly hidden: number;
  private readonly link: SendLink;
  private readonly share: Float64Array;

  /** @throws InputError (field `--pp`) for no stages, a stage without layers, or a link without bandwidth. */
  constructor(o: PipelineCostOptions) {
    const L = o.layers.reduce((a, b) => a + b, 0);
    if (o.layers.length < 1 || o.layers.some((l) => !(Number.isInteger(l) && l >= 1))) throw new InputError(`every stage needs a positive whole number of layers, got ${o.layers.join('/')}`, { field: '--pp' });
    if (!(o.link.bandwidth > 0) || !(o.link.latency_s >= 0)) throw new InputError(`a stage link needs a bandwidth > 0 and a latency >= 0`, { field: '--pp' });
    this.stages = o.layers.length;
    this.cost = o.cost;
    this.layers = [...o.layers];
    this.hidden = o.hidden;
    this.link = { ...o.link };
    this.share = Float64Array.from(o.layers, (l) => l / L);
    this.name = `pipeline(${o.cost.name}, pp=${this.stages}, layers=${this.layers.join('/')})`;
  }

  /** Seconds of the whole iteration `b` (all layers, the cost model's price). */
  iterationTime(b: BatchShape): number {
    return this.cost.iterationTime(b);
  }

  /**
   * Seconds stage `k` takes for a micro-batch of `tokens` tokens whose whole iteration costs
   * `whole` seconds: whole · layers_k / L, plus the send to stage k + 1 unless k is the last.
   */
  stageTime(k: number, whole: number, tokens: number): number {
    const t = whole * this.share[k];
    return k < this.stages - 1 ? t + sendTime(tokens, this.hidden, this.link) : t;
  }
}

/**
 * The pipeline pricing of a run: `cost` split over {@link stageLayers}(model.layers, pp) with the
 * send priced on `gpu`'s link ({@link sendLink}).
 * @throws InputError (field `--pp`) for a bad pp.
 */
export function pipelineCost(cost: CostModel, model: ModelSpec, gpu: GpuSpec, pp: number): PipelineCost {
  return new PipelineCost({ cost, layers: stageLayers(model.layers, pp), hidden: model.hidden, link: sendLink(gpu) });
}
