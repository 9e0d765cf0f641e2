import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../sim/errors.ts';
import {
  ANALYTICAL_DEFAULTS,
  AnalyticalCostModel,
  activeParams,
  countParams,
  emptyBatchShape,
  getGpu,
  getModel,
  GPUS,
  kvBytesPerToken,
  kvCapacity,
  LinearCostModel,
  MODELS,
  OPERATORS,
  operatorBreakdown,
  parseCostModelSpec,
  swapBlocks,
  DEFAULT_SWAP_GIB,
  weightBytes,
  workCoefficients,
  type BatchShape,
  type GpuSpec,
  type ModelSpec,
} from '../sim/cost/index.ts';

// ---------------------------------------------------------------------------------------------
// Helpers

interface Chunk {
  /** Tokens computed in this chunk. */
  c: number;
  /** Tokens of the request already in the KV cache. */
  p: number;
  /** Whether the chunk ends the prompt (so the request samples). */
  last: boolean;
}

/** Builds a BatchShape from prefill chunks and decode context lengths, per cost-model.ts. */
function shape(prefills: Chunk[], decodes: number[]): BatchShape {
  const b = emptyBatchShape();
  for (const { c, p, last } of prefills) {
    b.prefillTokens += c;
    b.prefillSeqs += 1;
    b.prefillAttnPairs += c * (p + (c + 1) / 2);
    b.prefillCachedTokens += p;
    if (last) b.sampledSeqs += 1;
  }
  for (const ctx of decodes) {
    b.decodeSeqs += 1;
    b.decodeKvTokens += ctx;
    b.sampledSeqs += 1;
  }
  return b;
}

function expectInputError(f: () => unknown, field: string, message?: RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InputError);
  expect((caught as InputError).field).toBe(field);
  if (message) expect((caught as InputError).message).toMatch(message);
}

/** A made-up model small enough to count by hand. */
const TINY: ModelSpec = {
  name: 'tiny',
  layers: 2,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  headDim: 16,
  intermediate: 128,
  vocab: 100,
  maxContext: 512,
  params: 0,
  source: 'made up for tests',
};

/** A made-up GPU: 1 TFLOP/s, 1 GB/s, so everything in TINY is bandwidth-bound. */
const SLOW_MEMORY_GPU: GpuSpec = {
  name: 'slow-memory',
  bf16Flops: 1e12,
  memBandwidth: 1e9,
  memBytes: 2 ** 30,
  pcieBandwidth: 1e9,
  interconnectBandwidth: 1e9,
  source: 'made up for tests',
};

const GiB = 2 ** 30;

// ---------------------------------------------------------------------------------------------

describe('model specs', () => {
  // Published parameter counts: Hugging Face model cards / safetensors metadata.
  const published: Record<string, number> = {
    'llama-2-7b': 6.74e9,
    'llama-2-13b': 13.0e9,
    'llama-2-70b': 68.98e9,
    'llama-3-8b': 8.03e9,
    'llama-3-70b': 70.6e9,
    'llama-3.1-8b': 8.03e9,
    'llama-3.1-8b-instruct': 8.03e9,
    'llama-3.1-70b': 70.6e9,
    'mistral-7b': 7.24e9,
    'mixtral-8x7b': 46.7e9,
    'qwen2.5-7b': 7.61e9,
    'qwen2.5-72b': 72.7e9,
  };

  it('has exactly the listed models', () => {
    expect(Object.keys(MODELS).sort()).toEqual(Object.keys(published).sort());
  });

  for (const [name, count] of Object.entries(published)) it(`${name} parameter count is within 1% of the published ${count / 1e9}B`, () => {
    const m = getModel(name);
    expect(Math.abs(m.params / count - 1)).toBeLessThan(0.01);
    expect(m.params).toBe(countParams(m));
    expect(m.headDim * m.heads).toBe(m.hidden);
    expect(m.heads % m.kvHeads).toBe(0);
    expect(m.source).not.toMatch(/https?:/);
  });


  it('counts Llama-2-7B exactly (embedding + 32 layers + norm + untied head)', () => {
    const embed = 32000 * 4096;
    const layer = 4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096;
    expect(getModel('llama-2-7b').params).toBe(2 * embed + 32 * layer + 4096);
    expect(getModel('llama-2-7b').params).toBe(6_738_415_616);
  });

  it('counts Mixtral-8x7B: all 8 experts and the router in memory, 2 experts priced per token', () => {
    const m = getModel('mixtral-8x7b');
    const mistral = getModel('mistral-7b');
    const expertMlp = 3 * 4096 * 14336;
    // Mistral-7B with 7 more experts per layer and a 4096x8 router (Mistral AI: 46.7B total, 12.9B active).
    expect(m.params).toBe(mistral.params + 32 * (7 * expertMlp + 4096 * 8));
    expect(activeParams(m)).toBe(mistral.params + 32 * expertMlp);
    expect(Math.abs(activeParams(m) / 12.9e9 - 1)).toBeLessThan(0.01);
    expect(activeParams(mistral)).toBe(mistral.params);
    // Weights on the GPU: every expert (tp=1: params x 2 bytes). Priced: a dense model whose MLP
    // is the two active experts side by side (width 2 x 14336), with no router.
    expect(weightBytes(m, 1)).toBe(m.params * 2);
    const dense2: ModelSpec = { ...mistral, name: 'mistral-2x', intermediate: 2 * 14336, params: countParams({ ...mistral, intermediate: 2 * 14336 }) };
    expect(workCoefficients(m)).toEqual(workCoefficients(dense2));
    const b = shape([{ c: 300, p: 0, last: true }], [100, 2000, 900]);
    const gpu = getGpu('h100-80gb');
    const t = new AnalyticalCostModel({ model: m, gpu, tp: 2 }).iterationTime(b);
    expect(t).toBeGreaterThan(new AnalyticalCostModel({ model: mistral, gpu, tp: 2 }).iterationTime(b));
    expect(t).toBe(new AnalyticalCostModel({ model: dense2, gpu, tp: 2 }).iterationTime(b));
  });

  it('looks names up case-insensitively and lists the valid ones for an unknown name', () => {
    expect(getModel('Llama-2-7B').name).toBe('llama-2-7b');
    expectInputError(() => getModel('gpt-5'), 'model', /unknown model 'gpt-5'; valid: .*llama-2-7b.*qwen2.5-72b/);
  });
});

describe('GPU specs', () => {
  it('has the eight GPUs with sane numbers and citations', () => {
    expect(Object.keys(GPUS).sort()).toEqual(['a100-80gb', 'a10g', 'b200', 'h100-80gb', 'h20', 'h200', 'l40s', 'mi300x']);
    for (const g of Object.values(GPUS)) {
      expect(g.bf16Flops).toBeGreaterThan(1e13);
      expect(g.memBandwidth).toBeGreaterThan(1e11);
      expect(g.memBytes).toBeGreaterThanOrEqual(24 * GiB);
      expect(g.interconnectBandwidth).toBeGreaterThanOrEqual(g.pcieBandwidth);
      expect(g.source).toMatch(/datasheet|specifications/);
    }
    expect(getGpu('A100-80GB').bf16Flops).toBe(312e12);
    expect(getGpu('h100-80gb').memBandwidth).toBe(3350e9);
  });

  it('lists the valid GPUs for an unknown name', () => {
    expectInputError(() => getGpu('tpu-v5'), 'gpu', /valid: a100-80gb, h100-80gb, h200, b200, h20, mi300x, l40s, a10g/);
  });
});

describe('AnalyticalCostModel: hand-computed FLOPs and bytes (tiny model)', () => {
  const model = new AnalyticalCostModel({
    model: TINY,
    gpu: SLOW_MEMORY_GPU,
    tp: 1,
    computeEfficiency: 0.5,
    bandwidthEfficiency: 0.5,
    overhead_s: 0.01,
    minKernelTime_s: 0,
  });

  it('decode of one sequence is bandwidth-bound: bytes / achieved bandwidth + overhead', () => {
    // Weights read once (BF16): per layer QKV 64·(64+2·32) + O 64·64 + gate/up 64·256
    // + down 128·64 + 2 norms 2·64 = 36,992 params; 2 layers; final norm 64; LM head 100·64.
    const weights = 2 * (2 * 36_992 + 64 + 6_400);
    expect(weights).toBe(160_896);
    // Activations for 1 token, per layer (bytes): QKV in 64 + out 128 → 384; O in 64 + out 64 → 256;
    // gate/up in 64 + out 256 → 640; act read 256 + write 128 → 768; down in 128 + out 64 → 384;
    // 2 fused add+norms 8·64 + rotary 2·(64+32) → 1,408; decode attention: K,V of 10 tokens
    // 10·2·32·2 = 1,280 + q, o 2·64·2 = 256 + new K,V 2·32·2 = 128 → 1,664.
    const perLayer = 384 + 256 + 640 + 768 + 384 + 1408 + 1664;
    // Once: embedding read+write row 2·64·2 = 256; final norm 3·64·2 = 384; LM head: hidden in 128,
    // FP32 logits 400, sampler 2·400 = 800.
    const activations = 2 * perLayer + 256 + 384 + 128 + 400 + 800;
    expect(activations).toBe(12_976);
    const b = shape([], [10]);
    const expected = (weights + activations) / (1e9 * 0.5) + 0.01;
    expect(model.iterationTime(b)).toBeCloseTo(expected, 12);
    // Weight reads dominate, as for a real decode step.
    expect(weights / (weights + activations)).toBeGreaterThan(0.9);
    const parts = model.breakdown(b);
    const sum = OPERATORS.reduce((s, op) => s + parts[op], 0);
    expect(sum + model.overhead_s).toBeCloseTo(model.iterationTime(b), 15);
  });

  it('prefill on a slow-compute GPU is compute-bound: FLOPs / achieved FLOP/s', () => {
    const gpu: GpuSpec = { ...SLOW_MEMORY_GPU, bf16Flops: 1e9, memBandwidth: 1e15 };
    const m = new AnalyticalCostModel({ model: TINY, gpu, tp: 1, computeEfficiency: 0.5, minKernelTime_s: 0 });
    const b = shape([{ c: 100, p: 0, last: false }], []);
    const parts = operatorBreakdown(m, b);
    const F = 1e9 * 0.5;
    // QKV: 2 layers · 2 FLOPs · 100 tokens · 64 in · (64 + 2·32) out.
    expect(parts.qkv_proj).toBeCloseTo((2 * 2 * 100 * 64 * 128) / F, 12);
    expect(parts.mlp_gate_up).toBeCloseTo((2 * 2 * 100 * 64 * 256) / F, 12);
    expect(parts.mlp_down).toBeCloseTo((2 * 2 * 100 * 128 * 64) / F, 12);
    // Causal attention: pairs = 100·(0 + 101/2) = 5,050; FLOPs = 4 · 4 heads · 16 · pairs per layer.
    expect(b.prefillAttnPairs).toBe(5050);
    expect(parts.prefill_attn).toBeCloseTo((2 * 4 * 4 * 16 * 5050) / F, 12);
    expect(parts.decode_attn).toBe(0);
    expect(parts.lm_head).toBe(0); // no request finishes its prompt: nothing sampled
    expect(parts.all_reduce).toBe(0);
  });

  it('an iteration with no tokens costs 0', () => {
    expect(model.iterationTime(emptyBatchShape())).toBe(0);
    const parts = model.breakdown(emptyBatchShape());
    for (const op of OPERATORS) expect(parts[op]).toBe(0);
  });
});

describe('AnalyticalCostModel: Llama-2-7B on A100-80GB', () => {
  const llama = getModel('llama-2-7b');
  const a100 = getGpu('a100-80gb');
  const cm = new AnalyticalCostModel({ model: llama, gpu: a100, tp: 1 });

  it('is named and uses the documented defaults', () => {
    expect(cm.name).toBe('analytical(llama-2-7b, a100-80gb, tp=1)');
    expect(cm.computeEfficiency).toBe(ANALYTICAL_DEFAULTS.computeEfficiency);
    expect(cm.bandwidthEfficiency).toBe(ANALYTICAL_DEFAULTS.bandwidthEfficiency);
    expect(cm.overhead_s).toBe(ANALYTICAL_DEFAULTS.overhead_s);
  });

  it('decode of one sequence ≈ weights read (minus the embedding table) / achieved bandwidth + overhead', () => {
    const pure = new AnalyticalCostModel({ model: llama, gpu: a100, tp: 1, minKernelTime_s: 0 });
    const read = weightBytes(llama, 1) - llama.vocab * llama.hidden * 2; // one embedding row, not the table
    const expected = read / (a100.memBandwidth * 0.75) + 0.002;
    const t = pure.iterationTime(shape([], [100]));
    expect(Math.abs(t / expected - 1)).toBeLessThan(0.01);
    // About 11 ms per token: what vLLM shows for Llama-2-7B on an A100.
    expect(t).toBeGreaterThan(0.009);
    expect(t).toBeLessThan(0.013);
  });

  it('has the Sarathi-Serve knee: nearly flat for small token counts, then linear', () => {
    const t = (n: number) => cm.iterationTime(shape([{ c: n, p: 0, last: false }], []));
    expect(t(128) / t(1)).toBeLessThan(1.25); // flat below the knee
    expect(t(64) / t(1)).toBeLessThan(1.05);
    const ratio = t(4096) / t(2048);
    expect(ratio).toBeGreaterThan(1.85); // linear above it
    expect(ratio).toBeLessThan(2.2);
    expect(t(1024) / t(512)).toBeGreaterThan(1.8);
  });

  it('never costs less with more work (monotone in every shape dimension)', () => {
    const chunk = fc.record({
      c: fc.integer({ min: 1, max: 2048 }),
      p: fc.integer({ min: 0, max: 4096 }),
      last: fc.boolean(),
    });
    const decodes = fc.array(fc.integer({ min: 1, max: 8192 }), { maxLength: 64 });
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 4 }), decodes, chunk, fc.integer({ min: 1, max: 8192 }), (pf, dc, extra, ctx) => {
        const base = cm.iterationTime(shape(pf, dc));
        expect(cm.iterationTime(shape([...pf, extra], dc))).toBeGreaterThanOrEqual(base);
        expect(cm.iterationTime(shape(pf, [...dc, ctx]))).toBeGreaterThanOrEqual(base);
        if (pf.length > 0) {
          const [first, ...rest] = pf;
          const longer = { ...first, c: first.c + 1 };
          const deeper = { ...first, p: first.p + 1 };
          const finishing = { ...first, last: true };
          expect(cm.iterationTime(shape([longer, ...rest], dc))).toBeGreaterThanOrEqual(base);
          expect(cm.iterationTime(shape([deeper, ...rest], dc))).toBeGreaterThanOrEqual(base);
          expect(cm.iterationTime(shape([finishing, ...rest], dc))).toBeGreaterThanOrEqual(base);
        }
        if (dc.length > 0) {
          expect(cm.iterationTime(shape(pf, [dc[0] + 1, ...dc.slice(1)]))).toBeGreaterThanOrEqual(base);
        }
        expect(Number.isFinite(base) && base >= 0).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('tp=2 halves the weight-bound time and adds the all-reduces', () => {
    const opts = { model: llama, gpu: a100, overhead_s: 0, minKernelTime_s: 0 };
    const tp1 = new AnalyticalCostModel({ ...opts, tp: 1 });
    const tp2 = new AnalyticalCostModel({ ...opts, tp: 2 });
    const b = shape([], [100]);
    const ar = tp2.breakdown(b).all_reduce;
    // 2 all-reduces per layer + 1 after the embedding, ring 2·(tp−1)/tp · 1 token · 4096 · 2 bytes.
    const perCall = 20e-6 + ((2 * 1) / 2) * 4096 * 2 / (300e9 * 0.7);
    expect(ar).toBeCloseTo(65 * perCall, 12);
    expect(tp1.breakdown(b).all_reduce).toBe(0);
    const compute = tp2.iterationTime(b) - ar;
    expect(Math.abs(compute / (tp1.iterationTime(b) / 2) - 1)).toBeLessThan(0.01);
  });

  it('replicates KV heads that tp does not divide (Llama-3-8B, 8 KV heads, tp=16)', () => {
    const l3 = getModel('llama-3-8b');
    expect(kvBytesPerToken(l3, 1)).toBe(2 * 32 * 8 * 128 * 2);
    expect(kvBytesPerToken(l3, 8)).toBe(2 * 32 * 1 * 128 * 2);
    expect(kvBytesPerToken(l3, 16)).toBe(2 * 32 * 1 * 128 * 2);
    const cm16 = new AnalyticalCostModel({ model: l3, gpu: a100, tp: 16, minKernelTime_s: 0 });
    const cm8 = new AnalyticalCostModel({ model: l3, gpu: a100, tp: 8, minKernelTime_s: 0 });
    const b = shape([], Array(32).fill(4000));
    const cm4 = new AnalyticalCostModel({ model: l3, gpu: a100, tp: 4, minKernelTime_s: 0 });
    // 4 -> 8: each GPU reads half the KV; 8 -> 16: one replicated KV head per GPU either way, only
    // the (small) per-sequence query/output traffic halves.
    const [d4, d8, d16] = [cm4, cm8, cm16].map((m) => m.breakdown(b).decode_attn);
    expect(d8 / d4).toBeCloseTo(0.5, 2);
    expect(d16 / d8).toBeGreaterThan(0.99);
  });

  it('validates tp and the options', () => {
    for (const tp of [0, -1, 1.5, 3, NaN]) {
      expectInputError(() => new AnalyticalCostModel({ model: llama, gpu: a100, tp }), '--tp');
    }
    expectInputError(
      () => new AnalyticalCostModel({ model: llama, gpu: a100, tp: 1, computeEfficiency: 1.5 }),
      'computeEfficiency',
    );
    expectInputError(() => new AnalyticalCostModel({ model: llama, gpu: a100, tp: 1, overhead_s: -1 }), 'overhead_s');
    expectInputError(
      () =>
        new AnalyticalCostModel({
          model: llama,
          gpu: a100,
          tp: 1,
          overrides: { bogus: () => 0 } as unknown as Record<string, () => number>,
        }),
      'overrides',
      /valid: embedding, qkv_proj/,
    );
  });

  it('lets an override replace one operator', () => {
    const replaced = new AnalyticalCostModel({ model: llama, gpu: a100, tp: 1, overrides: { mlp_gate_up: () => 0.5 } });
    const b = shape([{ c: 512, p: 0, last: true }], [100, 200]);
    const parts = cm.breakdown(b);
    expect(replaced.breakdown(b).mlp_gate_up).toBe(0.5);
    expect(replaced.iterationTime(b)).toBeCloseTo(cm.iterationTime(b) - parts.mlp_gate_up + 0.5, 12);
  });
});

describe('LinearCostModel and parseCostModelSpec', () => {
  it('computes base + prefill·tokens + decode·seqs + kv·(decode KV + cached prefix)', () => {
    const m = new LinearCostModel({ base: 0.01, prefill: 1e-4, decode: 2e-4, kv: 1e-7 });
    const b = shape([{ c: 100, p: 50, last: true }], [300, 700]);
    expect(m.iterationTime(b)).toBeCloseTo(0.01 + 1e-4 * 100 + 2e-4 * 2 + 1e-7 * (1000 + 50), 15);
    expect(m.iterationTime(emptyBatchShape())).toBe(0);
    expect(m.name).toBe('linear(base=0.01, prefill=0.0001, decode=0.0002, kv=1e-7)');
    expectInputError(() => new LinearCostModel({ base: -1, prefill: 0, decode: 0, kv: 0 }), '--cost-model');
  });

  it('parses analytical and linear specs', () => {
    expect(parseCostModelSpec('analytical')).toEqual({ kind: 'analytical' });
    expect(parseCostModelSpec('linear:base=0.01,prefill=2e-5,decode=1e-4,kv=3e-8')).toEqual({
      kind: 'linear',
      base: 0.01,
      prefill: 2e-5,
      decode: 1e-4,
      kv: 3e-8,
    });
    expect(parseCostModelSpec('linear:prefill=0.001')).toEqual({ kind: 'linear', base: 0, prefill: 0.001, decode: 0, kv: 0 });
    expect(parseCostModelSpec('linear')).toEqual({ kind: 'linear', base: 0, prefill: 0, decode: 0, kv: 0 });
    expect(parseCostModelSpec(' linear: base = 1 , kv=0 ')).toEqual({ kind: 'linear', base: 1, prefill: 0, decode: 0, kv: 0 });
  });

  it('rejects bad specs with --cost-model errors naming the valid choices', () => {
    const keys = /valid keys: base, prefill, decode, kv/;
    expectInputError(() => parseCostModelSpec('roofline'), '--cost-model', /valid: auto, fitted, analytical, linear:/);
    expectInputError(() => parseCostModelSpec('linear:alpha=1'), '--cost-model', keys);
    expectInputError(() => parseCostModelSpec('linear:base=-1'), '--cost-model', keys);
    expectInputError(() => parseCostModelSpec('linear:base=abc'), '--cost-model', keys);
    expectInputError(() => parseCostModelSpec('linear:base='), '--cost-model');
    expectInputError(() => parseCostModelSpec('linear:base=Infinity'), '--cost-model');
    expectInputError(() => parseCostModelSpec('linear:base'), '--cost-model', keys);
    expectInputError(() => parseCostModelSpec('linear:base=1,base=2'), '--cost-model', /twice/);
  });
});

describe('memory: weights, KV bytes and capacity', () => {
  const a100 = getGpu('a100-80gb');
  const common = { gpuMemoryUtilization: 0.9, blockSize: 16, maxNumSeqs: 256 };

  it('weight bytes are params·2 at tp=1 and shrink ~tp-fold', () => {
    for (const m of Object.values(MODELS)) expect(weightBytes(m, 1)).toBe(m.params * 2);
    const l70 = getModel('llama-2-70b');
    expect(weightBytes(l70, 4) / (weightBytes(l70, 1) / 4)).toBeCloseTo(1, 2);
  });

  it('KV bytes per token: Llama-2-7B 512 KiB, Llama-2-70B tp=8 40 KiB', () => {
    expect(kvBytesPerToken(getModel('llama-2-7b'), 1)).toBe(524_288);
    expect(kvBytesPerToken(getModel('llama-2-70b'), 8)).toBe(2 * 80 * 1 * 128 * 2);
  });

  it('Llama-2-7B on one A100-80GB at 0.9 has 7,000–8,000 blocks of 16 (as vLLM reports)', () => {
    const cap = kvCapacity({ model: getModel('llama-2-7b'), gpu: a100, tp: 1, maxNumBatchedTokens: 4096, ...common });
    expect(cap.blocks).toBeGreaterThanOrEqual(7000);
    expect(cap.blocks).toBeLessThanOrEqual(8000);
    expect(cap.tokens).toBe(cap.blocks * 16);
    expect(cap.budgetBytes).toBe(a100.memBytes * 0.9);
    const used = cap.weightBytes + cap.activationBytes + cap.blocks * 16 * cap.kvBytesPerToken;
    expect(used).toBeLessThanOrEqual(cap.budgetBytes);
    expect(used + 16 * cap.kvBytesPerToken).toBeGreaterThan(cap.budgetBytes);
    expect(cap.activationBytes / GiB).toBeGreaterThan(0.2);
    expect(cap.activationBytes / GiB).toBeLessThan(2);
  });

  it('Llama-3-8B (GQA, 128 KiB per token) gets about 4x the tokens of Llama-2-7B', () => {
    const l3 = kvCapacity({ model: getModel('llama-3-8b'), gpu: a100, tp: 1, maxNumBatchedTokens: 8192, ...common });
    expect(l3.kvBytesPerToken).toBe(131_072);
    expect(l3.blocks).toBeGreaterThan(26_000);
    expect(l3.blocks).toBeLessThan(30_000);
  });

  it('Llama-3.1-8B (config.json: 32 layers, 8 KV heads of 128, 131072 context) on one A100-80GB, by hand', () => {
    const m = getModel('llama-3.1-8b');
    expect(m).toMatchObject({ layers: 32, hidden: 4096, heads: 32, kvHeads: 8, headDim: 128, intermediate: 14336, vocab: 128256, maxContext: 131072 });
    expect(getModel('llama-3.1-8b-instruct')).toMatchObject({ ...m, name: 'llama-3.1-8b-instruct', source: 'meta-llama/Llama-3.1-8B-Instruct config.json' });
    // Bytes per token: layers x kv_heads x head_dim x 2 (K and V) x 2 bytes (BF16).
    const perToken = 32 * 8 * 128 * 2 * 2;
    expect(perToken).toBe(131_072);
    expect(kvBytesPerToken(m, 1)).toBe(perToken);
    // The default token budget without chunking is max(2048, max-model-len = 131072): activations
    // 2 B x 131072 tokens x (2 x 4096 + max(2 x 4096 + 2 x 1024, 3 x 14336)) + FP32 sampler 4 x 256 x 128256 x 3.
    const weights = 8_030_261_248 * 2;
    const activations = 2 * 131072 * (2 * 4096 + 3 * 14336) + 4 * 256 * 128256 * 3;
    expect(activations).toBe(13_815_775_232);
    const budget = 80 * GiB * 0.9;
    const blocks = Math.floor((budget - weights - activations) / (16 * perToken));
    expect(blocks).toBe(22_617); // 361,872 tokens, 2.76 full 128k contexts
    const cap = kvCapacity({ model: m, gpu: a100, tp: 1, maxNumBatchedTokens: 131072, ...common });
    expect(cap).toMatchObject({ blocks, tokens: blocks * 16, kvBytesPerToken: perToken, weightBytes: weights, activationBytes: activations });
    // With an 8192-token budget it matches Llama-3-8B's (same architecture).
    expect(kvCapacity({ model: m, gpu: a100, tp: 1, maxNumBatchedTokens: 8192, ...common }).blocks).toBe(
      kvCapacity({ model: getModel('llama-3-8b'), gpu: a100, tp: 1, maxNumBatchedTokens: 8192, ...common }).blocks,
    );
    // Llama-3.1-70B: 80 x 8 x 128 x 2 x 2 = 320 KiB per token; tp=8 holds one KV head per GPU.
    const l70 = getModel('llama-3.1-70b');
    expect(kvBytesPerToken(l70, 1)).toBe(80 * 8 * 128 * 2 * 2);
    expect(kvBytesPerToken(l70, 8)).toBe(80 * 1 * 128 * 2 * 2);
    expect(kvCapacity({ model: l70, gpu: getGpu('h100-80gb'), tp: 8, maxNumBatchedTokens: 131072, ...common }).blocks).toBeGreaterThan(0);
  });

  it("docs/cost-model.md's swap-space table is what the default 4 GiB (vLLM swap_space) holds for every model", () => {
    expect(DEFAULT_SWAP_GIB).toBe(4);
    expect(swapBlocks(getModel('llama-2-7b'), 1, 4, 16)).toBe((4 * GiB) / (16 * 524_288));
    const n = (x: number) => x.toLocaleString('en-US');
    const rows = Object.values(MODELS).map((m) => {
      const b1 = swapBlocks(m, 1, DEFAULT_SWAP_GIB, 16);
      const b4 = swapBlocks(m, 4, DEFAULT_SWAP_GIB, 16);
      return `| ${m.name} | ${n(kvBytesPerToken(m, 1) / 1024)} | ${n(b1)} | ${n(b1 * 16)} | ${(b1 * 16 / m.maxContext).toFixed(2)} | ${n(kvBytesPerToken(m, 4) / 1024)} | ${n(b4 * 16)} |`;
    });
    const doc = readFileSync(fileURLToPath(new URL('../docs/cost-model.md', import.meta.url)), 'utf8');
    const start = doc.indexOf('<!-- swap-table:start -->');
    const end = doc.indexOf('<!-- swap-table:end -->');
    expect(start).toBeGreaterThan(0);
    const table = doc.slice(start, end).split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| model'));
    expect(table, `expected rows:\n${rows.join('\n')}`).toEqual(rows);
  });

  it('reports a model that does not fit (Llama-2-70B on one A10G)', () => {
    expectInputError(
      () => kvCapacity({ model: getModel('llama-2-70b'), gpu: getGpu('a10g'), tp: 1, maxNumBatchedTokens: 4096, ...common }),
      '--gpu',
      /model llama-2-70b with tp=1 does not fit on GPU a10g: weights need 128\.5 GiB of 21\.6 GiB/,
    );
    // With tp=8 it does (8.6 GiB per GPU... of 21.6).
    const ok = kvCapacity({ model: getModel('llama-2-70b'), gpu: getGpu('a10g'), tp: 8, maxNumBatchedTokens: 4096, ...common });
    expect(ok.blocks).toBeGreaterThan(0);
  });

  it('validates its options', () => {
    const base = { model: getModel('llama-2-7b'), gpu: a100, tp: 1, maxNumBatchedTokens: 4096, ...common };
    expectInputError(() => kvCapacity({ ...base, gpuMemoryUtilization: 0 }), '--gpu-memory-utilization');
    expectInputError(() => kvCapacity({ ...base, gpuMemoryUtilization: 1.2 }), '--gpu-memory-utilization');
    expectInputError(() => kvCapacity({ ...base, blockSize: 0 }), '--block-size');
    expectInputError(() => kvCapacity({ ...base, maxNumBatchedTokens: 1.5 }), '--max-num-batched-tokens');
    expectInputError(() => kvCapacity({ ...base, maxNumSeqs: -3 }), '--max-num-seqs');
    expectInputError(() => kvCapacity({ ...base, tp: 5 }), '--tp');
  });
});

// ---------------------------------------------------------------------------------------------
// Independent truth: Vidur's CUDA-measured operator times on an A100 (shared/reference, MIT).
// Rows are per layer and per tensor-parallel worker, times in ms; we compare the four linear
// operators (attn_pre_proj = QKV, attn_post_proj = output projection, mlp_up_proj = gate+up,
// mlp_down_proj) at tp=1, averaging the duplicate rows the tables hold for some token counts.

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const VIDUR_DIR = `${REPO_ROOT}../shared/reference/vidur-profiles/compute/a100/meta-llama`;
const VIDUR_OPS = ['attn_pre_proj', 'attn_post_proj', 'mlp_up_proj', 'mlp_down_proj'];
const VIDUR_TOKENS = [1, 64, 512, 2048, 4096];

/** Median time (seconds) of the four linear operators per layer at tp=1, by token count. */
function vidurLinearTimes(dir: string): Map<number, number> {
  const lines = readFileSync(`${VIDUR_DIR}/${dir}/mlp.csv`, 'utf8').trim().split('\n');
  const header = lines[0].split(',');
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`no column ${name} in ${dir}/mlp.csv`);
    return i;
  };
  const opCols = VIDUR_OPS.map((op) => col(`time_stats.${op}.median`));
  const tokCol = col('num_tokens');
  const tpCol = col('num_tensor_parallel_workers');
  const sums = new Map<number, number[]>();
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (Number(f[tpCol]) !== 1) continue;
    const n = Number(f[tokCol]);
    const ms = opCols.reduce((s, i) => s + Number(f[i]), 0);
    sums.set(n, [...(sums.get(n) ?? []), ms]);
  }
  const out = new Map<number, number>();
  for (const [n, xs] of sums) out.set(n, xs.reduce((a, b) => a + b, 0) / xs.length / 1e3);
  return out;
}

describe.skipIf(!existsSync(VIDUR_DIR))('agreement with Vidur A100 measurements (linear operators, tp=1)', () => {
  const cases: [string, string][] = [
    ['llama-2-7b', 'Llama-2-7b-hf'],
    ['llama-3-8b', 'Meta-Llama-3-8B'],
  ];
  it.each(cases)('%s is within ±35%% of the measured median at 1–4096 tokens', (name, dir) => {
    const model = getModel(name);
    const cm = new AnalyticalCostModel({ model, gpu: getGpu('a100-80gb'), tp: 1 });
    const measured = vidurLinearTimes(dir);
    // Vidur's dimensions are the model's.
    for (const n of VIDUR_TOKENS) {
      const parts = cm.breakdown(shape([{ c: n, p: 0, last: false }], []));
      const predicted = (parts.qkv_proj + parts.attn_out_proj + parts.mlp_gate_up + parts.mlp_down) / model.layers;
      const truth = measured.get(n);
      expect(truth, `no Vidur row for ${n} tokens`).toBeDefined();
      const err = predicted / truth! - 1;
      expect(Math.abs(err), `${name} at ${n} tokens: predicted ${predicted}, measured ${truth}`).toBeLessThan(0.35);
    }
  });
});
