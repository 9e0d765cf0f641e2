/**
 * Matrix multiply C[m×n] = A[m×k]·B[k×n], all row-major: the linear layers of a transformer with
 * m = tokens in the batch, k = input features, n = output features.
 *
 * Two WGSL kernels, each for f32 or f16 storage (f16 needs the device feature `shader-f16`;
 * products are accumulated in f32 either way, and C is written in the storage type):
 * - `tiled`: a 64×64 output tile per 256-thread workgroup, A and B staged through workgroup memory
 *   in 16-deep slices, each thread accumulating a 4×4 register block (rows ty+16i, cols tx+16j,
 *   so neighbouring threads touch neighbouring columns). The classic shared-memory tiling scheme.
 * - `subgroup` (needs `subgroups`): no workgroup memory; every thread of a workgroup computes 4
 *   columns × 8 rows; the A values of a k-slice as long as the subgroup are loaded one per lane
 *   and passed around with `subgroupShuffle`, B values are read straight from memory.
 */
import type { GpuContext } from './gpu.ts';
import {
  bindBuffers,
  checkBindingSize,
  checkWorkgroups,
  DispatchLimitError,
  fromF16,
  getPipeline,
  randomArray,
  runAndRead,
  storageBuffer,
  subgroupMaxSize,
  toF16,
  uniformBuffer,
} from './gpu.ts';
import type { KernelCase } from './timing.ts';

/** Element type of matmul operands in device memory. */
export type MatmulDtype = 'f32' | 'f16';
/** Which matmul kernel: shared-memory tiling, or subgroup shuffles. */
export type MatmulVariant = 'tiled' | 'subgroup';

const TILE = 64; // output tile edge of the tiled kernel
const SG_ROWS = 8; // rows per workgroup of the subgroup kernel

/** WGSL of the tiled kernel for storage type `dtype`. Bindings: A, B, C, params {m, n, k}. */
export function tiledMatmulWgsl(dtype: MatmulDtype): string {
  return /* wgsl */ `
${dtype === 'f16' ? 'enable f16;' : ''}
struct Params { m: u32, n: u32, k: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> A: array<${dtype}>;
@group(0) @binding(1) var<storage, read> B: array<${dtype}>;
@group(0) @binding(2) var<storage, read_write> C: array<${dtype}>;
@group(0) @binding(3) var<uniform> p: Params;

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> As: array<array<f32, 16>, 64>;
var<workgroup> Bs: array<array<f32, 64>, 16>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * 16u + tx;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += TK) {
    for (var i = 0u; i < 4u; i++) {
      let e = t + i * 256u;
      let r = e / TK;
      let c = e % TK;
      var v = 0.0;
      if (row0 + r < p.m && k0 + c < p.k) {
        v = f32(A[(row0 + r) * p.k + k0 + c]);
      }
      As[r][c] = v;
    }
    for (var i = 0u; i < 4u; i++) {
      let e = t + i * 256u;
      let r = e / TN;
      let c = e % TN;
      var v = 0.0;
      if (k0 + r < p.k && col0 + c < p.n) {
        v = f32(B[(k0 + r) * p.n + col0 + c]);
      }
      Bs[r][c] = v;
    }
    workgroupBarrier();
    // A thread whose first row is past m has only padding rows (small-m, decode-like calls).
    if (row0 + ty < p.m) {
      for (var kk = 0u; kk < TK; kk++) {
        var a: array<f32, 4>;
        var b: array<f32, 4>;
        for (var i = 0u; i < 4u; i++) {
          a[i] = As[ty + 16u * i][kk];
          b[i] = Bs[kk][tx + 16u * i];
        }
        for (var i = 0u; i < 4u; i++) {
          for (var j = 0u; j < 4u; j++) {
            acc[i][j] = fma(a[i], b[j], acc[i][j]);
          }
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + ty + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let c = col0 + tx + 16u * j;
      if (r < p.m && c < p.n) {
        C[r * p.n + c] = ${dtype}(acc[i][j]);
      }
    }
  }
}
`;
}

/**
 * WGSL of the subgroup kernel for storage type `dtype` and `wg` threads per workgroup (at least the
 * adapter's largest subgroup size, so subgroups are full). Bindings as {@link tiledMatmulWgsl}.
 * Every thread of a workgroup works on the same 8 rows, so a shuffle from any lane of any subgroup
 * gets the A value of the right row whatever the lanes-to-threads mapping.
 */
export function subgroupMatmulWgsl(dtype: MatmulDtype, wg: number): string {
  return /* wgsl */ `
${dtype === 'f16' ? 'enable f16;' : ''}
enable subgroups;
diagnostic(off, subgroup_uniformity);
struct Params { m: u32, n: u32, k: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> A: array<${dtype}>;
@group(0) @binding(1) var<storage, read> B: array<${dtype}>;
@group(0) @binding(2) var<storage, read_write> C: array<${dtype}>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = ${wg}u;
const R: u32 = ${SG_ROWS}u;

@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg: u32) {
  let row0 = wid.y * R;
  let col = (wid.x * WG + li) * 4u;
  var acc: array<vec4f, ${SG_ROWS}>;
  for (var k0 = 0u; k0 < p.k; k0 += sg) {
    var av: array<f32, ${SG_ROWS}>;
    let ka = k0 + lane;
    for (var r = 0u; r < R; r++) {
      if (row0 + r < p.m && ka < p.k) {
        av[r] = f32(A[(row0 + r) * p.k + ka]);
      }
    }
    let kn = min(sg, p.k - k0);
    for (var j = 0u; j < kn; j++) {
      let base = (k0 + j) * p.n + col;
      var b = vec4f(0.0);
      if (col + 3u < p.n) {
        b = vec4f(f32(B[base]), f32(B[base + 1u]), f32(B[base + 2u]), f32(B[base + 3u]));
      } else {
        for (var c = 0u; c < 4u; c++) {
          if (col + c < p.n) {
            b[c] = f32(B[base + c]);
          }
        }
      }
      for (var r = 0u; r < R; r++) {
        acc[r] = fma(vec4f(subgroupShuffle(av[r], j)), b, acc[r]);
      }
    }
  }
  for (var r = 0u; r < R; r++) {
    if (row0 + r < p.m) {
      for (var c = 0u; c < 4u; c++) {
        if (col + c < p.n) {
          C[(row0 + r) * p.n + col + c] = ${dtype}(acc[r][c]);
        }
      }
    }
  }
}
`;
}

interface MatmulShape {
  m: number;
  n: number;
  k: number;
  dtype?: MatmulDtype;
  variant?: MatmulVariant;
}

function checkShape(ctx: GpuContext, s: MatmulShape): { dtype: MatmulDtype; variant: MatmulVariant } {
  for (const key of ['m', 'n', 'k'] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 1) throw new RangeError(`matmul: ${key} must be a positive integer, got ${s[key]}`);
  }
  const dtype = s.dtype ?? 'f32';
  const variant = s.variant ?? 'tiled';
  if (dtype === 'f16' && !ctx.features.shaderF16) {
    throw new DispatchLimitError('matmul: dtype f16 needs the shader-f16 feature, which this adapter lacks');
  }
  if (variant === 'subgroup' && !ctx.features.subgroups) {
    throw new DispatchLimitError('matmul: the subgroup variant needs the subgroups feature, which this adapter lacks');
  }
  return { dtype, variant };
}

interface MatmulPlan {
  dtype: MatmulDtype;
  variant: MatmulVariant;
  key: string;
  code: () => string;
  gx: number;
  gy: number;
}

/**
 * Validates shape, features and device limits (before any buffer is made) and picks the kernel.
 * @throws RangeError, DispatchLimitError
 */
function plan(ctx: GpuContext, s: MatmulShape): MatmulPlan {
  const { dtype, variant } = checkShape(ctx, s);
  const what = `matmul m=${s.m} n=${s.n} k=${s.k}`;
  const el = dtype === 'f16' ? 2 : 4;
  checkBindingSize(ctx, s.m * s.k * el, `${what}: A`);
  checkBindingSize(ctx, s.k * s.n * el, `${what}: B`);
  checkBindingSize(ctx, s.m * s.n * el, `${what}: C`);
  let p: MatmulPlan;
  if (variant === 'tiled') {
    p = { dtype, variant, key: `matmul-tiled-${dtype}`, code: () => tiledMatmulWgsl(dtype), gx: Math.ceil(s.n / TILE), gy: Math.ceil(s.m / TILE) };
  } else {
    const wg = Math.max(64, subgroupMaxSize(ctx));
    p = {
      dtype,
      variant,
      key: `matmul-subgroup-${dtype}-${wg}`,
      code: () => subgroupMatmulWgsl(dtype, wg),
      gx: Math.ceil(s.n / (4 * wg)),
      gy: Math.ceil(s.m / SG_ROWS),
    };
  }
  checkWorkgroups(ctx, p.gx, what);
  checkWorkgroups(ctx, p.gy, what);
  return p;
}

/** Builds the pipeline, bind group and dispatch of one planned matmul over existing buffers. */
function prepare(
  ctx: GpuContext,
  s: MatmulShape,
  pl: MatmulPlan,
  a: GPUBuffer,
  b: GPUBuffer,
  c: GPUBuffer,
): { encode(pass: GPUComputePassEncoder): void; params: GPUBuffer } {
  const pipeline = getPipeline(ctx, pl.key, pl.code);
  const params = uniformBuffer(ctx, [s.m, s.n, s.k], 'matmul params');
  const group = bindBuffers(ctx, pipeline, [a, b, c, params]);
  return {
    params,
    encode(pass) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(pl.gx, pl.gy);
    },
  };
}

function upload(ctx: GpuContext, xs: Float32Array, dtype: MatmulDtype, label: string): GPUBuffer {
  return storageBuffer(ctx, dtype === 'f16' ? toF16(xs) : xs, label);
}

/**
 * A timeable matmul of shape `s` on random inputs in [-1, 1). FLOPs 2·m·n·k; bytes
 * (m·k + k·n + m·n)·(4 for f32, 2 for f16).
 * @throws RangeError for a non-positive dimension; DispatchLimitError when the shape or a buffer
 * exceeds the device's limits or the dtype/variant needs a feature the adapter lacks.
 */
export function matmulCase(
  ctx: GpuContext,
  s: { m: number; n: number; k: number; dtype?: MatmulDtype; variant?: MatmulVariant },
): KernelCase {
  const pl = plan(ctx, s);
  const { dtype, variant } = pl;
  const a = upload(ctx, randomArray(s.m * s.k, 1), dtype, 'matmul A');
  const b = upload(ctx, randomArray(s.k * s.n, 2), dtype, 'matmul B');
  const c = storageBuffer(ctx, s.m * s.n * (dtype === 'f16' ? 2 : 4), 'matmul C');
  const prep = prepare(ctx, s, pl, a, b, c);
  const el = dtype === 'f16' ? 2 : 4;
  return {
    name: `matmul m=${s.m} n=${s.n} k=${s.k} ${dtype} ${variant}`,
    flops: 2 * s.m * s.n * s.k,
    bytes: (s.m * s.k + s.k * s.n + s.m * s.n) * el,
    encode: prep.encode,
    destroy() {
      for (const buf of [a, b, c, prep.params]) buf.destroy();
    },
  };
}

/**
 * Computes C = A·B on the device and reads it back. `a` is m×k and `b` k×n, row-major f32; with
 * `dtype` 'f16' they are rounded to binary16 on upload and C (m×n) is binary16 on the device,
 * returned widened to f32.
 * @throws RangeError when the array lengths do not match the shape; DispatchLimitError as
 * {@link matmulCase}.
 */
export async function runMatmul(
  ctx: GpuContext,
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  dtype: MatmulDtype = 'f32',
  variant: MatmulVariant = 'tiled',
): Promise<Float32Array> {
  const s = { m, n, k, dtype, variant };
  const pl = plan(ctx, s);
  if (a.length !== m * k) throw new RangeError(`runMatmul: a has ${a.length} elements, expected m·k = ${m * k}`);
  if (b.length !== k * n) throw new RangeError(`runMatmul: b has ${b.length} elements, expected k·n = ${k * n}`);
  const el = dtype === 'f16' ? 2 : 4;
  const bufs = [upload(ctx, a, dtype, 'matmul A'), upload(ctx, b, dtype, 'matmul B'), storageBuffer(ctx, m * n * el, 'matmul C')];
  try {
    const prep = prepare(ctx, s, pl, bufs[0], bufs[1], bufs[2]);
    bufs.push(prep.params);
    const out = await runAndRead(ctx, prep.encode, bufs[2], m * n * el);
    return dtype === 'f16' ? fromF16(new Uint16Array(out)) : new Float32Array(out);
  } finally {
    for (const buf of bufs) buf.destroy();
  }
}
