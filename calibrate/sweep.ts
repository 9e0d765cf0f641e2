/**
 * The calibration sweep: which kernel shapes to time for a model (per GPU of a tp group), and
 * running them through the WGSL kernels (`kernels/`) into a profile. See docs/calibration.md §4.
 *
 * The kernel API is taken as a parameter ({@link KernelApi}, the subset of `kernels/index.ts` used
 * here) so that the sweep logic can be tested with a stand-in and the GPU stack is loaded only by
 * `sim calibrate`.
 */
import type { OperatorName } from '../sim/cost/analytical.ts';
import type { ModelSpec } from '../sim/cost/models.ts';
import { InputError } from '../sim/errors.ts';
import { OPERATOR_AXES, OPERATOR_UNITS, projectVersion } from './profile.ts';
import { PROFILE_FORMAT, PROFILE_VERSION, type OperatorProfile, type Profile, type ProfileArchitecture } from '../sim/cost/profile-format.ts';

/** One timing as kernels/ reports it: seconds over `repeats` runs. */
export interface SweepTiming {
  median_s: number;
  p10_s: number;
  p90_s: number;
  repeats: number;
  timer: string;
}

/** A kernel launch ready to time (kernels/ `KernelCase`): its work in FLOPs and bytes moved. */
export interface SweepCase {
  name: string;
  flops: number;
  bytes: number;
  destroy(): void;
}

/** What the sweep needs of a kernels/ `GpuContext`. */
export interface SweepGpu {
  adapter: { vendor: string; architecture: string; description: string; backend: string };
  features: { shaderF16: boolean };
  device: { limits: { maxStorageBufferBindingSize: number; maxBufferSize: number } };
  destroy(): void;
}

/** The subset of `kernels/index.ts` the sweep calls (same names and argument shapes). */
export interface KernelApi<G extends SweepGpu = SweepGpu, K extends SweepCase = SweepCase> {
  createGpu(opts?: { backends?: string[] }): Promise<G>;
  timeKernel(ctx: G, c: K, opts?: { warmup?: number; repeats?: number }): Promise<SweepTiming>;
  matmulCase(ctx: G, s: { m: number; n: number; k: number; dtype?: 'f32' | 'f16' }): K;
  prefillAttentionCase(ctx: G, s: { seqLen: number; heads: number; kvHeads: number; headDim: number }): K;
  decodeAttentionCase(ctx: G, s: { batch: number; contextLen: number; heads: number; kvHeads: number; headDim: number; blockSize: number }): K;
  rmsNormCase(ctx: G, s: { tokens: number; hidden: number }): K;
  siluMulCase(ctx: G, s: { tokens: number; intermediate: number }): K;
  residualAddCase(ctx: G, s: { tokens: number; hidden: number }): K;
  ropeCase(ctx: G, s: { tokens: number; heads: number; kvHeads: number; headDim: number }): K;
}

/** Sweep settings. Sizes are counts (tokens, sequences); `blockSize` is the KV block in tokens. */
export interface SweepOptions {
  /** Largest token count of the linear layers and small ops. */
  maxTokens: number;
  /** Largest prefill length of prefill attention. */
  maxSeqLen: number;
  /** Largest decode batch (and sampled sequences of lm_head). */
  maxBatch: number;
  /** Largest decode context. */
  maxContext: number;
  /** Untimed runs before timing, and timed runs, per shape. */
  warmup: number;
  repeats: number;
  /** Element type of the matmuls (other kernels are f32). */
  dtype: 'f32' | 'f16';
  blockSize: number;
  /** Grids of powers of two only (quick) or with the 1.5× points between (full). */
  quick: boolean;
}

/**
 * Defaults: full = tokens 1 to 8192 (powers of two and 1.5× between), prefill 16 to 8192, decode
 * batch 1 to 256 × context 16 to 4096, 3 warm-up and 20 timed runs (Vidur: 2 and 20); quick =
 * powers of two, tokens to 64, prefill to 64, batch to 8 × context to 64, 1 warm-up and 5 timed runs.
 */
export function sweepDefaults(quick: boolean): SweepOptions {
  return quick
    ? { maxTokens: 64, maxSeqLen: 64, maxBatch: 8, maxContext: 64, warmup: 1, repeats: 5, dtype: 'f32', blockSize: 16, quick }
    : { maxTokens: 8192, maxSeqLen: 8192, maxBatch: 256, maxContext: 4096, warmup: 3, repeats: 20, dtype: 'f32', blockSize: 16, quick };
}

/**
 * A model's architecture with its widths divided by `shrink` for quick sweeps on slow adapters:
 * heads, hidden, intermediate and vocab divided (KV heads rounded up, at least 1), head width and
 * layers kept. Returns the model's own architecture for shrink = 1.
 * @throws InputError (field `--shrink`) unless shrink is a positive integer dividing the heads.
 */
export function shrinkArchitecture(model: ModelSpec, shrink: number): ProfileArchitecture {
  if (!Number.isInteger(shrink) || shrink < 1 || model.heads % shrink !== 0) {
    throw new InputError(`must be a positive integer dividing the ${model.heads} heads of ${model.name}, got ${shrink}`, { field: '--shrink' });
  }
  return {
    layers: model.layers,
    hidden: (model.heads / shrink) * model.headDim,
    heads: model.heads / shrink,
    kvHeads: Math.max(1, Math.ceil(model.kvHeads / shrink)),
    headDim: model.headDim,
    intermediate: Math.max(1, Math.round(model.intermediate / shrink)),
    vocab: Math.max(1, Math.ceil(model.vocab / shrink)),
  };
}

/** One kernel of a grid point, `weight` times per layer (e.g. two RMSNorms). */
export interface SweepPart {
  kernel: string;
  weight: number;
  /** Largest buffer the kernel needs, bytes (estimate, to skip shapes the device cannot hold). */
  bufferBytes: number;
  make<G extends SweepGpu, K extends SweepCase>(api: KernelApi<G, K>, ctx: G): K;
}

/** One grid point of one operator: its indices in the operator's grid and the kernels to time. */
export interface SweepPoint {
  op: OperatorName;
  /** [i] for 1-D operators, [i, j] for decode attention. */
  index: number[];
  /** Shape in words, for progress and errors. */
  label: string;
  parts: SweepPart[];
}

/** What a sweep will time. */
export interface SweepPlan {
  model: string;
  tp: number;
  arch: ProfileArchitecture;
  grids: Partial<Record<OperatorName, number[][]>>;
  points: SweepPoint[];
  /** Operators or points left out and why (reported as warnings). */
  skipped: string[];
}

/** 1, 2, 4, … up to max (quick), or 1, 2, 3, 4, 6, 8, 12, … (full); always ending at max. */
export function sizeGrid(min: number, max: number, quick: boolean): number[] {
  const out: number[] = [];
  for (let p = min; p <= max; p *= 2) {
    out.push(p);
    if (!quick && p >= 2 && p * 1.5 < max) out.push(p * 1.5);
  }
  if (out.length === 0 || out[out.length - 1] !== max) out.push(max);
  return [...new Set(out.map(Math.round))].filter((x) => x >= min && x <= max).sort((a, b) => a - b);
}

/** min, 4·min, 16·min, … up to max, ending at max. */
function pow4Grid(min: number, max: number): number[] {
  const out: number[] = [];
  for (let p = min; p <= max; p *= 4) out.push(p);
  if (out[out.length - 1] !== max) out.push(max);
  return out.filter((x) => x <= max);
}

/**
 * Plans the sweep of the operators the kernels can time for `arch` cut for tensor parallelism
 * `tp` (per-GPU widths: q = heads/tp·headDim, kv = ceil(kvHeads/tp)·headDim, i = intermediate/tp
 * rounded up, vocab/tp rounded up): the four linear layers and lm_head as matmuls (m = tokens,
 * k = input width, n = output width; qkv n = q + 2kv), mlp_act (SiLU·mul), norm_rope_residual
 * (2 RMSNorm + 2 residual adds + rotary on q and k), prefill attention per request over seq_len,
 * decode attention over batch × context. Not swept (analytical fallback): embedding, all_reduce.
 * Points whose largest buffer exceeds `maxBufferBytes` are dropped (decode attention: the largest
 * batches); an operator left with fewer than 2 points per axis is dropped, and said in `skipped`.
 * @throws InputError (field `--tp`) unless tp divides the heads; (field named) for a bad option.
 */
export function planSweep(arch: ProfileArchitecture, modelName: string, tp: number, o: SweepOptions, maxBufferBytes: number): SweepPlan {
  if (!Number.isInteger(tp) || tp < 1 || arch.heads % tp !== 0) {
    throw new InputError(`tensor-parallel degree must be a positive integer dividing the ${arch.heads} heads, got ${tp}`, { field: '--tp' });
  }
  for (const [k, v] of [['--max-tokens', o.maxTokens], ['--max-seq-len', o.maxSeqLen], ['--max-batch', o.maxBatch], ['--max-context', o.maxContext], ['--repeats', o.repeats]] as const) {
    if (!Number.isInteger(v) || v < 2) throw new InputError(`must be an integer >= 2, got ${v}`, { field: k });
  }
  if (!Number.isInteger(o.warmup) || o.warmup < 0) throw new InputError(`must be an integer >= 0, got ${o.warmup}`, { field: '--warmup' });
  const heads = arch.heads / tp;
  const kvHeads = Math.ceil(arch.kvHeads / tp);
  const d = arch.headDim;
  const q = heads * d;
  const kv = kvHeads * d;
  const h = arch.hidden;
  const inter = Math.ceil(arch.intermediate / tp);
  const vocab = Math.ceil(arch.vocab / tp);
  const eb = o.dtype === 'f16' ? 2 : 4;
  const F32 = 4;
  const plan: SweepPlan = { model: modelName, tp, arch, grids: {}, points: [], skipped: [] };

  const tokens = sizeGrid(1, o.maxTokens, o.quick);
  const seqs = sizeGrid(1, o.maxBatch, o.quick);
  const matmul = (m: number, k: number, n: number): SweepPart => ({
    kernel: `matmul ${m}x${k}x${n}`,
    weight: 1,
    bufferBytes: eb * Math.max(m * k, k * n, m * n),
    make: (api, ctx) => api.matmulCase(ctx, { m, n, k, dtype: o.dtype }),
  });
  const oneD = (op: OperatorName, xs: number[], axis: string, parts: (x: number) => SweepPart[]): void => {
    const kept = xs.filter((x) => parts(x).every((p) => p.bufferBytes <= maxBufferBytes));
    if (kept.length < xs.length) {
      plan.skipped.push(`${op}: ${axis} ${xs.filter((x) => !kept.includes(x)).join(', ')} need buffers over the device's ${maxBufferBytes} bytes`);
    }
    if (kept.length < 2) {
      plan.skipped.push(`${op}: not swept (analytical fallback)`);
      return;
    }
    plan.grids[op] = [kept];
    kept.forEach((x, i) => plan.points.push({ op, index: [i], label: `${op} ${axis}=${x}`, parts: parts(x) }));
  };
  oneD('qkv_proj', tokens, 'tokens', (t) => [matmul(t, h, q + 2 * kv)]);
  oneD('attn_out_proj', tokens, 'tokens', (t) => [matmul(t, q, h)]);
  oneD('mlp_gate_up', tokens, 'tokens', (t) => [matmul(t, h, 2 * inter)]);
  oneD('mlp_act', tokens, 'tokens', (t) => [
    { kernel: `silu_mul ${t}x${inter}`, weight: 1, bufferBytes: F32 * t * 2 * inter, make: (api, ctx) => api.siluMulCase(ctx, { tokens: t, intermediate: inter }) },
  ]);
  oneD('mlp_down', tokens, 'tokens', (t) => [matmul(t, inter, h)]);
  oneD('norm_rope_residual', tokens, 'tokens', (t) => [
    { kernel: `rms_norm ${t}x${h}`, weight: 2, bufferBytes: F32 * t * h, make: (api, ctx) => api.rmsNormCase(ctx, { tokens: t, hidden: h }) },
    { kernel: `residual_add ${t}x${h}`, weight: 2, bufferBytes: F32 * t * h, make: (api, ctx) => api.residualAddCase(ctx, { tokens: t, hidden: h }) },
    { kernel: `rope ${t}x(${heads}+${kvHeads})x${d}`, weight: 1, bufferBytes: F32 * t * q, make: (api, ctx) => api.ropeCase(ctx, { tokens: t, heads, kvHeads, headDim: d }) },
  ]);
  oneD('prefill_attn', sizeGrid(16, Math.max(o.maxSeqLen, 32), true), 'seq_len', (s) => [
    {
      kernel: `prefill_attention ${s}x(${heads}/${kvHeads})x${d}`,
      weight: 1,
      bufferBytes: F32 * s * Math.max(q, kv),
      make: (api, ctx) => api.prefillAttentionCase(ctx, { seqLen: s, heads, kvHeads, headDim: d }),
    },
  ]);
  oneD('lm_head', seqs, 'seqs', (s) => [matmul(s, h, vocab)]);

  // Decode attention: a rectangle batch × context; the largest batches go first if the KV cache
  // (K and V, paged in blocks) would not fit one buffer.
  const contexts = pow4Grid(16, Math.max(o.maxContext, 32));
  const maxCtx = contexts[contexts.length - 1];
  const kvBytes = (b: number) => 2 * F32 * b * Math.ceil(maxCtx / o.blockSize) * o.blockSize * kv;
  const allBatches = sizeGrid(1, o.maxBatch, true);
  const batches = allBatches.filter((b) => kvBytes(b) <= maxBufferBytes);
  if (batches.length < allBatches.length) plan.skipped.push(`decode_attn: batch ${allBatches.slice(batches.length).join(', ')} at context ${maxCtx} need a KV cache over the device's ${maxBufferBytes} bytes`);
  if (batches.length < 2) {
    plan.skipped.push('decode_attn: not swept (analytical fallback)');
  } else {
    plan.grids.decode_attn = [batches, contexts];
    batches.forEach((b, i) =>
      contexts.forEach((c, j) =>
        plan.points.push({
          op: 'decode_attn',
          index: [i, j],
          label: `decode_attn batch=${b} context=${c}`,
          parts: [
            {
              kernel: `decode_attention ${b}x${c}x(${heads}/${kvHeads})x${d}`,
              weight: 1,
              bufferBytes: kvBytes(b),
              make: (api, ctx) => api.decodeAttentionCase(ctx, { batch: b, contextLen: c, heads, kvHeads, headDim: d, blockSize: o.blockSize }),
            },
          ],
        }),
      ),
    );
  }
  plan.skipped.push('embedding, all_reduce: no kernel (analytical fallback)');
  return plan;
}

/** Rounds to 6 significant digits (monotone, so p10 <= median <= p90 survives). */
const round6 = (x: number): number => Number(x.toPrecision(6));

/** Options of {@link runSweep}. */
export interface RunSweepOptions {
  /** Called after each grid point: points done, points in all, the point's label. */
  onProgress?: (done: number, total: number, label: string) => void;
  /** Date to record (ISO 8601); default now. */
  date?: string;
}

/**
 * Times every point of the plan with `api.timeKernel` (warm-up and repeats from `o`) and
 * assembles the profile: per point, the weighted sum of its kernels' medians (p10, p90 likewise;
 * for several kernels the sum of percentiles bounds the percentile of the sum), seconds per layer
 * (per iteration for lm_head). Each kernel case is destroyed after timing.
 * @returns a profile with `source: 'measured'`, the adapter's description and the timer used
 *   (`mixed` if kernels reported different timers).
 * @throws whatever the kernels throw (with the point's label prepended for an Error).
 */
export async function runSweep<G extends SweepGpu, K extends SweepCase>(
  api: KernelApi<G, K>,
  ctx: G,
  plan: SweepPlan,
  o: SweepOptions,
  run: RunSweepOptions = {},
): Promise<Profile> {
  const med = new Map<OperatorName, number[]>();
  const p10 = new Map<OperatorName, number[]>();
  const p90 = new Map<OperatorName, number[]>();
  for (const [op, grid] of Object.entries(plan.grids) as [OperatorName, number[][]][]) {
    const n = grid.length === 2 ? grid[0].length * grid[1].length : grid[0].length;
    med.set(op, new Array<number>(n).fill(0));
    p10.set(op, new Array<number>(n).fill(0));
    p90.set(op, new Array<number>(n).fill(0));
  }
  let timer: string | undefined;
  let done = 0;
  /** Points the device refused (kernels' DispatchLimitError): op → flat indices. */
  const refused = new Map<OperatorName, Set<number>>();
  const notes: string[] = [];
  for (const pt of plan.points) {
    const grid = plan.grids[pt.op]!;
    const k = pt.index.length === 2 ? pt.index[0] * grid[1].length + pt.index[1] : pt.index[0];
    for (const part of pt.parts) {
      let t: SweepTiming;
      let c: K | undefined;
      try {
        c = part.make(api, ctx);
        t = await api.timeKernel(ctx, c, { warmup: o.warmup, repeats: o.repeats });
      } catch (e) {
        if (e instanceof Error && e.name === 'DispatchLimitError') {
          if (!refused.has(pt.op)) refused.set(pt.op, new Set());
          refused.get(pt.op)!.add(k);
          notes.push(`${pt.label}: ${e.message}`);
          break;
        }
        if (e instanceof Error && !(e instanceof InputError)) e.message = `${pt.label} (${part.kernel}): ${e.message}`;
        throw e;
      } finally {
        c?.destroy();
      }
      if (!(Number.isFinite(t.median_s) && t.median_s >= 0)) throw new Error(`${pt.label} (${part.kernel}): kernel timing is not a finite time: ${t.median_s}`);
      timer = timer === undefined || timer === t.timer ? t.timer : 'mixed';
      med.get(pt.op)![k] += part.weight * t.median_s;
      p10.get(pt.op)![k] += part.weight * Math.min(t.p10_s, t.median_s);
      p90.get(pt.op)![k] += part.weight * Math.max(t.p90_s, t.median_s);
    }
    done++;
    run.onProgress?.(done, plan.points.length, pt.label);
  }
  const operators: Profile['operators'] = {};
  for (const [op, fullGrid] of Object.entries(plan.grids) as [OperatorName, number[][]][]) {
    // Drop refused points: 1-D the points themselves, 2-D (decode) the whole batch row.
    const bad = refused.get(op) ?? new Set<number>();
    const ny = fullGrid.length === 2 ? fullGrid[1].length : 1;
    const keepRows = fullGrid[0].map((_, i) => [...Array(ny).keys()].every((j) => !bad.has(i * ny + j)));
    const rows = fullGrid[0].map((_, i) => i).filter((i) => keepRows[i]);
    if (rows.length < 2) {
      notes.push(`${op}: fewer than 2 grid points ran; not in the profile (analytical fallback)`);
      continue;
    }
    const grid = fullGrid.length === 2 ? [rows.map((i) => fullGrid[0][i]), fullGrid[1]] : [rows.map((i) => fullGrid[0][i])];
    const shape = (flat: number[]): number[] | number[][] =>
      fullGrid.length === 2 ? rows.map((i) => flat.slice(i * ny, (i + 1) * ny).map(round6)) : rows.map((i) => round6(flat[i]));
    operators[op] = {
      per: OPERATOR_UNITS[op][0],
      axes: [...OPERATOR_AXES[op][0]],
      grid,
      times_s: shape(med.get(op)!),
      p10_s: shape(p10.get(op)!),
      p90_s: shape(p90.get(op)!),
    } satisfies OperatorProfile;
  }
  if (Object.keys(operators).length === 0) throw new InputError('the sweep timed no operator on at least 2 grid points', { field: 'gpu' });
  const a = ctx.adapter;
  return {
    format: PROFILE_FORMAT,
    version: PROFILE_VERSION,
    adapter: { vendor: a.vendor, architecture: a.architecture, description: a.description, backend: a.backend },
    timer: timer ?? 'none',
    dtype: o.dtype,
    model: plan.model,
    tp: plan.tp,
    date: run.date ?? new Date().toISOString(),
    project_version: projectVersion(),
    source: 'measured',
    architecture: plan.arch,
    sweep: { warmup: o.warmup, repeats: o.repeats },
    notes: [
      `WGSL kernels (kernels/), ${o.dtype === 'f32' ? 'all in f32' : 'f16 matmuls, the other kernels f32'}; medians of ${o.repeats} timed runs after ${o.warmup} warm-up.`,
      `Not swept: ${plan.skipped.join('; ')}.`,
      ...notes,
    ].join(' '),
    operators,
  };
}

/**
 * A file-name slug of an adapter: `llvmpipe` or `swiftshader` for those software rasterisers,
 * else `<vendor>-<architecture>`, else the description, else the backend; lower case, [a-z0-9-].
 */
export function adapterSlug(a: { vendor: string; architecture: string; description: string; backend: string }): string {
  const all = `${a.vendor} ${a.architecture} ${a.description}`.toLowerCase();
  for (const sw of ['llvmpipe', 'swiftshader', 'lavapipe', 'warp']) if (all.includes(sw)) return sw;
  const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  return slug([a.vendor, a.architecture].filter((s) => s.trim()).join(' ')) || slug(a.description) || slug(a.backend) || 'adapter';
}
