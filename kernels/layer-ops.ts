/**
 * The small memory-bound operators of a Llama-style decoder layer, f32, row-major [tokens, ...]:
 *
 * - RMSNorm (Zhang & Sennrich, 2019): y = x / √(mean(x²) + eps) · weight, one workgroup per token.
 * - SiLU-and-multiply (SwiGLU's gate): x [tokens, 2·intermediate] holds gate then up, as vLLM's
 *   `SiluAndMul` takes them; y [tokens, intermediate] = silu(gate) · up, silu(g) = g / (1 + e^-g).
 * - Residual add: y = x + residual.
 * - Rotary position embedding (Su et al., 2021) as Llama applies it in Hugging Face's and vLLM's
 *   implementations (rotate-half / "neox" pairing): for i < headDim/2 and θᵢ = pos·base^(-2i/headDim),
 *   (x[i], x[i + headDim/2]) ← (x[i]·cos θᵢ − x[i+half]·sin θᵢ, x[i+half]·cos θᵢ + x[i]·sin θᵢ), on
 *   every head of q and k, in place. Like vLLM, the kernel reads cos and sin from a table computed
 *   on the host (here in f64), which keeps large angles accurate.
 */
import type { GpuContext } from './gpu.ts';
import {
  bindBuffers,
  checkBindingSize,
  getPipeline,
  grid2d,
  randomArray,
  runAndRead,
  storageBuffer,
  uniformBuffer,
} from './gpu.ts';
import type { KernelCase } from './timing.ts';

const EW = 256; // threads per workgroup of the elementwise kernels
/** RMSNorm's default epsilon (Llama 2 and 3 configurations). */
export const RMS_EPS = 1e-5;
/** Llama's rotary base. */
export const ROPE_BASE = 10000;

/** Prelude shared by the elementwise kernels: the linear invocation index over a 2-D grid. */
const ELEMENTWISE_MAIN = `@compute @workgroup_size(${EW})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let idx = (wid.y * nwg.x + wid.x) * ${EW}u + li;`;

/** WGSL of RMSNorm. Bindings: X, W, Y, params {tokens, hidden, eps}. One workgroup per row. */
export const RMS_NORM_WGSL = /* wgsl */ `
struct Params { tokens: u32, hidden: u32, eps: f32, pad: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
var<workgroup> red: array<f32, ${EW}>;

@compute @workgroup_size(${EW})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.tokens) {
    return;
  }
  let base = row * p.hidden;
  var ss = 0.0;
  for (var i = li; i < p.hidden; i += ${EW}u) {
    let v = X[base + i];
    ss = fma(v, v, ss);
  }
  red[li] = ss;
  workgroupBarrier();
  for (var s = ${EW / 2}u; s > 0u; s >>= 1u) {
    if (li < s) {
      red[li] += red[li + s];
    }
    workgroupBarrier();
  }
  let inv = inverseSqrt(red[0] / f32(p.hidden) + p.eps);
  for (var i = li; i < p.hidden; i += ${EW}u) {
    Y[base + i] = X[base + i] * inv * W[i];
  }
}
`;

/** WGSL of SiLU-and-multiply. Bindings: X [tokens, 2I], Y [tokens, I], params {tokens, I}. */
export const SILU_MUL_WGSL = /* wgsl */ `
struct Params { tokens: u32, inter: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
${ELEMENTWISE_MAIN}
  if (idx >= p.tokens * p.inter) {
    return;
  }
  let t = idx / p.inter;
  let i = idx % p.inter;
  let g = X[t * 2u * p.inter + i];
  let u = X[t * 2u * p.inter + p.inter + i];
  Y[idx] = g / (1.0 + exp(-g)) * u;
}
`;

/** WGSL of the residual add. Bindings: X, R, Y, params {n}. */
export const RESIDUAL_ADD_WGSL = /* wgsl */ `
struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> R: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
${ELEMENTWISE_MAIN}
  if (idx >= p.n) {
    return;
  }
  Y[idx] = X[idx] + R[idx];
}
`;

/**
 * WGSL of rotary embedding, in place. Bindings: Q [tokens, heads, D], K [tokens, kvHeads, D],
 * POS [tokens] (u32), CS [positions, D] (row p: cos θ₀..cos θ_{D/2-1}, then sin θ₀..),
 * params {tokens, heads, kvHeads, D}. One invocation per (token, head, pair).
 */
export const ROPE_WGSL = /* wgsl */ `
struct Params { tokens: u32, heads: u32, kvHeads: u32, dim: u32 }
@group(0) @binding(0) var<storage, read_write> Q: array<f32>;
@group(0) @binding(1) var<storage, read_write> K: array<f32>;
@group(0) @binding(2) var<storage, read> POS: array<u32>;
@group(0) @binding(3) var<storage, read> CS: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
${ELEMENTWISE_MAIN}
  let half = p.dim / 2u;
  let perToken = (p.heads + p.kvHeads) * half;
  if (idx >= p.tokens * perToken) {
    return;
  }
  let t = idx / perToken;
  let rem = idx % perToken;
  let hh = rem / half;
  let i = rem % half;
  let cs = POS[t] * p.dim;
  let c = CS[cs + i];
  let s = CS[cs + half + i];
  if (hh < p.heads) {
    let base = (t * p.heads + hh) * p.dim;
    let x1 = Q[base + i];
    let x2 = Q[base + half + i];
    Q[base + i] = x1 * c - x2 * s;
    Q[base + half + i] = x2 * c + x1 * s;
  } else {
    let base = (t * p.kvHeads + hh - p.heads) * p.dim;
    let x1 = K[base + i];
    let x2 = K[base + half + i];
    K[base + i] = x1 * c - x2 * s;
    K[base + half + i] = x2 * c + x1 * s;
  }
}
`;

function positive(what: string, s: Record<string, number>): void {
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what}: ${k} must be a positive integer, got ${v}`);
  }
}

function lengthIs(what: string, name: string, xs: ArrayLike<number>, n: number): void {
  if (xs.length !== n) throw new RangeError(`${what}: ${name} has ${xs.length} elements, expected ${n}`);
}

interface Prepared {
  encode(pass: GPUComputePassEncoder): void;
  params: GPUBuffer;
}

function elementwise(ctx: GpuContext, key: string, code: string, bufs: GPUBuffer[], params: GPUBuffer, n: number, what: string): Prepared {
  const pipeline = getPipeline(ctx, key, () => code);
  const [gx, gy] = grid2d(ctx, Math.ceil(n / EW), what);
  const group = bindBuffers(ctx, pipeline, [...bufs, params]);
  return {
    params,
    encode(pass) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(gx, gy);
    },
  };
}

/**
 * Checks the largest buffer and the dispatch of an operator against the device's limits before any
 * buffer is made. @throws DispatchLimitError
 */
function precheck(ctx: GpuContext, what: string, largestBytes: number, workgroups: number): void {
  checkBindingSize(ctx, largestBytes, what);
  grid2d(ctx, workgroups, what);
}

function caseOf(name: string, flops: number, bytes: number, prep: Prepared, bufs: GPUBuffer[]): KernelCase {
  return {
    name,
    flops,
    bytes,
    encode: prep.encode,
    destroy() {
      for (const b of [...bufs, prep.params]) b.destroy();
    },
  };
}

async function runOnce(ctx: GpuContext, bufs: GPUBuffer[], make: () => Prepared, out: GPUBuffer, bytes: number): Promise<Float32Array> {
  let params: GPUBuffer | undefined;
  try {
    const prep = make();
    params = prep.params;
    return new Float32Array(await runAndRead(ctx, prep.encode, out, bytes));
  } finally {
    for (const b of bufs) b.destroy();
    params?.destroy();
  }
}

// ---- RMSNorm ----

function prepareRmsNorm(ctx: GpuContext, s: { tokens: number; hidden: number; eps: number }, x: GPUBuffer, w: GPUBuffer, y: GPUBuffer): Prepared {
  const what = `rmsnorm tokens=${s.tokens} hidden=${s.hidden}`;
  const pipeline = getPipeline(ctx, 'rmsnorm', () => RMS_NORM_WGSL);
  const [gx, gy] = grid2d(ctx, s.tokens, what);
  const params = uniformBuffer(ctx, [s.tokens, s.hidden, { f32: s.eps }], 'rmsnorm params');
  const group = bindBuffers(ctx, pipeline, [x, w, y, params]);
  return {
    params,
    encode(pass) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(gx, gy);
    },
  };
}

/**
 * A timeable RMSNorm over [tokens, hidden] random f32 values (eps 1e-5). FLOPs 4·tokens·hidden;
 * bytes 4·(2·tokens·hidden + hidden).
 * @throws RangeError for a bad shape; DispatchLimitError beyond the device's limits.
 */
export function rmsNormCase(ctx: GpuContext, s: { tokens: number; hidden: number }): KernelCase {
  positive('rmsnorm', s);
  const n = s.tokens * s.hidden;
  precheck(ctx, `rmsnorm tokens=${s.tokens} hidden=${s.hidden}`, 4 * n, s.tokens);
  const bufs = [
    storageBuffer(ctx, randomArray(n, 31), 'rmsnorm x'),
    storageBuffer(ctx, randomArray(s.hidden, 32, 0.5, 1.5), 'rmsnorm weight'),
    storageBuffer(ctx, n * 4, 'rmsnorm y'),
  ];
  const prep = prepareRmsNorm(ctx, { ...s, eps: RMS_EPS }, bufs[0], bufs[1], bufs[2]);
  return caseOf(`rmsnorm tokens=${s.tokens} hidden=${s.hidden}`, 4 * n, 4 * (2 * n + s.hidden), prep, bufs);
}

/**
 * RMSNorm on the device: `x` [tokens, hidden], `weight` [hidden] → y [tokens, hidden].
 * @throws RangeError for a bad shape or array length; DispatchLimitError beyond the device's limits.
 */
export async function runRmsNorm(
  ctx: GpuContext,
  x: Float32Array,
  weight: Float32Array,
  s: { tokens: number; hidden: number; eps?: number },
): Promise<Float32Array> {
  positive('rmsnorm', { tokens: s.tokens, hidden: s.hidden });
  lengthIs('runRmsNorm', 'x', x, s.tokens * s.hidden);
  lengthIs('runRmsNorm', 'weight', weight, s.hidden);
  const n = s.tokens * s.hidden;
  precheck(ctx, `rmsnorm tokens=${s.tokens} hidden=${s.hidden}`, 4 * n, s.tokens);
  const bufs = [storageBuffer(ctx, x, 'rmsnorm x'), storageBuffer(ctx, weight, 'rmsnorm weight'), storageBuffer(ctx, n * 4, 'rmsnorm y')];
  return runOnce(ctx, bufs, () => prepareRmsNorm(ctx, { tokens: s.tokens, hidden: s.hidden, eps: s.eps ?? RMS_EPS }, bufs[0], bufs[1], bufs[2]), bufs[2], n * 4);
}

// ---- SiLU-and-multiply ----

function prepareSiluMul(ctx: GpuContext, s: { tokens: number; intermediate: number }, x: GPUBuffer, y: GPUBuffer): Prepared {
  const params = uniformBuffer(ctx, [s.tokens, s.intermediate], 'silu-mul params');
  return elementwise(ctx, 'silu-mul', SILU_MUL_WGSL, [x, y], params, s.tokens * s.intermediate, `silu-mul tokens=${s.tokens} intermediate=${s.intermediate}`);
}

/**
 * A timeable SiLU-and-multiply on random [tokens, 2·intermediate] input. FLOPs
 * 5·tokens·intermediate (negate, exp, add, divide, multiply; exp counted as one);
 * bytes 4·3·tokens·intermediate.
 * @throws RangeError for a bad shape; DispatchLimitError beyond the device's limits.
 */
export function siluMulCase(ctx: GpuContext, s: { tokens: number; intermediate: number }): KernelCase {
  positive('silu-mul', s);
  const n = s.tokens * s.intermediate;
  precheck(ctx, `silu-mul tokens=${s.tokens} intermediate=${s.intermediate}`, 8 * n, Math.ceil(n / EW));
  const bufs = [storageBuffer(ctx, randomArray(2 * n, 41, -4, 4), 'silu-mul x'), storageBuffer(ctx, n * 4, 'silu-mul y')];
  const prep = prepareSiluMul(ctx, s, bufs[0], bufs[1]);
  return caseOf(`silu-mul tokens=${s.tokens} intermediate=${s.intermediate}`, 5 * n, 12 * n, prep, bufs);
}

/**
 * SiLU-and-multiply on the device: `x` [tokens, 2·intermediate] (gate, then up) →
 * y [tokens, intermediate] = silu(gate)·up.
 * @throws RangeError for a bad shape or array length; DispatchLimitError beyond the device's limits.
 */
export async function runSiluMul(ctx: GpuContext, x: Float32Array, s: { tokens: number; intermediate: number }): Promise<Float32Array> {
  positive('silu-mul', s);
  const n = s.tokens * s.intermediate;
  lengthIs('runSiluMul', 'x', x, 2 * n);
  precheck(ctx, `silu-mul tokens=${s.tokens} intermediate=${s.intermediate}`, 8 * n, Math.ceil(n / EW));
  const bufs = [storageBuffer(ctx, x, 'silu-mul x'), storageBuffer(ctx, n * 4, 'silu-mul y')];
  return runOnce(ctx, bufs, () => prepareSiluMul(ctx, s, bufs[0], bufs[1]), bufs[1], n * 4);
}

// ---- residual add ----

function prepareResidual(ctx: GpuContext, n: number, x: GPUBuffer, r: GPUBuffer, y: GPUBuffer): Prepared {
  const params = uniformBuffer(ctx, [n], 'residual params');
  return elementwise(ctx, 'residual-add', RESIDUAL_ADD_WGSL, [x, r, y], params, n, `residual add of ${n} elements`);
}

/**
 * A timeable residual add of two random [tokens, hidden] tensors. FLOPs tokens·hidden; bytes
 * 4·3·tokens·hidden.
 * @throws RangeError for a bad shape; DispatchLimitError beyond the device's limits.
 */
export function residualAddCase(ctx: GpuContext, s: { tokens: number; hidden: number }): KernelCase {
  positive('residual add', s);
  const n = s.tokens * s.hidden;
  precheck(ctx, `residual add tokens=${s.tokens} hidden=${s.hidden}`, 4 * n, Math.ceil(n / EW));
  const bufs = [storageBuffer(ctx, randomArray(n, 51), 'residual x'), storageBuffer(ctx, randomArray(n, 52), 'residual r'), storageBuffer(ctx, n * 4, 'residual y')];
  const prep = prepareResidual(ctx, n, bufs[0], bufs[1], bufs[2]);
  return caseOf(`residual-add tokens=${s.tokens} hidden=${s.hidden}`, n, 12 * n, prep, bufs);
}

/**
 * Residual add on the device: `x` + `residual`, both [tokens, hidden].
 * @throws RangeError for a bad shape or array length; DispatchLimitError beyond the device's limits.
 */
export async function runResidualAdd(
  ctx: GpuContext,
  x: Float32Array,
  residual: Float32Array,
  s: { tokens: number; hidden: number },
): Promise<Float32Array> {
  positive('residual add', s);
  const n = s.tokens * s.hidden;
  lengthIs('runResidualAdd', 'x', x, n);
  lengthIs('runResidualAdd', 'residual', residual, n);
  precheck(ctx, `residual add tokens=${s.tokens} hidden=${s.hidden}`, 4 * n, Math.ceil(n / EW));
  const bufs = [storageBuffer(ctx, x, 'residual x'), storageBuffer(ctx, residual, 'residual r'), storageBuffer(ctx, n * 4, 'residual y')];
  return runOnce(ctx, bufs, () => prepareResidual(ctx, n, bufs[0], bufs[1], bufs[2]), bufs[2], n * 4);
}

// ---- rotary embedding ----

/**
 * The cos/sin table of rotary embedding for positions 0..positions-1: row p holds cos θ₀..cos θ_{D/2-1}
 * then sin θ₀..sin θ_{D/2-1}, θᵢ = p·base^(-2i/D), computed in f64 and rounded to f32.
 */
export function ropeCosSin(positions: number, headDim: number, base = ROPE_BASE): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(positions * headDim);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const theta = p * base ** ((-2 * i) / headDim);
      out[p * headDim + i] = Math.cos(theta);
      out[p * headDim + half + i] = Math.sin(theta);
    }
  }
  return out;
}

interface RopeShape {
  tokens: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

function checkRope(ctx: GpuContext, s: RopeShape): void {
  positive('rope', { tokens: s.tokens, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim });
  if (s.headDim % 2 !== 0) throw new RangeError(`rope: headDim must be even, got ${s.headDim}`);
  const n = s.tokens * (s.heads + s.kvHeads) * (s.headDim / 2);
  precheck(ctx, `rope tokens=${s.tokens} heads=${s.heads} headDim=${s.headDim}`, 4 * s.tokens * s.heads * s.headDim, Math.ceil(n / EW));
}

function prepareRope(ctx: GpuContext, s: RopeShape, q: GPUBuffer, k: GPUBuffer, pos: GPUBuffer, cs: GPUBuffer): Prepared {
  const params = uniformBuffer(ctx, [s.tokens, s.heads, s.kvHeads, s.headDim], 'rope params');
  const n = s.tokens * (s.heads + s.kvHeads) * (s.headDim / 2);
  return elementwise(ctx, 'rope', ROPE_WGSL, [q, k, pos, cs], params, n, `rope tokens=${s.tokens} heads=${s.heads}`);
}

/**
 * A timeable rotary embedding on random q [tokens, heads, headDim] and k [tokens, kvHeads, headDim]
 * at positions 0..tokens-1 (in place, so repeated runs keep rotating; the cost does not change).
 * FLOPs 6 per rotated pair; bytes: q and k read and written, positions and the used table rows read.
 * @throws RangeError for a bad shape; DispatchLimitError beyond the device's limits.
 */
export function ropeCase(ctx: GpuContext, s: { tokens: number; heads: number; kvHeads: number; headDim: number }): KernelCase {
  checkRope(ctx, s);
  const qn = s.tokens * s.heads * s.headDim;
  const kn = s.tokens * s.kvHeads * s.headDim;
  const bufs = [
    storageBuffer(ctx, randomArray(qn, 61), 'rope q'),
    storageBuffer(ctx, randomArray(kn, 62), 'rope k'),
    storageBuffer(ctx, Uint32Array.from({ length: s.tokens }, (_, i) => i), 'rope positions'),
    storageBuffer(ctx, ropeCosSin(s.tokens, s.headDim), 'rope cos/sin'),
  ];
  const prep = prepareRope(ctx, s, bufs[0], bufs[1], bufs[2], bufs[3]);
  const pairs = (qn + kn) / 2;
  return caseOf(
    `rope tokens=${s.tokens} heads=${s.heads} kvHeads=${s.kvHeads} headDim=${s.headDim}`,
    6 * pairs,
    4 * (2 * (qn + kn) + s.tokens + s.tokens * s.headDim),
    prep,
    bufs,
  );
}

/**
 * Rotary embedding on the device: `q` [tokens, heads, headDim] and `k` [tokens, kvHeads, headDim]
 * rotated by `positions` [tokens] (non-negative integers) with base `s.base` (default 10000).
 * Returns rotated q followed by rotated k in one array of length (heads + kvHeads)·tokens·headDim.
 * @throws RangeError for a bad shape, array length or position; DispatchLimitError beyond the
 * device's limits.
 */
export async function runRope(
  ctx: GpuContext,
  q: Float32Array,
  k: Float32Array,
  positions: Int32Array | Uint32Array,
  s: { tokens: number; heads: number; kvHeads: number; headDim: number; base?: number },
): Promise<Float32Array> {
  checkRope(ctx, s);
  const qn = s.tokens * s.heads * s.headDim;
  const kn = s.tokens * s.kvHeads * s.headDim;
  lengthIs('runRope', 'q', q, qn);
  lengthIs('runRope', 'k', k, kn);
  lengthIs('runRope', 'positions', positions, s.tokens);
  let maxPos = 0;
  for (const p of positions) {
    if (!Number.isInteger(p) || p < 0) throw new RangeError(`runRope: position ${p} is not a non-negative integer`);
    maxPos = Math.max(maxPos, p);
  }
  const bufs = [
    storageBuffer(ctx, q, 'rope q'),
    storageBuffer(ctx, k, 'rope k'),
    storageBuffer(ctx, Uint32Array.from(positions), 'rope positions'),
    storageBuffer(ctx, ropeCosSin(maxPos + 1, s.headDim, s.base ?? ROPE_BASE), 'rope cos/sin'),
  ];
  let params: GPUBuffer | undefined;
  try {
    const prep = prepareRope(ctx, s, bufs[0], bufs[1], bufs[2], bufs[3]);
    params = prep.params;
    const qOut = await runAndRead(ctx, prep.encode, bufs[0], qn * 4);
    const kOut = await runAndRead(ctx, () => {}, bufs[1], kn * 4);
    const qk = new Float32Array(qn + kn);
    qk.set(new Float32Array(qOut));
    qk.set(new Float32Array(kOut), qn);
    return qk;
  } finally {
    for (const b of bufs) b.destroy();
    params?.destroy();
  }
}
