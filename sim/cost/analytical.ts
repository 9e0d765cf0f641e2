/**
 * Analytical (roofline) iteration cost: every operator of a Llama-style decoder priced as the
 * larger of its compute time and its memory time at achieved fractions of the GPU's peaks, plus
 * tensor-parallel all-reduces and a fixed per-iteration overhead. See docs/cost-model.md.
 */
import { InputError } from '../errors.ts';
import type { BatchShape, CostModel } from './cost-model.ts';
import type { GpuSpec } from './gpus.ts';
import { BYTES_PER_ELEMENT, checkTp, kvHeadsPerGpu, mlpWidths, type ModelSpec } from './models.ts';

/**
 * Operator names of the breakdown, in evaluation order. Per-layer operators are summed over all
 * layers; `embedding` and `lm_head` run once per iteration; `norm_rope_residual` includes the
 * final norm; `all_reduce` is the tensor-parallel communication (0 at tp=1).
 */
export const OPERATORS = [
  'embedding',
  'qkv_proj',
  'attn_out_proj',
  'mlp_gate_up',
  'mlp_act',
  'mlp_down',
  'norm_rope_residual',
  'prefill_attn',
  'decode_attn',
  'all_reduce',
  'lm_head',
] as const;

/** One of {@link OPERATORS}. */
export type OperatorName = (typeof OPERATORS)[number];

/** Seconds per iteration spent in each operator (all layers together). */
export type OperatorBreakdown = Record<OperatorName, number>;

/**
 * Replacement for one operator's time: seconds that operator takes over the whole iteration (all
 * layers) for the shape. Must be pure; used by calibrated profiles to override operators one by one.
 */
export type OperatorTimeFn = (b: BatchShape) => number;

/**
 * Defaults of {@link AnalyticalOptions}, chosen so that the linear operators (QKV, output, MLP
 * up and down projections) of Llama-2-7B and Llama-3-8B land within a few percent of Vidur's
 * A100 medians (shared/reference/vidur-profiles) at 1 to 4096 tokens; see docs/cost-model.md.
 */
export const ANALYTICAL_DEFAULTS = Object.freeze({
  /** Fraction of peak BF16 FLOP/s achieved by GEMMs and attention (Vidur A100 GEMMs: 0.65–0.75). */
  computeEfficiency: 0.7,
  /** Fraction of peak memory bandwidth achieved (Vidur A100 weight-bound GEMMs: 0.66–0.81). */
  bandwidthEfficiency: 0.75,
  /** Fixed per-iteration time outside the GPU operators (scheduling, input preparation, sampling,
   * launch), seconds. */
  overhead_s: 0.002,
  /** Shortest time of one kernel, seconds (Vidur A100 at 1 token: norms, rotary 5 µs, add 2 µs). */
  minKernelTime_s: 4e-6,
  /** Fixed latency of one all-reduce call, seconds (Vidur small-message medians: 7–60 µs). */
  allReduceLatency_s: 20e-6,
  /** Fraction of the interconnect's per-direction bandwidth an all-reduce achieves as bus
   * bandwidth (Vidur: A100 NVLink pair 0.66, H100 DGX 2/4/8 GPUs 0.65/0.74/0.85). */
  interconnectEfficiency: 0.7,
});

/**
 * Efficiencies fitted to measured CUDA tables (Vidur's A100 profiles, MIT License, Copyright (c)
 * Microsoft Corporation; Agrawal et al., MLSys 2024): the analytical model's constants when no
 * measured profile matches a run (the default cost model). The linear pair is fitted jointly on
 * every third token count of the four linear operators (QKV, output, MLP up and down projections)
 * of Vidur's `mlp.csv` for Llama-2-7B, Llama-3-8B and Llama-2-70B at tp 1, 2, 4 and 8; each
 * attention pair on every third measured cell of Vidur's Llama-2-70B tp=2 `attention.csv`
 * (FlashAttention). Held-out errors in docs/calibration.md §6; `fitAnalyticalDefaults` in
 * calibrate/validate.ts recomputes them (test/calibrate.test.ts checks these values). The other
 * constants are {@link ANALYTICAL_DEFAULTS}'.
 */
export const ANALYTICAL_FITTED = Object.freeze({
  computeEfficiency: 0.6885,
  bandwidthEfficiency: 0.5625,
  prefillAttnComputeEfficiency: 0.2715,
  prefillAttnBandwidthEfficiency: 0.055,
  decodeAttnComputeEfficiency: 0.036,
  decodeAttnBandwidthEfficiency: 0.6855,
});

/** Construction options of {@link AnalyticalCostModel}. Rates are fractions in (0, 1]. */
export interface AnalyticalOptions {
  model: ModelSpec;
  gpu: GpuSpec;
  /** Tensor-parallel degree: a positive integer dividing `model.heads`. */
  tp: number;
  /** Default {@link ANALYTICAL_DEFAULTS}.computeEfficiency (0.7). */
  computeEfficiency?: number;
  /** Default {@link ANALYTICAL_DEFAULTS}.bandwidthEfficiency (0.75). */
  bandwidthEfficiency?: number;
  /** Default {@link ANALYTICAL_DEFAULTS}.overhead_s (2 ms). */
  overhead_s?: number;
  /** Default {@link ANALYTICAL_DEFAULTS}.minKernelTime_s (4 µs); 0 gives a pure roofline. */
  minKernelTime_s?: number;
  /** Default {@link ANALYTICAL_DEFAULTS}.allReduceLatency_s (20 µs). */
  allReduceLatency_s?: number;
  /** Default {@link ANALYTICAL_DEFAULTS}.interconnectEfficiency (0.7). */
  interconnectEfficiency?: number;
  /** Fraction of peak FLOP/s achieved by prefill attention; default computeEfficiency. */
  prefillAttnComputeEfficiency?: number;
  /** Fraction of peak bandwidth achieved by prefill attention; default bandwidthEfficiency. */
  prefillAttnBandwidthEfficiency?: number;
  /** Fraction of peak FLOP/s achieved by decode attention; default computeEfficiency. */
  decodeAttnComputeEfficiency?: number;
  /** Fraction of peak bandwidth achieved by decode attention; default bandwidthEfficiency. */
  decodeAttnBandwidthEfficiency?: number;
  /** Word added to the name, e.g. `fitted` gives `analytical(<model>, <gpu>, tp=<tp>, fitted)`. */
  label?: string;
  /** Operator times that replace the analytical ones (e.g. from a measured profile). */
  overrides?: Partial<Record<OperatorName, OperatorTimeFn>>;
  /**
   * Promise that every override other than decode attention reads only the fields of the shape
   * other than `decodeKvTokens`, and the per-prefill lists only when prefillSeqs > 0 (true of a
   * measured profile's): lets iterationTime reuse their sum across decode-only iterations.
   * Default false (an override may read anything).
   */
  overridesReadShapeOnly?: boolean;
}

const EMB = 0;
const QKV = 1;
const OUT = 2;
const GATE_UP = 3;
const ACT = 4;
const DOWN = 5;
const NORM = 6;
const PREFILL = 7;
const DECODE = 8;
const ALL_REDUCE = 9;
const LM_HEAD = 10;
const N_OPS = OPERATORS.length;

/**
 * Roofline cost model. For each operator, time = max(FLOPs / (bf16Flops · computeEfficiency),
 * bytes / (memBandwidth · bandwidthEfficiency), kernels · minKernelTime_s), with bytes counting
 * the weights (read once per iteration) plus activations in and out; per GPU under tensor
 * parallelism. An iteration with no tokens costs 0; otherwise iterationTime = Σ operators +
 * overhead_s. Allocation-free per call (constants precomputed in the constructor).
 */
export class AnalyticalCostModel implements CostModel {
  /** `analytical(<model>, <gpu>, tp=<tp>)`. */
  readonly name: string;
  /** The model priced. */
  readonly model: ModelSpec;
  /** The GPU each tensor-parallel worker runs on. */
  readonly gpu: GpuSpec;
  /** Tensor-parallel degree. */
  readonly tp: number;
  /** Fraction of peak BF16 FLOP/s achieved. */
  readonly computeEfficiency: number;
  /** Fraction of peak memory bandwidth achieved. */
  readonly bandwidthEfficiency: number;
  /** Fixed seconds added to every non-empty iteration. */
  readonly overhead_s: number;
  /** Floor of one kernel's time, seconds. */
  readonly minKernelTime_s: number;
  /** Fixed seconds per all-reduce call. */
  readonly allReduceLatency_s: number;
  /** Fraction of the interconnect bandwidth an all-reduce achieves. */
  readonly interconnectEfficiency: number;
  /** Fractions of peak FLOP/s and bandwidth achieved by prefill and by decode attention. */
  readonly prefillAttnComputeEfficiency: number;
  readonly prefillAttnBandwidthEfficiency: number;
  readonly decodeAttnComputeEfficiency: number;
  readonly decodeAttnBandwidthEfficiency: number;

  private readonly overrides: (OperatorTimeFn | undefined)[];
  private readonly layers: number;
  /** Seconds per FLOP and per byte at the achieved rates. */
  private readonly sPerFlop: number;
  private readonly sPerByte: number;
  /** The same for prefill attention (p*) and decode attention (d*). */
  private readonly pSPerFlop: number;
  private readonly pSPerByte: number;
  private readonly dSPerFlop: number;
  private readonly dSPerByte: number;
  // Per layer, per GPU: FLOPs per token (f*), weight bytes (w*), activation bytes per token (a*).
  private readonly fQkv: number;
  private readonly wQkv: number;
  private readonly aQkv: number;
  private readonly fOut: number;
  private readonly wOut: number;
  private readonly aOut: number;
  private readonly fGateUp: number;
  private readonly wGateUp: number;
  private readonly aGateUp: number;
  private readonly aAct: number;
  private readonly fDown: number;
  private readonly wDown: number;
  private readonly aDown: number;
  private readonly wNorm: number;
  private readonly aNorm: number;
  /** Final norm (once per iteration): weight bytes and bytes per token. */
  private readonly wFinalNorm: number;
  private readonly aFinalNorm: number;
  /** Attention: FLOPs per query-key pair, bytes per new prefill token, per cached/attended KV
   * token, per decoding sequence. */
  private readonly fPair: number;
  private readonly aPrefillToken: number;
  private readonly aKvToken: number;
  private readonly aDecodeSeq: number;
  /** Embedding bytes per token. */
  private readonly aEmb: number;
  /** LM head: FLOPs per sampled sequence, weight bytes, bytes per sampled sequence. */
  private readonly fLm: number;
  private readonly wLm: number;
  private readonly aLm: number;
  /** Cache of the non-decode-attention part of the last shape priced (see iterationTime). */
  private readonly memo = new Float64Array(7);
  private memoValid = false;
  /** Whether the cache is safe: no override other than decode attention, or their promise (overridesReadShapeOnly). */
  private readonly memoizable: boolean;
  /** Whether some override may read the per-prefill lists (then shapes with prefills are not cached). */
  private readonly listsRead: boolean;
  /** All-reduce calls per iteration and seconds per token for the ring transfer. */
  private readonly arCalls: number;
  private readonly arSecondsPerToken: number;

  /**
   * @throws InputError with field `--tp` for a tp that is not a positive integer dividing
   *   `model.heads`; with the option's name for an efficiency outside (0, 1] or a negative time.
   */
  constructor(opts: AnalyticalOptions) {
    const { model, gpu } = opts;
    const tp = checkTp(model, opts.tp);
    const d = ANALYTICAL_DEFAULTS;
    this.model = model;
    this.gpu = gpu;
    this.tp = tp;
    this.computeEfficiency = fraction(opts.computeEfficiency ?? d.computeEfficiency, 'computeEfficiency');
    this.bandwidthEfficiency = fraction(opts.bandwidthEfficiency ?? d.bandwidthEfficiency, 'bandwidthEfficiency');
    this.interconnectEfficiency = fraction(
      opts.interconnectEfficiency ?? d.interconnectEfficiency,
      'interconnectEfficiency',
    );
    this.overhead_s = nonNegative(opts.overhead_s ?? d.overhead_s, 'overhead_s');
    this.minKernelTime_s = nonNegative(opts.minKernelTime_s ?? d.minKernelTime_s, 'minKernelTime_s');
    this.allReduceLatency_s = nonNegative(opts.allReduceLatency_s ?? d.allReduceLatency_s, 'allReduceLatency_s');
    this.prefillAttnComputeEfficiency = fraction(opts.prefillAttnComputeEfficiency ?? this.computeEfficiency, 'prefillAttnComputeEfficiency');
    this.prefillAttnBandwidthEfficiency = fraction(opts.prefillAttnBandwidthEfficiency ?? this.bandwidthEfficiency, 'prefillAttnBandwidthEfficiency');
    this.decodeAttnComputeEfficiency = fraction(opts.decodeAttnComputeEfficiency ?? this.computeEfficiency, 'decodeAttnComputeEfficiency');
    this.decodeAttnBandwidthEfficiency = fraction(opts.decodeAttnBandwidthEfficiency ?? this.bandwidthEfficiency, 'decodeAttnBandwidthEfficiency');
    this.name = `analytical(${model.name}, ${gpu.name}, tp=${tp}${opts.label ? `, ${opts.label}` : ''})`;

    this.overrides = OPERATORS.map((op) => {
      const fn = opts.overrides?.[op];
      if (fn !== undefined && typeof fn !== 'function') {
        throw new InputError(`override for operator '${op}' is not a function`, { field: 'overrides' });
      }
      return fn;
    });
    for (const key of Object.keys(opts.overrides ?? {})) {
      if (!(OPERATORS as readonly string[]).includes(key)) {
        throw new InputError(`unknown operator '${key}'; valid: ${OPERATORS.join(', ')}`, { field: 'overrides' });
      }
    }

    const plain = this.overrides.every((fn, op) => fn === undefined || op === DECODE);
    this.memoizable = plain || opts.overridesReadShapeOnly === true;
    this.listsRead = !plain;

    const E = BYTES_PER_ELEMENT;
    const h = model.hidden;
    const q = (model.heads / tp) * model.headDim; // query (and attention output) width per GPU
    const kv = kvHeadsPerGpu(model, tp) * model.headDim; // K (and V) width per GPU
    const qkv = q + 2 * kv;
    const i = mlpWidths(model).active / tp; // MLP width per GPU: a mixture of experts is priced with its active experts (models.ts)
    this.layers = model.layers;
    this.sPerFlop = 1 / (gpu.bf16Flops * this.computeEfficiency);
    this.sPerByte = 1 / (gpu.memBandwidth * this.bandwidthEfficiency);
    this.pSPerFlop = 1 / (gpu.bf16Flops * this.prefillAttnComputeEfficiency);
    this.pSPerByte = 1 / (gpu.memBandwidth * this.prefillAttnBandwidthEfficiency);
    this.dSPerFlop = 1 / (gpu.bf16Flops * this.decodeAttnComputeEfficiency);
    this.dSPerByte = 1 / (gpu.memBandwidth * this.decodeAttnBandwidthEfficiency);

    this.fQkv = 2 * h * qkv;
    this.wQkv = E * (h * qkv + (model.qkvBias ? qkv : 0));
    this.aQkv = E * (h + qkv);
    this.fOut = 2 * q * h;
    this.wOut = E * q * h;
    this.aOut = E * (q + h);
    this.fGateUp = 2 * h * 2 * i;
    this.wGateUp = E * h * 2 * i;
    this.aGateUp = E * (h + 2 * i);
    this.aAct = E * (2 * i + i); // SiLU(gate)·up: read gate and up, write one
    this.fDown = 2 * i * h;
    this.wDown = E * i * h;
    this.aDown = E * (i + h);
    // Two fused residual-add + RMSNorm (read x and residual, write both) and rotary on q and k.
    this.wNorm = E * 2 * h;
    this.aNorm = E * (2 * 4 * h + 2 * (q + kv));
    this.wFinalNorm = E * h;
    this.aFinalNorm = E * 3 * h;
    // Attention: 2 FLOPs per multiply-add, QK^T and PV: 4 · (heads/tp) · headDim per pair.
    this.fPair = 4 * q;
    this.aPrefillToken = E * (q + 2 * kv + q + 2 * kv); // read Q, K, V; write O; write K, V to cache
    this.aKvToken = E * 2 * kv; // K and V of one token read from the cache
    this.aDecodeSeq = E * (2 * q + 2 * kv); // read q, write o, write the new K, V to cache
    this.aEmb = E * 2 * h; // gather one row, write it
    const vocabPerGpu = Math.ceil(model.vocab / tp);
    this.fLm = 2 * h * vocabPerGpu;
    this.wLm = E * h * vocabPerGpu;
    // Read the hidden state, write FP32 logits; the sampler reads and writes FP32 full-vocab rows.
    this.aLm = E * h + 4 * vocabPerGpu + 4 * model.vocab * 2;
    // Two all-reduces per layer (after attention output and MLP down projection) and one after
    // the vocabulary-parallel embedding, each of T · hidden · 2 bytes, ring algorithm.
    this.arCalls = tp > 1 ? 2 * model.layers + 1 : 0;
    this.arSecondsPerToken =
      tp > 1 ? ((2 * (tp - 1)) / tp) * E * h / (gpu.interconnectBandwidth * this.interconnectEfficiency) : 0;
  }

  /**
   * Wall time in seconds of one iteration: (overhead_s + Σ operators other than decode attention)
   * + decode attention; 0 with no tokens. The first part depends on the shape's fields other than
   * `decodeKvTokens`, and is reused from the previous call when those are unchanged — the common
   * case of consecutive decode iterations, where only the context grows. The sum is computed in
   * the same order either way, so results do not depend on the cache.
   */
  iterationTime(b: BatchShape): number {
    const tokens = b.prefillTokens + b.decodeSeqs;
    if (tokens <= 0) return 0;
    const m = this.memo;
    let rest: number;
    if (
      this.memoValid &&
      m[0] === b.prefillTokens &&
      m[1] === b.prefillSeqs &&
      m[2] === b.prefillAttnPairs &&
      m[3] === b.prefillCachedTokens &&
      m[4] === b.decodeSeqs &&
      m[5] === b.sampledSeqs
    ) {
      rest = m[6];
    } else {
      rest = this.overhead_s;
      for (let op = 0; op < N_OPS; op++) if (op !== DECODE) rest += this.operatorTime(op, b, tokens);
      if (this.memoizable && !(this.listsRead && b.prefillSeqs > 0)) {
        m[0] = b.prefillTokens;
        m[1] = b.prefillSeqs;
        m[2] = b.prefillAttnPairs;
        m[3] = b.prefillCachedTokens;
        m[4] = b.decodeSeqs;
        m[5] = b.sampledSeqs;
        m[6] = rest;
        this.memoValid = true;
      }
    }
    return rest + this.operatorTime(DECODE, b, tokens);
  }

  /**
   * Seconds per operator for this shape (all layers together; allocates the result). The sum of
   * the values plus overhead_s is iterationTime(b) for a non-empty shape; all zero for an empty one.
   */
  breakdown(b: BatchShape): OperatorBreakdown {
    const tokens = b.prefillTokens + b.decodeSeqs;
    const out = {} as OperatorBreakdown;
    for (let op = 0; op < N_OPS; op++) out[OPERATORS[op]] = tokens > 0 ? this.operatorTime(op, b, tokens) : 0;
    return out;
  }

  private operatorTime(op: number, b: BatchShape, tokens: number): number {
    const o = this.overrides[op];
    return o !== undefined ? o(b) : this.analyticalTime(op, b, tokens);
  }

  /** max(compute, memory, kernel floor) for one launch of `kernels` kernels. */
  private roof(flops: number, bytes: number, kernels: number): number {
    return Math.max(flops * this.sPerFlop, bytes * this.sPerByte, kernels * this.minKernelTime_s);
  }

  private analyticalTime(op: number, b: BatchShape, t: number): number {
    const L = this.layers;
    switch (op) {
      case EMB:
        return this.roof(0, t * this.aEmb, 1);
      case QKV:
        return L * this.roof(t * this.fQkv, this.wQkv + t * this.aQkv, 1);
      case OUT:
        return L * this.roof(t * this.fOut, this.wOut + t * this.aOut, 1);
      case GATE_UP:
        return L * this.roof(t * this.fGateUp, this.wGateUp + t * this.aGateUp, 1);
      case ACT:
        return L * this.roof(0, t * this.aAct, 1);
      case DOWN:
        return L * this.roof(t * this.fDown, this.wDown + t * this.aDown, 1);
      case NORM:
        return L * this.roof(0, this.wNorm + t * this.aNorm, 3) + this.roof(0, this.wFinalNorm + t * this.aFinalNorm, 1);
      case PREFILL:
        if (b.prefillTokens <= 0) return 0;
        return (
          L *
          Math.max(
            b.prefillAttnPairs * this.fPair * this.pSPerFlop,
            (b.prefillTokens * this.aPrefillToken + b.prefillCachedTokens * this.aKvToken) * this.pSPerByte,
            this.minKernelTime_s,
          )
        );
      case DECODE:
        if (b.decodeSeqs <= 0) return 0;
        return (
          L *
          Math.max(
            b.decodeKvTokens * this.fPair * this.dSPerFlop,
            (b.decodeKvTokens * this.aKvToken + b.decodeSeqs * this.aDecodeSeq) * this.dSPerByte,
            this.minKernelTime_s,
          )
        );
      case ALL_REDUCE:
        return this.arCalls * (this.allReduceLatency_s + t * this.arSecondsPerToken);
      case LM_HEAD:
        if (b.sampledSeqs <= 0) return 0;
        return this.roof(b.sampledSeqs * this.fLm, this.wLm + b.sampledSeqs * this.aLm, 1);
      default:
        return 0;
    }
  }
}

/**
 * Seconds per operator of `model` for shape `b` (all layers together). Same as `model.breakdown(b)`;
 * provided as a function for code that maps over models.
 */
export function operatorBreakdown(model: AnalyticalCostModel, b: BatchShape): OperatorBreakdown {
  return model.breakdown(b);
}

function fraction(x: number, field: string): number {
  if (!(Number.isFinite(x) && x > 0 && x <= 1)) throw new InputError(`must be in (0, 1], got ${x}`, { field });
  return x;
}

function nonNegative(x: number, field: string): number {
  if (!(Number.isFinite(x) && x >= 0)) throw new InputError(`must be a finite number >= 0, got ${x}`, { field });
  return x;
}
